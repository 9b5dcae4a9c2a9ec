"""The Region Proposal Network of Faster R-CNN (Ren et al., 2015): a small head slid over every
pyramid level scores each anchor for "object or not" and regresses a box from it; the best
boxes after NMS are the proposals the second stage classifies.

* Head: a 3x3 conv of the feature width with ReLU, then two sibling 1x1 convs: ``A``
  objectness logits and ``4 A`` box deltas per location (weights N(0, 0.01), biases 0, shared
  over the levels, as torchvision's ``RPNHead``).
* Training (paper section 3.1.2): an anchor is positive at IoU >= 0.7 with a ground-truth box
  (and each box also takes its best anchors), negative below 0.3, ignored in between; 256
  anchors per image are sampled, at most half positive; the loss is the binary cross-entropy
  of the sampled anchors' objectness plus the smooth-L1 (beta 1/9) of the positives' box
  coding, both divided by the number of sampled anchors.
* Proposals: per level the ``pre_nms_top_n`` best anchors, decoded and clipped to the image,
  boxes smaller than ``min_size`` dropped, NMS at IoU 0.7 per level, then the
  ``post_nms_top_n`` best over all levels (torchvision's ``RegionProposalNetwork``): a fixed
  ``[B, post_nms_top_n]`` with a validity mask (an image may have fewer). No gradient flows
  through the proposals.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.losses.detection import smooth_l1_loss
from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.postprocess import padded_nms
from yeehaw_tf.ops.boxes import clip_boxes, decode_boxes, encode_boxes
from yeehaw_tf.ops.levels import level_key
from yeehaw_tf.ops.matching import sample_balanced_batch


@dataclasses.dataclass(frozen=True)
class RPNConfig:
    """An RPN, as data; the defaults are the paper's and torchvision's (FPN: one anchor size
    per level, 32..512, three aspect ratios)."""

    anchors: AnchorGenerator = AnchorGenerator(
        levels=(2, 3, 4, 5, 6), sizes=(32, 64, 128, 256, 512), scales=(1.0,)
    )
    positive_iou: float = 0.7
    negative_iou: float = 0.3
    batch_per_image: int = 256
    positive_fraction: float = 0.5
    pre_nms_top_n_train: int = 2000
    post_nms_top_n_train: int = 2000
    pre_nms_top_n_test: int = 1000
    post_nms_top_n_test: int = 1000
    nms_iou: float = 0.7
    min_size: float = 1e-3
    box_weights: tuple = (1.0, 1.0, 1.0, 1.0)
    beta: float = 1.0 / 9.0

    def __post_init__(self):
        if not 0 <= self.negative_iou <= self.positive_iou <= 1:
            raise ValueError(
                f"RPNConfig: need 0 <= negative_iou <= positive_iou <= 1, got "
                f"{self.negative_iou}, {self.positive_iou}"
            )
        for name in ("batch_per_image", "pre_nms_top_n_train", "post_nms_top_n_train"):
            if getattr(self, name) < 1:
                raise ValueError(f"RPNConfig: {name} must be >= 1, got {getattr(self, name)}")

    def top_n(self, training: bool) -> tuple[int, int]:
        if training:
            return self.pre_nms_top_n_train, self.post_nms_top_n_train
        return self.pre_nms_top_n_test, self.post_nms_top_n_test


def rpn_head(pyramid: dict, config: RPNConfig, width: int) -> tuple:
    """``(objectness [B, N], deltas [B, N, 4])`` over the anchors of every level of
    ``config.anchors``, in the anchor generator's order (level, row, column, anchor)."""
    init = keras.initializers.RandomNormal(stddev=0.01)
    a = config.anchors.num_anchors
    conv = keras.layers.Conv2D(
        width, 3, padding="same", activation="relu", kernel_initializer=init, name="rpn_conv"
    )
    logits = keras.layers.Conv2D(a, 1, kernel_initializer=init, name="rpn_objectness")
    deltas = keras.layers.Conv2D(4 * a, 1, kernel_initializer=init, name="rpn_deltas")
    scores, boxes = [], []
    for level in config.anchors.levels:
        x = conv(pyramid[level_key(level)])
        h, w = x.shape[1], x.shape[2]
        scores.append(keras.layers.Reshape((h * w * a,), name=f"rpn_scores{level}")(logits(x)))
        boxes.append(keras.layers.Reshape((h * w * a, 4), name=f"rpn_boxes{level}")(deltas(x)))
    if len(scores) == 1:
        return scores[0], boxes[0]
    return (
        keras.layers.Concatenate(axis=1, name="objectness")(scores),
        keras.layers.Concatenate(axis=1, name="rpn_box_deltas")(boxes),
    )


def anchors_per_level(config: RPNConfig, height: int, width: int) -> list[int]:
    """How many anchors each level has on a ``height x width`` image."""
    a = config.anchors.num_anchors
    counts = []
    for level in config.anchors.levels:
        h, w = height, width
        for _ in range(level):  # "same"-padded stride-2 steps
            h, w = (h + 1) // 2, (w + 1) // 2
        counts.append(h * w * a)
    return counts


def propose(
    objectness,
    deltas,
    anchors,
    config: RPNConfig,
    image_height: int,
    image_width: int,
    training: bool,
):
    """The proposals of every image: ``(boxes [B, R, 4]`` xyxy pixels, ``scores [B, R]``
    (objectness probabilities), ``valid [B, R])`` with ``R = post_nms_top_n``, best first."""
    pre_n, post_n = config.top_n(training)
    objectness = tf.stop_gradient(tf.cast(objectness, tf.float32))
    deltas = tf.stop_gradient(tf.cast(deltas, tf.float32))
    counts = anchors_per_level(config, image_height, image_width)
    if sum(counts) != anchors.shape[0]:
        raise ValueError(
            f"propose: {anchors.shape[0]} anchors given, the levels have {sum(counts)}"
        )
    extent = float(max(image_height, image_width)) + 1.0
    boxes, scores, offsets = [], [], []
    start = 0
    for level, count in enumerate(counts):
        k = min(pre_n, count)
        top, index = tf.math.top_k(objectness[:, start : start + count], k)
        level_deltas = tf.gather(deltas[:, start : start + count], index, batch_dims=1)
        level_anchors = tf.gather(anchors[start : start + count], index)
        decoded = decode_boxes(level_deltas, level_anchors, config.box_weights)
        boxes.append(clip_boxes(decoded, image_height, image_width))
        scores.append(tf.sigmoid(top))
        offsets.append(tf.fill([k], float(level) * extent))
        start += count
    boxes, scores = tf.concat(boxes, 1), tf.concat(scores, 1)
    size_ok = tf.reduce_all(boxes[..., 2:] - boxes[..., :2] >= config.min_size, axis=-1)
    scores_for_nms = tf.where(size_ok, scores, -1.0)
    # NMS per level: shift each level's boxes apart (torchvision's batched_nms)
    shifted = boxes + tf.concat(offsets, 0)[None, :, None]
    post_n = min(post_n, int(boxes.shape[1]))
    selected, count = padded_nms(shifted, scores_for_nms, post_n, config.nms_iou, -0.5)
    valid = tf.range(post_n)[None, :] < count[:, None]
    chosen = tf.gather(boxes, selected, batch_dims=1) * tf.cast(valid, tf.float32)[..., None]
    chosen_scores = tf.gather(scores, selected, batch_dims=1) * tf.cast(valid, tf.float32)
    return chosen, chosen_scores, valid


def rpn_targets(matches, noise, config: RPNConfig):
    """The sampled anchors of each image from their ``matches [B, N]`` (a ground-truth index,
    ``NEGATIVE`` or ``IGNORE``): ``(positive [B, N], negative [B, N])`` masks."""
    return sample_balanced_batch(
        matches >= 0,
        tf.equal(matches, -1),
        config.batch_per_image,
        config.positive_fraction,
        noise,
    )


def rpn_loss(objectness, deltas, anchors, matched_boxes, positive, negative, config: RPNConfig):
    """``(objectness loss, box loss)`` summed over this replica's sampled anchors, divided by
    their number (torchvision's ``RegionProposalNetwork.compute_loss``)."""
    objectness = tf.cast(objectness, tf.float32)
    deltas = tf.cast(deltas, tf.float32)
    sampled = tf.cast(positive | negative, tf.float32)
    count = tf.maximum(tf.reduce_sum(sampled), 1.0)
    labels = tf.cast(positive, tf.float32)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=objectness)
    classification = tf.reduce_sum(bce * sampled) / count
    target_boxes = tf.where(positive[..., None], matched_boxes, anchors[None])
    targets = tf.stop_gradient(encode_boxes(target_boxes, anchors[None], config.box_weights))
    box = tf.reduce_sum(smooth_l1_loss(targets, deltas, config.beta) * labels[..., None]) / count
    return classification, box
