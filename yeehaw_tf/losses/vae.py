"""The VAE's reparameterization and evidence lower bound (Kingma & Welling 2014).

``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` drawn outside the network: the sample is a
differentiable function of ``mu`` and ``sigma``, so the ELBO's expectation can be
back-propagated. The negative ELBO of one example is the reconstruction term
``-log p(x | z)`` (Bernoulli pixels: sigmoid cross-entropy summed over the pixels, the targets
being intensities in ``[0, 1]``) plus ``KL(q(z | x) || N(0, I))`` in closed form:
``0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)``.
"""

from __future__ import annotations

import tensorflow as tf


def reparameterize(mean, log_variance, epsilon) -> tf.Tensor:
    """``mean + exp(log_variance / 2) * epsilon``."""
    return mean + tf.exp(0.5 * log_variance) * epsilon


def gaussian_kl(mean, log_variance) -> tf.Tensor:
    """Per-example ``KL(N(mean, diag(exp(log_variance))) || N(0, I))`` ``[batch]``."""
    terms = tf.square(mean) + tf.exp(log_variance) - 1.0 - log_variance
    return 0.5 * tf.reduce_sum(terms, axis=-1)


def bernoulli_reconstruction(targets, logits) -> tf.Tensor:
    """Per-example ``-log p(x | z)`` ``[batch]`` for pixel intensities ``targets`` in [0, 1]."""
    if targets.shape.rank != logits.shape.rank:
        raise ValueError(f"targets {targets.shape} and logits {logits.shape} must match")
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(targets, logits.dtype), logits=logits
    )
    return tf.reduce_sum(cross_entropy, axis=list(range(1, logits.shape.rank)))


def negative_elbo(targets, logits, mean, log_variance):
    """``(reconstruction, kl)`` per example: the negative ELBO is their sum."""
    return bernoulli_reconstruction(targets, logits), gaussian_kl(mean, log_variance)
