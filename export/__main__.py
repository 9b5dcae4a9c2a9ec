"""Export a training run: ``python -m export --workdir WORKDIR [--checkpoint PATH]``.

Rebuilds the model from ``WORKDIR/config.json``, restores the latest checkpoint (or
``--checkpoint``), writes ``WORKDIR/export/`` atomically (SavedModel, TFLite variants,
report.json) and checks every file against the Keras model. Exits non-zero, writing nothing,
if the workdir has no run or no checkpoint, or if an export misses its parity limit.
"""

from __future__ import annotations

import os
import sys

# TensorFlow's C++ INFO/WARNING start-up lines drown the progress bar; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from yeehaw_tf.export.classifier import FORMATS  # noqa: E402
from yeehaw_tf.export.tflite import QUANTIZATIONS  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The run's workdir (as given to train.py).", required=True)
flags.DEFINE_string("checkpoint", None, "A checkpoint prefix (default: the workdir's latest).")
flags.DEFINE_string("data_dir", None, "TFDS data directory (default: the run's).")
flags.DEFINE_multi_enum("formats", list(FORMATS), FORMATS, "Export formats.")
flags.DEFINE_multi_enum("quantize", list(QUANTIZATIONS), QUANTIZATIONS, "TFLite variants.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow_datasets as tfds

    from yeehaw_tf.export.classifier import ExportCheckError
    from yeehaw_tf.training.experiment import export_workdir, format_export_report

    tfds.disable_progress_bar()
    if not FLAGS["verbosity"].present:  # TF and TFDS log a lot at INFO; --verbosity=0 shows it
        logging.set_verbosity(logging.WARNING)
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


if __name__ == "__main__":
    sys.exit(app.run(main))
