"""SimCLR's two augmented views of every image (Chen et al. 2020, section 3 and appendix A),
scaled to 32x32 pictures: a random crop resized back (Keras's zoom with translation), a small
rotation, colour distortion (jitter of brightness, contrast, saturation and hue, applied with
probability 0.8) and greyscale with probability 0.2. No flips: a mirrored digit can be another
digit. Each view is a pure function of the run seed and the example's position in the stream
(:func:`yeehaw_tf.data.augmentation.element_seed`), so a resumed run sees the same views."""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.data.augmentation import apply_layers, element_seed

ZOOM = (-0.5, 0.1)  # zoom in by up to 50% (a crop of a quarter of the area) or out by 10%
TRANSLATION = 0.15
ROTATION_DEGREES = 10.0
JITTER = 0.4  # brightness, contrast, saturation; hue a quarter of it (SimCLR's strength 0.5)
JITTER_PROBABILITY = 0.8
GREYSCALE_PROBABILITY = 0.2
JITTER_AT = 3  # view_layers()[JITTER_AT:] is the colour jitter
_FILL = {"fill_mode": "constant", "fill_value": 0.0}


def view_layers() -> list[keras.layers.Layer]:
    """Fresh Keras layers for one view, applied in order to float images in 0..255."""
    return [
        keras.layers.RandomZoom(ZOOM, **_FILL),
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, **_FILL),
        keras.layers.RandomRotation(ROTATION_DEGREES / 360.0, **_FILL),
        # colour jitter (Keras's RandomColorJitter ignores the seed it is given, so its parts)
        keras.layers.RandomBrightness(JITTER, value_range=(0, 255)),
        keras.layers.RandomContrast(JITTER, value_range=(0, 255)),
        keras.layers.RandomSaturation((0.5 - JITTER / 2, 0.5 + JITTER / 2), value_range=(0, 255)),
        keras.layers.RandomHue(JITTER / 4, value_range=(0, 255)),
    ]


def greyscale(images: tf.Tensor) -> tf.Tensor:
    """ITU-R BT.601 luma in every channel (what Keras's RandomGrayscale computes)."""
    weights = tf.constant([0.299, 0.587, 0.114], images.dtype)
    luma = tf.reduce_sum(images * weights, axis=-1, keepdims=True)
    return tf.tile(luma, [1] * (images.shape.rank - 1) + [3])


def two_views(seed: int):
    """``(index, (image float32 [H, W, C], label)) -> ((view_1, view_2), label)``, for
    ``dataset.enumerate().map(...)``. Greyscale applies to colour images only."""
    layers = view_layers()
    geometry, jitter = layers[:JITTER_AT], layers[JITTER_AT:]

    def view(image, seed):
        draws = tf.random.stateless_uniform([2], tf.random.experimental.stateless_fold_in(seed, 9))
        images, _, _, _ = apply_layers(geometry, seed, image[None])
        jittered, _, _, _ = apply_layers(jitter, seed + 1, images)
        images = tf.where(draws[0] < JITTER_PROBABILITY, jittered, images)
        if images.shape[-1] == 3:
            images = tf.where(draws[1] < GREYSCALE_PROBABILITY, greyscale(images), images)
        return tf.clip_by_value(images[0], 0.0, 255.0)

    def augment(index, example):
        image, label = example
        base = element_seed(seed, index)
        first = view(image, tf.random.experimental.stateless_fold_in(base, 0))
        second = view(image, tf.random.experimental.stateless_fold_in(base, 1))
        return (first, second), label

    return augment
