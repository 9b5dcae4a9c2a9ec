"""The checks every layer gets: config round trip, .keras save/load in safe mode, eager == graph,
and a gradient reaching every trainable weight."""

from __future__ import annotations

import inspect
import os

import keras
import numpy as np
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL, as_list


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def check_layer(layer: keras.layers.Layer, x: np.ndarray, tmp_path, training: bool = False):
    """Runs the shared contract on ``layer`` with input ``x`` (inference-mode outputs compared,
    except the gradient check, which runs with ``training``)."""
    expected = _numpy(layer(x))

    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(x)  # builds
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_numpy(clone(x)), expected, atol=FLOAT32_ATOL)

    graph = tf.function(lambda t: layer(t))(tf.constant(x))
    np.testing.assert_allclose(graph.numpy(), expected, atol=FLOAT32_ATOL)

    inputs = keras.Input(x.shape[1:], dtype=str(x.dtype))
    model = keras.Model(inputs, layer(inputs))
    path = os.path.join(str(tmp_path), "layer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(_numpy(loaded(x)), expected, atol=FLOAT32_ATOL)
    declared = layer.compute_output_shape(x.shape)
    assert expected.shape == tuple(
        d if d is not None else expected.shape[i] for i, d in enumerate(declared)
    )

    # last: a training-mode call may update state (e.g. moving statistics)
    with tf.GradientTape() as tape:
        out = layer(x, training=training) if _takes_training(layer) else layer(x)
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * _weights_like(out))
    grads = tape.gradient(loss, layer.trainable_variables)
    for variable, grad in zip(layer.trainable_variables, grads, strict=True):
        assert grad is not None, f"no gradient reaches {variable.path}"
        assert np.all(np.isfinite(grad)), variable.path


def _weights_like(out):
    """A fixed, non-uniform weighting so the gradient of sum(w * out) is not trivially zero
    (e.g. normalised outputs sum to a constant)."""
    n = int(np.prod(out.shape))
    return tf.reshape(tf.cos(tf.range(n, dtype=tf.float32)), out.shape)


def _takes_training(layer) -> bool:
    return "training" in inspect.signature(layer.call).parameters


def check_list_layer(layer, inputs, tmp_path):
    """``check_layer`` for layers that take or return lists: config round trip, eager ==
    graph, functional-model .keras save/load with safe_mode=True (dynamic batch), declared
    output shapes and dtypes, and a finite gradient reaching the first input (the data; a
    shape-only input such as ``like`` gets none)."""
    expected = [np.asarray(y) for y in as_list(layer(inputs))]
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    for got, want in zip(as_list(clone(inputs)), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL)
    tensors = [tf.constant(t) for t in as_list(inputs)]
    graph = tf.function(lambda t: layer(t))(tensors if isinstance(inputs, list) else tensors[0])
    for got, want in zip(as_list(graph), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL)

    symbolic = [keras.Input(t.shape[1:], dtype=str(t.dtype)) for t in as_list(inputs)]
    symbolic = symbolic if isinstance(inputs, list) else symbolic[0]
    outputs = layer(symbolic)
    for out, want in zip(as_list(outputs), expected, strict=True):
        assert out.dtype == want.dtype
        assert out.shape[1:] == want.shape[1:]
    path = os.path.join(str(tmp_path), "layer.keras")
    keras.Model(symbolic, outputs).save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for got, want in zip(as_list(loaded(inputs)), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL)

    with tf.GradientTape() as tape:
        tape.watch(tensors[0])
        out = as_list(layer(tensors if isinstance(inputs, list) else tensors[0]))[0]
        weights = tf.reshape(tf.cos(tf.range(tf.size(out), dtype=out.dtype)), tf.shape(out))
        loss = tf.reduce_sum(out * weights)
    grad = tape.gradient(loss, tensors[0])
    assert grad is not None and np.all(np.isfinite(grad))
