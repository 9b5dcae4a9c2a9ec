"""RoIAlign (He et al., 2017) with torchvision's semantics, by gathers or by two matmuls (see
the notes in :mod:`yeehaw_tf.ops.roi`)."""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.roi.arguments import (
    check_sampling_ratio,
    check_scale,
    coordinate_dtype,
    corners,
    dim,
    pair,
    validate,
)
from yeehaw_tf.ops.roi.bilinear import (
    bilinear_taps,
    gather_pool,
    interpolation_weights,
    separable_pool,
)
from yeehaw_tf.ops.roi.costs import gathers_are_cheaper


def roi_align(
    features,
    rois,
    output_size,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
    method: str = "auto",
) -> tf.Tensor:
    """RoIAlign (He et al., 2017, Mask R-CNN) with torchvision's semantics.

    Args:
        features: ``[B, H, W, C]`` float feature maps.
        rois: ``[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)`` in input-image pixels.
        output_size: ``int`` or ``(out_h, out_w)``.
        spatial_scale: multiplies the RoI coordinates (``1 / stride`` of ``features``).
        sampling_ratio: samples per bin along each side; ``<= 0``: adaptive,
            ``ceil(roi_size / output_size)`` per RoI (exact, no cap; see the module notes).
        aligned: shift the RoI by -0.5 pixel so pixel centres line up (Detectron2's
            correction); when ``False`` RoIs are at least 1x1 feature pixel, as originally.
        method: ``"auto"`` (the cost model below, which takes an unknown batch size as 1),
            ``"gather"`` (needs ``sampling_ratio > 0``; its cost does not grow with ``B``: use
            it for many maps, e.g. one per RoI) or ``"matmul"``.

    Returns:
        ``[K, out_h, out_w, C]`` in the features' dtype. Computed by gathers (fixed
        ``sampling_ratio``, large maps) or by two matmuls (adaptive sampling, small maps),
        as the module notes say; the results agree to rounding. Gradients reach the
        features, not the RoIs. On GPUs where TensorFloat-32 is on (TensorFlow's default
        from Ampere on), float32 matmuls, and so this op, are only good to ~1e-3 relative;
        ``tf.config.experimental.enable_tensor_float_32_execution(False)`` restores float32.
    """
    features, rois = validate(features, rois)
    out_h, out_w = pair(output_size)
    spatial_scale = check_scale(spatial_scale)
    sampling_ratio = check_sampling_ratio(sampling_ratio)
    if method not in ("auto", "gather", "matmul"):
        raise ValueError(f"method must be 'auto', 'gather' or 'matmul', got {method!r}")
    if method == "gather" and sampling_ratio <= 0:
        raise ValueError(
            f"method='gather' needs a fixed sampling_ratio > 0, got {sampling_ratio} (adaptive)"
        )
    if method == "gather" or (
        method == "auto" and gathers_are_cheaper([features.shape], out_h, out_w, sampling_ratio)
    ):
        return _roi_align_gather(
            features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned
        )
    return _roi_align_matmul(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned)


def _roi_align_matmul(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned):
    """RoIAlign as ``A_y F A_x^T`` (any ``sampling_ratio``; validated arguments)."""
    dtype = coordinate_dtype(features)
    batch, x1, y1, x2, y2 = corners(rois, dtype, spatial_scale, aligned)
    h, w = dim(features, 1), dim(features, 2)
    weights_y = interpolation_weights(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    weights_x = interpolation_weights(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    return separable_pool(features, batch, weights_y, weights_x)


def _roi_align_gather(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned):
    """RoIAlign from gathers of each sample's four neighbours (``sampling_ratio > 0``;
    validated arguments)."""
    batch, x1, y1, x2, y2 = corners(rois, coordinate_dtype(features), spatial_scale, aligned)
    h, w = dim(features, 1), dim(features, 2)
    taps_y = bilinear_taps(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    taps_x = bilinear_taps(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    table = tf.reshape(features, [-1, dim(features, 3)])
    base = tf.reshape(batch * (h * w), [-1, 1, 1, 1, 1])
    return gather_pool(table, base, w, taps_y, taps_x, out_h, out_w, sampling_ratio)
