"""Every registered model at small input: SavedModel and TFLite (builtin ops only) exports
reproduce the Keras model."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_registry import EXPORTED, SMALL_SHAPES
from yeehaw_tf.export import (
    TFLiteModel,
    convert_saved_model,
    export_saved_model,
    probabilities_spec,
)
from yeehaw_tf.export.tflite import check_builtin_ops
from yeehaw_tf.models import build, list_models


def test_every_exported_name_is_registered():
    assert set(EXPORTED) <= set(list_models())


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPORTED)
def test_exports_match_keras_with_builtin_ops(name, tmp_path):
    shape = SMALL_SHAPES.get(name, (32, 32, 3))
    model = build(name, 5, shape)
    images = np.random.default_rng(0).integers(0, 256, size=(3, *shape)).astype(np.uint8)
    expected = tf.nn.softmax(model(images.astype(np.float32) / 255.0, training=False)).numpy()
    # the registry models take float inputs; scale inside a wrapper like the task's layer does
    wrapped = tf.keras.Sequential([tf.keras.layers.Rescaling(1 / 255.0), model])
    wrapped.build((None, *shape))
    path = str(tmp_path / "saved_model")
    spec = probabilities_spec(
        wrapped, images=images, labels=np.zeros(3, np.int64), representative_images=images
    )
    export_saved_model(spec, path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    np.testing.assert_allclose(
        serve(images=tf.constant(images))["probabilities"], expected, atol=1e-5
    )
    tflite = TFLiteModel(convert_saved_model(path, "float32"))
    check_builtin_ops(tflite, name)
    np.testing.assert_allclose(tflite(images=images)["probabilities"], expected, atol=1e-4)
