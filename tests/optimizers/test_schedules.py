import math

import keras
import numpy as np
import pytest

from yeehaw_tf.optimizers import schedules as ours

KS = keras.optimizers.schedules
STEPS = [0, 1, 5, 9, 10, 11, 37, 99, 100, 101, 250, 999]


def _values(schedule, steps=STEPS):
    return np.array([float(schedule(s)) for s in steps])


def _closed(fn, steps=STEPS):
    return np.array([fn(s) for s in steps], np.float64)


CASES = {
    "step": (
        ours.StepDecay([10, 100], [1.0, 0.1, 0.01]),
        KS.PiecewiseConstantDecay([10, 100], [1.0, 0.1, 0.01]),
        lambda s: 1.0 if s <= 10 else (0.1 if s <= 100 else 0.01),
    ),
    "exponential": (
        ours.ExponentialDecay(0.5, 10, 0.9),
        KS.ExponentialDecay(0.5, 10, 0.9),
        lambda s: 0.5 * 0.9 ** (s / 10),
    ),
    "exponential_staircase": (
        ours.ExponentialDecay(0.5, 10, 0.9, staircase=True),
        KS.ExponentialDecay(0.5, 10, 0.9, staircase=True),
        lambda s: 0.5 * 0.9 ** (s // 10),
    ),
    "inverse": (
        ours.InverseTimeDecay(0.5, 10, 2.0),
        KS.InverseTimeDecay(0.5, 10, 2.0),
        lambda s: 0.5 / (1 + 2.0 * s / 10),
    ),
    "linear": (
        ours.LinearDecay(0.5, 100, 0.05),
        KS.PolynomialDecay(0.5, 100, 0.05, power=1.0),
        lambda s: 0.05 + 0.45 * (1 - min(s, 100) / 100),
    ),
    "cosine": (
        ours.CosineDecay(0.5, 100, alpha=0.1),
        KS.CosineDecay(0.5, 100, alpha=0.1),
        lambda s: 0.5 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100))),
    ),
    "cosine_warmup": (
        ours.CosineDecay(0.5, 100, warmup_steps=10),
        KS.CosineDecay(0.0, 100, warmup_target=0.5, warmup_steps=10),
        lambda s: (
            0.5 * s / 10 if s < 10 else 0.5 * 0.5 * (1 + math.cos(math.pi * min(s - 10, 100) / 100))
        ),
    ),
}


def _sgdr(s, T=10, t_mul=2.0, m_mul=0.5, alpha=0.1, lr=0.5):
    """Restarts by walking the periods, the obviously-correct way."""
    start, period, height = 0, T, 1.0
    while s >= start + period:
        start, period, height = start + period, period * t_mul, height * m_mul
    f = (s - start) / period
    return lr * (alpha + (1 - alpha) * height * 0.5 * (1 + math.cos(math.pi * f)))


@pytest.mark.parametrize("name", list(CASES))
def test_values_match_the_closed_form_and_keras(name):
    schedule, keras_schedule, formula = CASES[name]
    values = _values(schedule)
    np.testing.assert_allclose(values, _closed(formula), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(values, _values(keras_schedule), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("t_mul, m_mul", [(2.0, 0.5), (1.0, 1.0), (1.5, 0.8)])
def test_cosine_restarts_match_keras_and_the_period_walk(t_mul, m_mul):
    steps = list(range(0, 200, 3))
    schedule = ours.CosineDecay(0.5, 10, alpha=0.1, restarts=True, t_mul=t_mul, m_mul=m_mul)
    values = _values(schedule, steps)
    expected = [_sgdr(s, 10, t_mul, m_mul) for s in steps]
    np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-6)
    keras_values = _values(KS.CosineDecayRestarts(0.5, 10, t_mul, m_mul, alpha=0.1), steps)
    np.testing.assert_allclose(values, keras_values, rtol=1e-4, atol=1e-6)


def test_inverse_sqrt_is_the_transformer_schedule_peaking_at_warmup():
    schedule = ours.InverseSqrtDecay(peak_learning_rate=0.01, warmup_steps=100)
    steps = [0, 9, 49, 98, 99, 100, 399, 9999]
    d_model_scale = 0.01 * math.sqrt(100)
    expected = [d_model_scale * min((s + 1) ** -0.5, (s + 1) * 100**-1.5) for s in steps]
    np.testing.assert_allclose(_values(schedule, steps), expected, rtol=1e-5)
    assert float(schedule(99)) == pytest.approx(0.01, rel=1e-6)  # t = 100 = warmup
    assert float(schedule(399)) == pytest.approx(0.005, rel=1e-5)  # then 1/sqrt(t)


def test_linear_warmup_wraps_any_schedule():
    inner = ours.StepDecay([20], [0.4, 0.04])
    schedule = ours.LinearWarmup(inner, warmup_steps=8, initial_learning_rate=0.0)
    expected = [0.4 * s / 8 for s in range(8)] + [0.4] * 21 + [0.04]
    np.testing.assert_allclose(_values(schedule, range(30)), expected, rtol=1e-6, atol=1e-8)
    constant = ours.LinearWarmup(0.3, warmup_steps=4, initial_learning_rate=0.1)
    np.testing.assert_allclose(_values(constant, range(6)), [0.1, 0.15, 0.2, 0.25, 0.3, 0.3])


@pytest.mark.parametrize(
    "schedule",
    [c[0] for c in CASES.values()]
    + [
        ours.InverseSqrtDecay(0.01, 50),
        ours.LinearWarmup(ours.CosineDecay(0.1, 50), 5),
        ours.CosineDecay(0.1, 10, restarts=True, t_mul=1.5),
    ],
)
def test_schedules_serialize_and_drive_an_optimizer(schedule, tmp_path):
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    np.testing.assert_allclose(_values(clone), _values(schedule))
    from yeehaw_tf.optimizers import SGD

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(SGD(schedule, momentum=0.5), "mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, batch_size=4, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(float(schedule(4)), rel=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(_values(loaded.optimizer._learning_rate), _values(schedule))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ours.StepDecay([10, 10], [1.0, 0.5, 0.1]), "strictly increasing"),
        (lambda: ours.StepDecay([10], [1.0]), "len"),
        (lambda: ours.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: ours.CosineDecay(0.1, 10, alpha=2.0), "alpha"),
        (lambda: ours.InverseSqrtDecay(0.1, 0), "warmup_steps"),
        (lambda: ours.LinearDecay(-0.1, 10), "initial_learning_rate"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
