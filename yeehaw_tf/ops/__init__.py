"""Pure tensor operations: box math, anchors, matching, non-maximum suppression, RoI pooling,
divergences, optimal transport and the diffusion schedule."""

from yeehaw_tf.ops.anchors import anchor_shapes, generate_anchors, pyramid_anchors
from yeehaw_tf.ops.boxes import (
    ALL_FORMATS,
    clip_boxes,
    convert_boxes,
    decode_boxes,
    encode_boxes,
    giou,
    iou,
)
from yeehaw_tf.ops.diffusion import DiffusionSchedule, q_sample
from yeehaw_tf.ops.divergences import (
    js_divergence,
    js_divergence_from_logits,
    kl_divergence,
    kl_divergence_from_logits,
)
from yeehaw_tf.ops.matching import (
    IGNORE,
    NEGATIVE,
    match,
    match_padded,
    sample_balanced,
    sample_balanced_batch,
)
from yeehaw_tf.ops.nms import batched_nms, nms, soft_nms
from yeehaw_tf.ops.roi import assign_fpn_levels, multilevel_roi_align, roi_align, roi_pool
from yeehaw_tf.ops.transport import transport_plan, wasserstein_1, wasserstein_1d

__all__ = [
    "DiffusionSchedule",
    "js_divergence",
    "js_divergence_from_logits",
    "kl_divergence",
    "kl_divergence_from_logits",
    "q_sample",
    "transport_plan",
    "wasserstein_1",
    "wasserstein_1d",
    "ALL_FORMATS",
    "IGNORE",
    "NEGATIVE",
    "anchor_shapes",
    "assign_fpn_levels",
    "batched_nms",
    "clip_boxes",
    "convert_boxes",
    "decode_boxes",
    "encode_boxes",
    "generate_anchors",
    "giou",
    "iou",
    "match",
    "match_padded",
    "multilevel_roi_align",
    "nms",
    "pyramid_anchors",
    "roi_align",
    "roi_pool",
    "sample_balanced",
    "sample_balanced_batch",
    "soft_nms",
]
