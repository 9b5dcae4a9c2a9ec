"""Examples/s of the training input pipeline with each augmentation policy vs without.

    python benchmarks/augmentation.py [--batches 40] [--repeats 3] [--batch_size 64]
                                      [--jobs digits,shapes,segmentation,detection] [--markdown]

Jobs: ``digits`` (8 x 8 grey) and ``shapes`` (``shapes/32x32``, RGB) through
``classification_pipeline``; ``segmentation`` (``shapes/32x32`` class maps) through
``segmentation_pipeline``; ``detection`` (``shapes/32x32`` with instance masks) through
``detection_pipeline`` (``flip=False``, so ``none`` is the pipeline without any augmentation).
Every policy of the job's kind gets its own pipeline (``training=True``: cache, seeded shuffle,
repeat, the policy, batch, prefetch), built in this one process. After a warm-up of more than
one epoch (the cache is full, the map functions are traced), rounds of ``--batches`` batches
are timed, interleaved across the policies; min / median / max examples/s are reported.
Ratio = policy / ``none`` of the medians; 1.0 means the policy costs nothing. Nothing trains:
this is the input alone, the most it could slow a step that waits for it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from reporting import add_markdown_flag, interleaved_timings, markdown_table, print_markdown, spread  # noqa: E402

from yeehaw_tf.data import (  # noqa: E402
    classification_pipeline,
    load_classification,
    load_segmentation,
    segmentation_pipeline,
)
from yeehaw_tf.data.augmentation import policy_names  # noqa: E402
from yeehaw_tf.data.detection import detection_pipeline, load_detection  # noqa: E402

JOBS = ("digits", "shapes", "segmentation", "detection")
LABELS = {
    "digits": "`digits` 8x8x1, classification",
    "shapes": "`shapes/32x32`, classification",
    "segmentation": "`shapes/32x32`, segmentation",
    "detection": "`shapes/32x32` + masks, detection",
}
HOW_TO_READ = """\
Ratio = median examples/s with the policy / that of the same pipeline without augmentation,
measured in the same process with interleaved rounds. Per-example policies run inside the
tf.data map (one example at a time, so every draw is a stateless function of the example's
position); the tf.data threads share the machine's cores with each other and, in training,
with the step. A policy whose examples/s stays well above what the training step consumes
costs nothing once prefetch hides it; compare with the steps/s x batch of the Trainer in the
input-pipeline section. Each round starts with the pipeline's prefetch buffer full (it refilled
while the other pipelines ran), a few batches' worth, so a policy that costs next to nothing can
show a ratio above 1; noise between rounds on a shared machine is several percent."""


def _pipelines(job: str, args) -> tuple[dict[str, tf.data.Dataset], int]:
    common = {"batch_size": args.batch_size, "training": True, "seed": 0}
    if job in ("digits", "shapes"):
        data = load_classification("digits" if job == "digits" else "shapes/32x32", args.data_dir)
        build = {
            name: classification_pipeline(
                data.train, augment=name, num_classes=data.num_classes, **common
            )
            for name in policy_names("classification")
        }
        return build, data.num_train
    if job == "segmentation":
        data = load_segmentation("shapes/32x32", args.data_dir)
        build = {
            name: segmentation_pipeline(data.train, augment=name, **common)
            for name in policy_names("segmentation")
        }
        return build, data.num_train
    data = load_detection("shapes/32x32", args.data_dir, masks=True)
    build = {
        name: detection_pipeline(data.train, augment=name, flip=False, max_boxes=8, **common)
        for name in policy_names("detection")
    }
    return build, data.num_train


def _runner(dataset: tf.data.Dataset, batches: int, warmup: int):
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)

    def run() -> float:
        began = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return time.perf_counter() - began

    return run


def measure(job: str, args) -> dict[str, list[float]]:
    """Every round's examples/s of each policy's training pipeline for ``job``."""
    pipelines, num_train = _pipelines(job, args)
    warmup = num_train // args.batch_size + 2  # more than one epoch: the cache is full
    runners = {name: _runner(dataset, args.batches, warmup) for name, dataset in pipelines.items()}
    seconds = interleaved_timings(runners, args.repeats)
    return {name: [args.batches * args.batch_size / s for s in v] for name, v in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="batches per timed round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"any of {', '.join(JOBS)}")
    parser.add_argument("--data_dir", default=None)
    add_markdown_flag(parser)
    args = parser.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    if unknown := set(jobs) - set(JOBS):
        parser.error(f"unknown jobs {sorted(unknown)}; valid: {', '.join(JOBS)}")
    tfds.disable_progress_bar()
    rows = []
    for job in jobs:
        rates = measure(job, args)
        none = statistics.median(rates["none"])
        for name, rate in rates.items():
            rows.append([LABELS[job], name, spread(rate), statistics.median(rate) / none])
    if args.markdown:
        print_markdown(
            f"Training pipelines, batch {args.batch_size}; min / median / max of {args.repeats} "
            f"interleaved rounds of {args.batches} batches after more than one epoch of "
            "warm-up; ratios of medians.",
            markdown_table(
                ["data", "policy", "examples/s (min / median / max)", "vs none"],
                [[job, name, rate, f"{ratio:.2f}"] for job, name, rate, ratio in rows],
                left=2,
            ),
            HOW_TO_READ,
        )
        return
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; batch {args.batch_size}, "
        f"min / median / max of {args.repeats} rounds of {args.batches} batches, ratios of medians"
    )
    print(f"{'data':<36}{'policy':<16}{'examples/s min/med/max':>26}{'vs none':>9}")
    for job, name, rate, ratio in rows:
        print(f"{job:<36}{name:<16}{rate:>26}{ratio:>9.2f}")


if __name__ == "__main__":
    main()
