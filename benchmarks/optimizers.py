"""Time per ``apply`` of our Adam and SGD-momentum vs Keras's, on ResNet-50's variables.

    python benchmarks/optimizers.py [--steps 20] [--repeats 7] [--markdown]

The variables are those of ``keras.applications.ResNet50(weights=None)`` (214 trainable
tensors, 25.6M parameters, no download). Each optimizer applies the same fixed gradients in a
compiled function; rounds are interleaved after a warm-up. The report gives the min / median /
max round of each and the ratio of the medians, ours / Keras (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import (  # noqa: E402
    add_markdown_flag,
    interleaved_medians,
    markdown_table,
    ours_vs_keras,
    print_markdown,
)

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


def _recording(run: Callable[[], float], into: list[float]) -> Callable[[], float]:
    """``run``, also appending each measurement to ``into`` (for the min and max)."""

    def recorded() -> float:
        seconds = run()
        into.append(seconds)
        return seconds

    return recorded


def _spread(milliseconds: list[float]) -> str:
    """``min / median / max``."""
    low, middle, high = min(milliseconds), statistics.median(milliseconds), max(milliseconds)
    return f"{low:.2f} / {middle:.2f} / {high:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--only", choices=["adam", "sgd"], help="time one pair (default: all of them)"
    )
    add_markdown_flag(parser)
    args = parser.parse_args()
    reference = keras.applications.ResNet50(weights=None)
    shapes = [tuple(v.shape) for v in reference.trainable_variables]
    grads = [tf.random.normal(s, stddev=1e-3, seed=i) for i, s in enumerate(shapes)]
    pairs = {
        "adam": ("Adam", lambda: ours.Adam(1e-3), lambda: keras.optimizers.Adam(1e-3)),
        "sgd": (
            "SGD momentum 0.9",
            lambda: ours.SGD(1e-2, momentum=0.9),
            lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
        ),
    }
    if args.only:
        pairs = {args.only: pairs[args.only]}
    parameters = sum(int(tf.size(g)) for g in grads)
    rows = []  # (name, ours ms per round, Keras ms per round)
    for name, make_ours, make_keras in pairs.values():
        runners, seconds = {}, {"ours": [], "keras": []}
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

            runners[key] = _recording(run, seconds[key])
        interleaved_medians(runners, args.repeats)
        rows.append((name, *([s * 1e3 for s in seconds[key]] for key in ("ours", "keras"))))
    medians = [(name, statistics.median(a), statistics.median(b)) for name, a, b in rows]
    if args.markdown:
        _, verdict = ours_vs_keras("optimizer", medians, TARGET)
        table = markdown_table(
            ["optimizer", "ours ms min / median / max", "Keras ms min / median / max", "ratio"],
            [
                [name, _spread(a), _spread(b), f"{statistics.median(a) / statistics.median(b):.2f}"]
                for name, a, b in rows
            ],
        )
        print_markdown(
            f"One compiled `optimizer.apply` of fixed gradients to ResNet-50's {len(shapes)} "
            f"trainable variables ({parameters:,} parameters); {args.repeats} interleaved "
            f"rounds of {args.steps} applies; ratio = ours / Keras of the median rounds. "
            f"{verdict}",
            table,
            HOW_TO_READ,
        )
        return
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; {len(shapes)} variables, "
        f"{parameters:,} parameters; {args.repeats} interleaved rounds of {args.steps} applies"
    )
    print(f"{'optimizer':<18}{'ours ms min/med/max':>26}{'keras ms min/med/max':>26}{'ratio':>7}")
    for name, a, b in rows:
        ratio = statistics.median(a) / statistics.median(b)
        print(f"{name:<18}{_spread(a):>26}{_spread(b):>26}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
