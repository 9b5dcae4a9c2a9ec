"""Images as sequences of patches, and MAE's random masking (He et al. 2022)."""

from __future__ import annotations

import tensorflow as tf


def patchify(images: tf.Tensor, patch_size: int) -> tf.Tensor:
    """``[B, H, W, C] -> [B, N, p * p * C]``: row-major patches, each flattened ``(py, px, c)``."""
    images = tf.convert_to_tensor(images)
    _, height, width, channels = images.shape
    p = int(patch_size)
    if p < 1 or height % p or width % p:
        raise ValueError(
            f"patchify: patch_size={patch_size} must divide the image size {height}x{width}"
        )
    x = tf.reshape(images, [-1, height // p, p, width // p, p, channels])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, (height // p) * (width // p), p * p * channels])


def unpatchify(patches: tf.Tensor, patch_size: int, image_shape) -> tf.Tensor:
    """The inverse of :func:`patchify`: ``[B, N, p * p * C] -> [B, H, W, C]``."""
    height, width, channels = (int(d) for d in image_shape)
    p = int(patch_size)
    x = tf.reshape(patches, [-1, height // p, width // p, p, p, channels])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, height, width, channels])


def num_kept(num_patches: int, mask_ratio: float) -> int:
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio!r}")
    return max(1, int(num_patches * (1.0 - mask_ratio)))


def random_masking(noise: tf.Tensor, mask_ratio: float):
    """MAE's per-example random masking from ``noise [B, N]`` (uniform, drawn by the caller).

    Returns ``(keep, mask, restore)``: ``keep [B, n_keep]`` int32, the visible patches (the
    ``n_keep = int(N (1 - mask_ratio))`` smallest noise values, in ascending noise order);
    ``mask [B, N]`` float32, 1 where a patch is masked; ``restore [B, N]`` int32, the inverse of
    the shuffle (``argsort(argsort(noise))``): gathering ``[visible tokens, mask tokens]`` with it
    puts every token back in its patch's place.
    """
    noise = tf.convert_to_tensor(noise, tf.float32)
    count = noise.shape[1]
    keep_count = num_kept(count, mask_ratio)
    shuffle = tf.argsort(noise, axis=1, stable=True)
    restore = tf.argsort(shuffle, axis=1, stable=True)
    keep = shuffle[:, :keep_count]
    shuffled_mask = tf.concat(
        [tf.zeros_like(noise[:, :keep_count]), tf.ones_like(noise[:, keep_count:])], axis=1
    )
    mask = tf.gather(shuffled_mask, restore, batch_dims=1)
    return tf.cast(keep, tf.int32), mask, tf.cast(restore, tf.int32)
