"""The post-processor every detector shares: decoded boxes and per-class scores in, at most
``max_detections`` detections per image out, in a fixed shape.

Per image: the ``pre_nms_top_k`` highest (anchor, class) scores are kept, their boxes clipped to
the image, and per-class NMS runs once on boxes shifted by ``class * (image extent + 1)`` (so
boxes of different classes never overlap; torchvision's ``batched_nms``). NMS is TensorFlow's
``NonMaxSuppressionV4`` padded to ``max_detections`` -- a TFLite builtin -- and the batch is a
``tf.map_fn`` (a ``WHILE``), so the whole function converts with builtin ops only.

Exact ties. Equal scores are common (Fast R-CNN: two proposals whose RoIPool bins round to the
same cells get the same logits), and NMS implementations break them differently: TensorFlow's
keeps the lower index, TFLite's sorts with an unstable ``partial_sort``. So NMS is given not the
scores but their ``top_k`` order made strictly decreasing (``score - position * TIE_STEP``,
order-preserving since ``top_k`` sorts descending, with ties in index order): every backend
then keeps the same box of a tie. The output scores are the unchanged ones.

Outputs follow the TF Object Detection API: ``boxes`` float32 ``[B, K, 4]`` relative
``[ymin, xmin, ymax, xmax]``, ``scores`` float32 ``[B, K]`` (descending), ``classes`` int64
``[B, K]`` and ``num_detections`` int32 ``[B]``; entries past ``num_detections`` are zero.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

# NMS's tie-breaking decrement per top-k position: above float32 rounding of scores in [0, 1]
# (6e-8), and 1e-3 in all over a thousand candidates, far from the -0.5 floor below.
TIE_STEP = 1e-6


@dataclasses.dataclass(frozen=True)
class PostProcessor:
    score_threshold: float = 0.05
    iou_threshold: float = 0.5
    max_detections: int = 100
    pre_nms_top_k: int = 1000

    def __post_init__(self):
        if not 0 <= self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")
        if self.max_detections < 1 or self.pre_nms_top_k < 1:
            raise ValueError(
                "max_detections and pre_nms_top_k must be >= 1, got "
                f"{self.max_detections}, {self.pre_nms_top_k}"
            )

    def __call__(self, boxes, scores, image_height: int, image_width: int) -> dict:
        """``boxes [B, N, 4]`` (or ``[B, N, C, 4]``, a box per prior and class) xyxy pixels,
        ``scores [B, N, C]`` in [0, 1] -> the detections (see the module docstring)."""
        boxes = tf.cast(boxes, tf.float32)
        scores = tf.cast(scores, tf.float32)
        num_classes = int(scores.shape[-1])
        k = min(self.pre_nms_top_k, int(boxes.shape[1]) * num_classes)
        keep = self.max_detections
        extent = float(max(image_height, image_width)) + 1.0
        limits = tf.constant([image_width, image_height, image_width, image_height], tf.float32)
        scale = tf.constant([image_height, image_width, image_height, image_width], tf.float32)

        flat = tf.reshape(scores, [-1, int(boxes.shape[1]) * num_classes])
        top, index = tf.math.top_k(flat, k)  # [B, k]: the best (prior, class) pairs
        classes = index % num_classes
        if boxes.shape.rank == 4:  # one box per prior and class (two-stage detectors)
            picked = tf.gather(tf.reshape(boxes, [-1, flat.shape[1], 4]), index, batch_dims=1)
        else:
            picked = tf.gather(boxes, index // num_classes, batch_dims=1)
        picked = tf.clip_by_value(picked, 0.0, limits)
        yxyx = tf.gather(picked, [1, 0, 3, 2], axis=2)
        shifted = yxyx + tf.cast(classes, tf.float32)[..., None] * extent

        position = tf.range(k, dtype=tf.float32)
        ranked = tf.where(top > self.score_threshold, top - position * TIE_STEP, -1.0)
        selected, count = padded_nms(shifted, ranked, keep, self.iou_threshold, -0.5)
        valid = tf.range(keep)[None, :] < count[:, None]
        mask = tf.cast(valid, tf.float32)
        out = (
            tf.gather(yxyx, selected, batch_dims=1) / scale * mask[..., None],
            tf.gather(top, selected, batch_dims=1) * mask,
            tf.cast(tf.gather(classes, selected, batch_dims=1), tf.int64)
            * tf.cast(valid, tf.int64),
            count,
        )
        return dict(zip(("boxes", "scores", "classes", "num_detections"), out, strict=True))


def padded_nms(boxes, scores, max_output: int, iou_threshold: float, score_threshold: float):
    """Greedy NMS per image of ``boxes [B, N, 4]`` (any corner order) by ``scores [B, N]``:
    ``(selected [B, max_output] int32`` indices in descending score order, padded with 0,
    ``count [B])``. ``NonMaxSuppressionV4`` (a TFLite builtin) in a ``tf.map_fn`` (a
    ``WHILE``); boxes scoring at or below ``score_threshold`` are never selected."""

    @tf.autograph.experimental.do_not_convert  # no Python control flow to convert
    def one_image(args):
        image_boxes, image_scores = args
        selected, count = tf.raw_ops.NonMaxSuppressionV4(
            boxes=image_boxes,
            scores=image_scores,
            max_output_size=max_output,
            iou_threshold=iou_threshold,
            score_threshold=score_threshold,
            pad_to_max_output_size=True,
        )
        return selected, count

    # only integer indices cross the loop: float tensors carried through a WHILE lose
    # their quantisation parameters in an int8 TFLite file
    signature = (tf.TensorSpec([max_output], tf.int32), tf.TensorSpec([], tf.int32))
    return tf.map_fn(one_image, (boxes, scores), fn_output_signature=signature)
