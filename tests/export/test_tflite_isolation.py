"""int8 conversion in a child process: the same file as in-process, and a converter that
crashes or fails becomes a clear error instead of killing the caller."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from yeehaw_tf.export import (
    ExportCheckError,
    TFLiteConversionError,
    TFLiteModel,
    convert_saved_model,
    export_saved_model,
    export_spec,
    probabilities_spec,
)
from yeehaw_tf.export import tflite as tflite_module
from yeehaw_tf.export.tflite import convert_in_process
from yeehaw_tf.training.experiment import format_export_report

SHAPE = (8, 8, 3)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))
    images = _calibration()
    spec = probabilities_spec(
        model, images=images, labels=np.zeros(len(images), np.int64), representative_images=images
    )
    path = str(tmp_path_factory.mktemp("sm") / "saved_model")
    export_saved_model(spec, path)
    return path


def _calibration():
    return np.random.default_rng(0).integers(0, 256, (16, *SHAPE), dtype=np.uint8)


def test_isolated_int8_equals_the_in_process_conversion(saved_model):
    images = _calibration()
    isolated = convert_saved_model(saved_model, "int8", images)  # int8: isolated by default
    here = convert_in_process(saved_model, "int8", {"images": images}, ())
    x = images[:4]
    ours, theirs = TFLiteModel(isolated)(images=x), TFLiteModel(here)(images=x)
    np.testing.assert_array_equal(ours["probabilities"], theirs["probabilities"])
    assert len(isolated) == len(here)


def _crash_the_child(monkeypatch):
    real_run = subprocess.run

    def crashing_child(args, **kwargs):  # the child dies as the MLIR quantizer can
        crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
        return real_run([sys.executable, "-c", crash], **kwargs)

    monkeypatch.setattr(tflite_module.subprocess, "run", crashing_child)


def test_a_converter_crash_is_an_error_naming_the_signal(saved_model, monkeypatch):
    _crash_the_child(monkeypatch)
    with pytest.raises(TFLiteConversionError, match=r"crashed \(SIGSEGV\).*int8.*--quantize") as e:
        convert_saved_model(saved_model, "int8", _calibration())
    assert e.value.signal == "SIGSEGV"


def test_the_exporter_reports_a_crashed_conversion_as_a_failed_format(tmp_path, monkeypatch):
    """The other formats are still converted and checked; the set is refused (nothing written)
    with the report, which the training summary prints."""
    model = keras.Sequential([keras.Input(SHAPE), keras.layers.Rescaling(1 / 255)])
    model.add(keras.layers.GlobalAveragePooling2D())
    images = _calibration()
    spec = probabilities_spec(
        model, images=images, labels=np.zeros(len(images), np.int64), representative_images=images
    )
    _crash_the_child(monkeypatch)
    export_dir = tmp_path / "export"
    with pytest.raises(ExportCheckError, match="SIGSEGV") as e:
        export_spec(spec, str(export_dir), formats=("tflite",), quantizations=("float32", "int8"))
    rows = e.value.report["formats"]
    assert rows["float32"]["passed"] and not rows["int8"]["passed"]
    assert "crashed (SIGSEGV)" in rows["int8"]["error"]
    assert not export_dir.exists()
    table = format_export_report(e.value.report)
    assert "model_int8.tflite" in table and "FAILED" in table


def test_a_failure_in_the_child_brings_its_message_back(tmp_path):
    missing = str(tmp_path / "no_such_saved_model")
    with pytest.raises(TFLiteConversionError, match=r"failed \(exit code 1\).*no_such_saved_model"):
        convert_saved_model(missing, "int8", _calibration())


def test_arguments_are_checked_before_any_child_starts(saved_model):
    with pytest.raises(ValueError, match="representative"):
        convert_saved_model(saved_model, "int8", None)
    with pytest.raises(ValueError, match="quantization must be one of"):
        convert_saved_model(saved_model, "int4", _calibration())
