"""Time per ``apply`` of our Adam and SGD-momentum vs Keras's, on ResNet-50's variables.

    python benchmarks/optimizers.py [--steps 20] [--repeats 5] [--markdown]

The variables are those of ``keras.applications.ResNet50(weights=None)`` (214 trainable
tensors, 25.6M parameters, no download). Each optimizer applies the same fixed gradients in a
compiled function; rounds are interleaved after a warm-up and the median round is kept.
Ratio = ours / Keras (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import add_markdown_flag, interleaved_medians, ours_vs_keras, print_markdown  # noqa: E402

from yeehaw_tf import optimizers as ours  # noqa: E402

TARGET = 1.1  # ours / Keras, from the issue that added these optimizers
HOW_TO_READ = f"""\
Ratio = ours / Keras: below 1 we are faster; the target is at most {TARGET}x. The apply is
memory-bound (each parameter and each optimizer slot is read and written once), so Adam (two
slots) costs more than SGD with momentum (one slot)."""


def _compiled_apply(optimizer, grads, variables):
    @tf.function
    def apply():
        optimizer.apply(grads, variables)

    return apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    add_markdown_flag(parser)
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
    parameters = sum(int(tf.size(g)) for g in grads)
    rows = []
    for name, (make_ours, make_keras) in pairs.items():
        runners = {}
        for key, make in (("ours", make_ours), ("keras", make_keras)):
            variables = [keras.Variable(tf.zeros(s)) for s in shapes]
            optimizer = make()
            optimizer.build(variables)
            apply = _compiled_apply(optimizer, grads, variables)
            apply()  # trace and warm up

            def run(apply=apply, variables=variables) -> float:
                began = time.perf_counter()
                for _ in range(args.steps):
                    apply()
                variables[0].numpy()
                return (time.perf_counter() - began) / args.steps

            runners[key] = run
        median = interleaved_medians(runners, args.repeats)
        rows.append([name, median["ours"] * 1e3, median["keras"] * 1e3])
    if args.markdown:
        table, verdict = ours_vs_keras("optimizer", rows, TARGET)
        print_markdown(
            f"One compiled `optimizer.apply` of fixed gradients to ResNet-50's {len(shapes)} "
            f"trainable variables ({parameters:,} parameters); median of {args.repeats} "
            f"interleaved rounds of {args.steps} applies. {verdict}",
            table,
            HOW_TO_READ,
        )
        return
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; {len(shapes)} variables, "
        f"{parameters:,} parameters; {args.steps} applies per round, median of {args.repeats}"
    )
    print(f"{'optimizer':<20}{'ours ms':>10}{'keras ms':>10}{'ratio':>8}")
    for name, ours_ms, keras_ms in rows:
        print(f"{name:<20}{ours_ms:>10.2f}{keras_ms:>10.2f}{ours_ms / keras_ms:>8.2f}")


if __name__ == "__main__":
    main()
