import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_checks import check_layer
from yeehaw_tf import layers


def test_dropout_drops_at_the_rate_and_keeps_the_expected_activation():
    x = np.ones((200, 500), np.float32)
    rate = 0.3
    out = layers.Dropout(rate, seed=1)(x, training=True).numpy()
    dropped = np.mean(out == 0)
    n = x.size
    assert abs(dropped - rate) < 5 * math.sqrt(rate * (1 - rate) / n)  # binomial, 5 sigma
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)  # inverted scaling
    assert abs(out.mean() - 1.0) < 5 * math.sqrt(rate / (1 - rate) / n)


def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_array_equal(layers.Dropout(0.5)(x), x)
    np.testing.assert_array_equal(layers.Dropout(0.5)(x, training=False), x)


def test_gaussian_noise_has_the_stddev_in_training_only():
    x = np.zeros((400, 500), np.float32)
    noisy = layers.GaussianNoise(0.2, seed=0)(x, training=True).numpy()
    assert noisy.std() == pytest.approx(0.2, rel=0.01)
    np.testing.assert_array_equal(layers.GaussianNoise(0.2)(x), x)


def test_weight_noise_perturbs_the_kernel_in_training_only():
    dense = keras.layers.Dense(300, use_bias=False)
    wrapped = layers.WeightNoise(dense, stddev=0.1, seed=0)
    x = np.eye(200, dtype=np.float32)  # rows of the output are rows of the kernel
    clean = wrapped(x).numpy()
    np.testing.assert_allclose(clean, dense(x), atol=1e-6)
    noise = wrapped(x, training=True).numpy() - clean
    assert noise.std() == pytest.approx(0.1, rel=0.02)


@pytest.mark.parametrize(
    "layer",
    [
        layers.Dropout(0.4, seed=2),
        layers.GaussianNoise(0.1, seed=2),
        layers.WeightNoise(keras.layers.Dense(3), stddev=0.05, seed=2),
        layers.WeightNormalization(keras.layers.Dense(3, activation="relu")),
    ],
    ids=["dropout", "gaussian_noise", "weight_noise", "weight_norm"],
)
def test_layer_contract(layer, tmp_path):
    check_layer(
        layer,
        np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32),
        tmp_path,
        training=True,
    )


def test_weight_norm_conv_contract(tmp_path):
    layer = layers.WeightNormalization(keras.layers.Conv2D(4, 3, strides=2, padding="same"))
    check_layer(
        layer, np.random.default_rng(1).normal(size=(2, 7, 7, 3)).astype(np.float32), tmp_path
    )


def test_weight_norm_effective_kernel_and_output_equal_the_formula():
    conv = keras.layers.Conv2D(5, 3, padding="valid", activation="tanh")
    wrapped = layers.WeightNormalization(conv)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32)
    wrapped(x)
    wrapped.g.assign(np.linspace(0.5, 2.0, 5).astype(np.float32))
    v = conv.kernel.numpy().astype(np.float64)
    g = wrapped.g.numpy().astype(np.float64)
    expected_kernel = g * v / np.sqrt((v**2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(wrapped.kernel(), expected_kernel, rtol=1e-5, atol=1e-6)
    reference = keras.layers.Conv2D(5, 3, padding="valid", activation="tanh")
    reference.build(x.shape)
    reference.set_weights([expected_kernel.astype(np.float32), conv.bias.numpy()])
    np.testing.assert_allclose(wrapped(x), reference(x), rtol=1e-5, atol=1e-5)


def test_weight_norm_gradients_match_numpy():
    dense = keras.layers.Dense(3, use_bias=False)
    wrapped = layers.WeightNormalization(dense)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    r = rng.normal(size=(5, 3)).astype(np.float32)
    wrapped(x)
    wrapped.g.assign([0.7, 1.3, 2.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapped(x) * r)
    grad_v, grad_g = tape.gradient(loss, [dense.kernel, wrapped.g])
    # Salimans & Kingma, eq. 3: with w = g v / ||v|| and G = dL/dw,
    #   dL/dg = G . v / ||v||,   dL/dv = g / ||v|| * G - g * (G . v) / ||v||^3 * v
    v = dense.kernel.numpy().astype(np.float64)
    g = wrapped.g.numpy().astype(np.float64)
    G = x.astype(np.float64).T @ r.astype(np.float64)
    norm = np.sqrt((v**2).sum(0))
    dot = (G * v).sum(0)
    np.testing.assert_allclose(grad_g, dot / norm, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_v, g / norm * G - g * dot / norm**3 * v, rtol=1e-4, atol=1e-5)


def test_weight_norm_data_dependent_init_standardizes_pre_activations():
    wrapped = layers.WeightNormalization(keras.layers.Dense(6))
    x = (np.random.default_rng(0).normal(size=(256, 5)) * 4 + 3).astype(np.float32)
    wrapped.initialize_from_data(x)
    out = wrapped(x).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, rtol=1e-4)


def test_wrappers_refuse_other_layers_and_bad_arguments():
    with pytest.raises(ValueError, match="Dense or Conv"):
        layers.WeightNormalization(keras.layers.LSTM(3))
    with pytest.raises(ValueError, match="Dense or Conv"):
        layers.WeightNoise(keras.layers.Conv2DTranspose(3, 3))
    with pytest.raises(ValueError, match="stddev"):
        layers.WeightNoise(keras.layers.Dense(3), stddev=-1.0)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(-0.1)


def test_regularizers_are_inactive_in_exports(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    inputs = keras.Input((6,))
    x = layers.GaussianNoise(0.5, seed=1)(inputs)
    x = layers.WeightNoise(keras.layers.Dense(8, activation="relu"), stddev=0.5, seed=2)(x)
    x = layers.Dropout(0.5, seed=3)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    expected = model(x, training=False).numpy()
    assert not np.allclose(model(x, training=True), expected)
    path = str(tmp_path / "sm")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)
    np.testing.assert_allclose(loaded.serve(x), expected, atol=1e-6)
    interpreter = Interpreter(
        model_content=tf.lite.TFLiteConverter.from_saved_model(path).convert()
    )
    runner = interpreter.get_signature_runner()
    (out,) = runner(**{runner.get_input_details().popitem()[0]: x}).values()
    np.testing.assert_allclose(out, expected, atol=1e-5)
