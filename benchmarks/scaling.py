"""Training images/s: one device vs two CPU devices vs two worker processes, same global batch.

    python benchmarks/scaling.py [--variants 64/batch,256/batch,64/group] [--round_images 3840]
                                 [--repeats 5] [--threads N] [--markdown]

Trains the main job (``small_resnet`` on ``digits`` through ``classification_pipeline``) with
``Trainer.train`` under the strategy ``make_strategy`` picks for:
  1. one process, one device (the default strategy): the baseline;
  2. one process, the CPU split into 2 logical devices (``MirroredStrategy``);
  3. two worker processes on free ports of 127.0.0.1, described by ``TF_CONFIG``
     (``MultiWorkerMirroredStrategy``; collectives over gRPC).
Each configuration runs in fresh processes (``configure_cpu_devices`` and the multi-worker
strategy must come before TensorFlow initialises), one configuration after another. Inside
them, each variant ``GLOBAL_BATCH/NORM`` (``batch``: the default, batch norm synchronized across
replicas; ``group``: group norm, no cross-replica statistics) gets a fresh model and Trainer:
``--warmup`` steps, then ``--repeats`` rounds of about ``--round_images`` images timed by the
Trainer (one ``tf.function`` call per round); the median images/s is kept, the chief's for two
workers. Ratio = configuration / one device, per variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from reporting import add_markdown_flag, markdown_table, print_markdown  # noqa: E402

CONFIGURATIONS = {  # name: (worker processes, logical CPU devices per process)
    "one process, one device (default strategy)": (1, 1),
    "one process, 2 logical CPU devices (`MirroredStrategy`)": (1, 2),
    "2 worker processes on 127.0.0.1 (`MultiWorkerMirroredStrategy`)": (2, 1),
}
NORM_LABELS = {"batch": "sync batch norm", "group": "group norm", "none": "no norm"}
HOW_TO_READ = """\
Ratio = images/s of the configuration / images/s of one process on one device, for the same
variant (global batch, normalisation); above 1 would be a speed-up. On this 2-core machine a
ratio below 1 is expected and is not a defect: one device already uses both cores (TensorFlow's
intra-op thread pool runs each convolution on both), so splitting the batch adds work without
adding hardware. Two logical devices share that one thread pool, run two half-size copies of
every kernel and add, each step, the split of the batch, the gradient all-reduce and the NaN
guard's cross-replica agreement. Two worker processes also run an input pipeline each and start
thread pools sized for the whole machine (`--threads 1` changed little in development runs),
and every collective is a round trip through gRPC on localhost. What costs most there is
synchronized batch norm, the default: every batch-norm layer all-reduces its statistics in the
forward pass and their gradients in the backward pass, and updates its moving averages with
further all-reduces, all on the critical path of the step; `small_resnet` has 9 such layers.
The group-norm column has none of them (compare its ratios with sync batch norm's), and a larger
batch spreads the fixed per-step cost over more images. The speed-up needs more hardware (GPUs,
hosts) per replica; these figures measure the distribution machinery's overhead."""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def _parse_variants(text: str) -> list[tuple[int, str]]:
    variants = []
    for item in filter(None, text.split(",")):
        batch, _, norm = item.partition("/")
        if norm not in NORM_LABELS or not batch.isdigit() or int(batch) < 2:
            raise ValueError(f"variant {item!r}: want GLOBAL_BATCH/NORM, NORM in {NORM_LABELS}")
        variants.append((int(batch), norm))
    return variants


def _child(args) -> None:
    """One process of a configuration: train each variant, print its rounds' rates as JSON."""
    from yeehaw_tf.training.strategy import configure_cpu_devices, is_chief, make_strategy

    # First, before any TensorFlow op runs, as train.py does (make_strategy alone cannot split
    # the CPU in a fresh process: it lists the logical GPUs first, which initialises TF).
    configure_cpu_devices(args.devices)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    strategy = make_strategy(args.devices)

    import keras
    import numpy as np
    import tensorflow_datasets as tfds

    from yeehaw_tf.data import channel_mean_std, classification_pipeline, load_classification
    from yeehaw_tf.training import Trainer
    from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask

    tfds.disable_progress_bar()
    data = load_classification("digits", args.data_dir)
    mean, std = channel_mean_std(data.train.map(lambda x, y: x))
    result = {"replicas": strategy.num_replicas_in_sync, "images_per_second": {}}
    for batch_size, norm in _parse_variants(args.variants):
        keras.utils.set_random_seed(0)
        task = ClassificationTask(
            ClassificationOptions(model="small_resnet", norm=norm),
            num_classes=data.num_classes,
            input_shape=data.image_shape,
            mean=tuple(mean.tolist()),
            std=tuple(np.maximum(std, 1e-3).tolist()),
        )
        steps = max(5, round(args.round_images / batch_size))
        trainer = Trainer(
            task,
            build_optimizer=lambda: keras.optimizers.Adam(1e-3),
            workdir=os.path.join(args.workdir, f"{batch_size}_{norm}"),
            strategy=strategy,
            checkpoint_every=10**9,
            max_to_keep=1,
            steps_per_loop=steps,
        )
        dataset = classification_pipeline(data.train, batch_size=batch_size, training=True)
        trainer.train(dataset, args.warmup, verbose=0)
        rates = []
        for _ in range(args.repeats):
            total = int(trainer.step.numpy()) + steps
            rates.append(trainer.train(dataset, total, verbose=0)["examples_per_second"])
        result["images_per_second"][f"{batch_size}/{norm}"] = rates
        if not is_chief(strategy):
            # A non-chief's scratch checkpoint directory depends only on its task and pid, so
            # the next variant's Trainer would find this one's checkpoint there (the preemption
            # handler of Trainer.train restores it), start at another step than the chief and
            # hang in a collective; remove it, as train.py does after a run.
            shutil.rmtree(os.path.dirname(trainer.checkpoint_dir), ignore_errors=True)
    print("RESULT " + json.dumps(result), flush=True)


def _run(workers: int, devices: int, args) -> dict:
    """Runs one configuration in fresh processes; returns the chief's result."""
    with tempfile.TemporaryDirectory(prefix="scaling_") as workdir:
        return _run_in(workers, devices, workdir, args)


def _run_in(workers: int, devices: int, workdir: str, args) -> dict:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        f"--devices={devices}",
        f"--variants={args.variants}",
        f"--round_images={args.round_images}",
        f"--warmup={args.warmup}",
        f"--repeats={args.repeats}",
        f"--threads={args.threads}",
        f"--workdir={workdir}",
        *([f"--data_dir={args.data_dir}"] if args.data_dir else []),
    ]
    ports = _free_ports(workers) if workers > 1 else []
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    processes = [
        subprocess.Popen(
            command,
            env={**env, **({"TF_CONFIG": _tf_config(ports, i)} if ports else {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    try:
        outputs = [p.communicate(timeout=args.timeout) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(processes, outputs, strict=True):
        if p.returncode != 0 or "RESULT " not in out:
            raise RuntimeError(
                f"{workers} worker(s) x {devices} device(s) failed (exit {p.returncode}):\n"
                f"{err[-3000:]}"
            )
    line = next(x for x in outputs[0][0].splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--variants",
        default="64/batch,256/batch,64/group",
        help=f"GLOBAL_BATCH/NORM, comma-separated; NORM one of {', '.join(NORM_LABELS)}",
    )
    parser.add_argument("--round_images", type=int, default=3840, help="images per timed round")
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra/inter-op threads (0: TF's)")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per configuration")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    add_markdown_flag(parser)
    args = parser.parse_args()
    try:
        variants = _parse_variants(args.variants)
    except ValueError as e:
        parser.error(str(e))
    if args.child:
        _child(args)
        return

    keys = [f"{b}/{n}" for b, n in variants]
    results = {
        name: _run(workers, devices, args) for name, (workers, devices) in CONFIGURATIONS.items()
    }
    rates = {
        name: {k: statistics.median(r["images_per_second"][k]) for k in keys}
        for name, r in results.items()
    }
    baseline = rates[next(iter(CONFIGURATIONS))]
    if args.markdown:
        header = ["configuration", "replicas"]
        for batch, norm in variants:
            header += [f"batch {batch}, {NORM_LABELS[norm]}: images/s", "vs one device"]
        rows = [
            [name, results[name]["replicas"]]
            + [
                c
                for k in keys
                for c in (f"{rates[name][k]:.0f}", f"{rates[name][k] / baseline[k]:.2f}x")
            ]
            for name in CONFIGURATIONS
        ]
        print_markdown(
            "`small_resnet` on `digits` with the real pipeline; for each variant the same "
            "global batch in every configuration (split equally over the replicas), Adam, no "
            f"XLA; median of {args.repeats} rounds of about {args.round_images} images after "
            f"{args.warmup} warm-up steps; configurations in their own processes, one after "
            "another"
            + (f", {args.threads} threads per process" if args.threads else "")
            + f"; {os.cpu_count()} CPU cores.",
            markdown_table(header, rows),
            HOW_TO_READ,
        )
        return
    print(f"images/s, median of {args.repeats} rounds (ratio to one device)")
    print(f"{'':<68}{'replicas':>9}" + "".join(f"{k:>20}" for k in keys))
    for name in CONFIGURATIONS:
        cells = "".join(
            f"{rates[name][k]:>12.0f} ({rates[name][k] / baseline[k]:.2f}x)" for k in keys
        )
        print(f"{name:<68}{results[name]['replicas']:>9}{cells}")


if __name__ == "__main__":
    main()
