"""Images as sequences of patches, and MAE's random masking (He et al. 2022).

:func:`patchify` cuts ``[B, H, W, C]`` images into non-overlapping ``p x p`` patches in
row-major order, each flattened ``(py, px, c)`` (MAE's ``patchify``, channels last);
:func:`unpatchify` puts them back. :func:`random_masking` is MAE's per-sample shuffle from
noise the caller draws, so the op itself is deterministic (and exports to TFLite: ``TOPK_V2``,
``GATHER``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import tensorflow as tf


def _check_patch_size(patch_size: int, height, width, where: str) -> int:
    if not isinstance(patch_size, numbers.Integral) or patch_size < 1:
        raise ValueError(f"{where}: patch_size must be a positive integer, got {patch_size!r}")
    patch_size = int(patch_size)
    if height is None or width is None or height % patch_size or width % patch_size:
        raise ValueError(
            f"{where}: patch_size={patch_size} must divide the (static) image size {height}x{width}"
        )
    return patch_size


def patchify(images: tf.Tensor, patch_size: int) -> tf.Tensor:
    """``[B, H, W, C] -> [B, N, p * p * C]`` with ``N = (H / p) (W / p)``: row-major patches,
    each flattened ``(py, px, c)``. ``H`` and ``W`` must be static multiples of ``p``."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"patchify: images must be [batch, H, W, C], got shape {images.shape}")
    _, height, width, channels = images.shape
    p = _check_patch_size(patch_size, height, width, "patchify")
    x = tf.reshape(images, [-1, height // p, p, width // p, p, channels])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, (height // p) * (width // p), p * p * channels])


def unpatchify(patches: tf.Tensor, patch_size: int, image_shape: Sequence[int]) -> tf.Tensor:
    """The inverse of :func:`patchify`: ``[B, N, p * p * C] -> [B, H, W, C]`` for
    ``image_shape = (H, W, C)``."""
    patches = tf.convert_to_tensor(patches)
    height, width, channels = (int(d) for d in image_shape)
    p = _check_patch_size(patch_size, height, width, "unpatchify")
    count = (height // p) * (width // p)
    if patches.shape.rank != 3 or tuple(patches.shape[1:]) != (count, p * p * channels):
        raise ValueError(
            f"unpatchify: {tuple(image_shape)} images in {p}x{p} patches need patches "
            f"[batch, {count}, {p * p * channels}], got shape {patches.shape}"
        )
    x = tf.reshape(patches, [-1, height // p, width // p, p, p, channels])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, height, width, channels])


def num_kept(num_patches: int, mask_ratio: float) -> int:
    """How many patches stay visible: ``int(N (1 - mask_ratio))`` as MAE's reference, and at
    least one (the encoder needs a token). ``ValueError`` unless ``0 <= mask_ratio < 1``."""
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio!r}")
    return max(1, int(num_patches * (1.0 - mask_ratio)))


def random_masking(noise: tf.Tensor, mask_ratio: float) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """MAE's per-example random masking from ``noise [B, N]`` (uniform, drawn by the caller).

    Returns ``(keep, mask, restore)``:

    - ``keep [B, n_keep]`` int32: the visible patches, the ``n_keep`` (:func:`num_kept`)
      smallest noise values in ascending noise order (``argsort(noise)[:, :n_keep]``);
    - ``mask [B, N]`` float32: 1 where a patch is masked, 0 where it is visible;
    - ``restore [B, N]`` int32: ``argsort(argsort(noise))``, the inverse of the shuffle:
      gathering ``concat([visible tokens, mask tokens])`` with it puts every token back in its
      patch's place.

    ``N`` must be static.
    """
    noise = tf.cast(tf.convert_to_tensor(noise), tf.float32)
    if noise.shape.rank != 2 or noise.shape[1] is None:
        raise ValueError(
            f"random_masking: noise must be [batch, N] with static N, got {noise.shape}"
        )
    keep_count = num_kept(noise.shape[1], mask_ratio)
    shuffle = tf.argsort(noise, axis=1, stable=True)
    restore = tf.argsort(shuffle, axis=1, stable=True)
    keep = shuffle[:, :keep_count]
    shuffled_mask = tf.concat(
        [tf.zeros_like(noise[:, :keep_count]), tf.ones_like(noise[:, keep_count:])], axis=1
    )
    mask = tf.gather(shuffled_mask, restore, batch_dims=1)
    return tf.cast(keep, tf.int32), mask, tf.cast(restore, tf.int32)
