"""Mask geometry for augmentation: masks travel through Keras's layers as image channels.

Keras's ``transform_segmentation_masks`` applies the image's transformation to ``[B, H, W, C]``
with nearest-neighbour sampling, so class indices are never interpolated. A semantic class map
``[H, W]`` becomes one channel; the ``K`` instance masks ``[K, H, W]`` of a detection example
become ``K`` channels (all moved by the one transformation, ``K`` may be 0). Pixels brought in
from outside the image take the layer's ``fill_value``, 0 in every policy: background in a class
map (the segmentation loss has no ignore class by default, so every label must be a class) and
"not the object" in an instance mask.
"""

from __future__ import annotations

import tensorflow as tf


def class_map_to_channels(mask) -> tf.Tensor:
    """``[H, W]`` integer class map -> ``[1, H, W, 1]`` float32 (class indices are exact)."""
    return tf.cast(mask, tf.float32)[None, ..., None]


def channels_to_class_map(channels, dtype=tf.int64) -> tf.Tensor:
    """The inverse of :func:`class_map_to_channels`."""
    return tf.cast(tf.round(channels[0, ..., 0]), dtype)


def instance_masks_to_channels(masks) -> tf.Tensor:
    """``[K, H, W]`` instance masks -> ``[1, H, W, K]`` float32."""
    return tf.transpose(tf.cast(masks, tf.float32), [1, 2, 0])[None]


def channels_to_instance_masks(channels, dtype=tf.uint8) -> tf.Tensor:
    """The inverse of :func:`instance_masks_to_channels` (values > 0.5 are the object)."""
    return tf.cast(tf.transpose(channels[0], [2, 0, 1]) > 0.5, dtype)
