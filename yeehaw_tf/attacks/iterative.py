"""Iterative gradient-sign attacks: the basic iterative method and the least-likely class.

Kurakin, Goodfellow and Bengio, "Adversarial Examples in the Physical World" (2016), section
2: repeat a small gradient-sign step ``alpha`` and, after every step, clip to the
``epsilon``-ball around the clean image ``x`` and to the valid pixel range,

    x_0 = x,   x_{n+1} = min(high, x + eps, max(low, x - eps, x_n + s * alpha * sign(g_n))).

The basic iterative method (iterative FGSM) ascends the loss of the true class
(``s = +1``, ``g_n = grad J(x_n, y)``); the iterative least-likely class method descends the
loss of the class the model finds least likely on the clean image (``s = -1``,
``g_n = grad J(x_n, y_LL)``, ``y_LL = argmin_y p(y | x)``), a targeted attack towards a
class that is usually very different from the true one. The paper's defaults are ``alpha = 1``
(one intensity level) and ``min(eps + 4, 1.25 eps)`` iterations (:func:`bim_iterations`).

See :mod:`yeehaw_tf.attacks.gradient_sign` for the model contract and for how these functions
behave inside a ``tf.function``. The loop is a ``tf.while_loop``, so a traced attack is one
small graph whatever the number of iterations.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.attacks.arguments import (
    check_alpha,
    check_epsilon,
    check_images,
    check_iterations,
    check_labels,
    check_pixel_range,
)
from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE, input_gradient


def bim_iterations(epsilon: float) -> int:
    """The paper's number of iterations for ``epsilon`` in 0..255 pixel units:
    ``int(min(epsilon + 4, 1.25 * epsilon))``, at least 1 for ``epsilon > 0`` and 0 for
    ``epsilon = 0`` (e.g. 1, 2, 5, 10, 20, 36 for epsilon 1, 2, 4, 8, 16, 32)."""
    epsilon = check_epsilon(epsilon, PIXEL_RANGE)
    if epsilon == 0.0:
        return 0
    return max(1, int(min(epsilon + 4.0, 1.25 * epsilon)))


def least_likely_class(model: keras.Model, images, training: bool = False) -> tf.Tensor:
    """``argmin_y p(y | x)`` for each image: the class with the lowest logit, int64 ``[B]``."""
    logits = model(check_images(images), training=training)
    return tf.argmin(logits, axis=-1, output_type=tf.int64)


def iterate_gradient_sign(
    model: keras.Model,
    images: tf.Tensor,
    labels: tf.Tensor,
    epsilon: float,
    alpha: float,
    iterations: int,
    direction: float,
    pixel_range: tuple[float, float],
    training: bool,
) -> tf.Tensor:
    """The loop both attacks share: ``iterations`` steps of ``direction * alpha *
    sign(grad_x J(x_n, labels))`` (``direction``: +1 ascends the loss of ``labels``, -1
    descends it), each clipped to the ``epsilon``-ball around ``images`` and to
    ``pixel_range``. Takes checked arguments (float32 images, int64 labels)."""
    if iterations == 0:
        return tf.stop_gradient(images)
    low, high = pixel_range
    lower = tf.maximum(images - epsilon, low)
    upper = tf.minimum(images + epsilon, high)
    step = direction * alpha

    def body(i, x):
        gradient = input_gradient(model, x, labels, training)
        return i + 1, tf.minimum(tf.maximum(x + step * tf.sign(gradient), lower), upper)

    _, adversarial = tf.while_loop(
        lambda i, x: i < iterations,
        body,
        (tf.constant(0), images),
        maximum_iterations=iterations,
    )
    return tf.stop_gradient(adversarial)


def _checked(pixel_range, epsilon, alpha, iterations, images):
    pixel_range = check_pixel_range(pixel_range)
    epsilon = check_epsilon(epsilon, pixel_range)
    alpha = check_alpha(alpha)
    iterations = bim_iterations(epsilon) if iterations is None else check_iterations(iterations)
    return pixel_range, epsilon, alpha, iterations, check_images(images)


def iterative_fgsm(
    model: keras.Model,
    images,
    labels,
    epsilon: float,
    alpha: float = 1.0,
    iterations: int | None = None,
    *,
    pixel_range: tuple[float, float] = PIXEL_RANGE,
    training: bool = False,
) -> tf.Tensor:
    """The basic iterative method: FGSM steps of ``alpha`` ascending the loss of ``labels``,
    clipped to the ``epsilon``-ball and ``pixel_range`` after each step.

    Args:
        model, images, labels, pixel_range, training: as for
            :func:`yeehaw_tf.attacks.fgsm` (images in ``pixel_range``, labels ``[B]``).
        epsilon: the radius of the L-infinity ball, pixel units, in ``[0, high - low]``.
        alpha: the step, pixel units, > 0 (default one intensity level of 0..255).
        iterations: steps, >= 0; ``None``: :func:`bim_iterations` of ``epsilon`` (the rule
            reads ``epsilon`` in 0..255 units). Zero steps return the images unchanged.

    Returns the adversarial images, float32 ``[B, H, W, C]``, with no gradient.
    """
    pixel_range, epsilon, alpha, iterations, images = _checked(
        pixel_range, epsilon, alpha, iterations, images
    )
    labels = check_labels(labels, images)
    return iterate_gradient_sign(
        model, images, labels, epsilon, alpha, iterations, 1.0, pixel_range, training
    )


def least_likely(
    model: keras.Model,
    images,
    epsilon: float,
    alpha: float = 1.0,
    iterations: int | None = None,
    *,
    pixel_range: tuple[float, float] = PIXEL_RANGE,
    training: bool = False,
) -> tf.Tensor:
    """The iterative least-likely class method: steps of ``alpha`` descending the loss of
    ``y_LL``, the clean image's least likely class (:func:`least_likely_class`), clipped to
    the ``epsilon``-ball and ``pixel_range`` after each step. Needs no labels.

    Arguments as for :func:`iterative_fgsm`. Returns the adversarial images, float32, with no
    gradient.
    """
    pixel_range, epsilon, alpha, iterations, images = _checked(
        pixel_range, epsilon, alpha, iterations, images
    )
    target = least_likely_class(model, images, training)
    return iterate_gradient_sign(
        model, images, target, epsilon, alpha, iterations, -1.0, pixel_range, training
    )
