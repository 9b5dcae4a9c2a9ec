"""The segmentation task end to end at tiny size: train, evaluate, overlays, export, re-export."""

import json
import os

import numpy as np
import pytest

from yeehaw_tf.training import format_summary, run_experiment
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import export_workdir
from yeehaw_tf.training.tasks import SegmentationTask, task_from_dict


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("seg") / "run")
    config = make_config(
        workdir=workdir,
        task="segmentation",
        model="unet",
        dataset="shapes/tiny",
        data_dir=data_dir,
        base_filters=4,
        batch_size=16,
        train_steps=4,
        steps_per_loop=2,
        quantize=("float32", "int8"),
    )
    return workdir, run_experiment(config, verbose=0)


def test_a_run_reports_mean_iou_writes_overlays_and_exports(finished):
    workdir, summary = finished
    assert 0.0 <= summary["test"]["mean_iou"] <= 1.0 and "accuracy" in summary["test"]
    assert os.path.getsize(os.path.join(workdir, "overlays.png")) > 1000
    report = json.load(open(os.path.join(workdir, "export", "report.json")))
    assert set(report["formats"]) == {"saved_model", "float32", "int8"}
    assert all(row["passed"] and "mean_iou" in row for row in report["formats"].values())
    assert report["formats"]["float32"]["max_abs_diff"] < 1e-4
    text = format_summary(summary)
    assert "test mean IoU" in text and "overlays" in text and "mean_iou" in text
    assert summary["artifacts"]["overlays"] == os.path.join(workdir, "overlays.png")


def test_the_saved_model_serves_per_pixel_classes_from_uint8(finished):
    import tensorflow as tf

    workdir, _ = finished
    serve = tf.saved_model.load(os.path.join(workdir, "export", "saved_model")).signatures[
        "serving_default"
    ]
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    out = serve(images=tf.constant(images))
    assert out["classes"].shape == (2, 32, 32) and out["probabilities"].shape == (2, 32, 32, 4)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(images=tf.zeros((1, 31, 32, 3), tf.uint8))


def test_the_run_record_rebuilds_the_task_and_re_exports(finished):
    workdir, summary = finished
    record = json.load(open(os.path.join(workdir, "config.json")))
    task = task_from_dict(record["task"])
    assert isinstance(task, SegmentationTask) and task.options.base_filters == 4
    report = export_workdir(workdir, formats=("saved_model",), quantize=())
    assert report["formats"]["saved_model"]["mean_iou"] == pytest.approx(
        summary["export"]["formats"]["saved_model"]["mean_iou"]
    )


def test_segmentation_mean_iou_metric_matches_the_export_report(finished):
    _, summary = finished
    # the Trainer's streaming MeanIoU and the export's NumPy confusion matrix agree
    assert summary["test"]["mean_iou"] == pytest.approx(
        summary["export"]["keras"]["mean_iou"], abs=1e-6
    )
