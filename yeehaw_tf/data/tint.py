"""Colour for grey images whose colour is predictable from their shape: a hue that runs from
the drawing's centre outwards, red at its centroid to blue at its farthest inked pixel.

Colorization (Zhang et al. 2016) learns semantics because an object's colour follows from what
it is (skies are blue, grass is green). Grey digits have no colour; a random colour would be
unpredictable from the grey image (nothing to learn), and a colour per class would hand every
encoder, even a random one, the label through the colour channels. This tint is one rule for
every class: each pixel's hue depends on its distance from the digit's centroid relative to
the digit's extent, so predicting it from the lightness needs the digit's shape, not its class.
The rule is radially symmetric, so the colour says nothing about orientation or about which
side of the digit a patch comes from: the rotation, jigsaw and context pretexts get no colour
shortcut (a top-to-bottom hue gradient would give all three away, as chromatic aberration did
for Doersch et al.).
"""

from __future__ import annotations

import tensorflow as tf

# Hue (tf.image.hsv_to_rgb's [0, 1) turn) at the centroid and at the farthest inked pixel.
CENTRE_HUE, EDGE_HUE = 0.0, 2.0 / 3.0
INK = 0.1  # pixels above this (of 1.0) belong to the drawing


def tint_radially(image: tf.Tensor) -> tf.Tensor:
    """``uint8 [H, W, 1]`` grey image -> ``uint8 [H, W, 3]``: fully saturated colour whose value
    is the grey level and whose hue goes from :data:`CENTRE_HUE` at the ink's centroid (grey
    levels as weights) to :data:`EDGE_HUE` at the largest distance of an inked pixel from it,
    clipped beyond (an empty image stays black)."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3 or image.shape[-1] != 1:
        raise ValueError(f"tint_radially: image must be grey [H, W, 1], got {image.shape}")
    grey = tf.cast(image[..., 0], tf.float32) / 255.0
    height, width = tf.shape(grey)[0], tf.shape(grey)[1]
    y, x = tf.meshgrid(
        tf.cast(tf.range(height), tf.float32), tf.cast(tf.range(width), tf.float32), indexing="ij"
    )
    mass = tf.maximum(tf.reduce_sum(grey), 1e-6)
    cy, cx = tf.reduce_sum(grey * y) / mass, tf.reduce_sum(grey * x) / mass
    distance = tf.sqrt(tf.square(y - cy) + tf.square(x - cx))
    extent = tf.reduce_max(tf.where(grey > INK, distance, tf.zeros_like(distance)))
    t = tf.clip_by_value(distance / tf.maximum(extent, 1.0), 0.0, 1.0)
    hue = CENTRE_HUE + (EDGE_HUE - CENTRE_HUE) * t
    hsv = tf.stack([hue, tf.ones_like(grey), grey], axis=-1)
    return tf.cast(tf.round(tf.image.hsv_to_rgb(hsv) * 255.0), tf.uint8)
