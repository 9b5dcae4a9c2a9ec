"""Pure tensor operations: box math and non-maximum suppression."""

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
from yeehaw_tf.ops.matching import IGNORE, NEGATIVE, match, sample_balanced
from yeehaw_tf.ops.nms import batched_nms, nms, soft_nms

__all__ = [
    "ALL_FORMATS",
    "IGNORE",
    "NEGATIVE",
    "anchor_shapes",
    "batched_nms",
    "clip_boxes",
    "convert_boxes",
    "decode_boxes",
    "encode_boxes",
    "generate_anchors",
    "giou",
    "iou",
    "match",
    "nms",
    "pyramid_anchors",
    "sample_balanced",
    "soft_nms",
]
