"""Export a training run: ``python -m export --workdir WORKDIR [--checkpoint PATH]``.

The logic is in ``yeehaw_tf.cli.export``.
"""

import os

# TensorFlow's C++ INFO/WARNING start-up lines drown the progress bar; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from yeehaw_tf.cli.export import run  # noqa: E402

if __name__ == "__main__":
    run()
