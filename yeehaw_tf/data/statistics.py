"""Dataset statistics for preprocessing, measured on the training split only."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _image_moments(image: tf.Tensor):
    pixels = tf.reshape(tf.cast(image, tf.float64), [-1, tf.shape(image)[-1]])
    return (
        tf.reduce_sum(pixels, axis=0),
        tf.reduce_sum(tf.square(pixels), axis=0),
        tf.cast(tf.shape(pixels)[0], tf.float64),
    )


def channel_mean_std(
    images: tf.data.Dataset, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation over every pixel of every image.

    Args:
        images: a dataset of single images ``(H, W, C)``, any numeric dtype; sizes may differ.
        batch_size: how many per-image sums to fetch at once.

    Returns:
        ``(mean, std)``, float64 arrays of shape ``(C,)``. Sums are accumulated in float64.
    """
    total = total_sq = 0.0
    count = 0.0
    for sums, sums_sq, counts in images.map(_image_moments).batch(batch_size).as_numpy_iterator():
        total = total + sums.sum(axis=0)
        total_sq = total_sq + sums_sq.sum(axis=0)
        count += counts.sum()
    if count == 0:
        raise ValueError("channel_mean_std: `images` is empty")
    mean = np.asarray(total / count, dtype=np.float64)
    var = np.maximum(total_sq / count - mean**2, 0.0)
    return mean, np.sqrt(var)


def mean_image(images: tf.data.Dataset, batch_size: int = 1024) -> np.ndarray:
    """The mean image ``[H, W, C]`` (float64) of a dataset of equally sized images: one mean
    per pixel and channel ("subtract the mean image"), accumulated in float64."""
    total, count = None, 0
    for batch in images.batch(batch_size).as_numpy_iterator():
        sums = batch.astype(np.float64).sum(axis=0)
        total = sums if total is None else total + sums
        count += len(batch)
    if count == 0:
        raise ValueError("mean_image: `images` is empty")
    return total / count
