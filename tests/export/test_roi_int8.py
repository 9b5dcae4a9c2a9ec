"""int8 TFLite of RoI operations: RoI coordinates must stay float. With the detectors' base
float-op list the quantiser turns coordinates into int8 (a 64-pixel range at ~0.28 px per step)
and RoIAlign's bilinear fractions and sample masks break; with ``ROI_INT8_FLOAT_OPS`` kept in
float too, only the features are int8 and the output is the float one within int8 precision."""

import os

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from yeehaw_tf.export.detection import INT8_FLOAT_OPS, ROI_INT8_FLOAT_OPS
from yeehaw_tf.export.tflite import convert_in_process
from yeehaw_tf.ops.roi import roi_align


def _saved_roi_align(path):
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([1, 64, 64, 3]), tf.TensorSpec([1, 12, 4])])
    def serve(images, boxes):
        rois = tf.concat([tf.zeros([12, 1]), boxes[0]], axis=1)
        return {"warped": roi_align(images, rois, 32, 1.0, 1, True)}

    module.serve = serve
    tf.saved_model.save(module, path, signatures={"serving_default": serve})


def _boxes(rng, n):
    corner = rng.uniform(0, 40, (n, 12, 2))
    size = rng.uniform(6, 24, (n, 12, 2))
    return np.concatenate([corner, corner + size], -1).astype(np.float32)


def test_roi_coordinates_stay_float_in_the_int8_file(tmp_path):
    rng = np.random.default_rng(0)
    path = os.path.join(str(tmp_path), "saved_model")
    _saved_roi_align(path)
    # a smooth image: a bilinear sample's value follows its position closely
    yy, xx = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    image = np.stack([yy, xx, yy + xx], -1)[None].astype(np.float32) / 32.0 - 1.0
    calibration = {"images": np.repeat(image, 16, 0), "boxes": _boxes(rng, 16)}
    boxes = _boxes(rng, 1)
    want = roi_align(
        tf.constant(image), tf.concat([tf.zeros([12, 1]), boxes[0]], 1), 32, 1.0, 1, True
    ).numpy()

    def error(ops):
        content = convert_in_process(path, "int8", calibration, ops)
        got = Interpreter(model_content=content).get_signature_runner()(images=image, boxes=boxes)
        return np.abs(got["warped"] - want).max()

    base, roi = error(INT8_FLOAT_OPS), error(INT8_FLOAT_OPS + ROI_INT8_FLOAT_OPS)
    # the features' own int8 step: a range of ~5 over 255 levels
    assert roi < 0.05, roi
    assert base > 4 * roi, (base, roi)
