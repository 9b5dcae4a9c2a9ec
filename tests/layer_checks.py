"""The checks every layer gets: config round trip, .keras save/load in safe mode, eager == graph."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL


def check_layer(layer: keras.layers.Layer, x: np.ndarray, tmp_path) -> None:
    expected = keras.ops.convert_to_numpy(layer(x))

    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), expected, atol=FLOAT32_ATOL)

    graph = tf.function(lambda t: layer(t))(tf.constant(x))
    np.testing.assert_allclose(graph.numpy(), expected, atol=FLOAT32_ATOL)

    inputs = keras.Input(x.shape[1:], dtype=str(x.dtype))
    model = keras.Model(inputs, layer(inputs))
    path = os.path.join(str(tmp_path), "layer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), expected, atol=FLOAT32_ATOL)
    assert keras.ops.convert_to_numpy(loaded(x)).shape == tuple(
        d if d is not None else x.shape[i]
        for i, d in enumerate(layer.compute_output_shape(x.shape))
    )
