import math

import keras
import numpy as np
import pytest
from scipy import stats

from yeehaw_tf import initializers as init

SHAPES = {"dense": (400, 300), "conv": (3, 3, 64, 128)}


def _fans(shape):
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _expected_std(kind, shape, mode="fan_in", nonlinearity="relu", slope=0.01):
    fan_in, fan_out = _fans(shape)
    gains = {"linear": 1.0, "relu": math.sqrt(2), "leaky_relu": math.sqrt(2 / (1 + slope**2))}
    g = gains[nonlinearity]
    if kind == "xavier":
        return g * math.sqrt(2.0 / (fan_in + fan_out))
    return g / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize(
    "cls, kind, kwargs",
    [
        (init.XavierUniform, "xavier", {"nonlinearity": "linear"}),
        (init.XavierNormal, "xavier", {"nonlinearity": "relu"}),
        (init.KaimingUniform, "kaiming", {"mode": "fan_out", "nonlinearity": "relu"}),
        (
            init.KaimingNormal,
            "kaiming",
            {"mode": "fan_in", "nonlinearity": "leaky_relu", "negative_slope": 0.2},
        ),
        (init.KaimingNormal, "kaiming", {"mode": "fan_in", "nonlinearity": "linear"}),
    ],
)
def test_sample_statistics_match_the_formulas(cls, kind, kwargs, shape_name):
    shape = SHAPES[shape_name]
    sample = np.asarray(cls(seed=1, **kwargs)(shape)).ravel().astype(np.float64)
    std = _expected_std(
        kind,
        shape,
        kwargs.get("mode", "fan_in"),
        kwargs["nonlinearity"],
        kwargs.get("negative_slope", 0.01),
    )
    n = sample.size
    assert abs(sample.mean()) < 5 * std / math.sqrt(n)
    # the sample variance's standard error is about var * sqrt(2 / n) (normal) or less (uniform)
    assert abs(sample.var() / std**2 - 1.0) < 5 * math.sqrt(2.0 / n)
    if cls in (init.XavierUniform, init.KaimingUniform):
        assert np.abs(sample).max() <= math.sqrt(3) * std + 1e-7


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (init.XavierUniform(seed=3), keras.initializers.GlorotUniform(seed=4)),
        (init.KaimingUniform(seed=3), keras.initializers.HeUniform(seed=4)),
        (init.XavierNormal(truncated=True, seed=3), keras.initializers.GlorotNormal(seed=4)),
        (init.KaimingNormal(truncated=True, seed=3), keras.initializers.HeNormal(seed=4)),
    ],
)
def test_same_distribution_as_keras(ours, theirs):
    shape = SHAPES["conv"]
    a = np.asarray(ours(shape)).ravel()
    b = np.asarray(theirs(shape)).ravel()
    assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_untruncated_normal_has_the_same_variance_as_keras_but_longer_tails():
    shape = SHAPES["conv"]
    ours = np.asarray(init.KaimingNormal(seed=0)(shape)).ravel()
    theirs = np.asarray(keras.initializers.HeNormal(seed=0)(shape)).ravel()
    assert ours.var() == pytest.approx(theirs.var(), rel=0.02)
    std = _expected_std("kaiming", shape)
    assert np.abs(theirs).max() <= 2 * std / 0.87962566103423978 + 1e-6
    assert np.abs(ours).max() > 2.5 * std


def _activation_std(make_initializer, depth=20, width=1024):
    """Std of the last of ``depth`` ReLU layers' outputs, and of the input. Every layer gets its
    own initializer (one seeded instance reused would give every layer the same matrix)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, width)).astype(np.float32)
    layers = [
        keras.layers.Dense(
            width, activation="relu", use_bias=False, kernel_initializer=make_initializer(i)
        )
        for i in range(depth)
    ]
    return float(np.std(keras.Sequential([keras.Input((width,)), *layers])(x))), float(np.std(x))


def test_kaiming_keeps_activations_alive_through_20_relu_layers():
    out_std, in_std = _activation_std(lambda i: init.KaimingNormal(seed=100 + i))
    assert in_std / 2 < out_std < in_std * 2


def test_a_too_small_fixed_std_collapses_the_activations():
    out_std, _ = _activation_std(
        lambda i: keras.initializers.RandomNormal(stddev=0.01, seed=100 + i)
    )
    assert out_std < 1e-3


def test_serialization_and_use_in_a_layer(tmp_path):
    initializer = init.KaimingUniform(
        mode="fan_out", nonlinearity="leaky_relu", negative_slope=0.1, seed=7
    )
    clone = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    np.testing.assert_array_equal(clone((3, 4)), initializer((3, 4)))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4, kernel_initializer=initializer)(inputs))
    model.save(tmp_path / "m.keras")
    keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: init.KaimingNormal(mode="fan_avg"), "mode"),
        (lambda: init.XavierUniform(nonlinearity="swish"), "nonlinearity"),
        (lambda: init.XavierUniform(seed="abc"), "seed"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
