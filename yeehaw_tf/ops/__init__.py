"""Pure tensor operations (box math so far), with thin layers where useful."""

from yeehaw_tf.ops.boxes import (
    ALL_FORMATS,
    clip_boxes,
    convert_boxes,
    decode_boxes,
    encode_boxes,
    giou,
    iou,
)

__all__ = [
    "ALL_FORMATS",
    "clip_boxes",
    "convert_boxes",
    "decode_boxes",
    "encode_boxes",
    "giou",
    "iou",
]
