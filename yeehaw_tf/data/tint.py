"""Colour for grey images whose colour is predictable from their shape: a hue that runs down
each image's drawing, red at its top row to blue at its bottom.

Colorization (Zhang et al. 2016) learns semantics because an object's colour follows from what
it is (skies are blue, grass is green). Grey digits have no colour; a random colour would be
unpredictable from the grey image (nothing to learn), and a colour per class would hand every
encoder, even a random one, the label through the colour channels. This tint is the same rule
for every class and every pixel's hue depends only on where the pixel lies within the digit's
vertical extent, so predicting it from the lightness needs the digit's shape, not its class.
"""

from __future__ import annotations

import tensorflow as tf

# Hue (tf.image.hsv_to_rgb's [0, 1) turn) at the top and at the bottom of the drawing.
TOP_HUE, BOTTOM_HUE = 0.0, 2.0 / 3.0
INK = 0.1  # a row with any pixel above this (of 1.0) belongs to the drawing


def tint_by_height(image: tf.Tensor) -> tf.Tensor:
    """``uint8 [H, W, 1]`` grey image -> ``uint8 [H, W, 3]``: fully saturated colour whose value
    is the grey level and whose hue goes from :data:`TOP_HUE` at the drawing's top row to
    :data:`BOTTOM_HUE` at its bottom row (an empty image stays black)."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3 or image.shape[-1] != 1:
        raise ValueError(f"tint_by_height: image must be grey [H, W, 1], got {image.shape}")
    grey = tf.cast(image[..., 0], tf.float32) / 255.0
    height = tf.shape(grey)[0]
    rows = tf.where(tf.reduce_max(grey, axis=1) > INK)[:, 0]
    empty = tf.equal(tf.size(rows), 0)
    # (an empty image's reductions are the int64 extremes, unused)
    top = tf.cast(tf.where(empty, tf.constant(0, tf.int64), tf.reduce_min(rows)), tf.float32)
    bottom = tf.cast(tf.where(empty, tf.constant(0, tf.int64), tf.reduce_max(rows)), tf.float32)
    y = tf.cast(tf.range(height), tf.float32)
    t = tf.clip_by_value((y - top) / tf.maximum(bottom - top, 1.0), 0.0, 1.0)
    hue = TOP_HUE + (BOTTOM_HUE - TOP_HUE) * t[:, None] * tf.ones_like(grey)
    hsv = tf.stack([hue, tf.ones_like(grey), grey], axis=-1)
    return tf.cast(tf.round(tf.image.hsv_to_rgb(hsv) * 255.0), tf.uint8)
