"""Two-stage detectors through the detection task at tiny size: Mask R-CNN trains, reports box
and mask AP on gathered detections, draws its masks, and exports end to end (RPN, proposal
NMS, RoIAlign, second stage, final NMS and masks inside the graph) to SavedModel and
builtin-only TFLite; Faster R-CNN trains under Keras fit too."""

import json
import os

import numpy as np
import pytest

from yeehaw_tf.training import run_experiment
from yeehaw_tf.training.config import make_config


def _config(workdir, data_dir, **overrides):
    settings = dict(
        workdir=workdir,
        task="detection",
        model="mask_rcnn",
        dataset="shapes/tiny",
        data_dir=data_dir,
        batch_size=4,
        train_steps=2,
        steps_per_loop=1,
        max_boxes=4,
        # int8 is measured on the 64x64 default run: at this 32x32 size (a 1x1 P5) the TFLite
        # int8 quantizer crashes the process (a segfault inside mlir_quantize; known, open)
        quantize=("float32",),
    )
    settings.update(overrides)
    return make_config(**settings)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("mask_rcnn") / "run")
    return workdir, run_experiment(_config(workdir, data_dir), verbose=0)


def test_mask_rcnn_reports_box_and_mask_ap_and_exports_masks_end_to_end(finished):
    workdir, summary = finished
    test = summary["test"]
    for key in ("AP", "AP50", "mask_AP", "mask_AP50"):
        assert -1.0 <= test[key] <= 1.0
    assert {"rpn_objectness", "rpn_box", "classification", "box", "mask"} <= set(test)
    assert os.path.getsize(os.path.join(workdir, "detections.png")) > 1000
    report = json.load(open(os.path.join(workdir, "export", "report.json")))
    assert set(report["formats"]) == {"saved_model", "float32"}
    assert all(row["passed"] for row in report["formats"].values()), report["formats"]


def test_the_exported_files_hold_the_whole_detector_with_builtin_ops_only(finished):
    import tensorflow as tf

    from yeehaw_tf.export.tflite import TFLiteModel

    workdir, _ = finished
    serve = tf.saved_model.load(os.path.join(workdir, "export", "saved_model"))
    out = serve.signatures["serving_default"](images=tf.zeros((2, 32, 32, 3), tf.uint8))
    assert out["masks"].shape == (2, 100, 28, 28) and out["masks"].dtype == tf.float32
    assert np.all((out["masks"].numpy() >= 0) & (out["masks"].numpy() <= 1))
    for name in ("model_float32.tflite",):
        with open(os.path.join(workdir, "export", name), "rb") as f:
            ops = set(TFLiteModel(f.read()).op_names())
        assert "NON_MAX_SUPPRESSION_V4" in ops, ops
        assert not any(op.startswith(("Flex", "CUSTOM")) for op in ops), ops


def test_faster_rcnn_trains_under_keras_fit(tmp_path, data_dir):
    config = _config(str(tmp_path / "fit"), data_dir, model="faster_rcnn", loop="fit", export=False)
    summary = run_experiment(config, verbose=0)
    assert np.isfinite(summary["test"]["loss"]) and 0.0 <= summary["test"]["AP50"] <= 1.0
