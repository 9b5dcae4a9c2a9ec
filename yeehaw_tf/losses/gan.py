"""The GAN family's losses, per example, from the discriminator's (critic's) raw outputs.

``real`` and ``fake`` are ``D(x)`` and ``D(G(z))`` before any sigmoid (logits for the
probabilistic games, scores for the Wasserstein and hinge critics). Each function returns one
value per example; the caller sums them (the Task contract's units).

* ``minimax`` (Goodfellow et al. 2014): D maximises ``log D(x) + log(1 - D(G(z)))``; G minimises
  ``log(1 - D(G(z)))``, the saturating form: at an optimal D the game minimises the
  Jensen-Shannon divergence, but when D rejects the samples confidently (early in training)
  ``d/df log(1 - sigmoid(f)) = -sigmoid(f) -> 0`` and G receives almost no gradient.
* ``non_saturating``: the same D; G maximises ``log D(G(z))`` (minimises ``-log sigmoid(f)``),
  whose gradient ``-(1 - sigmoid(f))`` is largest exactly where the saturating one vanishes.
* ``wgan`` (Arjovsky et al. 2017) and ``wgan_gp`` (Gulrajani et al. 2017): the critic maximises
  ``E[f(x)] - E[f(G(z))]``, the Kantorovich-Rubinstein dual of W1 over 1-Lipschitz f (enforced
  by weight clipping, or by the gradient penalty :func:`gradient_penalty`); G minimises
  ``-f(G(z))``.
* ``hinge`` (Lim & Ye 2017; Miyato et al. 2018 with spectral normalisation): D minimises
  ``relu(1 - f(x)) + relu(1 + f(G(z)))``; G minimises ``-f(G(z))``.
"""

from __future__ import annotations

import tensorflow as tf

LOSS_NAMES = ("minimax", "non_saturating", "wgan", "wgan_gp", "hinge")


def check_loss_name(name: str) -> str:
    if name not in LOSS_NAMES:
        raise ValueError(f"unknown GAN loss {name!r}; valid names: {', '.join(LOSS_NAMES)}")
    return name


def discriminator_loss(name: str, real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
    """Per-example discriminator (critic) loss ``[batch]`` for loss ``name``."""
    check_loss_name(name)
    real = _per_example(real)
    fake = _per_example(fake)
    if name in ("minimax", "non_saturating"):
        # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f)
        return tf.nn.softplus(-real) + tf.nn.softplus(fake)
    if name in ("wgan", "wgan_gp"):
        return fake - real
    return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)


def generator_loss(name: str, fake: tf.Tensor) -> tf.Tensor:
    """Per-example generator loss ``[batch]`` for loss ``name``."""
    check_loss_name(name)
    fake = _per_example(fake)
    if name == "minimax":
        return -tf.nn.softplus(fake)  # log(1 - sigmoid(f))
    if name == "non_saturating":
        return tf.nn.softplus(-fake)  # -log sigmoid(f)
    return -fake


def interpolates(real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
    """``eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per example (``epsilon``
    ``[batch]``): points uniform on the segment between each real and generated pair, where
    WGAN-GP's penalty is taken."""
    shape = [-1] + [1] * (len(real.shape) - 1)
    eps = tf.reshape(tf.cast(epsilon, real.dtype), shape)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(critic, real, fake, epsilon, training: bool = True) -> tf.Tensor:
    """Per-example ``(||grad_x f(x_hat)||_2 - 1)^2`` at :func:`interpolates` (Gulrajani et al.,
    eq. 3; multiply by lambda = 10). The inner gradient is taken with its own tape so the
    penalty is differentiable with respect to the critic's weights."""
    x_hat = interpolates(real, tf.cast(fake, real.dtype), epsilon)
    return tf.square(input_gradient_norm(critic, x_hat, training) - 1.0)


def input_gradient_norm(critic, x, training: bool = False) -> tf.Tensor:
    """``||grad_x f(x)||_2`` per example ``[batch]``: each example's score depends on that
    example alone, so one gradient of the summed scores gives every row's."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.cast(critic(x, training=training), tf.float32))
    grads = tape.gradient(total, x)
    axes = list(range(1, len(x.shape)))
    return tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + 1e-12)


def _per_example(scores: tf.Tensor) -> tf.Tensor:
    scores = tf.convert_to_tensor(scores)
    if scores.shape.rank == 2 and scores.shape[-1] == 1:
        scores = scores[:, 0]
    if scores.shape.rank != 1:
        raise ValueError(f"discriminator outputs must be [batch] or [batch, 1], got {scores.shape}")
    return tf.cast(scores, tf.float32)
