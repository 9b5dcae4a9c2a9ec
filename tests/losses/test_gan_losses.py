"""The GAN losses against their formulas in float64 NumPy, and the gradient penalty against a
critic whose input gradient is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.losses import gan


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


REAL = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
FAKE = np.array([2.0, -1.0, 0.3, -4.0, 0.0])

DISCRIMINATOR = {
    "minimax": -np.log(_sigmoid(REAL)) - np.log(1.0 - _sigmoid(FAKE)),
    "non_saturating": -np.log(_sigmoid(REAL)) - np.log(1.0 - _sigmoid(FAKE)),
    "wgan": FAKE - REAL,
    "wgan_gp": FAKE - REAL,
    "hinge": np.maximum(0.0, 1.0 - REAL) + np.maximum(0.0, 1.0 + FAKE),
}
GENERATOR = {
    "minimax": np.log(1.0 - _sigmoid(FAKE)),
    "non_saturating": -np.log(_sigmoid(FAKE)),
    "wgan": -FAKE,
    "wgan_gp": -FAKE,
    "hinge": -FAKE,
}


@pytest.mark.parametrize("name", gan.LOSS_NAMES)
def test_losses_match_their_formulas(name):
    real = tf.constant(REAL[:, None], tf.float32)  # [batch, 1], as the critic returns
    fake = tf.constant(FAKE[:, None], tf.float32)
    np.testing.assert_allclose(
        gan.discriminator_loss(name, real, fake).numpy(), DISCRIMINATOR[name], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        gan.generator_loss(name, fake).numpy(), GENERATOR[name], rtol=1e-5, atol=1e-6
    )


def test_the_saturating_loss_gives_no_gradient_where_the_discriminator_is_sure():
    """d/df log(1 - sigmoid(f)) = -sigmoid(f) -> 0 for confidently rejected samples (f << 0),
    while -log sigmoid(f) has gradient -(1 - sigmoid(f)) -> -1 there."""
    f = tf.constant([-8.0, -4.0, 0.0])
    for name, expected in (
        ("minimax", -_sigmoid(np.array([-8.0, -4.0, 0.0]))),
        ("non_saturating", -(1.0 - _sigmoid(np.array([-8.0, -4.0, 0.0])))),
    ):
        with tf.GradientTape() as tape:
            tape.watch(f)
            loss = tf.reduce_sum(gan.generator_loss(name, f))
        np.testing.assert_allclose(tape.gradient(loss, f).numpy(), expected, rtol=1e-5)
    assert abs(-_sigmoid(-8.0)) < 1e-3


class _Linear(tf.Module):
    """f(x) = sum(w * x) + b: its input gradient is w everywhere."""

    def __init__(self, w):
        self.w = tf.Variable(w, dtype=tf.float32)

    def __call__(self, x, training=False):
        return tf.reduce_sum(x * self.w, axis=[1, 2, 3])[:, None] + 0.5


def test_gradient_penalty_of_a_linear_critic():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(1, 3, 3, 2))
    critic = _Linear(w)
    real = tf.constant(rng.normal(size=(4, 3, 3, 2)), tf.float32)
    fake = tf.constant(rng.normal(size=(4, 3, 3, 2)), tf.float32)
    eps = tf.constant([0.0, 0.25, 0.5, 1.0])
    penalty = gan.gradient_penalty(critic, real, fake, eps)
    expected = (np.sqrt(np.sum(w**2)) - 1.0) ** 2
    np.testing.assert_allclose(penalty.numpy(), np.full(4, expected), rtol=1e-5)
    # differentiable with respect to the critic's weights: d/dw (||w|| - 1)^2
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(gan.gradient_penalty(critic, real, fake, eps))
    grad = tape.gradient(total, critic.w).numpy()
    norm = np.sqrt(np.sum(w**2))
    np.testing.assert_allclose(grad, 4 * 2 * (norm - 1.0) * w / norm, rtol=1e-4)


def test_interpolates_lie_on_each_segment():
    real = tf.constant(np.ones((3, 2, 2, 1)), tf.float32)
    fake = tf.constant(np.zeros((3, 2, 2, 1)), tf.float32)
    points = gan.interpolates(real, fake, tf.constant([0.0, 0.3, 1.0])).numpy()
    np.testing.assert_allclose(points[:, 0, 0, 0], [0.0, 0.3, 1.0], rtol=1e-6)


def test_bad_names_and_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown GAN loss 'lsgan'.*minimax"):
        gan.generator_loss("lsgan", tf.zeros([2]))
    with pytest.raises(ValueError, match=r"\[batch\] or \[batch, 1\]"):
        gan.discriminator_loss("hinge", tf.zeros([2, 3]), tf.zeros([2, 3]))
