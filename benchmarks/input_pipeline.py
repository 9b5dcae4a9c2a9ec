"""Steps/s of the Trainer's custom loop fed by our tf.data pipeline vs fed tensors in memory.

    python benchmarks/input_pipeline.py [--steps 200] [--segmentation_steps 20] [--repeats 5]
                                        [--jobs classification,segmentation] [--markdown]

For each job -- ``classification``: the main job, ``small_resnet`` on ``digits`` through
``classification_pipeline``; ``segmentation``: ``unet`` on ``shapes/32x32`` through
``segmentation_pipeline`` -- the same model is trained by ``Trainer.train`` fed by:
  1. the real pipeline (``training=True``: map, cache, seeded shuffle, repeat, batch, prefetch);
  2. one epoch of those batches, materialised in memory (``from_tensor_slices(...).repeat()``);
  3. one of those batches repeated (``from_tensors(batch).repeat()``): the baseline, with no
     input work at all.
Each feed has its own Trainer; after a warm-up that fills the pipeline's cache
(more than one epoch), rounds of ``--steps`` steps are interleaved and min / median / max
steps/s of each are reported (``--segmentation_steps`` for the slower U-Net). The rate is the
Trainer's own (one ``tf.function`` call per round, ``steps_per_loop`` = the round's steps), so
the checkpoint written after each round is not counted.
Ratio = feed / baseline of the medians; 1.0 means the input costs nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from reporting import add_markdown_flag, interleaved_timings, markdown_table, print_markdown, spread  # noqa: E402

from yeehaw_tf.data import (  # noqa: E402
    channel_mean_std,
    classification_pipeline,
    load_classification,
    load_segmentation,
    segmentation_pipeline,
)
from yeehaw_tf.training import Trainer  # noqa: E402
from yeehaw_tf.training.tasks import (  # noqa: E402
    ClassificationOptions,
    ClassificationTask,
    SegmentationOptions,
    SegmentationTask,
)

TARGET = 0.95  # pipeline / in-memory: the input pipeline must never be the bottleneck
JOBS = ("classification", "segmentation")
HOW_TO_READ = f"""\
Ratio = median steps/s with that feed / with one batch repeated from memory; the target for the
real pipeline is at least {TARGET}. The pipeline's per-step work after the first epoch is a
cache read, a shuffle-buffer draw, batching and a prefetch hand-off, done by tf.data threads
that share the same two cores with the training step; a ratio near 1 means that work is hidden
behind the step (prefetch) and costs no compute the step needed. The in-memory epoch row
separates the price of tf.data's iterator itself from that of the pipeline's stages. Noise
between interleaved rounds on the shared 2-core machine is a few percent, so ratios within
about 0.03 of 1 are indistinguishable from 1."""


def _statistics(mean, std) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """As train.py passes them to a task (a constant channel gets std 1e-3, not 0)."""
    return tuple(mean.tolist()), tuple(np.maximum(std, 1e-3).tolist())


def _classification(args):
    data = load_classification("digits", args.data_dir)
    mean, std = channel_mean_std(data.train.map(lambda x, y: x))
    mean, std = _statistics(mean, std)
    task = ClassificationTask(
        ClassificationOptions(model="small_resnet"),
        num_classes=data.num_classes,
        input_shape=data.image_shape,
        mean=mean,
        std=std,
    )
    pipeline = classification_pipeline(data.train, batch_size=args.batch_size, training=True)
    return task, pipeline, data.num_train


def _segmentation(args):
    data = load_segmentation("shapes/32x32", args.data_dir)
    mean, std = channel_mean_std(data.train.map(lambda image, mask: image))
    mean, std = _statistics(mean, std)
    task = SegmentationTask(
        SegmentationOptions(model="unet"),
        num_classes=len(data.class_names),
        input_shape=data.image_shape,
        mean=mean,
        std=std,
        class_names=data.class_names,
    )
    pipeline = segmentation_pipeline(data.train, batch_size=args.batch_size, training=True)
    return task, pipeline, data.num_train


def _feeds(pipeline: tf.data.Dataset, num_train: int, batch_size: int) -> dict:
    epoch = list(pipeline.take(max(1, num_train // batch_size)))
    stacked = tuple(tf.stack([batch[i] for batch in epoch]) for i in range(2))
    return {
        "real pipeline": pipeline,
        "one epoch in memory": tf.data.Dataset.from_tensor_slices(stacked).repeat(),
        "one batch repeated": tf.data.Dataset.from_tensors(epoch[0]).repeat(),
    }


def _runner(task, dataset: tf.data.Dataset, steps: int, warmup: int, workdir: str):
    trainer = Trainer(
        task,
        build_optimizer=lambda: keras.optimizers.Adam(1e-3),
        workdir=workdir,
        checkpoint_every=10**9,
        max_to_keep=1,
        steps_per_loop=steps,
    )
    trainer.train(dataset, warmup, verbose=0)  # tracing, and the first epoch fills the cache

    def run() -> float:
        total = int(trainer.step.numpy()) + steps
        return 1.0 / trainer.train(dataset, total, verbose=0)["steps_per_second"]

    return run


def measure(job: str, args) -> dict[str, list[float]]:
    """Every round's steps/s of each feed for ``job``."""
    task, pipeline, num_train = (_classification if job == "classification" else _segmentation)(
        args
    )
    steps = args.steps if job == "classification" else args.segmentation_steps
    # Seed once, before any Trainer: tf.random.set_seed clears TensorFlow's kernel cache, which
    # would make the next round of every Trainer built before it slower.
    keras.utils.set_random_seed(0)
    warmup = max(args.warmup, num_train // args.batch_size + 1)  # more than one epoch
    with tempfile.TemporaryDirectory(prefix="input_pipeline_") as root:
        runners = {
            name: _runner(task, dataset, steps, warmup, os.path.join(root, str(i)))
            for i, (name, dataset) in enumerate(
                _feeds(pipeline, num_train, args.batch_size).items()
            )
        }
        seconds = interleaved_timings(runners, args.repeats)
    return {name: [1.0 / s for s in values] for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timed round")
    parser.add_argument("--segmentation_steps", type=int, default=20, help="the same, U-Net")
    parser.add_argument("--warmup", type=int, default=30, help="at least one epoch + 1 step")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"any of {', '.join(JOBS)}")
    parser.add_argument("--data_dir", default=None)
    add_markdown_flag(parser)
    args = parser.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    if unknown := set(jobs) - set(JOBS):
        parser.error(f"unknown jobs {sorted(unknown)}; valid: {', '.join(JOBS)}")
    tfds.disable_progress_bar()
    labels = {
        "classification": "`small_resnet` on `digits`",
        "segmentation": "`unet` on `shapes/32x32`",
    }
    rows = []
    for job in jobs:
        rates = measure(job, args)
        baseline = statistics.median(rates["one batch repeated"])
        for feed, rate in rates.items():
            rows.append(
                [labels[job], feed, spread(rate, "{:.1f}"), statistics.median(rate) / baseline]
            )
    real = {row[0]: row[3] for row in rows if row[1] == "real pipeline"}
    if args.markdown:
        below = [job for job, ratio in real.items() if ratio < TARGET]
        verdict = (
            f"Below the {TARGET} target: {', '.join(below)}."
            if below
            else f"The real pipeline meets the {TARGET} target in every job."
        )
        print_markdown(
            f"`Trainer.train` (custom loop, Adam, no XLA), batch {args.batch_size}; min / median / "
            f"max of {args.repeats} interleaved rounds of {args.steps} steps (U-Net: "
            f"{args.segmentation_steps}) after at least {args.warmup} warm-up steps (more than "
            f"one epoch); ratios of medians. {verdict}",
            markdown_table(
                ["job", "feed", "steps/s (min / median / max)", "vs one batch repeated"],
                [[job, feed, rate, f"{ratio:.3f}"] for job, feed, rate, ratio in rows],
                left=2,
            ),
            HOW_TO_READ,
        )
        return
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; batch {args.batch_size}, "
        f"min / median / max of {args.repeats} rounds of {args.steps} / "
        f"{args.segmentation_steps} steps, ratios of medians"
    )
    print(f"{'job':<30}{'feed':<22}{'steps/s min/med/max':>22}{'ratio':>8}")
    for job, feed, rate, ratio in rows:
        print(f"{job:<30}{feed:<22}{rate:>22}{ratio:>8.3f}")


if __name__ == "__main__":
    main()
