"""RoIPool (Girshick, 2015) with torchvision's semantics, from a sparse table of window maxima
(see the notes in :mod:`yeehaw_tf.ops.roi`)."""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.roi.arguments import (
    check_scale,
    coordinate_dtype,
    dim,
    pair,
    split_rois,
    validate,
)


def _round_half_away(x):
    """``std::round``: halves away from zero (``tf.round`` rounds halves to even), exactly
    (``floor(|x| + 0.5)`` is not: 0.49999997 + 0.5 rounds to 1 in float32)."""
    magnitude = tf.abs(x)
    whole = tf.math.floor(magnitude)
    up = tf.cast(magnitude - whole >= 0.5, x.dtype)
    return tf.sign(x) * (whole + up)


def _bin_edges(start, end, out_size: int, size: int, axis: int):
    """Integer bin edges ``[lo, hi)`` along one axis, clipped to the map, from ``[K, 1]``
    corners; the bins run along ``axis`` of the ``[K, out_h, out_w]`` result."""
    # The corners are whole pixels, so floor(p * len / out) and ceil((p + 1) * len / out) are
    # exact in integers. (In float, Grappler's constant folding can round an edge that lands
    # exactly on an integer differently from eager execution: ceil(7 * (3 / 7)) gave 4.)
    start = tf.cast(start, tf.int32)  # int32: TFLite's FLOOR_DIV has no int64 kernel
    length = tf.maximum(tf.cast(end, tf.int32) - start + 1, 1)
    p = tf.range(out_size, dtype=tf.int32)
    lo = tf.math.floordiv(p * length, out_size) + start
    hi = -tf.math.floordiv(-(p + 1) * length, out_size) + start
    # clipped in float: TFLite's converter turns an int32 clip to [0, 6] into RELU6, which has
    # no int32 kernel
    lo = tf.cast(tf.clip_by_value(tf.cast(lo, tf.float32), 0.0, float(size)), tf.int32)
    hi = tf.cast(tf.clip_by_value(tf.cast(hi, tf.float32), 0.0, float(size)), tf.int32)
    return tf.expand_dims(lo, 3 - axis), tf.expand_dims(hi, 3 - axis)


def _doubling(x, axis: int, size: int) -> list:
    """``[x_0, x_1, ...]`` with ``x_i[..., t, ...] = max(x[..., t : t + 2**i, ...])`` along
    ``axis`` (windows running past the end are cut short; queries never use those)."""
    levels = [x]
    for i in range(1, size.bit_length()):
        shift = 1 << (i - 1)
        prev = levels[-1]
        head = (slice(None),) * axis + (slice(shift, None),)
        tail = (slice(None),) * axis + (slice(size - shift, None),)
        ahead = tf.concat([prev[head], prev[tail]], axis=axis)
        levels.append(tf.maximum(prev, ahead))
    return levels


def _window_level(length, size: int):
    """``floor(log2(length))`` for integer ``length >= 1`` by comparisons, and ``2**level``."""
    level = tf.zeros_like(length)
    for i in range(1, size.bit_length()):
        level += tf.cast(length >= (1 << i), tf.int32)
    powers = tf.constant([1 << i for i in range(size.bit_length())], tf.int32)
    return level, tf.gather(powers, level)


def roi_pool(features, rois, output_size, spatial_scale: float = 1.0) -> tf.Tensor:
    """RoIPool (Girshick, 2015, Fast R-CNN) with torchvision's semantics: RoI corners are
    ``round(coordinate * spatial_scale)`` (halves away from zero), the RoI spans
    ``max(x2 - x1 + 1, 1)`` pixels, bin ``p`` covers ``[floor(p * bin), ceil((p + 1) * bin))``
    clipped to the map, and each bin is its maximum (0 for an empty bin).

    Args:
        features: ``[B, H, W, C]`` float feature maps with static ``H`` and ``W``.
        rois: ``[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)`` in input-image pixels.
        output_size: ``int`` or ``(out_h, out_w)``.
        spatial_scale: multiplies the RoI coordinates (``1 / stride`` of ``features``).

    Returns:
        ``[K, out_h, out_w, C]``. Each maximum is read from a sparse table of window maxima
        (``bit_length(H) * bit_length(W)`` maps per image) with four gathers. The gradient
        goes to the maximal feature of each bin, as in torchvision; none reaches the RoIs.
    """
    features, rois = validate(features, rois)
    out_h, out_w = pair(output_size)
    spatial_scale = check_scale(spatial_scale)
    h, w = features.shape[1], features.shape[2]
    if h is None or w is None:
        raise ValueError(
            f"roi_pool needs static feature height and width (its max table depends on them), "
            f"got features of shape {features.shape}"
        )
    batch, x1, y1, x2, y2 = split_rois(rois, coordinate_dtype(features), spatial_scale)
    x1, y1, x2, y2 = (_round_half_away(v) for v in (x1, y1, x2, y2))
    h_lo, h_hi = _bin_edges(y1, y2, out_h, h, axis=1)  # [K, out_h, 1]
    w_lo, w_hi = _bin_edges(x1, x2, out_w, w, axis=2)  # [K, 1, out_w]

    levels_h, levels_w = h.bit_length(), w.bit_length()
    table = tf.stack(
        [tf.stack(_doubling(rows, 2, w), axis=1) for rows in _doubling(features, 1, h)], axis=1
    )  # [B, levels_h, levels_w, H, W, C]
    table = tf.reshape(table, [-1, dim(features, 3)])

    level_h, span_h = _window_level(tf.maximum(h_hi - h_lo, 1), h)
    level_w, span_w = _window_level(tf.maximum(w_hi - w_lo, 1), w)
    # Window corners; the one-sided bounds only matter for empty bins. (No int clip_by_value:
    # with a bound of 6 the converter turns it into RELU6, which TFLite has for floats only.)
    row_a = tf.minimum(h_lo, h - 1)
    row_b = tf.maximum(h_hi - span_h, 0)
    col_a = tf.minimum(w_lo, w - 1)
    col_b = tf.maximum(w_hi - span_w, 0)
    # the (image, row level, column level) map each bin reads: [K, out_h, out_w]
    plane = (tf.reshape(batch, [-1, 1, 1]) * levels_h + level_h) * levels_w + level_w

    def corner(rows, cols):
        return tf.gather(table, (plane * h + rows) * w + cols)

    pooled = tf.maximum(
        tf.maximum(corner(row_a, col_a), corner(row_a, col_b)),
        tf.maximum(corner(row_b, col_a), corner(row_b, col_b)),
    )
    empty = (h_hi <= h_lo) | (w_hi <= w_lo)
    return tf.where(tf.expand_dims(empty, -1), tf.zeros_like(pooled), pooled)
