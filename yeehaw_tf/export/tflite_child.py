"""The child process of an isolated TFLite conversion (see
:func:`yeehaw_tf.export.tflite.convert_saved_model`): ``python -m yeehaw_tf.export.tflite_child
DIR`` reads ``DIR/request.json`` (and ``DIR/calibration.npz`` for int8), converts, and writes
``DIR/model.tflite``, or ``DIR/error.txt`` and exits with 1."""

from __future__ import annotations

import json
import os
import sys
import traceback


def main(directory: str) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from yeehaw_tf.export.tflite import convert_in_process

    try:
        with open(os.path.join(directory, "request.json")) as f:
            request = json.load(f)
        calibration = None
        path = os.path.join(directory, "calibration.npz")
        if os.path.exists(path):
            with np.load(path) as data:
                calibration = {name: data[name] for name in data.files}
        content = convert_in_process(
            request["saved_model_dir"],
            request["quantization"],
            calibration,
            request["int8_float_ops"],
        )
    except Exception as error:  # noqa: BLE001 -- handed to the parent, which raises it
        with open(os.path.join(directory, "error.txt"), "w") as f:
            f.write(f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
        return 1
    staging = os.path.join(directory, "model.tflite.partial")
    with open(staging, "wb") as f:
        f.write(content)
    os.replace(staging, os.path.join(directory, "model.tflite"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
