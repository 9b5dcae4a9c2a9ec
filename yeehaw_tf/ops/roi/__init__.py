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
  - **The choice** (``costs.path_costs``) weighs the gathered values against the matmul path's
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

from yeehaw_tf.ops.roi.align import roi_align
from yeehaw_tf.ops.roi.pool import roi_pool
from yeehaw_tf.ops.roi.pyramid import assign_fpn_levels, multilevel_roi_align

__all__ = ["assign_fpn_levels", "multilevel_roi_align", "roi_align", "roi_pool"]
