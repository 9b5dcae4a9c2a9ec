"""The detection task end to end at tiny size: train, COCO mAP on gathered detections, the
picture, and the end-to-end export (NMS inside) to SavedModel and builtin-only TFLite."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from yeehaw_tf.training import format_summary, run_experiment
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.tasks import DetectionTask, task_from_dict


def _config(workdir, data_dir, **overrides):
    settings = dict(
        workdir=workdir,
        task="detection",
        model="retinanet_small",
        dataset="shapes/tiny",
        data_dir=data_dir,
        batch_size=8,
        train_steps=4,
        steps_per_loop=2,
        quantize=("float32", "int8"),
    )
    settings.update(overrides)
    return make_config(**settings)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("det") / "run")
    return workdir, run_experiment(_config(workdir, data_dir), verbose=0)


def test_a_run_reports_coco_map_draws_detections_and_exports_end_to_end(finished):
    workdir, summary = finished
    test = summary["test"]
    for key in ("AP", "AP50", "AP75", "VOC_AP50", "AP/circle"):
        assert -1.0 <= test[key] <= 1.0
    assert {"classification", "box"} <= set(test)
    assert os.path.getsize(os.path.join(workdir, "detections.png")) > 1000
    report = json.load(open(os.path.join(workdir, "export", "report.json")))
    assert set(report["formats"]) == {"saved_model", "float32", "int8"}
    assert all(row["passed"] for row in report["formats"].values()), report["formats"]
    assert report["formats"]["saved_model"]["outputs"]["scores"]["max_abs_diff"] <= 1e-5
    assert "test AP50" in format_summary(summary)


def test_the_saved_model_serves_detections_in_a_process_that_imports_only_tensorflow(finished):
    workdir, _ = finished
    path = os.path.join(workdir, "export", "saved_model")
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        serve = tf.saved_model.load({path!r}).signatures["serving_default"]
        out = serve(images=tf.constant(np.zeros((3, 32, 32, 3), np.uint8)))
        assert out["boxes"].shape == (3, 100, 4) and out["boxes"].dtype == tf.float32
        assert out["scores"].shape == (3, 100) and out["classes"].dtype == tf.int64
        assert out["num_detections"].dtype == tf.int32
        empty = serve(images=tf.zeros((0, 32, 32, 3), tf.uint8))
        assert empty["boxes"].shape == (0, 100, 4) and empty["num_detections"].shape == (0,)
        assert not any(m.startswith("yeehaw_tf") for m in sys.modules), "imports"
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_tflite_files_use_builtin_ops_only_and_hold_nms(finished):
    from yeehaw_tf.export.tflite import TFLiteModel

    workdir, _ = finished
    for name in ("model_float32.tflite", "model_int8.tflite"):
        with open(os.path.join(workdir, "export", name), "rb") as f:
            ops = set(TFLiteModel(f.read()).op_names())
        assert "NON_MAX_SUPPRESSION_V4" in ops, ops
        assert not any(op.startswith(("Flex", "CUSTOM")) for op in ops), ops


def test_the_run_record_rebuilds_the_detection_task(finished):
    workdir, _ = finished
    record = json.load(open(os.path.join(workdir, "config.json")))
    task = task_from_dict(record["task"])
    assert isinstance(task, DetectionTask) and task.options.model == "retinanet_small"
    assert task.anchors.shape[0] == (64 + 16 + 4) * 9


def _trained_weights(tmp_path, data_dir, name, devices, loop):
    import tensorflow as tf

    config = _config(
        str(tmp_path / name),
        data_dir,
        num_cpu_devices=devices,
        train_steps=2,
        export=False,
        loop=loop,
        flip=False,
    )
    run_experiment(config, verbose=0)
    ckpt = tf.train.latest_checkpoint(os.path.join(config.workdir, "checkpoints"))
    reader = tf.train.load_checkpoint(ckpt)
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("models/"))
    assert names
    return {n: reader.get_tensor(n) for n in names}


def test_two_replicas_train_a_detector_like_one_device_in_both_loops(tmp_path, data_dir):
    """The loss is normalised by the positives of the *global* batch: 2 replicas == 1, under
    the custom loop and under Keras ``fit`` (a second MirroredStrategy in the process: each
    gets its own collective keys, training/strategy.py; tensorflow#62790). ``fit`` on 2
    replicas iterates the dataset twice (once to build the model); it trained on other
    examples until the training stream replayed for every iterator (data/shuffling.py)."""
    one = _trained_weights(tmp_path, data_dir, "custom1", 1, "custom")
    for name, loop in (("custom2", "custom"), ("fit2", "fit")):
        two = _trained_weights(tmp_path, data_dir, name, 2, loop)
        assert two.keys() == one.keys()
        for key in one:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-4, atol=1e-5, err_msg=name)
