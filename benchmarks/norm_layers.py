"""Forward + backward time of our normalisation layers vs the Keras built-ins, one process.

    python benchmarks/norm_layers.py [--batch 64] [--size 32] [--channels 64] [--repeats 5]

For each pair (BatchNormalization in training mode, LayerNormalization, GroupNormalization)
both layers run the same compiled step -- forward, a weighted sum, gradients with respect to
the input and the layer's weights -- on the same input. Steps are timed in interleaved rounds
after a warm-up; the best round of each is kept. Ratio = ours / Keras (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from yeehaw_tf import layers  # noqa: E402


def _step(layer, training: bool):
    @tf.function
    def step(x, weights):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training) if training else layer(x)
            loss = tf.reduce_sum(y * weights)
        return tape.gradient(loss, [x, *layer.trainable_variables])

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shape = (args.batch, args.size, args.size, args.channels)
    x = tf.random.normal(shape)
    weights = tf.random.normal(shape)
    pairs = {
        "BatchNormalization (training)": (
            layers.BatchNormalization(),
            keras.layers.BatchNormalization(),
            True,
        ),
        "LayerNormalization": (
            layers.LayerNormalization(),
            keras.layers.LayerNormalization(),
            False,
        ),
        "GroupNormalization(32)": (
            layers.GroupNormalization(32),
            keras.layers.GroupNormalization(32),
            False,
        ),
    }
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; input {shape}, "
        f"{args.steps} steps per round, best of {args.repeats} rounds"
    )
    print(f"{'layer':<32}{'ours ms':>10}{'keras ms':>10}{'ratio':>8}")
    for name, (ours, theirs, training) in pairs.items():
        steps = {"ours": _step(ours, training), "keras": _step(theirs, training)}
        for step in steps.values():
            step(x, weights)  # trace and warm up
        best = {k: float("inf") for k in steps}
        for _ in range(args.repeats):
            for key, step in steps.items():
                began = time.perf_counter()
                for _ in range(args.steps):
                    result = step(x, weights)
                result[0].numpy()
                best[key] = min(best[key], (time.perf_counter() - began) / args.steps)
        print(
            f"{name:<32}{best['ours'] * 1e3:>10.2f}{best['keras'] * 1e3:>10.2f}"
            f"{best['ours'] / best['keras']:>8.2f}"
        )


if __name__ == "__main__":
    main()
