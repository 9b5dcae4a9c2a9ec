"""Non-maximum suppression: greedy (one class and per class) and Gaussian soft-NMS.

Greedy NMS walks the boxes from the highest score down and keeps a box unless it overlaps an
already kept one by more than ``iou_threshold``. It is written with a pairwise IoU matrix and
a ``tf.while_loop`` over the score-sorted boxes (O(N^2) memory: meant for up to a few
thousand candidates, which is what detectors keep before NMS).
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.boxes import convert_boxes, iou


def _validate(boxes, scores, iou_threshold, max_outputs):
    boxes = tf.convert_to_tensor(boxes)
    scores = tf.convert_to_tensor(scores)
    if boxes.shape.rank != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {boxes.shape}")
    if scores.shape.rank != 1:
        raise ValueError(f"scores must have shape [N], got {scores.shape}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if not isinstance(max_outputs, int) or max_outputs < 1:
        raise ValueError(f"max_outputs must be a positive integer, got {max_outputs!r}")
    return boxes, scores


def nms(
    boxes,
    scores,
    iou_threshold: float = 0.5,
    score_threshold: float = float("-inf"),
    max_outputs: int = 100,
    box_format: str = "xyxy",
    padded: bool = False,
):
    """Greedy NMS. Returns the kept indices in descending score order (at most
    ``max_outputs``); with ``padded=True``, ``(indices [max_outputs] padded with -1, count)``
    -- a fixed shape for exports. Boxes scoring at or below ``score_threshold`` are dropped
    (as ``tf.image.non_max_suppression`` does)."""
    boxes, scores = _validate(boxes, scores, iou_threshold, max_outputs)
    xyxy = convert_boxes(boxes, box_format, "xyxy")
    order = tf.argsort(scores, direction="DESCENDING", stable=True)
    sorted_scores = tf.gather(scores, order)
    overlaps = iou(tf.gather(xyxy, order), tf.gather(xyxy, order)) > iou_threshold
    n = tf.shape(order)[0]
    candidate = sorted_scores > tf.cast(score_threshold, sorted_scores.dtype)

    def body(i, keep):
        suppressed = tf.reduce_any(keep & overlaps[:, i])
        keep = tf.tensor_scatter_nd_update(keep, [[i]], [candidate[i] & ~suppressed])
        return i + 1, keep

    _, keep = tf.while_loop(lambda i, _: i < n, body, [0, tf.zeros([n], tf.bool)])
    kept = tf.boolean_mask(order, keep)[:max_outputs]
    if not padded:
        return kept
    count = tf.shape(kept)[0]
    return tf.pad(kept, [[0, max_outputs - count]], constant_values=-1), count


def batched_nms(
    boxes,
    scores,
    classes,
    iou_threshold: float = 0.5,
    score_threshold: float = float("-inf"),
    max_outputs: int = 100,
    box_format: str = "xyxy",
    padded: bool = False,
):
    """Per-class NMS in one pass: each class's boxes are shifted by ``class * (extent + 1)`` so
    boxes of different classes never overlap. Same returns as :func:`nms`."""
    boxes, scores = _validate(boxes, scores, iou_threshold, max_outputs)
    xyxy = convert_boxes(boxes, box_format, "xyxy")
    offset = tf.reduce_max(tf.abs(xyxy)) + 1.0 if xyxy.shape[0] != 0 else 1.0
    shifted = xyxy + tf.cast(classes, xyxy.dtype)[:, None] * offset
    return nms(shifted, scores, iou_threshold, score_threshold, max_outputs, padded=padded)


def soft_nms(
    boxes,
    scores,
    sigma: float = 0.5,
    score_threshold: float = 1e-3,
    max_outputs: int = 100,
    box_format: str = "xyxy",
):
    """Gaussian soft-NMS (Bodla et al., 2017): instead of removing overlapping boxes, each
    selection decays the others' scores by ``exp(-IoU^2 / sigma)``. Returns
    ``(indices, rescored)`` in selection order, stopping at ``max_outputs`` or when no score
    exceeds ``score_threshold``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    boxes, scores = _validate(boxes, scores, 0.0, max_outputs)
    xyxy = convert_boxes(boxes, box_format, "xyxy")
    overlaps = iou(xyxy, xyxy)
    n = tf.shape(scores)[0]
    current = tf.identity(scores)
    indices = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    values = tf.TensorArray(scores.dtype, size=0, dynamic_size=True)
    active = tf.ones([n], tf.bool)

    def still_active(current, active):
        return tf.where(active, current, tf.fill([n], tf.cast(-1e30, current.dtype)))

    def cond(k, current, active, indices, values):
        best = tf.reduce_max(still_active(current, active))
        return (k < max_outputs) & tf.reduce_any(active) & (best > score_threshold)

    def body(k, current, active, indices, values):
        i = tf.cast(tf.argmax(still_active(current, active)), tf.int32)
        indices = indices.write(k, i)
        values = values.write(k, current[i])
        active = tf.tensor_scatter_nd_update(active, [[i]], [False])
        decay = tf.exp(-tf.square(overlaps[i]) / tf.cast(sigma, overlaps.dtype))
        current = tf.where(active, current * tf.cast(decay, current.dtype), current)
        return k + 1, current, active, indices, values

    _, current, _, indices, values = tf.while_loop(
        cond, body, [0, current, active, indices, values]
    )
    return indices.stack(), values.stack()
