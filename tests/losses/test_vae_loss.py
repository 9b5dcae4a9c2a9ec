"""The VAE's KL term against a float64 formula and a Monte Carlo estimate; the
reparameterization's gradients; the Bernoulli reconstruction against NumPy."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.losses import vae


def test_gaussian_kl_matches_the_formula_and_monte_carlo():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 4))
    log_variance = rng.normal(scale=0.5, size=(3, 4))
    got = vae.gaussian_kl(tf.constant(mean), tf.constant(log_variance)).numpy()
    var = np.exp(log_variance)
    expected = 0.5 * np.sum(mean**2 + var - 1.0 - log_variance, axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Monte Carlo: E_q[log q(z) - log p(z)]
    samples = 200_000
    z = mean[:, None] + np.sqrt(var)[:, None] * rng.standard_normal((3, samples, 4))
    log_q = -0.5 * (((z - mean[:, None]) ** 2) / var[:, None] + np.log(2 * np.pi * var[:, None]))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    estimate = np.mean(np.sum(log_q - log_p, axis=-1), axis=1)
    np.testing.assert_allclose(estimate, expected, rtol=0.02, atol=0.01)


def test_reparameterization_is_differentiable_in_mean_and_variance():
    mean = tf.Variable([[0.5, -1.0]], dtype=tf.float64)
    log_variance = tf.Variable([[0.2, -0.4]], dtype=tf.float64)
    eps = tf.constant([[1.5, -0.3]], tf.float64)
    with tf.GradientTape() as tape:
        z = vae.reparameterize(mean, log_variance, eps)
    d_mean, d_logvar = tape.gradient(z, [mean, log_variance])
    np.testing.assert_allclose(d_mean.numpy(), [[1.0, 1.0]])
    np.testing.assert_allclose(
        d_logvar.numpy(), 0.5 * np.exp(0.5 * np.array([[0.2, -0.4]])) * [[1.5, -0.3]]
    )
    np.testing.assert_allclose(
        z.numpy(), [[0.5, -1.0]] + np.exp(0.5 * np.array([[0.2, -0.4]])) * [[1.5, -0.3]]
    )


def test_bernoulli_reconstruction():
    rng = np.random.default_rng(1)
    targets = rng.uniform(size=(2, 3, 3, 1))
    logits = rng.normal(size=(2, 3, 3, 1))
    p = 1 / (1 + np.exp(-logits))
    expected = -np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=(1, 2, 3))
    got = vae.bernoulli_reconstruction(tf.constant(targets), tf.constant(logits)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
