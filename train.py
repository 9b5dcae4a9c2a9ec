"""Train, evaluate and export a model: ``python train.py --helpfull`` lists every flag.

With no flags: a compact ResNet on the built-in `digits` dataset, then SavedModel and TFLite
exports checked against the Keras model. ``--task=segmentation`` trains a U-Net on the built-in
`shapes` masks. Re-running with the same ``--workdir`` resumes. The logic is in
``yeehaw_tf.cli.train``.
"""

import os

# TensorFlow's C++ INFO/WARNING start-up lines drown the progress bar; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `bazel run //:train` starts in the runfiles tree: relative paths (the default workdir) are
# meant from where the command was typed.
if "BUILD_WORKING_DIRECTORY" in os.environ:
    os.chdir(os.environ["BUILD_WORKING_DIRECTORY"])

from yeehaw_tf.cli.train import run  # noqa: E402

if __name__ == "__main__":
    run()
