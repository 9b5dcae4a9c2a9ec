"""RetinaNet (Lin et al., 2017, "Focal Loss for Dense Object Detection"), assembled from parts.

A backbone (``{"C<l>"}`` maps, passed in as a builder), the FPN neck, a class subnet and a box
subnet shared over the pyramid's levels (``head_depth`` 3x3 convs of ``head_width`` with ReLU,
then a predictor), and ``A`` anchors per location. The network maps standardised images to
``{"class_logits": [B, N, C], "box_deltas": [B, N, 4]}`` over the ``N`` anchors of every level.

Training targets: an anchor is positive if its IoU with a ground truth box is at least 0.5 (and
each box also takes its best anchors, torchvision's low-quality matches), negative below 0.4,
ignored in between. The loss is the sigmoid focal loss (alpha 0.25, gamma 2) over every
non-ignored anchor and class, plus the L1 loss of the box coding (weights 1) over positives,
both divided by the number of positive anchors of the *global* batch (the Task contract's
normaliser). The class predictor's bias starts at the prior 0.01.

Inference: boxes decoded from the anchors, scores ``sigmoid(class_logits)``, then the shared
:class:`~yeehaw_tf.models.detection.postprocess.PostProcessor`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from yeehaw_tf.losses.detection import sigmoid_focal_loss, smooth_l1_loss
from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.backbones import check_backbone
from yeehaw_tf.models.detection.fpn import fpn_neck
from yeehaw_tf.models.detection.heads import apply_per_level, conv_tower, predictor, prior_bias
from yeehaw_tf.ops.boxes import decode_boxes, encode_boxes, iou
from yeehaw_tf.ops.matching import IGNORE, match_padded


@dataclasses.dataclass(frozen=True)
class RetinaNetConfig:
    """A RetinaNet variant, as data. The defaults are the paper's (and torchvision's
    ``retinanet_resnet50_fpn``): P3..P7, 256 channels, 4-conv subnets, 9 anchors."""

    min_level: int = 3
    max_level: int = 7
    extra_levels: str = "conv_p5"
    fpn_channels: int = 256
    head_width: int = 256
    head_depth: int = 4
    anchors: AnchorGenerator = AnchorGenerator()
    positive_iou: float = 0.5
    negative_iou: float = 0.4
    alpha: float = 0.25
    gamma: float = 2.0
    prior: float = 0.01
    box_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
    box_beta: float = 0.0  # smooth-L1 beta; 0 is L1

    def __post_init__(self):
        levels = list(range(self.min_level, self.max_level + 1))
        if list(self.anchors.levels) != levels:
            raise ValueError(
                f"RetinaNetConfig: anchors.levels {list(self.anchors.levels)} must be the "
                f"pyramid's levels {levels} (min_level..max_level)"
            )


# A RetinaNet sized for 64x64 `shapes` on two CPU cores: P2..P4 of the small backbone (objects
# of 8-21 pixels need stride 4), 64-wide FPN and 2-conv subnets, anchors 8..32 pixels.
SMALL = RetinaNetConfig(
    min_level=2,
    max_level=4,
    fpn_channels=64,
    head_width=64,
    head_depth=2,
    anchors=AnchorGenerator(levels=(2, 3, 4), sizes=(8, 16, 32)),
)


class RetinaNet:
    """The RetinaNet family: the network, its anchors, its loss and its decoding (the detector
    family contract of :mod:`yeehaw_tf.models.detection`).

    Args:
        config: the variant (:class:`RetinaNetConfig`).
        backbone: ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>": ...}`` (e.g. a
            registered classifier built with ``features=True``).
        name: the variant's registered name.
    """

    loss_names = ("classification", "box")

    def __init__(
        self,
        config: RetinaNetConfig,
        backbone: Callable[[tuple], keras.Model],
        name: str = "retinanet",
    ):
        self.config = config
        self.backbone = backbone
        self.name = name

    # ----------------------------------------------------------------------------- network
    def build(self, num_classes: int, input_shape: Sequence[int]) -> keras.Model:
        c = self.config
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be a positive int, got {num_classes}")
        backbone = self.backbone(tuple(input_shape))
        levels = list(range(c.min_level, c.max_level + 1))
        check_backbone(backbone, [c.min_level], self.name)
        images = keras.Input(tuple(input_shape), name="images")
        pyramid = fpn_neck(
            backbone(images), c.fpn_channels, c.min_level, c.max_level, c.extra_levels
        )
        c.anchors.check_fits(pyramid, self.name)
        a = c.anchors.num_anchors
        class_layers = [
            *conv_tower(c.head_width, c.head_depth, None, "class_subnet"),
            predictor(a * num_classes, "class_logits", prior_bias(c.prior)),
        ]
        box_layers = [
            *conv_tower(c.head_width, c.head_depth, None, "box_subnet"),
            predictor(4 * a, "box_deltas"),
        ]
        outputs = {
            "class_logits": apply_per_level(pyramid, levels, class_layers, a, num_classes, "class"),
            "box_deltas": apply_per_level(pyramid, levels, box_layers, a, 4, "box"),
        }
        return keras.Model(images, outputs, name=self.name)

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        return self.config.anchors(int(input_shape[0]), int(input_shape[1]))

    # ----------------------------------------------------------------------------- training
    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {"classification", "box"}, number of positive anchors)`` for this
        replica's batch: sums, to be divided by the positives of the global batch.

        ``gt_boxes [B, M, 4]`` xyxy pixels and ``gt_classes [B, M]`` padded with class -1."""
        c = self.config
        logits = tf.cast(outputs["class_logits"], tf.float32)
        deltas = tf.cast(outputs["box_deltas"], tf.float32)
        num_classes = logits.shape[-1]
        matches, matched_boxes, matched_classes = assign(
            anchors, gt_boxes, gt_classes, c.positive_iou, c.negative_iou
        )
        positive = matches >= 0
        counted = tf.cast(tf.not_equal(matches, IGNORE), tf.float32)[..., None]
        targets = tf.one_hot(tf.where(positive, matched_classes, -1), num_classes)
        classification = tf.reduce_sum(
            sigmoid_focal_loss(targets, logits, c.alpha, c.gamma) * counted
        )
        # negatives regress onto their own anchor (a zero target, masked out): no log(0)
        target_boxes = tf.where(positive[..., None], matched_boxes, anchors[None])
        box_targets = tf.stop_gradient(encode_boxes(target_boxes, anchors[None], c.box_weights))
        box = tf.reduce_sum(
            smooth_l1_loss(box_targets, deltas, c.box_beta)
            * tf.cast(positive, tf.float32)[..., None]
        )
        num_positive = tf.reduce_sum(tf.cast(positive, tf.float32))
        return classification + box, {"classification": classification, "box": box}, num_positive

    # ----------------------------------------------------------------------------- inference
    def decode(self, outputs, anchors):
        """``(boxes [B, N, 4] xyxy pixels, scores [B, N, C])``."""
        deltas = tf.cast(outputs["box_deltas"], tf.float32)
        boxes = decode_boxes(deltas, anchors[None], self.config.box_weights)
        return boxes, tf.sigmoid(tf.cast(outputs["class_logits"], tf.float32))


def assign(anchors, gt_boxes, gt_classes, positive_iou: float, negative_iou: float):
    """IoU matching of ``anchors [N, 4]`` to padded ground truth ``gt_boxes [B, M, 4]``
    (xyxy, same units) with classes ``gt_classes [B, M]`` (-1: padding). Returns
    ``(matches [B, N]`` -- the ground truth index, ``NEGATIVE`` or ``IGNORE`` --, the matched
    boxes ``[B, N, 4]`` and classes ``[B, N]`` (those of box 0 where not positive))."""
    batch, slots = tf.shape(gt_boxes)[0], tf.shape(gt_boxes)[1]
    overlaps = iou(anchors, tf.reshape(gt_boxes, [-1, 4]))  # [N, B * M]
    overlaps = tf.transpose(tf.reshape(overlaps, [-1, batch, slots]), [1, 0, 2])
    valid = gt_classes >= 0
    matches = match_padded(overlaps, valid, positive_iou, negative_iou, allow_low_quality=True)
    index = tf.maximum(matches, 0)
    matched_boxes = tf.gather(tf.cast(gt_boxes, tf.float32), index, batch_dims=1)
    matched_classes = tf.gather(tf.cast(gt_classes, tf.int32), index, batch_dims=1)
    return matches, matched_boxes, matched_classes
