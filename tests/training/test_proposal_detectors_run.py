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
    assert 0.0 < summary["test"]["proposal_recall50"] <= 1.0
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
    config = _config(workdir, data_dir, model="rcnn", stage_images=8, export=False, loop="fit")
    summary = run_experiment(config, verbose=0)
    assert 0.0 <= summary["test"]["AP50"] <= 1.0
    run = load_run(workdir)
    network = run.model.get_layer("rcnn")
    kernel, bias = network.heads.get_layer("svm").get_weights()
    assert np.abs(kernel).max() > 0  # fitted (zeros before stage 2)
    regressor, _ = network.heads.get_layer("box_regressor").get_weights()
    assert np.abs(regressor).max() > 0
    assert run.checkpoint.endswith("ckpt-2")  # saved again at the last step
    unfitted = run.task.build_models()["model"]  # as a run killed before stage 2 left it
    with pytest.raises(ValueError, match="not fitted yet.*same --workdir"):
        run.task.serving_spec(unfitted, None)


def _weights(workdir, data_dir, devices, loop):
    config = _config(
        workdir, data_dir, num_cpu_devices=devices, loop=loop, export=False, flip=False
    )
    run_experiment(config, verbose=0)
    reader = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    )
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("models/"))
    return {n: reader.get_tensor(n) for n in names}


def test_fast_rcnn_trains_alike_under_both_drivers_on_one_and_on_two_replicas(tmp_path, data_dir):
    """The proposals are split over the replicas with their images, and ``fit`` runs the same
    maths as the custom loop on 1 and on 2 replicas. (2 replicas are not 1 device here: the
    second-stage losses are means over each replica's sampled RoIs, torchvision's units under
    DDP, and with background only in [0.1, 0.5) IoU the images sample different numbers.)"""
    for devices in (1, 2):
        custom = _weights(str(tmp_path / f"custom{devices}"), data_dir, devices, "custom")
        fit = _weights(str(tmp_path / f"fit{devices}"), data_dir, devices, "fit")
        assert custom and fit.keys() == custom.keys()
        for key in custom:
            np.testing.assert_allclose(fit[key], custom[key], rtol=1e-4, atol=1e-5, err_msg=key)
