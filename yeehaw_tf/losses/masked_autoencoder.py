"""The masked autoencoder's reconstruction loss (He et al. 2022)."""

from __future__ import annotations

import tensorflow as tf

NORM_EPSILON = 1e-6


def masked_patch_mse(target_patches, predicted_patches, mask, normalize_targets: bool = False):
    """Per-example loss ``[B]``: the mean over *masked* patches of each patch's mean squared
    pixel error; visible patches do not count. ``normalize_targets``: each target patch is
    standardised by its own pixels' mean and variance (``(t - mean) / sqrt(var + 1e-6)``), the
    paper's "normalized pixels" variant."""
    target = tf.cast(target_patches, tf.float32)
    predicted = tf.cast(predicted_patches, tf.float32)
    mask = tf.cast(mask, tf.float32)
    if normalize_targets:
        mean, variance = tf.nn.moments(target, axes=[-1], keepdims=True)
        target = (target - mean) / tf.sqrt(variance + NORM_EPSILON)
    per_patch = tf.reduce_mean(tf.square(predicted - target), axis=-1)
    return tf.reduce_sum(per_patch * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
