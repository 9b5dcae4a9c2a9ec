"""YOLO v1's training targets (Redmon et al., 2016): which grid cell owns which ground-truth
object, the targets encoded in the cell, and the element-wise IoU the confidence target uses."""

from __future__ import annotations

import tensorflow as tf


def elementwise_iou(boxes1, boxes2) -> tf.Tensor:
    """IoU of xyxy boxes paired element by element (broadcast); 0 where the union is empty."""
    x1 = tf.maximum(boxes1[..., 0], boxes2[..., 0])
    y1 = tf.maximum(boxes1[..., 1], boxes2[..., 1])
    x2 = tf.minimum(boxes1[..., 2], boxes2[..., 2])
    y2 = tf.minimum(boxes1[..., 3], boxes2[..., 3])
    inter = tf.maximum(x2 - x1, 0.0) * tf.maximum(y2 - y1, 0.0)

    def area(b):
        return tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)

    return tf.math.divide_no_nan(inter, area(boxes1) + area(boxes2) - inter)


def assign(gt_boxes, gt_classes, rows: int, cols: int, height, width, num_classes: int):
    """The grid's targets from padded ground truth ``gt_boxes [B, M, 4]`` (xyxy pixels) and
    ``gt_classes [B, M]`` (-1: padding) on images of ``height x width``: the object whose centre
    falls in a cell owns it; of several, the largest (on equal areas the first).

    Returns ``(owner [B, S*S]`` (1: the cell has an object), the encoded targets
    ``[B, S*S, 4]`` (x, y offsets in the cell, sqrt(w / width), sqrt(h / height)), the owners'
    boxes ``[B, S*S, 4]`` xyxy pixels and their one-hot classes ``[B, S*S, C])``; zero where a
    cell has no object."""
    boxes = tf.cast(gt_boxes, tf.float32)
    classes = tf.cast(gt_classes, tf.int32)
    valid = classes >= 0
    x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
    gx = (x1 + x2) / 2 * cols / width  # centre in cell units
    gy = (y1 + y2) / 2 * rows / height
    col = tf.clip_by_value(tf.floor(gx), 0.0, cols - 1.0)
    row = tf.clip_by_value(tf.floor(gy), 0.0, rows - 1.0)
    cell = tf.cast(row, tf.int32) * cols + tf.cast(col, tf.int32)  # [B, M]
    area = tf.maximum(x2 - x1, 0.0) * tf.maximum(y2 - y1, 0.0)
    slots = tf.shape(classes)[1]
    order = tf.range(slots)
    # beats[b, i, j]: object i takes the cell from object j (larger, or as large and earlier)
    same = tf.equal(cell[:, :, None], cell[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    larger = area[:, :, None] > area[:, None, :]
    earlier = tf.equal(area[:, :, None], area[:, None, :]) & (order[:, None] < order[None, :])
    beats = same & (larger | earlier)
    owns = valid & ~tf.reduce_any(beats, axis=1)  # [B, M]
    scatter = tf.one_hot(cell, rows * cols) * tf.cast(owns, tf.float32)[..., None]  # [B,M,S*S]
    encoded = tf.stack(
        [
            gx - col,
            gy - row,
            tf.sqrt(tf.maximum(x2 - x1, 0.0) / width),
            tf.sqrt(tf.maximum(y2 - y1, 0.0) / height),
        ],
        axis=-1,
    )
    encoded = tf.where(valid[..., None], encoded, 0.0)
    boxes = tf.where(valid[..., None], boxes, 0.0)
    one_hot = tf.one_hot(tf.where(valid, classes, -1), num_classes)
    owner = tf.reduce_sum(scatter, axis=1)
    return (
        owner,
        tf.einsum("bmc,bmk->bck", scatter, encoded),
        tf.einsum("bmc,bmk->bck", scatter, boxes),
        tf.einsum("bmc,bmk->bck", scatter, one_hot),
    )
