"""R-CNN and Fast R-CNN through the detection task at tiny size: selective-search proposals are
searched once per split and fed with the batches; Fast R-CNN trains and exports a signature
with a ``proposals`` input (SavedModel and builtin-only TFLite, parity checked); R-CNN's SVMs
and box regressors are fitted after the last step, saved in the checkpoint at that step and
restored by ``load_run``; ``predict`` makes the proposals itself."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.training import run_experiment
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.runs import load_run


def _config(workdir, data_dir, **overrides):
    settings = dict(
        workdir=workdir,
        task="detection",
        model="fast_rcnn",
        dataset="shapes/tiny",
        data_dir=data_dir,
        batch_size=4,
        train_steps=2,
        steps_per_loop=1,
        max_boxes=4,
        proposals=16,
        quantize=("float32",),
    )
    settings.update(overrides)
    return make_config(**settings)


@pytest.fixture(scope="module")
def fast_rcnn_run(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("fast_rcnn") / "run")
    return workdir, run_experiment(_config(workdir, data_dir), verbose=0)


def test_fast_rcnn_trains_on_searched_proposals_and_exports_with_a_proposals_input(
    fast_rcnn_run, data_dir
):
    workdir, summary = fast_rcnn_run
    assert {"classification", "box"} <= set(summary["test"])
    assert 0.0 <= summary["test"]["AP50"] <= 1.0
    cached = os.listdir(os.path.join(data_dir, "proposals"))
    assert any(n.startswith("shapes_tiny-train-fast-16-") for n in cached), cached
    assert any(n.startswith("shapes_tiny-test-fast-16-") for n in cached), cached
    export = os.path.join(workdir, "export")
    report = json.load(open(os.path.join(export, "report.json")))
    assert set(report["formats"]) == {"saved_model", "float32"}
    assert all(row["passed"] for row in report["formats"].values()), report["formats"]
    metadata = json.load(open(os.path.join(export, "metadata.json")))
    assert metadata["inputs"]["proposals"]["shape"] == [None, 16, 4]
    assert metadata["proposals"]["method"] == "selective_search"

    serve = tf.saved_model.load(os.path.join(export, "saved_model")).signatures["serving_default"]
    images = tf.zeros((2, 32, 32, 3), tf.uint8)
    empty = serve(images=images, proposals=tf.zeros((2, 16, 4)))  # all slots padding
    np.testing.assert_array_equal(empty["num_detections"].numpy(), [0, 0])
    boxes = tf.tile(tf.constant([[[2.0, 3.0, 20.0, 25.0]]]), [2, 16, 1])
    out = serve(images=images, proposals=boxes)
    assert out["boxes"].shape == (2, 100, 4)

    from yeehaw_tf.export.tflite import TFLiteModel

    with open(os.path.join(export, "model_float32.tflite"), "rb") as f:
        ops = set(TFLiteModel(f.read()).op_names())
    assert not any(op.startswith(("Flex", "CUSTOM")) for op in ops), ops


def test_predict_runs_selective_search_for_a_proposal_fed_export(fast_rcnn_run):
    from yeehaw_tf.predict import Predictor

    workdir, _ = fast_rcnn_run
    image = np.full((40, 48, 3), 30, np.uint8)
    image[5:20, 8:30] = (200, 40, 40)
    result = Predictor(os.path.join(workdir, "export"))(image, min_score=0.0)
    assert result["outputs"]["boxes"].shape == (100, 4)
    assert len(result["detections"]) == int(result["outputs"]["num_detections"])


def test_rcnn_fits_its_svms_after_training_and_the_checkpoint_keeps_them(tmp_path, data_dir):
    workdir = str(tmp_path / "rcnn")
    config = _config(workdir, data_dir, model="rcnn", stage_images=8, export=False)
    summary = run_experiment(config, verbose=0)
    assert 0.0 <= summary["test"]["AP50"] <= 1.0
    run = load_run(workdir)
    network = run.model.get_layer("rcnn")
    kernel, bias = network.heads.get_layer("svm").get_weights()
    assert np.abs(kernel).max() > 0  # fitted (zeros before stage 2)
    regressor, _ = network.heads.get_layer("box_regressor").get_weights()
    assert np.abs(regressor).max() > 0
    assert run.checkpoint.endswith("ckpt-2")  # saved again at the last step
