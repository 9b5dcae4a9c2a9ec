"""Each optimizer, 100 steps, against (1) the Keras built-in and (2) NumPy update equations."""

import keras
import numpy as np
import pytest

from yeehaw_tf import optimizers as ours

SHAPES = [(3, 4), (4,), (2, 2, 3)]
STEPS = 100


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) * (1 + 0.5 * np.sin(t)) for s in SHAPES] for t in range(STEPS)]
    return start, grads


def f32(x):
    """The learning rate lives in the base class's float32 variable, and the base class applies
    weight decay with a float32 constant: the NumPy references use the same rounded values."""
    return float(np.float32(x))


def _run(optimizer, start, grads):
    variables = [keras.Variable(w, dtype="float64") for w in start]
    for step_grads in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g, "float64") for g in step_grads], variables)
    return [v.numpy() for v in variables]


# ----------------------------------------------------------------- NumPy update equations


def _clip(gs, clipnorm=None, global_clipnorm=None):
    if clipnorm:
        gs = [g * clipnorm / max(np.linalg.norm(g), clipnorm) for g in gs]
    if global_clipnorm:
        norm = np.sqrt(sum((g**2).sum() for g in gs))
        gs = [g * global_clipnorm / max(norm, global_clipnorm) for g in gs]
    return gs


def numpy_sgd(start, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0, **clip):
    w = [x.copy() for x in start]
    v = [np.zeros_like(x) for x in start]
    for t, gs in enumerate(grads):
        rate = f32(lr(t) if callable(lr) else lr)
        gs = _clip(gs, **clip)
        for i, g in enumerate(gs):
            w[i] -= rate * f32(weight_decay) * w[i]
            if momentum:
                v[i] = momentum * v[i] - rate * g
                w[i] += momentum * v[i] - rate * g if nesterov else v[i]
            else:
                w[i] -= rate * g
    return w


def numpy_adagrad(start, grads, lr, initial=0.1, eps=1e-7):
    w = [x.copy() for x in start]
    s = [np.full_like(x, initial) for x in start]
    for gs in grads:
        for i, g in enumerate(gs):
            s[i] += g**2
            w[i] -= f32(lr) * g / np.sqrt(s[i] + eps)
    return w


def numpy_rmsprop(start, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    w = [x.copy() for x in start]
    s, a, m = ([np.zeros_like(x) for x in start] for _ in range(3))
    for gs in grads:
        for i, g in enumerate(gs):
            s[i] = rho * s[i] + (1 - rho) * g**2
            d = s[i] + eps
            if centered:
                a[i] = rho * a[i] + (1 - rho) * g
                d = d - a[i] ** 2
            step = f32(lr) * g / np.sqrt(d)
            if momentum:
                m[i] = momentum * m[i] + step
                step = m[i]
            w[i] -= step
    return w


def numpy_adam(start, grads, lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, weight_decay=0.0):
    w = [x.copy() for x in start]
    m, v, vmax = ([np.zeros_like(x) for x in start] for _ in range(3))
    lr = f32(lr)
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            w[i] -= lr * f32(weight_decay) * w[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            vmax[i] = np.maximum(vmax[i], v[i])
            second = vmax[i] if amsgrad else v[i]
            w[i] -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m[i] / (np.sqrt(second) + eps)
    return w


CASES = {
    "sgd": (
        lambda: ours.SGD(0.05),
        lambda: keras.optimizers.SGD(0.05),
        lambda s, g: numpy_sgd(s, g, 0.05),
    ),
    "momentum": (
        lambda: ours.SGD(0.05, momentum=0.9),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda s, g: numpy_sgd(s, g, 0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda: ours.SGD(0.05, momentum=0.8, nesterov=True),
        lambda: keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
        lambda s, g: numpy_sgd(s, g, 0.05, momentum=0.8, nesterov=True),
    ),
    "sgd_weight_decay": (
        lambda: ours.SGD(0.05, momentum=0.9, weight_decay=0.1),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.1),
        lambda s, g: numpy_sgd(s, g, 0.05, momentum=0.9, weight_decay=0.1),
    ),
    "sgd_clipnorm": (
        lambda: ours.SGD(0.05, clipnorm=1.0),
        lambda: keras.optimizers.SGD(0.05, clipnorm=1.0),
        lambda s, g: numpy_sgd(s, g, 0.05, clipnorm=1.0),
    ),
    "sgd_global_clipnorm": (
        lambda: ours.SGD(0.05, global_clipnorm=1.5),
        lambda: keras.optimizers.SGD(0.05, global_clipnorm=1.5),
        lambda s, g: numpy_sgd(s, g, 0.05, global_clipnorm=1.5),
    ),
    "sgd_schedule": (
        lambda: ours.SGD(ours.schedules.ExponentialDecay(0.1, 10, 0.5)),
        lambda: keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
        # the schedule is computed in float32, like the learning-rate variable
        lambda s, g: numpy_sgd(
            s, g, lambda t: np.float32(0.1) * np.float32(0.5) ** (np.float32(t) / np.float32(10))
        ),
    ),
    "adagrad": (
        lambda: ours.AdaGrad(0.1),
        lambda: keras.optimizers.Adagrad(0.1),
        lambda s, g: numpy_adagrad(s, g, 0.1),
    ),
    "rmsprop": (
        lambda: ours.RMSProp(0.01),
        lambda: keras.optimizers.RMSprop(0.01),
        lambda s, g: numpy_rmsprop(s, g, 0.01),
    ),
    "rmsprop_momentum_centered": (
        lambda: ours.RMSProp(0.01, rho=0.8, momentum=0.5, centered=True),
        lambda: keras.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
        lambda s, g: numpy_rmsprop(s, g, 0.01, rho=0.8, momentum=0.5, centered=True),
    ),
    "adam": (
        lambda: ours.Adam(0.01),
        lambda: keras.optimizers.Adam(0.01),
        lambda s, g: numpy_adam(s, g, 0.01),
    ),
    "amsgrad": (
        lambda: ours.Adam(0.01, beta_2=0.99, amsgrad=True),
        lambda: keras.optimizers.Adam(0.01, beta_2=0.99, amsgrad=True),
        lambda s, g: numpy_adam(s, g, 0.01, b2=0.99, amsgrad=True),
    ),
    "adamw": (
        lambda: ours.AdamW(0.01, weight_decay=0.05),
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
        lambda s, g: numpy_adam(s, g, 0.01, weight_decay=0.05),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_100_steps_equal_the_numpy_update_equations(name):
    make_ours, _, numpy_reference = CASES[name]
    start, grads = _problem()
    result = _run(make_ours(), start, grads)
    for a, c, w0 in zip(result, numpy_reference(start, grads), start, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)
        assert not np.allclose(a, w0)  # it moved


@pytest.mark.parametrize("name", list(CASES))
def test_100_steps_equal_the_keras_built_in(name):
    """Keras rounds hyper-parameters such as 0.9 or 0.999 to float32 where ours stay exact;
    after 100 float64 steps that shows as ~5e-6 relative. Within it, the trajectories agree."""
    make_ours, make_keras, _ = CASES[name]
    start, grads = _problem()
    for a, b in zip(_run(make_ours(), start, grads), _run(make_keras(), start, grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-9)


@pytest.mark.parametrize(
    "make_ours, make_keras",
    [
        (
            lambda: ours.SGD(0.0625, momentum=0.875, nesterov=True),
            lambda: keras.optimizers.SGD(0.0625, momentum=0.875, nesterov=True),
        ),
        (
            lambda: ours.RMSProp(0.0078125, rho=0.875, momentum=0.5, centered=True),
            lambda: keras.optimizers.RMSprop(0.0078125, rho=0.875, momentum=0.5, centered=True),
        ),
        (
            lambda: ours.Adam(0.0078125, beta_1=0.875, beta_2=1 - 2**-10, amsgrad=True),
            lambda: keras.optimizers.Adam(0.0078125, beta_1=0.875, beta_2=1 - 2**-10, amsgrad=True),
        ),
        (
            lambda: ours.AdamW(0.0078125, weight_decay=0.0625, beta_1=0.75, beta_2=1 - 2**-8),
            lambda: keras.optimizers.AdamW(
                0.0078125, weight_decay=0.0625, beta_1=0.75, beta_2=1 - 2**-8
            ),
        ),
        (lambda: ours.AdaGrad(0.125), lambda: keras.optimizers.Adagrad(0.125)),
    ],
)
def test_with_float32_exact_hyperparameters_keras_agrees_to_1e_6(make_ours, make_keras):
    """With hyper-parameters that float32 represents exactly, no rounding separates the two."""
    start, grads = _problem(seed=1)
    for a, b in zip(_run(make_ours(), start, grads), _run(make_keras(), start, grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_documented_defaults():
    assert ours.Adam().epsilon == 1e-7  # Keras's; the paper's is 1e-8 (see the docstring)
    assert "1e-8" in ours.Adam.__doc__
    assert (ours.Adam().beta_1, ours.Adam().beta_2) == (0.9, 0.999)
    assert ours.AdaGrad().initial_accumulator_value == 0.1
    assert (ours.RMSProp().rho, ours.RMSProp().epsilon) == (0.9, 1e-7)
    assert ours.AdamW().weight_decay == 0.01
    assert float(ours.SGD().learning_rate) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ours.SGD(momentum=1.0), "momentum"),
        (lambda: ours.SGD(nesterov=True), "nesterov"),
        (lambda: ours.Adam(beta_1=1.0), "beta_1"),
        (lambda: ours.RMSProp(rho=-0.1), "rho"),
        (lambda: ours.AdaGrad(epsilon=0.0), "epsilon"),
        (lambda: ours.AdamW(weight_decay=0.0), "weight_decay"),
    ],
)
def test_bad_hyperparameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
