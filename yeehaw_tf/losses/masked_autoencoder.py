"""The masked autoencoder's reconstruction loss (He et al. 2022)."""

from __future__ import annotations

import tensorflow as tf

NORM_EPSILON = 1e-6  # MAE's ``norm_pix_loss``: (target - mean) / sqrt(var + 1e-6)


def masked_patch_mse(
    target_patches: tf.Tensor,
    predicted_patches: tf.Tensor,
    mask: tf.Tensor,
    normalize_targets: bool = False,
) -> tf.Tensor:
    """Per-example loss ``[B]``: the mean over *masked* patches of each patch's mean squared
    pixel error, ``sum_n mask[n] mean_k (pred[n, k] - target[n, k])^2 / sum_n mask[n]``;
    visible patches do not count (and get no gradient). An example with no masked patch has
    loss 0. The mean of the result over a batch of equally masked examples is MAE's loss.

    Args:
        target_patches: ``[B, N, P]`` the image's patches (:func:`yeehaw_tf.ops.patches.patchify`).
        predicted_patches: ``[B, N, P]`` the decoder's predictions, in the patches' order.
        mask: ``[B, N]``, 1 = masked, 0 = visible.
        normalize_targets: standardise each target patch by its own pixels' mean and
            variance, ``(t - mean) / sqrt(var + 1e-6)`` (the paper's normalised-pixel target).
    """
    target = tf.cast(target_patches, tf.float32)
    predicted = tf.cast(predicted_patches, tf.float32)
    mask = tf.cast(mask, tf.float32)
    if target.shape.rank != 3 or mask.shape.rank != 2:
        raise ValueError(
            f"masked_patch_mse: patches must be [batch, N, pixels] and mask [batch, N], got "
            f"{target.shape} and {mask.shape}"
        )
    if normalize_targets:
        mean, variance = tf.nn.moments(target, axes=[-1], keepdims=True)
        target = (target - mean) / tf.sqrt(variance + NORM_EPSILON)
    per_patch = tf.reduce_mean(tf.square(predicted - target), axis=-1)
    return tf.reduce_sum(per_patch * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
