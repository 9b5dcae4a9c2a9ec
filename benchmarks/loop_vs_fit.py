"""Images per second: our custom training loop vs Keras ``fit``, same model, data and process.

    python benchmarks/loop_vs_fit.py [--steps 300] [--batch_size 64] [--repeats 3]

Trains the main job's model (``small_resnet`` on ``digits``) with:
  1. ``Trainer.train`` (tf.function loop, ``steps_per_loop`` steps per call);
  2. Keras ``fit`` with its defaults (``steps_per_execution=1``): the baseline;
  3. Keras ``fit`` with ``steps_per_execution`` equal to our ``steps_per_loop``.
Each is warmed up (tracing excluded), then timed over ``--steps`` steps, ``--repeats`` times,
interleaved; the best time of each is kept. Ratios > 1 mean the custom loop is faster.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from yeehaw_tf.data import channel_mean_std, classification_pipeline, load_classification  # noqa: E402
from yeehaw_tf.training import Trainer  # noqa: E402
from yeehaw_tf.training.tasks import ClassificationTask  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps_per_loop", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    tfds.disable_progress_bar()

    data = load_classification("digits", args.data_dir)
    mean, std = channel_mean_std(data.train.map(lambda x, y: x))
    task = ClassificationTask("small_resnet", 10, (8, 8, 1), tuple(mean), tuple(std))
    dataset = classification_pipeline(data.train, batch_size=args.batch_size, training=True)

    trainer = Trainer(
        build_model=task.build_model,
        loss=task.loss(),
        build_metrics=task.metrics,
        build_optimizer=lambda: keras.optimizers.Adam(1e-3),
        workdir=tempfile.mkdtemp(),
        checkpoint_every=10**9,
        steps_per_loop=args.steps_per_loop,
    )
    trainer.train(dataset, args.warmup, verbose=0)
    custom_iterator_steps = [args.warmup]

    def time_custom() -> float:
        start_step = custom_iterator_steps[0]
        began = time.perf_counter()
        trainer.train(dataset, start_step + args.steps, verbose=0)
        custom_iterator_steps[0] += args.steps
        return time.perf_counter() - began

    def make_fit(steps_per_execution: int):
        model = task.build_model()
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=task.loss(),
            metrics=task.metrics(),
            steps_per_execution=steps_per_execution,
            jit_compile=False,
        )
        iterator_ds = dataset  # fit keeps its own iterator per call
        model.fit(iterator_ds, epochs=1, steps_per_epoch=args.warmup, verbose=0)

        def run() -> float:
            began = time.perf_counter()
            model.fit(iterator_ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
            return time.perf_counter() - began

        return run

    runners = {
        "custom loop": time_custom,
        "fit (default)": make_fit(1),
        f"fit (steps_per_execution={args.steps_per_loop})": make_fit(args.steps_per_loop),
    }
    best = {name: float("inf") for name in runners}
    for _ in range(args.repeats):
        for name, run in runners.items():
            best[name] = min(best[name], run())

    images = args.steps * args.batch_size
    baseline = images / best["fit (default)"]
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, devices: "
        f"{[d.name for d in tf.config.list_logical_devices()]}"
    )
    print(f"{args.steps} steps x batch {args.batch_size}, best of {args.repeats}")
    print(f"{'driver':<36}{'images/s':>12}{'vs fit (default)':>20}")
    for name, seconds in best.items():
        rate = images / seconds
        print(f"{name:<36}{rate:>12.0f}{rate / baseline:>19.2f}x")


if __name__ == "__main__":
    main()
