"""Export parity of a classifier's probabilities in every format, checked here independently of
the export code's own checks."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from tests.helpers import run_cli
from yeehaw_tf.data import channel_mean_std, classification_pipeline, load_classification
from yeehaw_tf.export import QUANTIZATIONS, ExportCheckError, export_probabilities, spec
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.experiment import as_arrays
from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data_dir):
    """A small classifier trained briefly on digits, exported to every format."""
    data = load_classification("digits", data_dir)
    mean, std = channel_mean_std(data.train.map(lambda x, y: x))
    task = ClassificationTask(
        ClassificationOptions(model="small_resnet"),
        num_classes=10,
        input_shape=(8, 8, 1),
        mean=tuple(mean),
        std=tuple(std),
    )
    workdir = tmp_path_factory.mktemp("run")
    trainer = Trainer(
        task, build_optimizer=lambda: keras.optimizers.Adam(3e-3), workdir=str(workdir)
    )
    trainer.train(classification_pipeline(data.train, batch_size=64, training=True), 150, verbose=0)
    images, labels = as_arrays(data.test)
    representative, _ = as_arrays(data.train, 128)
    export_dir = str(workdir / "export")
    report = export_probabilities(
        trainer.model,
        export_dir,
        images=images,
        labels=labels,
        representative_images=representative,
    )
    return trainer.model, export_dir, report, images, labels, representative


def _keras_probabilities(model, images):
    return tf.nn.softmax(model(images.astype(np.float32), training=False)).numpy()


def test_saved_model_serves_uint8_images_like_the_keras_model(exported):
    model, export_dir, report, images, labels, _ = exported
    serve = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures[
        "serving_default"
    ]
    assert serve.structured_input_signature[1]["images"] == tf.TensorSpec(
        [None, 8, 8, 1], tf.uint8, name="images"
    )
    out = serve(images=tf.constant(images))
    assert out["probabilities"].dtype == tf.float32 and out["classes"].dtype == tf.int64
    np.testing.assert_allclose(out["probabilities"], _keras_probabilities(model, images), atol=1e-5)
    np.testing.assert_array_equal(out["classes"], np.argmax(out["probabilities"], -1))
    assert report["formats"]["saved_model"]["passed"]


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_tflite_files_run_in_litert_with_builtin_ops(exported, quantization):
    model, export_dir, report, images, labels, _ = exported
    path = os.path.join(export_dir, f"model_{quantization}.tflite")
    interpreter = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops)
    runner = interpreter.get_signature_runner("serving_default")
    assert runner.get_input_details()["images"]["dtype"] == np.uint8
    out = runner(images=images)
    reference = _keras_probabilities(model, images)
    diff = np.abs(out["probabilities"] - reference).max()
    keras_accuracy = np.mean(np.argmax(reference, -1) == labels)
    accuracy = np.mean(out["classes"] == labels)
    if quantization == "float32":
        assert diff < 1e-5
    elif quantization == "float16":
        assert diff < 1e-2
    assert keras_accuracy - accuracy <= 0.01
    row = report["formats"][quantization]
    assert row["max_abs_diff"] == pytest.approx(diff, abs=1e-6)
    assert row["outputs"]["probabilities"]["max_abs_diff"] == row["max_abs_diff"]
    assert row["accuracy"] == pytest.approx(accuracy)
    assert row["size_bytes"] == os.path.getsize(path)
    if quantization == "int8":
        details = interpreter.get_tensor_details()
        conv_weights = [d for d in details if d["dtype"] == np.int8]
        assert conv_weights, "full-integer model has no int8 tensors"


def test_report_and_metadata_are_written_and_quantized_files_are_smaller(exported):
    _, export_dir, report, *_ = exported
    with open(os.path.join(export_dir, "report.json")) as f:
        assert json.load(f) == json.loads(json.dumps(report))
    with open(os.path.join(export_dir, "metadata.json")) as f:
        metadata = json.load(f)
    assert metadata["inputs"] == {"images": {"dtype": "uint8", "shape": [None, 8, 8, 1]}}
    assert metadata["outputs"] == ["classes", "probabilities"]
    sizes = {q: report["formats"][q]["size_bytes"] for q in QUANTIZATIONS}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["int8"] < 0.35 * sizes["float32"] and sizes["dynamic"] < 0.35 * sizes["float32"]


def test_serving_signature_rejects_wrong_shape_and_dtype(exported):
    _, export_dir, *_ = exported
    serve = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures[
        "serving_default"
    ]
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8"):
        serve(images=tf.zeros([2, 8, 8, 1], tf.float32))
    for shape in ([2, 9, 8, 1], [8, 8, 1], [1, 8, 8, 3]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="[Ss]hape"):
            serve(images=tf.zeros(shape, tf.uint8))


_FRESH = """
import sys, numpy as np, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(images=tf.zeros([3, 8, 8, 1], tf.uint8))
assert out["probabilities"].shape == (3, 10)
assert "yeehaw_tf" not in sys.modules
print("SERVED")
"""


def test_saved_model_loads_in_a_process_without_yeehaw_tf(exported, tmp_path):
    _, export_dir, *_ = exported
    path = os.path.join(export_dir, "saved_model")
    result = run_cli("-c", _FRESH, path)
    assert result.returncode == 0 and "SERVED" in result.stdout, result.stderr[-2000:]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", path], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "serving_default" in shown.stdout and "images" in shown.stdout


def test_failed_parity_keeps_the_previous_export(exported, monkeypatch):
    model, export_dir, report, images, labels, representative = exported
    before = {
        name: os.path.getmtime(os.path.join(export_dir, name)) for name in os.listdir(export_dir)
    }
    monkeypatch.setitem(spec.PROBABILITY_LIMITS, "float32", -1.0)
    with pytest.raises(ExportCheckError, match="float32"):
        export_probabilities(
            model,
            export_dir,
            images=images,
            labels=labels,
            representative_images=representative,
            quantizations=("float32",),
        )
    after = {
        name: os.path.getmtime(os.path.join(export_dir, name)) for name in os.listdir(export_dir)
    }
    assert before == after


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"formats": ("onnx",)}, "formats"),
        ({"quantizations": ("int4",)}, "quantizations"),
        ({"images": np.zeros((2, 8, 8, 1), np.float32)}, "uint8"),
        ({"labels": np.zeros(3)}, "labels"),
    ],
)
def test_bad_arguments_are_named(exported, tmp_path, kwargs, match):
    model, _, _, images, labels, representative = exported
    args = {"images": images[:2], "labels": labels[:2], "representative_images": representative}
    with pytest.raises(ValueError, match=match):
        export_probabilities(model, str(tmp_path / "x"), **{**args, **kwargs})
    assert not os.path.exists(tmp_path / "x")
