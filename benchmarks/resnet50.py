"""Train-step throughput of our ResNet-50 vs ``keras.applications.ResNet50(weights=None)``.

    python benchmarks/resnet50.py [--batch 8] [--steps 4] [--repeats 7] [--size 224] [--markdown]

Both models take the same batch through the same compiled step (forward, cross-entropy,
gradients, SGD update), interleaved after a warm-up; min / median / max images/s of the rounds
are reported, and the ratio of the medians. Also reports the achieved multiply-adds per second
of the median round -- a training step taken as 3x the forward multiply-adds of our cost table
-- as a fraction of a large float32 matmul's rate measured in the same run. (Keras's ResNet50
has conv biases and a slightly different stem; it is the obvious baseline, not an identical
network.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import add_markdown_flag, interleaved_timings, markdown_table, print_markdown, spread  # noqa: E402

from yeehaw_tf.analysis import cost_table  # noqa: E402
from yeehaw_tf.models import build  # noqa: E402

HOW_TO_READ = """\
Ratio > 1: our step is faster than Keras's. Keras's ResNet50 has conv biases and a slightly
different stem, so it is the obvious baseline, not an identical network. The achieved rate
counts a training step as 3x the forward multiply-adds and compares it with the best case for
this CPU, one large matmul, measured in the same run. History: the first measurement gave
0.920, because every 3x3 convolution had a separate `ZeroPadding2D` layer; stride-1
convolutions whose padding is `(K - 1) / 2` now use Keras's `"same"` padding (identical
results), and batch norm stops the (zero) gradient through the mean inside its variance."""


def _train_step(model):
    optimizer = keras.optimizers.SGD(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step


def _matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal((n, n))
    matmul = tf.function(lambda m: tf.matmul(m, m))
    matmul(a).numpy()
    began = time.perf_counter()
    for _ in range(repeats):
        out = matmul(a)
    out.numpy()
    return repeats * n**3 / (time.perf_counter() - began)  # multiply-adds per second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=224)
    add_markdown_flag(parser)
    args = parser.parse_args()
    shape = (args.size, args.size, 3)
    x = tf.random.uniform((args.batch, *shape))
    y = tf.random.uniform((args.batch,), 0, 1000, dtype=tf.int32)
    ours = build("resnet50", 1000, shape)
    keras_model = keras.applications.ResNet50(
        weights=None, input_shape=shape, classifier_activation=None
    )
    steps = {"ours": _train_step(ours), "keras": _train_step(keras_model)}
    for step in steps.values():
        step(x, y).numpy()  # trace and warm up

    def timed(step):
        def run() -> float:
            began = time.perf_counter()
            for _ in range(args.steps):
                loss = step(x, y)
            loss.numpy()
            return (time.perf_counter() - began) / args.steps

        return run

    seconds = interleaved_timings({k: timed(s) for k, s in steps.items()}, args.repeats)
    rates = {k: [args.batch / s for s in v] for k, v in seconds.items()}
    rate = {k: statistics.median(v) for k, v in rates.items()}  # the medians
    ratio = rate["ours"] / rate["keras"]
    forward = cost_table(ours)[-1]["flops"]
    achieved = 3 * forward * rate["ours"]
    peak = _matmul_rate()
    fmt = "{:.2f}"
    if args.markdown:
        print_markdown(
            f"Batch {args.batch} at {args.size}x{args.size}x3, one compiled step (forward, "
            "cross-entropy, gradients, SGD update); min / median / max of "
            f"{args.repeats} interleaved rounds of {args.steps} steps; the ratio and the "
            "achieved rate are of the medians.",
            markdown_table(
                ["model", "images/s (min / median / max)"],
                [
                    ['ours (`yeehaw_tf.models.build("resnet50")`)', spread(rates["ours"], fmt)],
                    ["`keras.applications.ResNet50(weights=None)`", spread(rates["keras"], fmt)],
                    ["ratio ours / Keras (medians)", f"{ratio:.3f}"],
                ],
            )
            + f"\n\nAchieved {achieved / 1e9:.1f} G multiply-adds/s (3 x the cost table's "
            f"{forward / 1e9:.2f} G forward multiply-adds per image), {achieved / peak:.2f} of a "
            f"2048^3 float32 matmul's {peak / 1e9:.1f} G/s measured in the same run.",
            HOW_TO_READ,
        )
        return
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; batch {args.batch} at "
        f"{args.size}x{args.size}, {args.repeats} rounds of {args.steps} steps"
    )
    print(f"ours   {spread(rates['ours'], fmt):>24} images/s (min / median / max)")
    print(f"keras  {spread(rates['keras'], fmt):>24} images/s (min / median / max)")
    print(f"ratio of the medians (ours / keras) {ratio:.3f}")
    print(f"forward multiply-adds per image (cost table): {forward / 1e9:.2f} G")
    print(
        f"achieved {achieved / 1e9:.1f} G multiply-adds/s; a {2048}^3 float32 matmul "
        f"{peak / 1e9:.1f} G/s; fraction {achieved / peak:.2f}"
    )


if __name__ == "__main__":
    main()
