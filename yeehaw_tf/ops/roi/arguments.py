"""What every RoI op shares: argument checks, RoI columns on the map, small tensor helpers."""

from __future__ import annotations

import math
import numbers

import tensorflow as tf


def pair(output_size, name: str = "output_size") -> tuple[int, int]:
    """``int`` or ``(h, w)`` -> ``(h, w)``, both positive integers."""
    single = isinstance(output_size, numbers.Integral)
    values = (output_size, output_size) if single else output_size
    try:
        h, w = values
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a positive int or (height, width), got {output_size!r}"
        ) from None
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(
                f"{name} must be a positive int or (height, width) of positive ints, "
                f"got {output_size!r}"
            )
    return int(h), int(w)


def check_scale(spatial_scale) -> float:
    """``spatial_scale`` as a float, or a ``ValueError`` unless it is finite and > 0."""
    if isinstance(spatial_scale, bool) or not (
        isinstance(spatial_scale, numbers.Real) and math.isfinite(spatial_scale)
    ):
        raise ValueError(f"spatial_scale must be a finite number > 0, got {spatial_scale!r}")
    if spatial_scale <= 0:
        raise ValueError(f"spatial_scale must be > 0, got {spatial_scale}")
    return float(spatial_scale)


def check_sampling_ratio(sampling_ratio) -> int:
    """``sampling_ratio`` as an int (> 0: samples per bin side; <= 0: adaptive)."""
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, numbers.Integral):
        raise ValueError(
            f"sampling_ratio must be an int (> 0: samples per bin side, <= 0: adaptive), "
            f"got {sampling_ratio!r}"
        )
    return int(sampling_ratio)


def validate(features, rois):
    """``(features, rois)`` as tensors, checked: ``[B, H, W, C]`` floats and ``[K, 5]`` RoIs."""
    features = tf.convert_to_tensor(features)
    rois = tf.convert_to_tensor(rois)
    if features.shape.rank != 4:
        raise ValueError(f"features must have shape [B, H, W, C], got {features.shape}")
    if not features.dtype.is_floating:
        raise ValueError(f"features must be a float tensor, got {features.dtype.name}")
    if rois.shape.rank != 2 or rois.shape[-1] != 5:
        raise ValueError(
            f"rois must have shape [K, 5] (batch_index, x1, y1, x2, y2), got {rois.shape}"
        )
    return features, rois


def coordinate_dtype(features):
    """Coordinates are computed in the features' dtype (as torchvision does), but never in
    less than float32 (pixel coordinates in float16 are off by whole pixels)."""
    return features.dtype if features.dtype in (tf.float32, tf.float64) else tf.float32


# A note on new axes. LiteRT runs elementwise ops in place, and EXPAND_DIMS/RESHAPE outputs
# share their input's buffer; an in-place op on such an output can overwrite the input while
# another op still needs it (seen as "gather index out of bounds" at run time, with the
# converted model otherwise right). So the RoI ops add an axis only to a tensor that has no
# other consumer, and keeps RoI coordinates as [K, 1] columns that broadcast as they are.


def split_rois(rois, dtype, spatial_scale):
    """``batch [K]`` and ``x1, y1, x2, y2`` as ``[K, 1]`` columns on the feature map;
    ``spatial_scale`` is a number or, per RoI, a ``[K, 1]`` tensor of ``dtype``."""
    rois = tf.stop_gradient(tf.cast(rois, dtype))
    if not isinstance(spatial_scale, tf.Tensor):
        spatial_scale = tf.constant(spatial_scale, dtype)
    columns = [rois[:, i : i + 1] * spatial_scale for i in range(1, 5)]
    return tf.cast(rois[:, 0], tf.int32), *columns


def corners(rois, dtype, spatial_scale, aligned: bool):
    """``batch [K]`` and ``x1, y1, x2, y2`` ``[K, 1]`` on the map, shifted if ``aligned``."""
    batch, x1, y1, x2, y2 = split_rois(rois, dtype, spatial_scale)
    offset = 0.5 if aligned else 0.0
    return batch, x1 - offset, y1 - offset, x2 - offset, y2 - offset


def dim(x, axis: int):
    """Static size of ``axis`` when known, else the dynamic one."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def one_hot(index, depth, dtype):
    """``index[..., None] == range(depth)`` as ``dtype`` (EQUAL, a TFLite builtin)."""
    return tf.cast(tf.equal(tf.expand_dims(index, -1), tf.range(depth, dtype=index.dtype)), dtype)
