"""Pure tensor operations: box math and non-maximum suppression."""

from yeehaw_tf.ops.boxes import (
    ALL_FORMATS,
    clip_boxes,
    convert_boxes,
    decode_boxes,
    encode_boxes,
    giou,
    iou,
)
from yeehaw_tf.ops.nms import batched_nms, nms, soft_nms

__all__ = [
    "ALL_FORMATS",
    "batched_nms",
    "clip_boxes",
    "convert_boxes",
    "decode_boxes",
    "encode_boxes",
    "giou",
    "iou",
    "nms",
    "soft_nms",
]
