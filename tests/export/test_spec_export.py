"""The generic export path: a spec with two named outputs, parity per output, empty batches."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.export import (
    ExportCheckError,
    OutputCheck,
    ServingModel,
    ServingSpec,
    TFLiteModel,
    export_spec,
    image_input,
    probabilities_spec,
)
from yeehaw_tf.export import spec as spec_module
from yeehaw_tf.layers import ChannelStandardization

SHAPE = (8, 8, 3)


def _two_headed_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    images = keras.Input(SHAPE)
    x = ChannelStandardization((128.0,) * 3, (64.0,) * 3)(images)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    scores = keras.layers.Dense(3, name="scores")(pooled)
    boxes = keras.layers.Dense(4, activation="sigmoid", name="boxes")(pooled)
    return keras.Model(images, [scores, boxes])


def _two_output_spec(model, images, limits=None) -> ServingSpec:
    def serve(images):
        scores, boxes = model(tf.cast(images, tf.float32), training=False)
        return {"scores": tf.nn.sigmoid(scores), "boxes": boxes}

    limits = limits or {"saved_model": 1e-6, "float32": 1e-5}
    return ServingSpec(
        model=model,
        inputs=image_input(SHAPE),
        serve=serve,
        examples={"images": images},
        representative={"images": images},
        checks={"scores": OutputCheck(limits), "boxes": OutputCheck(limits)},
        primary="scores",
        metadata={"labels": ["a", "b", "c"]},
    )


def _images(n=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8)


def test_a_spec_with_two_named_outputs_exports_with_parity_for_each(tmp_path):
    model, images = _two_headed_model(), _images()
    report = export_spec(
        _two_output_spec(model, images), str(tmp_path / "export"), quantizations=["float32"]
    )
    for name in ("saved_model", "float32"):
        row = report["formats"][name]
        assert set(row["outputs"]) == {"scores", "boxes"} and row["passed"]
        assert all(o["max_abs_diff"] <= 1e-5 for o in row["outputs"].values())
    # independently of the report: both files against the Keras model called directly
    scores, boxes = model(images.astype(np.float32), training=False)
    served = ServingModel(str(tmp_path / "export" / "saved_model"))(images=images)
    with open(tmp_path / "export" / "model_float32.tflite", "rb") as f:
        lite = TFLiteModel(f.read())(images=images)
    for outputs in (served, lite):
        np.testing.assert_allclose(outputs["scores"], tf.nn.sigmoid(scores), atol=1e-5)
        np.testing.assert_allclose(outputs["boxes"], boxes, atol=1e-5)
    with open(tmp_path / "export" / "metadata.json") as f:
        metadata = json.load(f)
    assert metadata["labels"] == ["a", "b", "c"] and metadata["outputs"] == ["boxes", "scores"]
    assert metadata["inputs"]["images"] == {"dtype": "uint8", "shape": [None, *SHAPE]}


def test_each_output_is_held_to_its_own_limit(tmp_path):
    model, images = _two_headed_model(), _images()
    spec = _two_output_spec(model, images)
    strict = ServingSpec(
        **{**spec.__dict__, "checks": {**spec.checks, "boxes": OutputCheck({"saved_model": -1.0})}}
    )
    with pytest.raises(ExportCheckError, match="boxes") as error:
        export_spec(strict, str(tmp_path / "export"), formats=["saved_model"])
    row = error.value.report["formats"]["saved_model"]
    assert not row["passed"] and row["outputs"]["scores"]["max_abs_diff"] <= 1e-6
    assert not os.path.exists(tmp_path / "export")  # nothing written


def _classifier():
    keras.utils.set_random_seed(0)
    images = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same")(images)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(images, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))


def _segmenter():
    keras.utils.set_random_seed(0)
    images = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same")(images)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(images, keras.layers.Conv2D(3, 1)(x))


@pytest.mark.parametrize("kind", ["classifier", "segmenter", "two_outputs"])
def test_an_empty_batch_gives_empty_outputs(tmp_path, kind):
    images = _images()
    if kind == "two_outputs":
        spec = _two_output_spec(_two_headed_model(), images)
    else:
        model = _classifier() if kind == "classifier" else _segmenter()
        labels = np.zeros(len(images) if kind == "classifier" else images.shape[:3], np.int64)
        spec = probabilities_spec(model, images=images, labels=labels, representative_images=images)
    export_spec(spec, str(tmp_path / "export"), formats=["saved_model"])
    served = ServingModel(str(tmp_path / "export" / "saved_model"))
    empty = served(images=np.zeros((0, *SHAPE), np.uint8))
    full = served(images=images[:2])
    assert set(empty) == set(full)
    for name in full:
        assert (
            empty[name].shape == (0, *full[name].shape[1:])
            and empty[name].dtype == full[name].dtype
        )


def test_spec_inputs_and_checks_are_validated():
    model, images = _two_headed_model(), _images()
    spec = _two_output_spec(model, images)
    with pytest.raises(ValueError, match=r"examples\['images'\] must be uint8"):
        ServingSpec(**{**spec.__dict__, "examples": {"images": images.astype(np.float32)}})
    with pytest.raises(ValueError, match="examples must name the inputs"):
        ServingSpec(**{**spec.__dict__, "examples": {"pixels": images}})
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        ServingSpec(**{**spec.__dict__, "batch_size": 0})
    with pytest.raises(ValueError, match="unknown formats"):
        OutputCheck({"tflite": 1e-3})
    assert spec_module.PROBABILITY_LIMITS["float32"] == 1e-5
