"""SpectralNormalization against float64 references: sigma against numpy's SVD, the output and
the kernel gradient against f(W / (u^T A v)) with u and v held constant."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer
from yeehaw_tf import layers

SIGMA_RTOL = 1e-4  # power-iteration sigma against the float64 SVD
GRAD_ATOL = 1e-4  # float32 tape gradient against a float64 finite-difference Jacobian


def _dense(units=5, **kwargs):
    return keras.layers.Dense(
        units, kernel_initializer=keras.initializers.GlorotUniform(0), **kwargs
    )


def _conv(filters=4, **kwargs):
    return keras.layers.Conv2D(
        filters, 3, kernel_initializer=keras.initializers.GlorotUniform(1), **kwargs
    )


def _input(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _matrix(kernel, transposed=False):
    """float64 ``W_mat``: ``[prod(other axes), out_channels]``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if transposed:
        kernel = np.moveaxis(kernel, -2, -1)
    return kernel.reshape(-1, kernel.shape[-1])


def _largest_singular_value(kernel, transposed=False):
    return np.linalg.svd(_matrix(kernel, transposed), compute_uv=False)[0]


def _reference_uv(w_mat, u):
    """float64 ``u`` and ``v = normalize(W_mat u)`` (the layer's sigma is ``v^T W_mat u``)."""
    u = np.asarray(u, dtype=np.float64)
    v = w_mat @ u
    return u, v / np.linalg.norm(v)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: layers.SpectralNormalization(_dense(activation="relu"), seed=3), (4, 7)),
        (lambda: layers.SpectralNormalization(_conv(padding="same"), 2, seed=4), (2, 6, 6, 3)),
        (
            lambda: layers.SpectralNormalization(keras.layers.Conv2DTranspose(3, 3, strides=2)),
            (2, 4, 4, 2),
        ),
    ],
    ids=["dense", "conv2d", "conv2d_transpose"],
)
def test_layer_contract(layer, shape, tmp_path):
    check_layer(layer(), _input(shape), tmp_path, training=True)


@pytest.mark.parametrize(
    "make, shape", [(_dense, (3, 7)), (_conv, (2, 6, 6, 3))], ids=["dense", "conv2d"]
)
def test_sigma_converges_to_the_largest_singular_value(make, shape):
    x = _input(shape)
    wrapped = layers.SpectralNormalization(make(), power_iterations=1, seed=0)
    for _ in range(50):
        wrapped(x, training=True)
    kernel = wrapped.layer.kernel.numpy()
    np.testing.assert_allclose(
        float(wrapped.sigma()), _largest_singular_value(kernel), rtol=SIGMA_RTOL
    )
    np.testing.assert_allclose(
        _largest_singular_value(keras.ops.convert_to_numpy(wrapped.kernel())), 1.0, rtol=SIGMA_RTOL
    )


def test_many_power_iterations_need_one_call():
    x = _input((3, 7))
    wrapped = layers.SpectralNormalization(_dense(), power_iterations=20, seed=0)
    wrapped(x, training=True)
    expected = _largest_singular_value(wrapped.layer.kernel.numpy())
    np.testing.assert_allclose(float(wrapped.sigma()), expected, rtol=SIGMA_RTOL)
    one = layers.SpectralNormalization(_dense(), power_iterations=1, seed=0)
    one(x, training=True)  # the same start: one iteration is far off
    assert abs(float(one.sigma()) - expected) > 100 * SIGMA_RTOL * expected


def test_output_is_the_layer_with_the_normalised_kernel():
    x = _input((4, 7))
    dense = _dense(bias_initializer=keras.initializers.RandomNormal(seed=5))
    wrapped = layers.SpectralNormalization(dense, seed=0)
    wrapped.build(x.shape)
    w_mat = _matrix(dense.kernel.numpy())
    u, v = _reference_uv(w_mat, wrapped.u.numpy())
    expected = x @ (w_mat / (v @ w_mat @ u)) + dense.bias.numpy()
    np.testing.assert_allclose(wrapped(x), expected, atol=FLOAT32_ATOL)

    # a training call uses the updated u; an inference call right after reproduces it
    trained = wrapped(x, training=True).numpy()
    u, v = _reference_uv(w_mat, wrapped.u.numpy())
    expected = x @ (w_mat / (v @ w_mat @ u)) + dense.bias.numpy()
    np.testing.assert_allclose(trained, expected, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(wrapped(x), trained, atol=FLOAT32_ATOL)


def test_transposed_conv_uses_the_output_axis():
    x = _input((2, 4, 4, 3))
    conv = keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same")
    wrapped = layers.SpectralNormalization(conv, power_iterations=200, seed=0)
    out = wrapped(x, training=True)
    kernel = conv.kernel.numpy()  # (3, 3, filters=5, in=3): the output axis is -2
    assert wrapped.u.shape == (5,)
    sigma = _largest_singular_value(kernel, transposed=True)
    np.testing.assert_allclose(float(wrapped.sigma()), sigma, rtol=SIGMA_RTOL)
    np.testing.assert_allclose(out, conv(x) / sigma, atol=FLOAT32_ATOL)  # bias starts at zero


def test_only_training_calls_update_u():
    x = _input((3, 7))
    wrapped = layers.SpectralNormalization(_dense(), seed=0)
    wrapped.build(x.shape)
    initial = wrapped.u.numpy()
    np.testing.assert_allclose(np.linalg.norm(initial), 1.0, rtol=1e-6)
    wrapped(x)
    wrapped(x, training=False)
    np.testing.assert_array_equal(wrapped.u.numpy(), initial)
    wrapped(x, training=True)
    after = wrapped.u.numpy()
    assert np.max(np.abs(after - initial)) > 1e-3
    np.testing.assert_allclose(np.linalg.norm(after), 1.0, rtol=1e-6)
    assert not wrapped.u.trainable


def test_u_is_saved_and_restored(tmp_path):
    x = _input((3, 7))
    inputs = keras.Input((7,))
    wrapped = layers.SpectralNormalization(_dense())  # unseeded: a reload would draw a new u
    model = keras.Model(inputs, wrapped(inputs))
    for _ in range(3):
        wrapped(x, training=True)
    path = os.path.join(str(tmp_path), "sn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.layers[-1].u.numpy(), wrapped.u.numpy())
    np.testing.assert_allclose(loaded(x), model(x), atol=FLOAT32_ATOL)


def _reference_gradient(f, kernel, u, v):
    """float64 finite-difference gradient of ``f(W / (u^T A v))`` (u, v constant) at ``kernel``."""
    u, v = tf.constant(u), tf.constant(v)

    def g(kernel):
        w_mat = tf.reshape(kernel, (-1, kernel.shape[-1]))
        return f(kernel / tf.reduce_sum(v * tf.linalg.matvec(w_mat, u)))

    _, numeric = tf.test.compute_gradient(g, [tf.constant(kernel, tf.float64)])
    return numeric[0].reshape(kernel.shape)


@pytest.mark.parametrize(
    "make, shape", [(_dense, (4, 7)), (_conv, (2, 5, 5, 3))], ids=["dense", "conv2d"]
)
def test_gradient_flows_through_kernel_over_sigma(make, shape):
    x = _input(shape)
    wrapped = layers.SpectralNormalization(make(), seed=0)
    wrapped.build(x.shape)
    out_shape = wrapped.compute_output_shape(x.shape)
    c = np.cos(np.arange(np.prod(out_shape))).reshape(out_shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapped(x, training=True) * c.astype("float32"))
    grad = tape.gradient(loss, wrapped.layer.kernel).numpy()

    kernel = wrapped.layer.kernel.numpy().astype(np.float64)
    u, v = _reference_uv(_matrix(kernel), wrapped.u.numpy())  # u after this call's update
    x64 = tf.constant(x, tf.float64)

    def f(k):
        if len(shape) == 2:
            y = x64 @ k
        else:
            y = tf.nn.conv2d(x64, k, strides=1, padding="VALID")
        return tf.reduce_sum(y * c)

    np.testing.assert_allclose(grad, _reference_gradient(f, kernel, u, v), atol=GRAD_ATOL)
    # the -(W / sigma^2) d(sigma)/dW term matters: holding sigma constant would give G / sigma
    sigma = v @ _matrix(kernel) @ u
    with tf.GradientTape() as tape:
        k = tf.constant(kernel)
        tape.watch(k)
        held = f(k / sigma)
    assert np.max(np.abs(tape.gradient(held, k).numpy() - grad)) > 100 * GRAD_ATOL


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"power_iterations": 0}, "power_iterations"),
        ({"power_iterations": 1.5}, "power_iterations"),
        ({"power_iterations": True}, "power_iterations"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": -1e-3}, "epsilon"),
    ],
)
def test_bad_arguments_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.SpectralNormalization(keras.layers.Dense(3), **kwargs)


@pytest.mark.parametrize(
    "layer",
    [
        keras.layers.BatchNormalization(),
        keras.layers.LSTM(3),
        keras.layers.Conv1D(2, 3, padding="causal"),
    ],
    ids=["batch_norm", "lstm", "causal_conv"],
)
def test_unsupported_layers_are_refused(layer):
    with pytest.raises(ValueError, match="SpectralNormalization"):
        layers.SpectralNormalization(layer)


def test_zero_kernel_gives_zero_output_not_nan():
    dense = keras.layers.Dense(3, kernel_initializer="zeros")
    out = layers.SpectralNormalization(dense)(_input((2, 4)), training=True)
    np.testing.assert_array_equal(out, np.zeros((2, 3), np.float32))


def test_keras_builtin_differentiates_the_normalised_kernel_instead():
    """Documents keras.layers.SpectralNormalization (Keras 3.15, TF backend), keras#20309: a
    training call *assigns* W / sigma to the kernel, so the tape sees a plain variable and the
    gradient is dL/dK at K = W / sigma, not d L(W / sigma) / dW: no 1 / sigma factor and no
    -(W / sigma^2) d(sigma)/dW term (its stop_gradient calls change nothing on this backend).
    If this starts failing, Keras has changed how it differentiates; revisit the comparison."""
    x = _input((8, 7))
    c = np.cos(np.arange(40)).reshape(8, 5)
    kernel = (3.0 * _input((7, 5), seed=1) / np.sqrt(7)).astype("float32")
    sigma = _largest_singular_value(kernel)

    def gradient(wrapper, **kwargs):
        dense = keras.layers.Dense(5, use_bias=False)
        wrapped = wrapper(dense, power_iterations=50, **kwargs)
        wrapped.build(x.shape)
        dense.kernel.assign(kernel)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(wrapped(x, training=True) * c.astype("float32"))
        return tape.gradient(loss, dense.kernel).numpy(), dense.kernel.numpy()

    theirs, overwritten = gradient(keras.layers.SpectralNormalization)
    ours, untouched = gradient(layers.SpectralNormalization, seed=0)
    np.testing.assert_allclose(_largest_singular_value(overwritten), 1.0, rtol=SIGMA_RTOL)
    np.testing.assert_array_equal(untouched, kernel)  # ours never writes the kernel
    np.testing.assert_allclose(theirs, x.T @ c, atol=FLOAT32_ATOL * 10)  # dL/dK itself
    assert sigma > 3
    assert np.linalg.norm(theirs) / np.linalg.norm(ours) > 0.8 * sigma
    radial = np.sum(theirs * kernel) / (np.linalg.norm(theirs) * np.linalg.norm(kernel))
    assert abs(np.sum(ours * kernel)) < 1e-4 * np.linalg.norm(ours) * np.linalg.norm(kernel)
    assert abs(radial) > 1e-2  # the reference gradient is orthogonal to W; Keras's is not
