"""DistillationLoss against Hinton et al.'s formula in float64 NumPy, its gradient (the T**2
scaling) against the closed form, and its limits (alpha=1: cross-entropy; large T: matching
logits)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from yeehaw_tf.losses import DistillationLoss
from yeehaw_tf.losses.distillation import soft_target_loss

F64_ATOL = 1e-10  # the loss computed in float64 against the float64 reference


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _np_loss(labels, s, t, temperature, alpha):
    """alpha * CE(y, softmax(s)) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T))."""
    hard = -np.log(_softmax(s)[np.arange(len(labels)), labels])
    p, q = _softmax(t / temperature), _softmax(s / temperature)
    soft = temperature**2 * np.sum(p * (np.log(p) - np.log(q)), axis=-1)
    return alpha * hard + (1 - alpha) * soft


def _inputs(seed=0, batch=6, classes=5, scale=3.0):
    rng = np.random.default_rng(seed)
    s = rng.normal(scale=scale, size=(batch, classes))
    t = rng.normal(scale=scale, size=(batch, classes))
    return rng.integers(0, classes, size=batch), s, t


def _loss(labels, s, t, dtype="float64", **kwargs):
    loss = DistillationLoss(reduction=None, dtype=dtype, **kwargs)
    return loss({"labels": labels, "teacher_logits": t}, s)


@pytest.mark.parametrize(("temperature", "alpha"), [(1.0, 0.5), (4.0, 0.1), (20.0, 0.0)])
def test_matches_the_formula_per_example(temperature, alpha):
    labels, s, t = _inputs()
    got = _loss(labels, s, t, temperature=temperature, alpha=alpha)
    want = _np_loss(labels, s, t, temperature, alpha)
    np.testing.assert_allclose(np.asarray(got), want, atol=F64_ATOL, rtol=0)
    got32 = _loss(labels, s.astype("float32"), t, dtype=None, temperature=temperature, alpha=alpha)
    np.testing.assert_allclose(np.asarray(got32), want, atol=FLOAT32_ATOL, rtol=FLOAT32_ATOL)
    mean = DistillationLoss(temperature, alpha)({"labels": labels, "teacher_logits": t}, s)
    np.testing.assert_allclose(float(mean), want.mean(), rtol=FLOAT32_ATOL)


def test_the_soft_gradient_is_t_times_the_difference_of_the_softened_probabilities():
    labels, s, t = _inputs(seed=1)
    for temperature, alpha in ((1.0, 0.0), (4.0, 0.0), (4.0, 0.3)):
        student = tf.constant(s)
        with tf.GradientTape() as tape:
            tape.watch(student)
            total = tf.reduce_sum(_loss(labels, student, t, temperature=temperature, alpha=alpha))
        grad = tape.gradient(total, student).numpy()
        soft = temperature * (_softmax(s / temperature) - _softmax(t / temperature))
        hard = _softmax(s) - np.eye(s.shape[1])[labels]
        want = (1 - alpha) * soft + alpha * hard
        np.testing.assert_allclose(grad, want, atol=F64_ATOL, rtol=0)


def test_at_high_temperature_the_gradient_tends_to_matching_logits():
    """Hinton et al.'s eq. 4: with zero-mean logits, T^2 dC/ds -> (s - t) / N as T grows."""
    _, s, t = _inputs(seed=2, classes=10, scale=1.0)
    s, t = s - s.mean(axis=-1, keepdims=True), t - t.mean(axis=-1, keepdims=True)
    student = tf.constant(s)
    with tf.GradientTape() as tape:
        tape.watch(student)
        total = tf.reduce_sum(soft_target_loss(student, tf.constant(t), 1000.0))
    grad = tape.gradient(total, student).numpy()
    np.testing.assert_allclose(grad, (s - t) / s.shape[1], atol=1e-3)


def test_no_gradient_reaches_the_teacher():
    labels, s, t = _inputs()
    teacher = tf.constant(t)
    with tf.GradientTape() as tape:
        tape.watch(teacher)
        total = tf.reduce_sum(_loss(labels, tf.constant(s), teacher, temperature=2.0, alpha=0.5))
    assert tape.gradient(total, teacher) is None


def test_alpha_one_is_keras_sparse_cross_entropy_and_zero_is_only_the_teacher():
    labels, s, t = _inputs(seed=3)
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    got = _loss(labels, s.astype("float32"), t, dtype=None, temperature=3.0, alpha=1.0)
    np.testing.assert_allclose(np.asarray(got), np.asarray(keras_ce(labels, s)), atol=FLOAT32_ATOL)
    # alpha=0 ignores the labels; a student equal to its teacher costs nothing
    a = _loss(labels, s, t, temperature=3.0, alpha=0.0)
    b = _loss((labels + 1) % s.shape[1], s, t, temperature=3.0, alpha=0.0)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=F64_ATOL)
    same = _loss(labels, t, t, temperature=3.0, alpha=0.0)
    np.testing.assert_allclose(np.asarray(same), 0.0, atol=F64_ATOL)


def test_config_round_trip_and_serialization():
    loss = DistillationLoss(temperature=2.5, alpha=0.25, reduction="sum")
    config = loss.get_config()
    assert config["temperature"] == 2.5 and config["alpha"] == 0.25
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, DistillationLoss)
    assert again.get_config() == config


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), "4", True])
def test_bad_temperature_is_refused_naming_it(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        DistillationLoss(temperature=temperature, alpha=0.5)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), None])
def test_alpha_outside_zero_one_is_refused_naming_it(alpha):
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        DistillationLoss(temperature=2.0, alpha=alpha)


def test_mismatched_logits_and_bad_targets_are_refused():
    labels, s, t = _inputs()
    with pytest.raises(ValueError, match="same classes"):
        _loss(labels, s, t[:, :3], temperature=2.0, alpha=0.5)
    with pytest.raises(ValueError, match="y_true must be"):
        DistillationLoss(2.0, 0.5)(labels, s)
