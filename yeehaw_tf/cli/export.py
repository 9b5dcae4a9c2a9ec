"""``python -m export`` / ``yeehaw-export``: re-export a training run from its checkpoint.

Rebuilds the task's models from ``WORKDIR/config.json``, restores the latest checkpoint (or
``--checkpoint``), writes ``WORKDIR/export/`` atomically (SavedModel, TFLite variants,
metadata.json, report.json) and checks every file against the Keras model. Exits non-zero,
writing nothing, if the workdir has no run or no checkpoint, or if an export misses its limit.
"""

from __future__ import annotations

import sys

from absl import app, flags

from yeehaw_tf.cli import start
from yeehaw_tf.export.exporter import FORMATS
from yeehaw_tf.export.tflite import QUANTIZATIONS

FLAGS = flags.FLAGS


def define_export_flags() -> None:
    flags.DEFINE_string("workdir", None, "The run's workdir (as given to train.py).", required=True)
    flags.DEFINE_string("checkpoint", None, "A checkpoint prefix (default: the workdir's latest).")
    flags.DEFINE_string("data_dir", None, "TFDS data directory (default: the run's).")
    flags.DEFINE_multi_enum("formats", list(FORMATS), FORMATS, "Export formats.")
    flags.DEFINE_multi_enum("quantize", list(QUANTIZATIONS), QUANTIZATIONS, "TFLite variants.")


def main(argv) -> int:
    start(argv)
    from yeehaw_tf.export.exporter import ExportCheckError
    from yeehaw_tf.training.experiment import export_workdir, format_export_report

    try:
        report = export_workdir(
            FLAGS.workdir,
            checkpoint=FLAGS.checkpoint,
            formats=FLAGS.formats,
            quantize=FLAGS.quantize,
            data_dir=FLAGS.data_dir,
        )
    except (FileNotFoundError, ValueError, ExportCheckError) as e:
        print(f"export failed: {e}", file=sys.stderr)
        return 1
    print(format_export_report(report))
    return 0


def run() -> None:
    """The console entry point."""
    define_export_flags()
    app.run(lambda argv: sys.exit(main(argv)))
