"""ResNet-50 training images/s on synthetic data: float32, mixed float16, mixed float16 + XLA.

    python benchmarks/gpu_resnet50.py [--batch 256] [--steps 20] [--repeats 5]
                                      [--settings float32,float16,float16_xla] [--markdown]
    python benchmarks/gpu_resnet50.py --quick    # batch 4 at 64x64, 2 steps: a CPU smoke test

Meant for a GPU (``benchmarks/gpu.sh`` installs the package and runs it); it runs on a CPU too,
slowly. Our registry's ``resnet50`` (1000 classes, 224x224x3) is trained by ``Trainer.train``
(the custom loop, SGD with momentum 0.9, softmax cross-entropy, accuracy) on one synthetic batch
repeated from host memory, so each step copies its batch to the device as a real input
pipeline's would. Settings:
  - ``float32``: dtype policy ``float32``, no XLA;
  - ``float16``: policy ``mixed_float16`` (the Trainer wraps the optimizer in Keras's
    ``LossScaleOptimizer``), no XLA;
  - ``float16_xla``: the same with ``jit_compile=True`` (XLA compiles forward and backward);
  - ``float32_xla``: also available, not in the default list.
Each setting runs in its own subprocess (a fresh dtype policy and device memory): ``--warmup``
steps (tracing, XLA compilation, cuDNN autotuning), then ``--repeats`` rounds of ``--steps``
steps timed by the Trainer (one ``tf.function`` call per round, a blocking read at its end);
the median images/s is printed, one line per setting, with the ratio to the first setting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from reporting import add_markdown_flag, markdown_table, print_markdown  # noqa: E402

SETTINGS = {  # name: (Keras dtype policy, XLA)
    "float32": ("float32", False),
    "float16": ("mixed_float16", False),
    "float16_xla": ("mixed_float16", True),
    "float32_xla": ("float32", True),
}
LABELS = {
    "float32": "float32",
    "float16": "mixed float16",
    "float16_xla": "mixed float16 + XLA",
    "float32_xla": "float32 + XLA",
}
HOW_TO_READ = """\
Ratio = images/s of the setting / images/s of the first (float32). On a GPU with tensor cores
mixed float16 should be well above 1 (the convolutions run in half precision, and the loss
scaler keeps small gradients representable), and XLA adds the fusion of the element-wise ops
(batch norm, ReLU, additions) around them. On a CPU float16 is emulated and slower: there the
script only shows that every setting runs. Each step takes its batch from host memory, as a
real input pipeline's would (154 MB of float32 pixels at batch 256), so the figures include
that transfer; they exclude decoding and augmentation."""


def _child(args) -> None:
    import keras
    import tensorflow as tf

    from yeehaw_tf.losses import SoftmaxCrossEntropy
    from yeehaw_tf.models import build
    from yeehaw_tf.optimizers import SGD
    from yeehaw_tf.training import Trainer

    policy, xla = SETTINGS[args.setting]
    keras.mixed_precision.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    shape = (args.size, args.size, 3)
    images = tf.random.uniform((args.batch, *shape), 0, 255)
    labels = tf.random.uniform((args.batch,), 0, 1000, dtype=tf.int64)
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    with tempfile.TemporaryDirectory(prefix="gpu_resnet50_") as workdir:
        trainer = Trainer(
            build_model=lambda: build("resnet50", 1000, shape),
            loss=SoftmaxCrossEntropy(),
            build_metrics=lambda: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            build_optimizer=lambda: SGD(0.1, momentum=0.9),
            workdir=workdir,
            checkpoint_every=10**9,
            max_to_keep=1,
            steps_per_loop=args.steps,
            jit_compile=xla,
        )
        trainer.train(dataset, args.warmup, verbose=0)
        rates = []
        for _ in range(args.repeats):
            total = int(trainer.step.numpy()) + args.steps
            rates.append(trainer.train(dataset, total, verbose=0)["examples_per_second"])
    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name") if gpus else ""
    print("RESULT " + json.dumps({"rates": rates, "device": device or "CPU"}), flush=True)


def _run(setting: str, args) -> dict:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        f"--child={setting}",
        f"--batch={args.batch}",
        f"--size={args.size}",
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--repeats={args.repeats}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0 or "RESULT " not in done.stdout:
        raise RuntimeError(f"{setting} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--settings", default="float32,float16,float16_xla")
    parser.add_argument("--quick", action="store_true", help="batch 4 at 64x64, 2 steps x 2")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per setting")
    parser.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    add_markdown_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.size, args.steps, args.warmup, args.repeats = 4, 64, 2, 1, 2
    if args.child:
        args.setting = args.child
        _child(args)
        return
    settings = [s for s in args.settings.split(",") if s]
    if unknown := set(settings) - set(SETTINGS):
        parser.error(f"unknown settings {sorted(unknown)}; valid: {', '.join(SETTINGS)}")

    rows = []
    for setting in settings:
        result = _run(setting, args)
        rate = statistics.median(result["rates"])
        baseline = rows[0][2] if rows else rate
        rows.append([LABELS[setting], result["device"], rate, rate / baseline])
        if not args.markdown:  # one line per setting, as soon as it is measured
            print(
                f"{LABELS[setting]:<22} {result['device']}  batch {args.batch} at "
                f"{args.size}x{args.size}: {rate:9.1f} images/s  ({rate / baseline:.2f}x "
                f"{LABELS[settings[0]]}; median of {args.repeats} rounds of {args.steps} steps)",
                flush=True,
            )
    if args.markdown:
        print_markdown(
            f"Our `resnet50`, batch {args.batch} at {args.size}x{args.size}x3, synthetic data, "
            f"`Trainer.train` with SGD momentum; median of {args.repeats} rounds of "
            f"{args.steps} steps after {args.warmup} warm-up steps, each setting in its own "
            "process.",
            markdown_table(
                ["setting", "device", "images/s", f"vs {LABELS[settings[0]]}"],
                [[s, d, f"{r:.1f}", f"{x:.2f}x"] for s, d, r, x in rows],
            ),
            HOW_TO_READ,
        )


if __name__ == "__main__":
    main()
