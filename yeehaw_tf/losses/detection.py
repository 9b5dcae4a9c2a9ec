"""Detection losses, element-wise (the detector sums them over anchors and divides by its
normaliser, e.g. the number of positive anchors over the whole global batch).

* :func:`sigmoid_focal_loss` (Lin et al., 2017, "Focal Loss for Dense Object Detection", eq. 5):
  ``FL = -alpha_t (1 - p_t)^gamma log(p_t)`` with ``p_t = p`` for a positive target and
  ``1 - p`` for a negative one, and ``alpha_t = alpha`` / ``1 - alpha`` likewise; with
  ``gamma = 0`` and ``alpha = 0.5`` it is half the binary cross-entropy. Easy examples
  (``p_t`` near 1) are down-weighted, so the ~100k easy background anchors do not swamp the few
  positives.
* :func:`smooth_l1_loss`: Huber-like box regression (Fast R-CNN), ``0.5 x^2 / beta`` below
  ``beta`` and ``|x| - 0.5 beta`` above; ``beta = 0`` is the L1 loss (torchvision's RetinaNet).
* :func:`giou_loss`: ``1 - GIoU`` of paired boxes (Rezatofighi et al., 2019; FCOS).

Computed in float32 whatever the input dtype (under mixed precision the logits are float16;
``log`` and ``exp`` of them lose the small probabilities the focal term is about).
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.boxes import convert_boxes


def sigmoid_focal_loss(targets, logits, alpha: float | None = 0.25, gamma: float = 2.0):
    """Element-wise focal loss of ``logits`` against binary ``targets`` (same shape, in
    {0, 1}; soft targets in [0, 1] are allowed). ``alpha=None`` leaves out the balance term.
    Returns float32 of the input's shape."""
    if gamma < 0:
        raise ValueError(f"sigmoid_focal_loss: gamma must be >= 0, got {gamma}")
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f"sigmoid_focal_loss: alpha must be in [0, 1] or None, got {alpha}")
    logits = tf.cast(logits, tf.float32)
    targets = tf.cast(targets, tf.float32)
    p = tf.sigmoid(logits)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = cross_entropy * (1 - p_t) ** gamma if gamma else cross_entropy
    if alpha is not None:
        loss *= alpha * targets + (1 - alpha) * (1 - targets)
    return loss


def smooth_l1_loss(targets, predictions, beta: float = 1.0 / 9.0):
    """Element-wise smooth L1 of ``predictions - targets``; ``beta=0`` gives ``|x|``."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    x = tf.abs(tf.cast(predictions, tf.float32) - tf.cast(targets, tf.float32))
    if beta == 0:
        return x
    return tf.where(x < beta, 0.5 * x * x / beta, x - 0.5 * beta)


def giou_loss(boxes_true, boxes_pred, box_format: str = "xyxy"):
    """``1 - GIoU`` of each pair ``boxes_true[..., i, :]``, ``boxes_pred[..., i, :]``
    (element-wise over the leading axes, not pairwise); in [0, 2]."""
    a = convert_boxes(tf.cast(boxes_true, tf.float32), box_format, "xyxy")
    b = convert_boxes(tf.cast(boxes_pred, tf.float32), box_format, "xyxy")

    def area(xyxy):
        return tf.maximum(xyxy[..., 2] - xyxy[..., 0], 0.0) * tf.maximum(
            xyxy[..., 3] - xyxy[..., 1], 0.0
        )

    low, high = tf.maximum(a[..., :2], b[..., :2]), tf.minimum(a[..., 2:], b[..., 2:])
    intersection = tf.reduce_prod(tf.maximum(high - low, 0.0), axis=-1)
    union = area(a) + area(b) - intersection
    iou = tf.math.divide_no_nan(intersection, union)
    hull_low, hull_high = tf.minimum(a[..., :2], b[..., :2]), tf.maximum(a[..., 2:], b[..., 2:])
    hull = tf.reduce_prod(tf.maximum(hull_high - hull_low, 0.0), axis=-1)
    return 1.0 - (iou - tf.math.divide_no_nan(hull - union, hull))
