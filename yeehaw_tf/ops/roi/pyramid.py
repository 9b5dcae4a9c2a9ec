"""The FPN level of each RoI (Lin et al., 2017, eq. 1) and RoIAlign over a feature pyramid."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import tensorflow as tf

from yeehaw_tf.ops.levels import level_key, sorted_levels
from yeehaw_tf.ops.roi.align import roi_align
from yeehaw_tf.ops.roi.arguments import (
    check_sampling_ratio,
    coordinate_dtype,
    corners,
    dim,
    pair,
    validate,
)
from yeehaw_tf.ops.roi.bilinear import bilinear_taps, gather_pool
from yeehaw_tf.ops.roi.costs import gathers_are_cheaper


def assign_fpn_levels(
    boxes,
    min_level: int = 2,
    max_level: int = 5,
    canonical_size: float = 224,
    canonical_level: int = 4,
) -> tf.Tensor:
    """The FPN level of each ``[K, 4]`` xyxy box (Lin et al., 2017, eq. 1):
    ``k = floor(canonical_level + log2(sqrt(w h) / canonical_size) + 1e-6)`` clipped to
    ``[min_level, max_level]``, as torchvision's ``LevelMapper`` (its ``eps = 1e-6`` keeps a box
    of exactly ``canonical_size * 2**n`` on level ``canonical_level + n``). Boxes of zero or
    negative area go to ``min_level``. Returns ``int32 [K]`` levels."""
    boxes = tf.convert_to_tensor(boxes)
    if boxes.shape.rank != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [K, 4] (x1, y1, x2, y2), got {boxes.shape}")
    for name, value in (("min_level", min_level), ("max_level", max_level)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if min_level > max_level:
        raise ValueError(f"min_level must be <= max_level, got {min_level} > {max_level}")
    if not canonical_size > 0:
        raise ValueError(f"canonical_size must be > 0, got {canonical_size}")
    dtype = boxes.dtype if boxes.dtype in (tf.float32, tf.float64) else tf.float32
    boxes = tf.cast(boxes, dtype)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    side = tf.sqrt(tf.maximum(area, 0.0))
    log2 = tf.math.log(side / canonical_size) / math.log(2.0)
    level = tf.math.floor(canonical_level + log2 + 1e-6)
    return tf.cast(tf.clip_by_value(level, float(min_level), float(max_level)), tf.int32)


def _pyramid(features) -> list[tuple[int, tf.Tensor]]:
    """``[(level, map), ...]`` in increasing level order from ``{"P<l>": map}``; the levels
    must be consecutive."""
    if not isinstance(features, Mapping):
        raise ValueError(
            f"features must be a dict of maps keyed by level ('P2', 'P3', ...), got "
            f"{type(features).__name__}"
        )
    levels = sorted_levels(features)
    if not levels or levels != list(range(levels[0], levels[0] + len(levels))):
        raise ValueError(f"feature levels must be consecutive and non-empty, got {list(features)}")
    return [(level, tf.convert_to_tensor(features[level_key(level)])) for level in levels]


def multilevel_roi_align(
    features,
    rois,
    output_size,
    sampling_ratio: int = 2,
    aligned: bool = False,
    canonical_size: float = 224,
    canonical_level: int = 4,
) -> tf.Tensor:
    """RoIAlign over a feature pyramid (FPN, Lin et al., 2017; torchvision's
    ``MultiScaleRoIAlign``): each RoI is pooled from the level :func:`assign_fpn_levels` gives
    it (clipped to the levels present), with ``spatial_scale = 1 / 2**level``.

    Args:
        features: ``{"P<l>": [B, H_l, W_l, C]}`` for consecutive levels ``l``, as a neck
            returns them (``build_fpn``; keys as in :mod:`yeehaw_tf.ops.levels`).
        rois: ``[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)`` in input-image pixels.
        output_size, sampling_ratio, aligned: as in :func:`roi_align`.
        canonical_size, canonical_level: as in :func:`assign_fpn_levels`.

    Returns:
        ``[K, out_h, out_w, C]`` in the order of ``rois``. Static shapes throughout
        (per-level subsets via ``tf.where`` + scatter have data-dependent, possibly empty
        shapes, which TFLite's XNNPACK delegate rejects). With a fixed ``sampling_ratio``
        and levels large enough for gathers (see :mod:`yeehaw_tf.ops.roi`), each RoI's
        samples are gathered from its own level only: one gather pass over the levels
        stacked into one table, each RoI reading its level's scale, size and offset.
        Otherwise every RoI is pooled on every level by :func:`roi_align` and keeps its own
        level's result; with the matmul path's cost linear in a level's area, that costs at
        most 4/3 of pooling every RoI on the finest level.
    """
    levels = _pyramid(features)
    for _, fmap in levels:
        _, rois = validate(fmap, rois)
    channels = {fmap.shape[-1] for _, fmap in levels}
    if len(channels) != 1:
        raise ValueError(f"all feature levels need the same channel count, got {channels}")
    dtypes = {fmap.dtype.name for _, fmap in levels}
    if len(dtypes) != 1:
        raise ValueError(f"all feature levels need the same dtype, got {sorted(dtypes)}")
    out_h, out_w = pair(output_size)
    sampling_ratio = check_sampling_ratio(sampling_ratio)
    target = assign_fpn_levels(
        rois[:, 1:], levels[0][0], levels[-1][0], canonical_size, canonical_level
    )
    shapes = [fmap.shape for _, fmap in levels]
    if gathers_are_cheaper(shapes, out_h, out_w, sampling_ratio):
        return _multilevel_gather(levels, rois, target, out_h, out_w, sampling_ratio, aligned)
    result = None
    for level, fmap in levels:
        pooled = roi_align(fmap, rois, output_size, 0.5**level, sampling_ratio, aligned)
        on_level = tf.reshape(tf.equal(target, level), [-1, 1, 1, 1])
        result = pooled if result is None else tf.where(on_level, pooled, result)
    return result


def _multilevel_gather(levels, rois, target, out_h, out_w, sampling_ratio, aligned):
    """Each RoI's samples gathered from its own level only: the levels, flattened to
    ``[B H_l W_l, C]``, are stacked into one table, and each RoI's scale, height, width and
    first row in the table are looked up by its level."""
    maps = [fmap for _, fmap in levels]
    dtype = coordinate_dtype(maps[0])
    which = target - levels[0][0]  # [K]: the RoI's level, counted from the finest

    def per_roi(values, dt, shape=(-1, 1)):  # one value per level -> each RoI's, [K, 1]
        return tf.reshape(tf.gather(tf.cast(tf.stack(values), dt), which), shape)

    sizes = [dim(f, 0) * dim(f, 1) * dim(f, 2) for f in maps]
    starts = [sum(sizes[:i]) for i in range(len(maps))]
    heights, widths = [dim(f, 1) for f in maps], [dim(f, 2) for f in maps]
    scale = per_roi([0.5**level for level, _ in levels], dtype)  # powers of 2: exact
    batch, x1, y1, x2, y2 = corners(rois, dtype, scale, aligned)
    h, w = per_roi(heights, tf.int32), per_roi(widths, tf.int32)
    taps_y = bilinear_taps(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    taps_x = bilinear_taps(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    plane = per_roi([hi * wi for hi, wi in zip(heights, widths, strict=True)], tf.int32)
    base = per_roi(starts, tf.int32) + tf.reshape(batch, [-1, 1]) * plane
    base = tf.reshape(base, [-1, 1, 1, 1, 1])
    width = per_roi(widths, tf.int32, [-1, 1, 1, 1, 1])
    table = tf.concat([tf.reshape(f, [-1, dim(f, 3)]) for f in maps], axis=0)
    return gather_pool(table, base, width, taps_y, taps_x, out_h, out_w, sampling_ratio)
