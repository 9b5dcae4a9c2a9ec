"""Box math as pure functions: formats, clipping, pairwise IoU and GIoU, regression coding.

Formats follow ``keras.utils.bounding_boxes``: ``xyxy`` (x1, y1, x2, y2), ``yxyx``, ``xywh``
(x1, y1, width, height), ``center_xywh``, ``center_yxhw``; a ``rel_`` prefix means coordinates
divided by the image width/height. Boxes are ``[..., 4]`` float tensors; ``x2``/``y2`` are the
far edges (a box from pixel 0 to pixel 9 inclusive spans 0..10).

Box maths on half-precision boxes runs in float32, as torchvision's does: float16 tops out at
65504, so the sum of two areas in an IoU overflows for boxes of ~181 x 181 pixels. IoU and GIoU
are returned in that float32 (a ratio needs no more); box coding returns the input's dtype.
"""

from __future__ import annotations

import tensorflow as tf

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw")
ALL_FORMATS = FORMATS + tuple(f"rel_{f}" for f in FORMATS)


def upcast(x) -> tf.Tensor:
    """``x`` as a tensor in the dtype box maths runs in: float32 and float64 stay as they are;
    float16, bfloat16 and integers become float32 (so their products cannot overflow)."""
    x = tf.convert_to_tensor(x)
    return x if x.dtype in (tf.float32, tf.float64) else tf.cast(x, tf.float32)


def _float_dtype(x) -> tf.DType:
    """The dtype box functions return for input ``x``: its own if floating, else float32."""
    dtype = tf.convert_to_tensor(x).dtype
    return dtype if dtype.is_floating else tf.float32


def _check_format(name: str, value: str) -> None:
    if value not in ALL_FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(ALL_FORMATS)}, got {value!r}")


def _to_xyxy(boxes, fmt: str):
    a, b, c, d = tf.unstack(boxes, axis=-1)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return tf.stack([b, a, d, c], axis=-1)
    if fmt == "xywh":
        return tf.stack([a, b, a + c, b + d], axis=-1)
    if fmt == "center_xywh":
        return tf.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=-1)
    return tf.stack([b - d / 2, a - c / 2, b + d / 2, a + c / 2], axis=-1)  # center_yxhw


def _from_xyxy(boxes, fmt: str):
    x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return tf.stack([y1, x1, y2, x2], axis=-1)
    if fmt == "xywh":
        return tf.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    if fmt == "center_xywh":
        return tf.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)
    return tf.stack([(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1], axis=-1)  # center_yxhw


def _scale(boxes_xyxy, height, width, up: bool):
    if height is None or width is None:
        raise ValueError("relative box formats need the image height and width")
    scale = tf.cast(tf.stack([width, height, width, height]), boxes_xyxy.dtype)
    return boxes_xyxy * scale if up else boxes_xyxy / scale


def convert_boxes(boxes, source: str, target: str, height=None, width=None) -> tf.Tensor:
    """Converts ``boxes`` from format ``source`` to ``target`` (relative formats need the image
    ``height`` and ``width``)."""
    _check_format("source", source)
    _check_format("target", target)
    boxes = tf.convert_to_tensor(boxes)
    if not boxes.dtype.is_floating:
        boxes = tf.cast(boxes, tf.float32)
    if boxes.shape.rank is not None and boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [..., 4], got {boxes.shape}")
    xyxy = _to_xyxy(boxes, source.removeprefix("rel_"))
    if source.startswith("rel_") != target.startswith("rel_"):
        xyxy = _scale(xyxy, height, width, up=source.startswith("rel_"))
    return _from_xyxy(xyxy, target.removeprefix("rel_"))


def clip_boxes(boxes, height, width, box_format: str = "xyxy") -> tf.Tensor:
    """Clips boxes to the image ``[0, width] x [0, height]`` (absolute formats)."""
    xyxy = convert_boxes(boxes, box_format, "xyxy")
    x1, y1, x2, y2 = tf.unstack(xyxy, axis=-1)
    w, h = tf.cast(width, xyxy.dtype), tf.cast(height, xyxy.dtype)
    clipped = tf.stack(
        [
            tf.clip_by_value(x1, 0, w),
            tf.clip_by_value(y1, 0, h),
            tf.clip_by_value(x2, 0, w),
            tf.clip_by_value(y2, 0, h),
        ],
        axis=-1,
    )
    return convert_boxes(clipped, "xyxy", box_format)


def _area(xyxy):
    return tf.maximum(xyxy[..., 2] - xyxy[..., 0], 0) * tf.maximum(xyxy[..., 3] - xyxy[..., 1], 0)


def _pairwise(boxes1, boxes2, box_format):
    a = convert_boxes(upcast(boxes1), box_format, "xyxy")
    b = convert_boxes(tf.cast(boxes2, a.dtype), box_format, "xyxy")
    a, b = a[..., :, None, :], b[..., None, :, :]
    inter_w = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0)
    inter_h = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0)
    intersection = inter_w * inter_h
    union = _area(a) + _area(b) - intersection
    return a, b, intersection, union


def iou(boxes1, boxes2, box_format: str = "xyxy") -> tf.Tensor:
    """Pairwise intersection over union, ``[N, M]`` (``[B, N, M]`` for batches ``[B, N, 4]``
    and ``[B, M, 4]``); 0 where the union is empty. In float64 for
    float64 ``boxes1``, else in float32 (half-precision boxes are upcast, see the module
    docstring)."""
    _, _, intersection, union = _pairwise(boxes1, boxes2, box_format)
    return tf.math.divide_no_nan(intersection, union)


def giou(boxes1, boxes2, box_format: str = "xyxy") -> tf.Tensor:
    """Pairwise generalised IoU (Rezatofighi et al., 2019), ``[N, M]`` in [-1, 1]:
    ``IoU - (|C| - |A u B|) / |C|`` with ``C`` the smallest box enclosing both. Same dtype as
    :func:`iou`."""
    a, b, intersection, union = _pairwise(boxes1, boxes2, box_format)
    enclosing = (tf.maximum(a[..., 2], b[..., 2]) - tf.minimum(a[..., 0], b[..., 0])) * (
        tf.maximum(a[..., 3], b[..., 3]) - tf.minimum(a[..., 1], b[..., 1])
    )
    return tf.math.divide_no_nan(intersection, union) - tf.math.divide_no_nan(
        enclosing - union, enclosing
    )


def encode_boxes(boxes, anchors, weights=(1.0, 1.0, 1.0, 1.0), box_format: str = "xyxy"):
    """Regression targets of ``boxes`` relative to ``anchors`` (R-CNN box coding)::

        dx = wx (x - xa) / wa,  dy = wy (y - ya) / ha,  dw = ww log(w / wa),  dh = wh log(h / ha)

    with centres ``(x, y)`` and sizes ``(w, h)``. Faster R-CNN's second stage uses weights
    ``(10, 10, 5, 5)``. Computed in float32 for half-precision boxes (``wx (x - xa)`` alone
    overflows float16 past 6550 pixels); returned in the dtype of ``boxes``."""
    b = convert_boxes(upcast(boxes), box_format, "center_xywh")
    a = convert_boxes(tf.cast(anchors, b.dtype), box_format, "center_xywh")
    wx, wy, ww, wh = (tf.cast(w, b.dtype) for w in weights)
    deltas = tf.stack(
        [
            wx * (b[..., 0] - a[..., 0]) / a[..., 2],
            wy * (b[..., 1] - a[..., 1]) / a[..., 3],
            ww * tf.math.log(b[..., 2] / a[..., 2]),
            wh * tf.math.log(b[..., 3] / a[..., 3]),
        ],
        axis=-1,
    )
    return tf.cast(deltas, _float_dtype(boxes))


def decode_boxes(
    deltas,
    anchors,
    weights=(1.0, 1.0, 1.0, 1.0),
    box_format: str = "xyxy",
    max_log_scale: float = 4.135,
):
    """Inverse of :func:`encode_boxes`; ``dw, dh`` are clipped at ``max_log_scale``
    (log(1000/16), as torchvision) so a wild prediction cannot overflow ``exp``. Computed in
    float32 for half-precision anchors (a width ``exp(dw) wa`` may pass 65504 where the corners
    do not); returned in the dtype of ``anchors``."""
    a = convert_boxes(upcast(anchors), box_format, "center_xywh")
    d = tf.cast(deltas, a.dtype)
    wx, wy, ww, wh = (tf.cast(w, a.dtype) for w in weights)
    cx = d[..., 0] / wx * a[..., 2] + a[..., 0]
    cy = d[..., 1] / wy * a[..., 3] + a[..., 1]
    w = tf.exp(tf.minimum(d[..., 2] / ww, max_log_scale)) * a[..., 2]
    h = tf.exp(tf.minimum(d[..., 3] / wh, max_log_scale)) * a[..., 3]
    boxes = convert_boxes(tf.stack([cx, cy, w, h], axis=-1), "center_xywh", box_format)
    return tf.cast(boxes, _float_dtype(anchors))
