"""Generative models: training speed, sampling speed by sampler, and generator latency per
export format, one process.

    python benchmarks/generative.py [--batch 64] [--steps 30] [--repeats 3]
                                    [--sample_images 256] [--calls 50] [--markdown]

* Train steps/s of the ``gan`` task (the DCGAN pair on 8x8x1 digits-sized images) with each
  loss's recipe, and of the ``diffusion`` task (the default U-Net), through the Trainer's
  compiled loop on in-memory batches. Baseline: the non-saturating GAN's step (one critic
  update, one generator update).
* Sampling images/s of the (untrained: speed does not depend on the weights) default U-Net:
  DDIM with 10, 50 and 250 steps and DDPM's 1,000. Baseline: DDPM.
* Latency of the exported DCGAN generator (``latents -> images``), SavedModel vs TFLite float32
  in LiteRT, batch 1 and 64. Baseline: the SavedModel.

Rates and times are min / median / max over ``--repeats`` interleaved rounds (each first traced
and warmed up); ratios are of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import add_markdown_flag, interleaved_timings, markdown_table, spread  # noqa: E402

from yeehaw_tf.export import export_spec  # noqa: E402
from yeehaw_tf.export.saved_model import ServingModel  # noqa: E402
from yeehaw_tf.export.tflite import TFLiteModel  # noqa: E402
from yeehaw_tf.training import Trainer  # noqa: E402
from yeehaw_tf.training.tasks import DiffusionOptions, DiffusionTask, GanOptions, GanTask  # noqa: E402

SHAPE = (8, 8, 1)


def _trainer(task, workdir):
    return Trainer(
        task,
        build_optimizer=lambda: keras.optimizers.Adam(1e-4),
        workdir=workdir,
        checkpoint_every=10**6,
        steps_per_loop=10,
    )


def train_runners(batch: int, steps: int, root: str) -> dict:
    images = np.random.default_rng(0).uniform(-1, 1, (batch, *SHAPE)).astype(np.float32)
    data = tf.data.Dataset.from_tensors(images).repeat()
    tasks = {
        f"gan {loss}": GanTask(GanOptions(loss=loss), image_shape=SHAPE, num_classes=10)
        for loss in ("non_saturating", "wgan", "wgan_gp", "hinge")
    }
    tasks["diffusion (DDPM step)"] = DiffusionTask(
        DiffusionOptions(), image_shape=SHAPE, num_classes=10
    )
    runners = {}
    for name, task in tasks.items():
        trainer = _trainer(task, os.path.join(root, name.replace(" ", "_")))
        trainer.train(data, 10, verbose=0)  # trace and warm up

        def run(trainer=trainer):
            start = int(trainer.step.numpy())
            began = time.perf_counter()
            trainer.train(data, start + steps, verbose=0)
            return (time.perf_counter() - began) / steps

        runners[name] = run
    return runners


def sampling_runners(images: int) -> dict:
    task = DiffusionTask(DiffusionOptions(), image_shape=SHAPE, num_classes=10)
    model = task.build_models()["ema_eps_model"]
    sampler = task.sampler(model)
    args = (tf.constant(images), tf.constant(0, tf.int64))
    sampler(*args, tf.constant(2), tf.constant(0.0))  # trace
    runners = {}
    for steps, eta, name in (
        (1000, 1.0, "DDPM, 1000 steps"),
        (250, 0.0, "DDIM, 250 steps"),
        (50, 0.0, "DDIM, 50 steps"),
        (10, 0.0, "DDIM, 10 steps"),
    ):

        def run(steps=steps, eta=eta):
            began = time.perf_counter()
            sampler(*args, tf.constant(steps), tf.constant(eta)).numpy()
            return (time.perf_counter() - began) / images

        runners[name] = run
    return runners


def latency_runners(calls: int, root: str) -> dict:
    from yeehaw_tf.training.tasks.generative import serving
    from yeehaw_tf.training.tasks.generative.data import to_uint8

    task = GanTask(GanOptions(), image_shape=SHAPE, num_classes=10)
    generator = task.build_models()["generator"]
    export_dir = os.path.join(root, "export")
    export_spec(
        serving.generator_spec(generator, 64, to_uint8), export_dir, quantizations=("float32",)
    )
    saved = ServingModel(os.path.join(export_dir, "saved_model"))
    with open(os.path.join(export_dir, "model_float32.tflite"), "rb") as f:
        lite = TFLiteModel(f.read())
    runners = {}
    for batch in (1, 64):
        latents = np.random.default_rng(batch).standard_normal((batch, 64)).astype(np.float32)
        for name, model in (("SavedModel", saved), ("TFLite float32", lite)):
            model(latents=latents)

            def run(model=model, latents=latents):
                began = time.perf_counter()
                for _ in range(calls):
                    model(latents=latents)
                return (time.perf_counter() - began) / calls

            runners[f"{name}, batch {batch}"] = run
    return runners


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/generative.py")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample_images", type=int, default=256)
    parser.add_argument("--calls", type=int, default=50)
    add_markdown_flag(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        train = interleaved_timings(train_runners(args.batch, args.steps, root), args.repeats)
        sample = interleaved_timings(sampling_runners(args.sample_images), args.repeats)
        latency = interleaved_timings(latency_runners(args.calls, root), args.repeats)
    median = {name: statistics.median(v) for t in (train, sample, latency) for name, v in t.items()}

    def per_second(seconds):
        return spread([1 / s for s in seconds], "{:.1f}")

    base = median["gan non_saturating"]
    rows = [[name, per_second(v), f"{base / median[name]:.2f}"] for name, v in train.items()]
    tables = [markdown_table(["train step", "steps/s (min / median / max)", "ratio"], rows)]
    base = median["DDPM, 1000 steps"]
    rows = [[name, per_second(v), f"{base / median[name]:.1f}"] for name, v in sample.items()]
    header = ["sampler", "images/s (min / median / max)", "ratio (speed-up)"]
    tables.append(markdown_table(header, rows))
    rows = []
    for batch in (1, 64):
        ref = median[f"SavedModel, batch {batch}"]
        for name in (f"SavedModel, batch {batch}", f"TFLite float32, batch {batch}"):
            ms = spread([s * 1e3 for s in latency[name]], "{:.2f}")
            rows.append([name, ms, f"{median[name] / ref:.2f}"])
    header = ["generator", "ms per call (min / median / max)", "ratio (time)"]
    tables.append(markdown_table(header, rows))
    setup = (
        f"Batch {args.batch}, {args.steps} steps per round, {args.repeats} rounds; "
        f"{args.sample_images} images per sampling round; {args.calls} calls per latency round; "
        "min / median / max of the rounds, ratios of medians."
    )
    reading = (
        "Train-step ratios are speeds relative to the non-saturating GAN's step (below 1: "
        "slower; WGAN and WGAN-GP update the critic five times per step, WGAN-GP also "
        "differentiates through the input gradient). Sampling cost is linear in the step "
        "count, so DDIM's speed-up over DDPM is about 1000 / steps. Latency ratios are "
        "times relative to the SavedModel at the same batch (below 1: TFLite is faster)."
    )
    if args.markdown:
        print(setup + "\n\n" + "\n\n".join(tables) + "\n\n" + reading)
    else:
        print(setup)
        for table in tables:
            print("\n" + table)


if __name__ == "__main__":
    main()
