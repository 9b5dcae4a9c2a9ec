"""Region-of-interest pooling as pure functions: RoIPool, RoIAlign, FPN level assignment and
multi-level RoIAlign.

* :func:`roi_pool` -- RoIPool of Fast R-CNN (Girshick, 2015): each RoI is split into an
  ``out_h x out_w`` grid of integer-aligned bins and each bin is max-pooled.
* :func:`roi_align` -- RoIAlign of Mask R-CNN (He et al., 2017): no rounding; each bin is the
  mean of bilinearly interpolated samples.
* :func:`assign_fpn_levels`, :func:`multilevel_roi_align` -- the FPN rule (Lin et al., 2017,
  eq. 1) that pools a RoI of side ``s`` from level ``floor(k0 + log2(s / 224))``.

The semantics are torchvision's CPU kernels (``roi_pool_kernel.cpp``, ``roi_align_kernel.cpp``,
``poolers.LevelMapper``), coordinate arithmetic included. RoIs are ``[K, 5]`` rows
``(batch_index, x1, y1, x2, y2)`` in input-image pixels; ``spatial_scale`` maps them onto the
``[B, H, W, C]`` feature map (``1/stride``). As in torchvision, no gradient flows to the RoIs.

Everything is written with ops that TFLite has as builtins (``tf.image.crop_and_resize`` is
not one), so models using these ops convert without Select-TF:

* RoIAlign has two paths with the same arithmetic; :func:`roi_align` picks one by the static
  sizes (the results agree to rounding):

  - **Gathers** (fixed ``sampling_ratio > 0``). Each RoI's sample coordinates along each axis
    (``[K, out * ratio]``) give each sample's two neighbours and bilinear weights by
    torchvision's rules; each bin's ``(2 ratio)^2`` pixels (two rows times two columns per
    sample) are gathered from the ``[B H W, C]`` map at ``b H W + y W + x`` and summed with
    their weights (and the bin mean's ``1 / ratio^2``) by one batched matmul
    ``[K out_h out_w, 1, (2 ratio)^2] @ [K out_h out_w, (2 ratio)^2, C]``. The cost, ``out_h
    out_w (2 ratio)^2 C`` gathered values per RoI, does not depend on the map size; a
    pyramid is one pass over its levels stacked into one table (:func:`multilevel_roi_align`).
  - **Matmuls** (any ``sampling_ratio``). A bin's mean of bilinear samples is
    ``A_y[k] @ F[b_k] @ A_x[k]^T``, where ``A_y [K, out_h, H]`` (and ``A_x``) hold each
    sample's two interpolation weights summed per bin; the features enter only through two
    matmuls (the idea of ``matmul_crop_and_resize`` in the TF Object Detection API), at
    ``out_h (B H W + out_w W) C`` multiply-adds per RoI. Adaptive sampling
    (``sampling_ratio <= 0``: ``ceil(roi_size / out_size)`` samples per bin, data-dependent)
    is exact, with no cap: samples outside ``[-1, H]`` contribute nothing, and adaptive
    samples are either more than half a pixel apart (bins of 1 pixel or more) or one per bin,
    so at most ``max(out_h, 2H + 6)`` consecutive samples of a RoI can matter; only those (a
    static count, masked) are built, on ``[K, samples, H]`` weights that carry no channels.
    Adaptive sampling stays on this path: gathers would need that same provable cap on both
    axes, ``4 max(out_h, 2H + 6) max(out_w, 2W + 6)`` gathered values per RoI and channel
    (72,000 on a 64 x 64 map, against ``out_h H W`` = 29,000 multiply-adds here at 7 x 7).
  - **The choice** (``_path_costs``) weighs the gathered values against the matmul path's
    ``[K, out_h, W, C]`` intermediate, on which it is memory-bound, with constants fitted to
    CPU timings (2 shared cores, TF 2.21). Time of the matmuls over the gathers, two runs,
    512 RoIs, 7 x 7 bins, ratio 2, 256 channels, one image: 0.6 on 32 x 32 maps, 0.8-0.9 on
    40 x 40 and 48 x 48, 1.1 on 56 x 56, 1.3-1.6 on 64 x 64 (the gathers ~110-150 ms at every
    size), so the crossover is near 50 x 50; 64 RoIs and 64 channels: 0.4-0.5 on 16 x 16, 0.7
    on 32 x 32, 1.2-1.7 on 64 x 64. Unknown ``H`` or ``W`` take the gathers. On that CPU
    neither path comes within 1.5x of the fused ``tf.image.crop_and_resize`` kernel on large
    maps: the gathers materialise ``(2 ratio)^2`` values per bin, four times the ``ratio^2``
    samples that kernel writes (``python benchmarks/box_ops.py`` prints the ratios).
* RoIPool needs maxima over windows of data-dependent size. A 2-D sparse table (range-maximum
  table) of every feature map answers each bin's maximum with four gathers: the table holds
  the maximum over every ``2^i x 2^j`` window, and any window is the union of four such
  (overlapping) windows. It needs static ``H`` and ``W``; the table holds
  ``bit_length(H) * bit_length(W)`` copies of the features (4 * 4 for a 14 x 14 map).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import tensorflow as tf

from yeehaw_tf.ops.levels import level_key, sorted_levels


def _pair(output_size, name: str = "output_size") -> tuple[int, int]:
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


def _check_scale(spatial_scale) -> float:
    if isinstance(spatial_scale, bool) or not (
        isinstance(spatial_scale, numbers.Real) and math.isfinite(spatial_scale)
    ):
        raise ValueError(f"spatial_scale must be a finite number > 0, got {spatial_scale!r}")
    if spatial_scale <= 0:
        raise ValueError(f"spatial_scale must be > 0, got {spatial_scale}")
    return float(spatial_scale)


def _check_sampling_ratio(sampling_ratio) -> int:
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, numbers.Integral):
        raise ValueError(
            f"sampling_ratio must be an int (> 0: samples per bin side, <= 0: adaptive), "
            f"got {sampling_ratio!r}"
        )
    return int(sampling_ratio)


def _validate(features, rois):
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


def _coordinate_dtype(features):
    """Coordinates are computed in the features' dtype (as torchvision does), but never in
    less than float32 (pixel coordinates in float16 are off by whole pixels)."""
    return features.dtype if features.dtype in (tf.float32, tf.float64) else tf.float32


# A note on new axes. LiteRT runs elementwise ops in place, and EXPAND_DIMS/RESHAPE outputs
# share their input's buffer; an in-place op on such an output can overwrite the input while
# another op still needs it (seen as "gather index out of bounds" at run time, with the
# converted model otherwise right). So the code below adds an axis only to a tensor that has
# no other consumer, and keeps RoI coordinates as [K, 1] columns that broadcast as they are.


def _split_rois(rois, dtype, spatial_scale):
    """``batch [K]`` and ``x1, y1, x2, y2`` as ``[K, 1]`` columns on the feature map;
    ``spatial_scale`` is a number or, per RoI, a ``[K, 1]`` tensor of ``dtype``."""
    rois = tf.stop_gradient(tf.cast(rois, dtype))
    if not isinstance(spatial_scale, tf.Tensor):
        spatial_scale = tf.constant(spatial_scale, dtype)
    columns = [rois[:, i : i + 1] * spatial_scale for i in range(1, 5)]
    return tf.cast(rois[:, 0], tf.int32), *columns


def _dim(x, axis: int):
    """Static size of ``axis`` when known, else the dynamic one."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def _one_hot(index, depth, dtype):
    """``index[..., None] == range(depth)`` as ``dtype`` (EQUAL, a TFLite builtin)."""
    return tf.cast(tf.equal(tf.expand_dims(index, -1), tf.range(depth, dtype=index.dtype)), dtype)


# --- RoIAlign ---------------------------------------------------------------------------------


def _neighbours(y, size, valid=None):
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


def _interpolation_weights(start, length, out_size: int, size, sampling_ratio: int, aligned):
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
    low, high, frac, valid = _neighbours(y, size, valid)
    weight = tf.cast(valid, dtype) / grid_f  # each sample's share of its bin's mean
    pixel_weights = tf.expand_dims(weight * (1.0 - frac), -1) * _one_hot(
        low, size, dtype
    ) + tf.expand_dims(weight * frac, -1) * _one_hot(high, size, dtype)  # [K, n, size]
    in_bin = _one_hot(bin_index, out_size, dtype)  # [K, n, out_size]
    return tf.linalg.matmul(in_bin, pixel_weights, transpose_a=True)


def _separable_pool(features, batch, weights_y, weights_x):
    """``out[k, p, q, c] = sum_{h, w} weights_y[k, p, h] weights_x[k, q, w] F[batch_k, h, w, c]``
    as two matmuls: the first over the whole batch with a one-hot batch selector (no per-RoI
    copy of the feature map), the second batched over RoIs and broadcast over the bin rows (no
    transposes)."""
    dtype = features.dtype
    weights_y = tf.cast(weights_y, dtype)
    weights_x = tf.cast(weights_x, dtype)
    b, h, w, c = (_dim(features, i) for i in range(4))
    k = tf.shape(batch)[0]
    out_h = weights_y.shape[1]
    select = _one_hot(batch, b, dtype)  # [K, B]
    rows = tf.expand_dims(weights_y, 2) * tf.reshape(select, [k, 1, b, 1])  # [K, out_h, B, H]
    rows = tf.reshape(rows, [-1, b * h])
    t = tf.linalg.matmul(rows, tf.reshape(features, [b * h, -1]))  # [K * out_h, W * C]
    t = tf.reshape(t, [k, out_h, w, c])
    return tf.linalg.matmul(tf.expand_dims(weights_x, 1), t)  # [K, 1, out_w, W] @ [K, out_h, W, C]


def _bilinear_taps(start, length, out_size: int, size, sampling_ratio: int, aligned):
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
    low, high, frac, valid = _neighbours(y, size)
    weight = tf.cast(valid, dtype) / float(sampling_ratio)
    return low, high, weight * (1.0 - frac), weight * frac


def _gather_pool(table, base, width, taps_y, taps_x, out_h: int, out_w: int, ratio: int):
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
    channels = _dim(table, 1)
    if isinstance(channels, int) and n * n * channels < _SMALL_BMM:
        # a batched matmul of tiny matrices costs ~100 ns each; an elementwise sum does not
        weights = tf.reshape(tf.cast(weights, table.dtype), [-1, n * n, 1])
        pooled = tf.reduce_sum(weights * taps, axis=1)
    else:
        weights = tf.reshape(tf.cast(weights, table.dtype), [-1, 1, n * n])
        pooled = tf.linalg.matmul(weights, taps)
    return tf.reshape(pooled, [k, out_h, out_w, channels])


# Which path: both costs per RoI, in units of one gathered tap-channel (~1.5 ns on the CPU of
# the module notes), fitted to timings of both paths (fits within ~30%; the choice only ever
# changes the speed). The matmul path is memory-bound on its [K, out_h, W, C] intermediate.
_SMALL_BMM = 32  # below (2 ratio)^2 C: bin sums elementwise, not as ~100 ns tiny matmuls


def _path_costs(shape, out_h: int, out_w: int, ratio: int) -> tuple[float, float]:
    """``(gathers, matmuls)`` for one ``[B, H, W, C]`` map (``B`` unknown: 1)."""
    b, h, w, c = shape
    b, taps = b or 1, (2 * ratio) ** 2
    gathers = out_h * out_w * (taps * (c + 12) + (0 if taps * c < _SMALL_BMM else 100))
    matmuls = out_h * w * c * (2 + b * h / 120) + 7 * ratio * (out_h * h + out_w * w)
    return gathers, matmuls + 3 * out_h * b * h


def _gathers_are_cheaper(shapes, out_h: int, out_w: int, sampling_ratio: int) -> bool:
    """Whether one gather pass is cheaper than the matmul path on each map of ``shapes``
    (``[B, H, W, C]``; unknown ``H``, ``W`` or ``C``: gathers, whose cost does not grow with
    the map). Adaptive sampling always takes the matmul path."""
    if sampling_ratio <= 0:
        return False
    if any(None in (s[1], s[2], s[3]) for s in shapes):
        return True
    costs = [_path_costs(tuple(s), out_h, out_w, sampling_ratio) for s in shapes]
    return costs[0][0] < sum(matmuls for _, matmuls in costs)


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
    features, rois = _validate(features, rois)
    out_h, out_w = _pair(output_size)
    spatial_scale = _check_scale(spatial_scale)
    sampling_ratio = _check_sampling_ratio(sampling_ratio)
    if method not in ("auto", "gather", "matmul"):
        raise ValueError(f"method must be 'auto', 'gather' or 'matmul', got {method!r}")
    if method == "gather" and sampling_ratio <= 0:
        raise ValueError(
            f"method='gather' needs a fixed sampling_ratio > 0, got {sampling_ratio} (adaptive)"
        )
    if method == "gather" or (
        method == "auto" and _gathers_are_cheaper([features.shape], out_h, out_w, sampling_ratio)
    ):
        return _roi_align_gather(
            features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned
        )
    return _roi_align_matmul(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned)


def _corners(rois, dtype, spatial_scale, aligned: bool):
    """``batch [K]`` and ``x1, y1, x2, y2`` ``[K, 1]`` on the map, shifted if ``aligned``."""
    batch, x1, y1, x2, y2 = _split_rois(rois, dtype, spatial_scale)
    offset = 0.5 if aligned else 0.0
    return batch, x1 - offset, y1 - offset, x2 - offset, y2 - offset


def _roi_align_matmul(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned):
    """RoIAlign as ``A_y F A_x^T`` (any ``sampling_ratio``; validated arguments)."""
    dtype = _coordinate_dtype(features)
    batch, x1, y1, x2, y2 = _corners(rois, dtype, spatial_scale, aligned)
    h, w = _dim(features, 1), _dim(features, 2)
    weights_y = _interpolation_weights(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    weights_x = _interpolation_weights(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    return _separable_pool(features, batch, weights_y, weights_x)


def _roi_align_gather(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned):
    """RoIAlign from gathers of each sample's four neighbours (``sampling_ratio > 0``;
    validated arguments)."""
    batch, x1, y1, x2, y2 = _corners(rois, _coordinate_dtype(features), spatial_scale, aligned)
    h, w = _dim(features, 1), _dim(features, 2)
    taps_y = _bilinear_taps(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    taps_x = _bilinear_taps(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    table = tf.reshape(features, [-1, _dim(features, 3)])
    base = tf.reshape(batch * (h * w), [-1, 1, 1, 1, 1])
    return _gather_pool(table, base, w, taps_y, taps_x, out_h, out_w, sampling_ratio)


# --- RoIPool ----------------------------------------------------------------------------------


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
    features, rois = _validate(features, rois)
    out_h, out_w = _pair(output_size)
    spatial_scale = _check_scale(spatial_scale)
    h, w = features.shape[1], features.shape[2]
    if h is None or w is None:
        raise ValueError(
            f"roi_pool needs static feature height and width (its max table depends on them), "
            f"got features of shape {features.shape}"
        )
    batch, x1, y1, x2, y2 = _split_rois(rois, _coordinate_dtype(features), spatial_scale)
    x1, y1, x2, y2 = (_round_half_away(v) for v in (x1, y1, x2, y2))
    h_lo, h_hi = _bin_edges(y1, y2, out_h, h, axis=1)  # [K, out_h, 1]
    w_lo, w_hi = _bin_edges(x1, x2, out_w, w, axis=2)  # [K, 1, out_w]

    levels_h, levels_w = h.bit_length(), w.bit_length()
    table = tf.stack(
        [tf.stack(_doubling(rows, 2, w), axis=1) for rows in _doubling(features, 1, h)], axis=1
    )  # [B, levels_h, levels_w, H, W, C]
    table = tf.reshape(table, [-1, _dim(features, 3)])

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


# --- FPN levels -------------------------------------------------------------------------------


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
        _, rois = _validate(fmap, rois)
    channels = {fmap.shape[-1] for _, fmap in levels}
    if len(channels) != 1:
        raise ValueError(f"all feature levels need the same channel count, got {channels}")
    dtypes = {fmap.dtype.name for _, fmap in levels}
    if len(dtypes) != 1:
        raise ValueError(f"all feature levels need the same dtype, got {sorted(dtypes)}")
    out_h, out_w = _pair(output_size)
    sampling_ratio = _check_sampling_ratio(sampling_ratio)
    target = assign_fpn_levels(
        rois[:, 1:], levels[0][0], levels[-1][0], canonical_size, canonical_level
    )
    shapes = [fmap.shape for _, fmap in levels]
    if _gathers_are_cheaper(shapes, out_h, out_w, sampling_ratio):
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
    dtype = _coordinate_dtype(maps[0])
    which = target - levels[0][0]  # [K]: the RoI's level, counted from the finest

    def per_roi(values, dt, shape=(-1, 1)):  # one value per level -> each RoI's, [K, 1]
        return tf.reshape(tf.gather(tf.cast(tf.stack(values), dt), which), shape)

    sizes = [_dim(f, 0) * _dim(f, 1) * _dim(f, 2) for f in maps]
    starts = [sum(sizes[:i]) for i in range(len(maps))]
    heights, widths = [_dim(f, 1) for f in maps], [_dim(f, 2) for f in maps]
    scale = per_roi([0.5**level for level, _ in levels], dtype)  # powers of 2: exact
    batch, x1, y1, x2, y2 = _corners(rois, dtype, scale, aligned)
    h, w = per_roi(heights, tf.int32), per_roi(widths, tf.int32)
    taps_y = _bilinear_taps(y1, y2 - y1, out_h, h, sampling_ratio, aligned)
    taps_x = _bilinear_taps(x1, x2 - x1, out_w, w, sampling_ratio, aligned)
    plane = per_roi([hi * wi for hi, wi in zip(heights, widths, strict=True)], tf.int32)
    base = per_roi(starts, tf.int32) + tf.reshape(batch, [-1, 1]) * plane
    base = tf.reshape(base, [-1, 1, 1, 1, 1])
    width = per_roi(widths, tf.int32, [-1, 1, 1, 1, 1])
    table = tf.concat([tf.reshape(f, [-1, _dim(f, 3)]) for f in maps], axis=0)
    return _gather_pool(table, base, width, taps_y, taps_x, out_h, out_w, sampling_ratio)
