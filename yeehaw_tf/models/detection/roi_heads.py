"""The second stage of Fast/Faster R-CNN (Girshick, 2015; Ren et al., 2015): each region of
interest is pooled to a fixed grid, passed through two fully connected layers, and classified
(softmax over the classes and background) with a box regressed per class.

* Box head: ``flatten -> FC(representation) -> ReLU -> FC(representation) -> ReLU`` (fc6, fc7
  of VGG16 in the papers, torchvision's ``TwoMLPHead``), then two sibling layers: ``C + 1``
  class logits (index 0 is background) and ``4 (C + 1)`` box deltas (torchvision's
  ``FastRCNNPredictor``).
* Training (Fast R-CNN section 2.3): the proposals plus the ground-truth boxes are matched to
  the ground truth; a RoI is foreground at IoU >= 0.5 (labelled with its box's class),
  background in ``[negative_min_iou, 0.5)`` (0.1 in Fast R-CNN, 0 in Faster R-CNN /
  torchvision); ``batch_per_image`` RoIs per image are sampled at ``positive_fraction`` (25%)
  foreground. The multi-task loss is the cross-entropy over the sampled RoIs plus the smooth-L1
  (beta 1/9) of the foreground RoIs' box coding for their class (weights 10, 10, 5, 5), both
  divided by the number of sampled RoIs.
* Inference: per class ``softmax`` scores and boxes decoded from each proposal, then the shared
  post-processor (per-class NMS).

RoIs travel as fixed ``[B, S]`` slots with a weight (1 for a sampled RoI, 0 for an empty slot),
positives first, so every step has one shape.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.losses.detection import smooth_l1_loss
from yeehaw_tf.ops.boxes import clip_boxes, decode_boxes, encode_boxes, iou
from yeehaw_tf.ops.matching import sample_balanced_batch


@dataclasses.dataclass(frozen=True)
class RoIHeadsConfig:
    """The second stage, as data; the defaults are torchvision's Faster R-CNN."""

    pool_size: int = 7
    sampling_ratio: int = 2
    representation: int = 1024
    positive_iou: float = 0.5
    negative_iou: float = 0.5
    negative_min_iou: float = 0.0
    batch_per_image: int = 512
    positive_fraction: float = 0.25
    box_weights: tuple = (10.0, 10.0, 5.0, 5.0)
    beta: float = 1.0 / 9.0
    canonical_size: float = 224.0
    canonical_level: int = 4

    def __post_init__(self):
        if not 0 <= self.negative_min_iou <= self.negative_iou <= self.positive_iou <= 1:
            raise ValueError(
                "RoIHeadsConfig: need 0 <= negative_min_iou <= negative_iou <= positive_iou "
                f"<= 1, got {self.negative_min_iou}, {self.negative_iou}, {self.positive_iou}"
            )
        if self.batch_per_image < 1 or self.representation < 1 or self.pool_size < 1:
            raise ValueError(
                "RoIHeadsConfig: batch_per_image, representation and pool_size must be >= 1"
            )

    @property
    def max_positives(self) -> int:
        return max(1, int(self.batch_per_image * self.positive_fraction))


def box_head(config: RoIHeadsConfig, channels: int, num_classes: int) -> keras.Model:
    """``pooled [K, P, P, channels] -> {"class_logits": [K, C + 1], "box_deltas": [K, C + 1,
    4]}``; ``num_classes`` counts the object classes (background is added)."""
    p = config.pool_size
    pooled = keras.Input((p, p, channels), name="pooled")
    x = keras.layers.Flatten(name="flatten")(pooled)
    x = keras.layers.Dense(config.representation, activation="relu", name="fc6")(x)
    x = keras.layers.Dense(config.representation, activation="relu", name="fc7")(x)
    logits = keras.layers.Dense(
        num_classes + 1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        name="class_logits",
    )(x)
    deltas = keras.layers.Dense(
        4 * (num_classes + 1),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        name="box_deltas",
    )(x)
    deltas = keras.layers.Reshape((num_classes + 1, 4), name="per_class_deltas")(deltas)
    return keras.Model(pooled, {"class_logits": logits, "box_deltas": deltas}, name="box_head")


def as_rois(boxes) -> tf.Tensor:
    """``[B, S, 4]`` boxes -> ``[B * S, 5]`` rows ``(batch_index, x1, y1, x2, y2)``."""
    batch, slots = tf.shape(boxes)[0], boxes.shape[1]
    index = tf.repeat(tf.cast(tf.range(batch), boxes.dtype), slots)
    return tf.concat([index[:, None], tf.reshape(boxes, [-1, 4])], axis=1)


def sample_rois(proposals, valid, gt_boxes, gt_classes, noise, config: RoIHeadsConfig) -> dict:
    """The RoIs the second stage trains on, per image: the proposals ``[B, R, 4]`` (``valid
    [B, R]``) and the ground truth itself, matched and sampled. ``noise [B, R + M]`` uniform.

    Returns ``{"rois": [B, S, 4], "weights": [B, S]`` (1 sampled, 0 empty), ``"labels": [B, S]``
    (class + 1, 0 background), ``"matched_boxes": [B, S, 4], "gt_index": [B, S]}`` with
    ``S = min(batch_per_image, R + M)``, positives in the first slots."""
    gt_boxes = tf.cast(gt_boxes, tf.float32)
    gt_valid = gt_classes >= 0
    candidates = tf.concat([tf.stop_gradient(proposals), gt_boxes], axis=1)
    candidate_ok = tf.concat([valid, gt_valid], axis=1)
    n = candidates.shape[1]
    overlaps = tf.where(gt_valid[:, None, :], iou(candidates, gt_boxes), -1.0)  # [B, n, M]
    best = tf.reduce_max(overlaps, axis=-1)
    index = tf.argmax(overlaps, axis=-1, output_type=tf.int32)
    positive = candidate_ok & (best >= config.positive_iou)
    negative = (
        candidate_ok
        & (best < config.negative_iou)
        & (best >= config.negative_min_iou)
        & tf.reduce_any(gt_valid, -1, keepdims=True)
    ) | (candidate_ok & ~tf.reduce_any(gt_valid, -1, keepdims=True))
    positive, negative = sample_balanced_batch(
        positive, negative, config.batch_per_image, config.positive_fraction, noise
    )
    s = min(config.batch_per_image, n)
    noise = tf.cast(noise, tf.float32)
    key = tf.where(positive, 2.0 + noise, tf.where(negative, 1.0 + noise, -1.0))
    order = tf.math.top_k(key, s).indices  # positives, then negatives, then empty
    taken = tf.gather(key, order, batch_dims=1)
    gt_index = tf.gather(index, order, batch_dims=1)
    is_positive = taken >= 2.0
    classes = tf.gather(tf.cast(gt_classes, tf.int32), gt_index, batch_dims=1)
    return {
        "rois": tf.gather(candidates, order, batch_dims=1),
        "weights": tf.cast(taken >= 1.0, tf.float32),
        "labels": tf.where(is_positive, classes + 1, 0),
        "matched_boxes": tf.gather(gt_boxes, gt_index, batch_dims=1),
        "gt_index": gt_index,
    }


def _per_class(deltas, labels):
    """``deltas [B, S, C + 1, 4]`` -> the deltas of each RoI's class ``[B, S, 4]``."""
    return tf.gather(deltas, labels[..., None], batch_dims=2)[..., 0, :]


def roi_heads_loss(class_logits, box_deltas, sample: dict, config: RoIHeadsConfig):
    """``(classification, box)``: sums over this replica's sampled RoIs divided by their count
    (torchvision's ``fastrcnn_loss``)."""
    logits = tf.cast(class_logits, tf.float32)
    deltas = tf.cast(box_deltas, tf.float32)
    weights = sample["weights"]
    count = tf.maximum(tf.reduce_sum(weights), 1.0)
    labels = sample["labels"]
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    classification = tf.reduce_sum(ce * weights) / count
    positive = tf.cast(labels > 0, tf.float32) * weights
    rois = sample["rois"]
    # background and empty slots regress onto themselves (a zero target, masked out); a
    # degenerate RoI is widened so no log(0) reaches the masked sum (0 * inf is NaN)
    safe_rois = tf.concat([rois[..., :2], tf.maximum(rois[..., 2:], rois[..., :2] + 1e-3)], -1)
    target_boxes = tf.where(positive[..., None] > 0, sample["matched_boxes"], safe_rois)
    targets = tf.stop_gradient(encode_boxes(target_boxes, safe_rois, config.box_weights))
    per_box = smooth_l1_loss(targets, _per_class(deltas, labels), config.beta)
    box = tf.reduce_sum(per_box * positive[..., None]) / count
    return classification, box


def decode_detections(class_logits, box_deltas, proposals, valid, config, height, width):
    """``(boxes [B, R, C, 4]`` xyxy pixels, ``scores [B, R, C])`` for the shared
    post-processor: per-class softmax scores (background dropped) and per-class boxes decoded
    from each proposal; empty proposal slots score 0."""
    probabilities = tf.nn.softmax(tf.cast(class_logits, tf.float32), axis=-1)[..., 1:]
    scores = probabilities * tf.cast(valid, tf.float32)[..., None]
    deltas = tf.cast(box_deltas, tf.float32)[:, :, 1:, :]
    boxes = decode_boxes(deltas, proposals[:, :, None, :], config.box_weights)
    return clip_boxes(boxes, height, width), scores


def per_image_losses(losses: dict, gt_boxes):
    """``(total, components, number of images)`` for the Task contract from losses that are
    each a mean over what they sample on this replica (torchvision's units): weighted by the
    replica's images, so the Trainer's division by the global batch averages them over
    replicas (exactly torchvision's on one replica)."""
    images = tf.cast(tf.shape(gt_boxes)[0], tf.float32)
    components = {name: value * images for name, value in losses.items()}
    return tf.add_n(list(components.values())), components, images
