import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_checks import check_layer
from yeehaw_tf import layers

X = np.array(
    [-1e4, -50.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 50.0, 1e4], np.float32
)


def _numpy_reference(name, x, param):
    x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        return {
            "sigmoid": lambda: 1.0 / (1.0 + np.exp(-x)),
            "tanh": lambda: np.tanh(x),
            "relu": lambda: np.maximum(x, 0.0),
            "leaky_relu": lambda: np.where(x > 0, x, param * x),
            "elu": lambda: np.where(x > 0, x, param * np.expm1(np.minimum(x, 0.0))),
        }[name]()


CASES = [
    ("sigmoid", layers.Sigmoid(), lambda t: keras.activations.sigmoid(t), None),
    ("tanh", layers.Tanh(), lambda t: keras.activations.tanh(t), None),
    ("relu", layers.ReLU(), lambda t: keras.activations.relu(t), None),
    ("leaky_relu", layers.LeakyReLU(), lambda t: keras.activations.leaky_relu(t, 0.1), 0.1),
    ("leaky_relu", layers.LeakyReLU(0.3), lambda t: keras.activations.leaky_relu(t, 0.3), 0.3),
    ("elu", layers.ELU(), lambda t: keras.activations.elu(t, 1.0), 1.0),
    ("elu", layers.ELU(0.5), lambda t: keras.activations.elu(t, 0.5), 0.5),
]


@pytest.mark.parametrize("name, layer, builtin, param", CASES)
def test_values_and_gradients_match_keras_and_numpy(name, layer, builtin, param):
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours, theirs = layer(x), builtin(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours, _numpy_reference(name, X, param), rtol=1e-6, atol=1e-7)
    g_ours, g_theirs = tape.gradient(ours, x), tape.gradient(theirs, x)
    assert np.all(np.isfinite(g_ours))
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-6, atol=1e-7)


def test_leaky_relu_default_slope_is_the_notes_0_1():
    np.testing.assert_allclose(layers.LeakyReLU()(np.array([-10.0])), [-1.0])


@pytest.mark.parametrize("name, layer, builtin, param", CASES)
def test_layer_contract(name, layer, builtin, param, tmp_path):
    check_layer(layer, np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4), tmp_path)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(-1.0)
    with pytest.raises(ValueError, match="alpha"):
        layers.ELU(0.0)
    with pytest.raises(ValueError, match="valid names"):
        layers.get_activation("swish9")


def test_maxout_with_two_pieces_is_relu_and_leaky_relu():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    w = rng.normal(size=(5, 3)).astype(np.float32)
    for slope in (0.0, 0.1):
        maxout = layers.Maxout(3, num_pieces=2)
        maxout.build(x.shape)
        kernel = np.stack([w, slope * w], axis=-1).reshape(5, 6)  # unit i: columns 2i, 2i+1
        maxout.set_weights([kernel, np.zeros(6, np.float32)])
        linear = x.astype(np.float64) @ w.astype(np.float64)
        expected = np.where(linear > 0, linear, slope * linear)
        # equal up to the float32 rounding of the matmul (the same function, exactly)
        np.testing.assert_allclose(maxout(x), expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(maxout(x), keras.activations.leaky_relu(x @ w, slope), atol=1e-6)


def test_maxout_matches_numpy_and_keeps_the_contract(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    maxout = layers.Maxout(4, num_pieces=3)
    out = maxout(x).numpy()
    kernel, bias = (w.astype(np.float64) for w in maxout.get_weights())
    pieces = (x.astype(np.float64) @ kernel + bias).reshape(4, 4, 3)
    np.testing.assert_allclose(out, pieces.max(-1), rtol=1e-5, atol=1e-6)
    check_layer(maxout, x, tmp_path)


def test_channel_maxout_matches_numpy(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 3, 3, 6)).astype(np.float32)
    out = layers.ChannelMaxout(3)(x)
    np.testing.assert_array_equal(out, x.reshape(2, 3, 3, 2, 3).max(-1))
    check_layer(layers.ChannelMaxout(2), x, tmp_path)
    with pytest.raises(ValueError, match="divisible"):
        layers.ChannelMaxout(4)(x)
    with pytest.raises(ValueError, match="num_pieces"):
        layers.Maxout(3, num_pieces=1)


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0], np.float32)


def _fit_xor(hidden):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    x = hidden(inputs) if hidden is not None else inputs
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.05), keras.losses.BinaryCrossentropy(from_logits=True))
    # 400 full-batch steps; the data is tiled so fit's per-epoch overhead is paid 4 times only
    model.fit(
        np.tile(XOR_X, (100, 1)),
        np.tile(XOR_Y, 100),
        epochs=4,
        batch_size=4,
        verbose=0,
        shuffle=False,
    )
    return float(np.mean((model.predict(XOR_X, verbose=0)[:, 0] > 0) == XOR_Y))


def test_a_linear_model_cannot_fit_xor():
    assert _fit_xor(None) <= 0.75


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout"])
def test_a_two_layer_net_with_each_nonlinearity_fits_xor(activation):
    def hidden(x):
        if activation == "maxout":
            return layers.Maxout(8, num_pieces=2)(x)
        return layers.get_activation(activation)(keras.layers.Dense(8)(x))

    assert _fit_xor(hidden) == 1.0


def test_channel_maxout_takes_tensorflow_addons_num_units(tmp_path):
    """tfa's ``Maxout(num_units)`` names the outputs: groups of ``C // num_units`` adjacent
    channels (tfa reshapes to ``[..., num_units, C // num_units]`` and takes the max)."""
    x = np.random.default_rng(3).normal(size=(2, 3, 3, 12)).astype(np.float32)
    layer = layers.ChannelMaxout(num_units=4)
    np.testing.assert_array_equal(layer(x), x.reshape(2, 3, 3, 4, 3).max(-1))
    assert layer.compute_output_shape((None, 3, 3, 12)) == (None, 3, 3, 4)
    check_layer(layers.ChannelMaxout(num_units=6), x, tmp_path)
    with pytest.raises(ValueError, match="not divisible by num_units=5"):
        layers.ChannelMaxout(num_units=5)(x)
    with pytest.raises(ValueError, match="not both"):
        layers.ChannelMaxout(2, num_units=6)
    with pytest.raises(ValueError, match="axis must be -1"):
        layers.ChannelMaxout(num_units=4, axis=1)
