"""RoIAlign's bilinear sampling, two ways: per-axis interpolation weights for the matmul path
(:func:`interpolation_weights`, :func:`separable_pool`) and per-sample taps for the gather
path (:func:`bilinear_taps`, :func:`gather_pool`). See :mod:`yeehaw_tf.ops.roi`."""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.roi.arguments import dim, one_hot
from yeehaw_tf.ops.roi.costs import SMALL_BMM


def neighbours(y, size, valid=None):
    """torchvision's bilinear rule along one axis at sample positions ``y``: the two pixels
    ``low, high`` a sample reads, its fraction ``frac`` toward ``high``, and ``valid`` (and-ed
    with the one given), false for a sample below -1 or above ``size`` (it weighs 0). A sample
    in [-1, 0] reads pixel 0, one at or past ``size - 1`` the last pixel (``frac`` 0). ``size``
    is an int or, per RoI, a ``[K, 1]`` int tensor."""
    dtype = y.dtype
    inside = (y >= -1.0) & (y <= tf.cast(size, dtype))
    valid = inside if valid is None else valid & inside
    y = tf.maximum(y, 0.0)
    low = tf.cast(tf.math.floor(y), tf.int32)
    at_edge = low >= size - 1
    low = tf.where(at_edge, size - 1, low)
    high = tf.where(at_edge, low, low + 1)
    y = tf.where(at_edge, tf.cast(low, dtype), y)
    return low, high, y - tf.cast(low, dtype), valid


def interpolation_weights(start, length, out_size: int, size, sampling_ratio: int, aligned):
    """``[K, out_size, size]``: entry ``[k, p, i]`` is the weight of pixel ``i`` (along one
    axis) in bin ``p`` of RoI ``k``: the mean over the bin's samples of their bilinear weights.
    ``start`` and ``length`` are ``[K, 1]``. (The matmul path.)"""
    dtype = start.dtype
    if not aligned:
        length = tf.maximum(length, 1.0)
    bin_size = length / out_size
    if sampling_ratio > 0:
        grid = tf.fill(tf.shape(start), sampling_ratio)
        count = out_size * sampling_ratio
        first = tf.zeros_like(grid)
    else:
        grid = tf.cast(tf.math.ceil(length / out_size), tf.int32)  # may be <= 0 if aligned
        # Samples along the whole RoI are ~``step`` apart; only those in [-1, size] matter.
        step = bin_size / tf.cast(tf.maximum(grid, 1), dtype)
        positive = step > 0
        step = tf.where(positive, step, tf.ones_like(step))
        first = tf.math.floor((-1.0 - start) / step - 0.5) - 1.0  # one sample of slack
        first = tf.clip_by_value(first, 0.0, tf.cast(tf.maximum(grid, 0) * out_size, dtype))
        first = tf.where(positive, tf.cast(first, tf.int32), tf.zeros_like(grid))
        count = tf.maximum(out_size, 2 * size + 6)
    j = first + tf.range(count)  # [K, n]: sample number along the RoI
    valid = j < grid * out_size
    grid = tf.maximum(grid, 1)
    bin_index = tf.math.floordiv(j, grid)
    sample = tf.cast(j - bin_index * grid, dtype)
    grid_f = tf.cast(grid, dtype)
    # torchvision: y = start + ph * bin_size + (iy + .5) * bin_size / grid
    y = start + tf.cast(bin_index, dtype) * bin_size + (sample + 0.5) * bin_size / grid_f
    low, high, frac, valid = neighbours(y, size, valid)
    weight = tf.cast(valid, dtype) / grid_f  # each sample's share of its bin's mean
    pixel_weights = tf.expand_dims(weight * (1.0 - frac), -1) * one_hot(
        low, size, dtype
    ) + tf.expand_dims(weight * frac, -1) * one_hot(high, size, dtype)  # [K, n, size]
    in_bin = one_hot(bin_index, out_size, dtype)  # [K, n, out_size]
    return tf.linalg.matmul(in_bin, pixel_weights, transpose_a=True)


def separable_pool(features, batch, weights_y, weights_x):
    """``out[k, p, q, c] = sum_{h, w} weights_y[k, p, h] weights_x[k, q, w] F[batch_k, h, w, c]``
    as two matmuls: the first over the whole batch with a one-hot batch selector (no per-RoI
    copy of the feature map), the second batched over RoIs and broadcast over the bin rows (no
    transposes)."""
    dtype = features.dtype
    weights_y = tf.cast(weights_y, dtype)
    weights_x = tf.cast(weights_x, dtype)
    b, h, w, c = (dim(features, i) for i in range(4))
    k = tf.shape(batch)[0]
    out_h = weights_y.shape[1]
    select = one_hot(batch, b, dtype)  # [K, B]
    rows = tf.expand_dims(weights_y, 2) * tf.reshape(select, [k, 1, b, 1])  # [K, out_h, B, H]
    rows = tf.reshape(rows, [-1, b * h])
    t = tf.linalg.matmul(rows, tf.reshape(features, [b * h, -1]))  # [K * out_h, W * C]
    t = tf.reshape(t, [k, out_h, w, c])
    return tf.linalg.matmul(tf.expand_dims(weights_x, 1), t)  # [K, 1, out_w, W] @ [K, out_h, W, C]


def bilinear_taps(start, length, out_size: int, size, sampling_ratio: int, aligned):
    """For a fixed ``sampling_ratio > 0``: the pixels ``low, high`` (int32) each sample reads
    along one axis and their weights ``w_low, w_high``, all ``[K, out_size * ratio]`` (column
    ``j`` is sample ``j % ratio`` of bin ``j // ratio``); the weights carry the bin mean's
    ``1 / ratio`` and are 0 for samples outside the map. (The gather path.)"""
    dtype = start.dtype
    if not aligned:
        length = tf.maximum(length, 1.0)
    bin_size = length / out_size
    j = range(out_size * sampling_ratio)
    bin_index = tf.constant([float(i // sampling_ratio) for i in j], dtype)
    sample = tf.constant([i % sampling_ratio + 0.5 for i in j], dtype)
    # torchvision: y = start + ph * bin_size + (iy + .5) * bin_size / grid
    y = start + bin_index * bin_size + sample * bin_size / float(sampling_ratio)
    low, high, frac, valid = neighbours(y, size)
    weight = tf.cast(valid, dtype) / float(sampling_ratio)
    return low, high, weight * (1.0 - frac), weight * frac


def gather_pool(table, base, width, taps_y, taps_x, out_h: int, out_w: int, ratio: int):
    """``[K, out_h, out_w, C]``: bin ``(p, q)`` of RoI ``k`` is the weighted sum of the
    ``(2 ratio)^2`` pixels its ``ratio^2`` samples read (two rows times two columns each),
    gathered from ``table [N, C]`` at rows ``base + y * width + x`` and summed by one batched
    matmul. ``base`` and ``width`` are ints or ``[K, 1, 1, 1, 1]``."""
    (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi) = taps_y, taps_x
    k, n = tf.shape(y_lo)[0], 2 * ratio

    def per_bin(low, high, shape):  # [K, out * ratio] pairs -> (sample, neighbour) per bin
        return tf.reshape(tf.stack([low, high], axis=-1), shape)

    rows = per_bin(y_lo, y_hi, [k, out_h, 1, n, 1])
    cols = per_bin(x_lo, x_hi, [k, 1, out_w, 1, n])
    index = rows * width + base + cols  # [K, out_h, out_w, n, n]
    weights = per_bin(wy_lo, wy_hi, [k, out_h, 1, n, 1]) * per_bin(
        wx_lo, wx_hi, [k, 1, out_w, 1, n]
    )
    taps = tf.gather(table, tf.reshape(index, [-1, n * n]))  # [K out_h out_w, n^2, C]
    channels = dim(table, 1)
    if isinstance(channels, int) and n * n * channels < SMALL_BMM:
        # a batched matmul of tiny matrices costs ~100 ns each; an elementwise sum does not
        weights = tf.reshape(tf.cast(weights, table.dtype), [-1, n * n, 1])
        pooled = tf.reduce_sum(weights * taps, axis=1)
    else:
        weights = tf.reshape(tf.cast(weights, table.dtype), [-1, 1, n * n])
        pooled = tf.linalg.matmul(weights, taps)
    return tf.reshape(pooled, [k, out_h, out_w, channels])
