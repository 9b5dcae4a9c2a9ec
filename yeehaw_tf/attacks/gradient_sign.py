"""The fast gradient sign method (FGSM) and the input gradient every attack here follows.

Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples" (ICLR 2015):
a model that is close to linear in its input is pushed far by a small step along the sign of
the loss gradient, ``x_adv = x + epsilon * sign(grad_x J(x, y))``, here followed by clipping
to the valid pixel range.

``model`` is any classifier mapping float32 images in raw pixel units (``[B, H, W, C]``,
0..255 by default; the model standardises inside) to logits ``[B, num_classes]``. ``J`` is the
softmax cross-entropy of the logits. The functions run eagerly and inside a ``tf.function``
(for instance a replica step of adversarial training, under a tape of its own): the gradient
is taken with an inner ``tf.GradientTape`` and the result is wrapped in ``tf.stop_gradient``,
so the outer tape sees the adversarial images as constants.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.attacks.arguments import (
    check_epsilon,
    check_images,
    check_labels,
    check_pixel_range,
)

PIXEL_RANGE = (0.0, 255.0)


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Per-example softmax cross-entropy ``[B]`` of ``logits`` (computed in float32)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(logits, tf.float32))


def input_gradient(
    model: keras.Model, images: tf.Tensor, labels: tf.Tensor, training: bool = False
) -> tf.Tensor:
    """``grad_x J(x, y)`` for each image: the gradient of its own cross-entropy with respect to
    its pixels (the per-example losses are summed, so the batch size does not scale it).

    ``images``: float32 ``[B, ...]``; ``labels``: integer ``[B]``. Returns float32, the shape
    of ``images``. Raises ``ValueError`` when the model's output does not depend on its input.
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = cross_entropy(model(images, training=training), labels)
    gradient = tape.gradient(loss, images)
    if gradient is None:
        raise ValueError(
            f"the logits of model {model.name!r} do not depend on its input images, so there is "
            "no gradient to attack along"
        )
    return gradient


def fgsm(
    model: keras.Model,
    images,
    labels,
    epsilon: float,
    *,
    pixel_range: tuple[float, float] = PIXEL_RANGE,
    training: bool = False,
) -> tf.Tensor:
    """The fast gradient sign method: ``clip(x + epsilon * sign(grad_x J(x, y)), low, high)``.

    Args:
        model: a classifier from raw pixels to logits (see the module docstring).
        images: ``[B, H, W, C]`` pixels in ``pixel_range`` (any numeric dtype).
        labels: ``[B]`` integer class indices (the true classes).
        epsilon: the perturbation size in pixel units, in ``[0, high - low]``; a pixel moves
            by exactly ``epsilon`` unless clipping stops it (or its gradient is exactly 0).
        pixel_range: ``(low, high)``, the valid pixel values.
        training: passed to the model (``False``: batch-norm statistics, no dropout).

    Returns the adversarial images, float32 ``[B, H, W, C]``, with no gradient.
    """
    low, high = check_pixel_range(pixel_range)
    epsilon = check_epsilon(epsilon, (low, high))
    images = check_images(images)
    labels = check_labels(labels, images)
    gradient = input_gradient(model, images, labels, training)
    adversarial = tf.clip_by_value(images + epsilon * tf.sign(gradient), low, high)
    return tf.stop_gradient(adversarial)
