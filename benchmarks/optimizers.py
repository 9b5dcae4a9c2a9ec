"""Time per ``apply`` of our Adam and SGD-momentum vs Keras's, on ResNet-50's variables.

    python benchmarks/optimizers.py [--steps 20] [--repeats 5]

The variables are those of ``keras.applications.ResNet50(weights=None)`` (214 trainable
tensors, 25.6M parameters, no download). Each optimizer applies the same fixed gradients in a
compiled function; rounds are interleaved after a warm-up and the best round is kept.
Ratio = ours / Keras (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from yeehaw_tf import optimizers as ours  # noqa: E402


def _compiled_apply(optimizer, grads, variables):
    @tf.function
    def apply():
        optimizer.apply(grads, variables)

    return apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    reference = keras.applications.ResNet50(weights=None)
    shapes = [tuple(v.shape) for v in reference.trainable_variables]
    grads = [tf.random.normal(s, stddev=1e-3, seed=i) for i, s in enumerate(shapes)]
    pairs = {
        "Adam": (lambda: ours.Adam(1e-3), lambda: keras.optimizers.Adam(1e-3)),
        "SGD momentum 0.9": (
            lambda: ours.SGD(1e-2, momentum=0.9),
            lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
        ),
    }
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; {len(shapes)} variables, "
        f"{sum(int(tf.size(g)) for g in grads):,} parameters; {args.steps} applies per round, "
        f"best of {args.repeats}"
    )
    print(f"{'optimizer':<20}{'ours ms':>10}{'keras ms':>10}{'ratio':>8}")
    for name, (make_ours, make_keras) in pairs.items():
        runs = {}
        for key, make in (("ours", make_ours), ("keras", make_keras)):
            variables = [keras.Variable(tf.zeros(s)) for s in shapes]
            optimizer = make()
            optimizer.build(variables)
            runs[key] = (_compiled_apply(optimizer, grads, variables), variables)
            runs[key][0]()  # trace and warm up
        best = {key: float("inf") for key in runs}
        for _ in range(args.repeats):
            for key, (apply, variables) in runs.items():
                began = time.perf_counter()
                for _ in range(args.steps):
                    apply()
                variables[0].numpy()
                best[key] = min(best[key], (time.perf_counter() - began) / args.steps)
        print(
            f"{name:<20}{best['ours'] * 1e3:>10.2f}{best['keras'] * 1e3:>10.2f}"
            f"{best['ours'] / best['keras']:>8.2f}"
        )


if __name__ == "__main__":
    main()
