"""Command line: ``python -m yeehaw_tf.analysis --model NAME [--input_shape H,W,C]
[--num_classes N] [--format text|markdown|csv] [--receptive_field]``."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from yeehaw_tf.analysis import cost_table, format_table, receptive_field
    from yeehaw_tf.models import build, list_models

    parser = argparse.ArgumentParser(
        prog="python -m yeehaw_tf.analysis", description="Per-layer cost table of a model."
    )
    parser.add_argument("--model", required=True, help=f"one of: {', '.join(list_models())}")
    parser.add_argument("--input_shape", default=None, help="H,W,C (default: the model's own)")
    parser.add_argument("--num_classes", type=int, default=1000)
    parser.add_argument("--format", default="text", choices=("text", "markdown", "csv"))
    parser.add_argument(
        "--receptive_field", action="store_true", help="print receptive fields instead of costs"
    )
    args = parser.parse_args(argv)
    if args.model not in list_models():
        parser.error(f"unknown model {args.model!r}; valid names: {', '.join(list_models())}")
    shape = None
    if args.input_shape:
        try:
            shape = tuple(int(d) for d in args.input_shape.split(","))
        except ValueError:
            parser.error(f"--input_shape takes H,W,C integers, got {args.input_shape!r}")
    try:
        model = build(args.model, args.num_classes, shape)
    except ValueError as e:
        parser.error(str(e))
    if args.receptive_field:
        for row in receptive_field(model):
            print(
                f"{row['name']:<40} size {row['size']:>6g}  jump {row['jump']:>4g}  "
                f"start {row['start']:>6g}"
            )
        return 0
    print(format_table(cost_table(model), args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
