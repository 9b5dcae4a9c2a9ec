"""SSD (Liu et al., 2016, "SSD: Single Shot MultiBox Detector"), assembled from parts.

A trunk (``trunk(input_shape) -> keras.Model`` returning a dict of feature maps) gives the first
source maps; extra layers (a 1x1 convolution then a 3x3 one, usually of stride 2) grow further,
coarser maps from the last of them. Every map has its *own* 3x3 convolution predicting, at each
location, ``C + 1`` class logits (background first) and 4 box offsets for each of its ``A_k``
default boxes -- nothing is shared across maps. The network maps standardised images to
``{"class_logits": [B, N, C + 1], "box_deltas": [B, N, 4]}`` over the ``N`` default boxes.

``num_classes`` counts *object* classes (the detection task's convention); the background is
the extra column 0 of ``class_logits``. torchvision's ``num_classes`` includes the background,
so its ``ssd300_vgg16(num_classes=91)`` is our ``ssd300_vgg16`` with ``num_classes=90``: the
same tensors, 35,641,826 parameters.

Default boxes (:class:`DefaultBoxGenerator`, torchvision's ``DefaultBoxGenerator``): map ``k``
of ``m`` has scale ``s_k`` (a fraction of the image side; the paper's
``s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)``, ``s_min = 0.2``, ``s_max = 0.9`` by default)
and boxes ``(s_k, s_k)``, ``(s'_k, s'_k)`` with ``s'_k = sqrt(s_k s_{k+1})``, and
``(s_k sqrt(r), s_k / sqrt(r))`` and its transpose for each of its aspect ratios ``r``, centred
at ``(i + 0.5) * step``; widths and heights are clipped to the image.

Training targets: a default box is positive if its IoU with a ground truth box is at least 0.5,
and each ground truth also takes its best default boxes (low-quality matches); all others are
background. The box loss is smooth-L1 (beta 1) of the box coding with weights (10, 10, 5, 5)
over positives; the classification loss is the softmax cross-entropy over ``C + 1`` classes
over the positives and, per image, the ``3 x positives`` negatives of highest loss (hard
negative mining: an image without objects contributes nothing). Both are divided by the number
of positives of the global batch (the Task contract's normaliser).

Inference: boxes decoded from the default boxes, scores the softmax probabilities of the ``C``
object classes (the background column dropped), then the shared
:class:`~yeehaw_tf.models.detection.postprocess.PostProcessor`.

Variants: ``ssd300_vgg16`` (the paper's SSD300 as torchvision builds it, with torchvision's
COCO default-box scales ``0.07 .. 1.05``) and ``ssd_small`` (64x64 inputs on a CPU).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.layers.conv_blocks import conv_norm_act
from yeehaw_tf.losses.detection import smooth_l1_loss
from yeehaw_tf.models.detection.backbones import small_backbone
from yeehaw_tf.models.detection.retinanet import assign
from yeehaw_tf.models.detection.ssd_parts import (
    DefaultBoxGenerator,
    ScaledL2Normalization,
    vgg16_trunk,
)
from yeehaw_tf.ops.boxes import decode_boxes, encode_boxes


# --------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class SSDConfig:
    """An SSD variant, as data. The defaults are SSD300 (torchvision's ``ssd300_vgg16``).

    Args:
        sources: the trunk's maps predicted from, in order (the last one feeds the extras).
        l2_norm: the sources rescaled by :class:`ScaledL2Normalization` before their predictor.
        extra_layers: ``(1x1 width, 3x3 width, 3x3 stride, 3x3 padding)`` per extra map.
        extra_norm: ``None`` or ``"batch"`` after the extra convolutions (before ReLU).
        boxes: the default boxes (one entry per source and extra map).
    """

    sources: Sequence[str] = ("conv4_3", "conv7")
    l2_norm: Sequence[str] = ("conv4_3",)
    l2_norm_scale: float = 20.0
    extra_layers: Sequence[tuple[int, int, int, int]] = (
        (256, 512, 2, 1),  # conv8_1, conv8_2
        (128, 256, 2, 1),  # conv9
        (128, 256, 1, 0),  # conv10
        (128, 256, 1, 0),  # conv11
    )
    extra_norm: str | None = None
    boxes: DefaultBoxGenerator = DefaultBoxGenerator(
        aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)),
        scales=(0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05),
        steps=(8, 16, 32, 64, 100, 300),
    )
    iou_threshold: float = 0.5
    neg_pos_ratio: float = 3.0
    box_weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0)
    box_beta: float = 1.0

    def __post_init__(self):
        maps = len(self.sources) + len(self.extra_layers)
        if not self.sources:
            raise ValueError("SSDConfig: sources needs at least one trunk map")
        if self.boxes.num_maps != maps:
            raise ValueError(
                f"SSDConfig: boxes.aspect_ratios has {self.boxes.num_maps} maps, but sources "
                f"and extra_layers give {maps}"
            )
        if unknown := [s for s in self.l2_norm if s not in self.sources]:
            raise ValueError(f"SSDConfig: l2_norm names {unknown}, not among sources")
        if self.extra_norm not in (None, "batch"):
            raise ValueError(
                f"SSDConfig: extra_norm must be None or 'batch', got {self.extra_norm!r}"
            )
        if not self.neg_pos_ratio > 0:
            raise ValueError(f"SSDConfig: neg_pos_ratio must be > 0, got {self.neg_pos_ratio}")


SSD300 = SSDConfig()

# An SSD for 64x64 `shapes` (objects of 8-21 pixels) on two CPU cores: C2 (16x16), C3 (8x8) and
# C4 (4x4) of the small backbone plus one stride-2 extra map (2x2), default boxes of 8, 16, 24
# and 32 pixels (the second square ones sqrt(s_k s_{k+1}): 11, 20, 28 and 36 pixels).
SMALL = SSDConfig(
    sources=("C2", "C3", "C4"),
    l2_norm=(),
    extra_layers=((128, 256, 2, 1),),
    extra_norm="batch",
    boxes=DefaultBoxGenerator(
        aspect_ratios=((2,), (2,), (2,), (2,)),
        scales=(8 / 64, 16 / 64, 24 / 64, 32 / 64, 40 / 64),
        steps=(4, 8, 16, 32),
    ),
)


def hard_negative_mask(losses, positive, ratio: float = 3.0) -> tf.Tensor:
    """``[B, N]`` bool: per image, the ``ratio x (number of positives)`` non-positive entries of
    ``losses [B, N]`` with the highest loss (all of them if fewer; none without positives)."""
    losses = tf.stop_gradient(tf.cast(losses, tf.float32))
    positive = tf.convert_to_tensor(positive, tf.bool)
    wanted = ratio * tf.reduce_sum(tf.cast(positive, tf.float32), axis=1, keepdims=True)
    candidates = tf.where(positive, tf.constant(-np.inf, tf.float32), losses)
    order = tf.argsort(candidates, axis=1, direction="DESCENDING", stable=True)
    rank = tf.argsort(order, axis=1, stable=True)
    return (tf.cast(rank, tf.float32) < wanted) & ~positive


class SSD:
    """The SSD family: the network, its default boxes, its loss and its decoding (the detector
    family contract of :mod:`yeehaw_tf.models.detection`).

    Args:
        config: the variant (:class:`SSDConfig`).
        trunk: ``trunk(input_shape) -> keras.Model`` returning a dict holding
            ``config.sources``.
        name: the variant's registered name.
    """

    loss_names = ("classification", "box")

    def __init__(self, config: SSDConfig, trunk: Callable[[tuple], keras.Model], name: str = "ssd"):
        self.config = config
        self.trunk = trunk
        self.name = name
        self._grids: dict[tuple, list] = {}

    # ----------------------------------------------------------------------------- network
    def _feature_maps(self, images, input_shape) -> list:
        c = self.config
        trunk = self.trunk(tuple(input_shape))
        if not isinstance(trunk, keras.Model):
            raise ValueError(f"{self.name}: trunk must build a keras.Model, got {type(trunk)}")
        if not isinstance(trunk.output, Mapping):
            raise ValueError(
                f"{self.name}: trunk {trunk.name!r} returns one tensor, not a dict of feature "
                "maps; build it with features=True"
            )
        if missing := [s for s in c.sources if s not in trunk.output]:
            raise ValueError(
                f"{self.name}: trunk {trunk.name!r} gives {list(trunk.output)}, missing sources "
                f"{missing}"
            )
        features = trunk(images)
        maps = []
        for source in c.sources:
            x = features[source]
            if source in c.l2_norm:
                x = ScaledL2Normalization(c.l2_norm_scale, name=f"{source}_l2norm")(x)
            maps.append(x)
        x = features[c.sources[-1]]
        for i, (width1, width3, stride, padding) in enumerate(c.extra_layers):
            name = f"extra{i + 1}"
            x = conv_norm_act(x, width1, 1, norm=c.extra_norm, name=f"{name}_1")
            x = conv_norm_act(x, width3, 3, stride, padding, norm=c.extra_norm, name=f"{name}_2")
            maps.append(x)
        return maps

    def build(self, num_classes: int, input_shape: Sequence[int]) -> keras.Model:
        """The network for ``num_classes`` *object* classes (``class_logits`` has
        ``num_classes + 1`` columns, background first)."""
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be a positive int, got {num_classes}")
        images = keras.Input(tuple(input_shape), name="images")
        maps = self._feature_maps(images, input_shape)
        columns = num_classes + 1
        class_flat, box_flat = [], []
        for k, (x, boxes) in enumerate(zip(maps, self.config.boxes.num_boxes, strict=True)):
            height, width = x.shape[1], x.shape[2]
            logits = keras.layers.Conv2D(boxes * columns, 3, padding="same", name=f"class{k}")(x)
            deltas = keras.layers.Conv2D(boxes * 4, 3, padding="same", name=f"box{k}")(x)
            n = height * width * boxes
            class_flat.append(keras.layers.Reshape((n, columns), name=f"class{k}_flat")(logits))
            box_flat.append(keras.layers.Reshape((n, 4), name=f"box{k}_flat")(deltas))

        def join(flat, name):
            return flat[0] if len(flat) == 1 else keras.layers.Concatenate(1, name=name)(flat)

        outputs = {
            "class_logits": join(class_flat, "class_concat"),
            "box_deltas": join(box_flat, "box_concat"),
        }
        self._grids[tuple(input_shape)] = [tuple(x.shape[1:3]) for x in maps]
        return keras.Model(images, outputs, name=self.name)

    def grid_sizes(self, input_shape: Sequence[int]) -> list[tuple[int, int]]:
        """The ``(height, width)`` of each predicted map for ``input_shape``."""
        key = tuple(input_shape)
        if key not in self._grids:
            images = keras.Input(key, name="images")
            self._grids[key] = [tuple(x.shape[1:3]) for x in self._feature_maps(images, key)]
        return self._grids[key]

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        """The ``[N, 4]`` default boxes, xyxy pixels."""
        height, width = int(input_shape[0]), int(input_shape[1])
        return self.config.boxes(height, width, self.grid_sizes(input_shape))

    # ----------------------------------------------------------------------------- training
    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {"classification", "box"}, number of positive default boxes)`` for this
        replica's batch: sums, to be divided by the positives of the global batch.

        ``gt_boxes [B, M, 4]`` xyxy pixels and ``gt_classes [B, M]`` (object classes from 0)
        padded with class -1."""
        c = self.config
        logits = tf.cast(outputs["class_logits"], tf.float32)
        deltas = tf.cast(outputs["box_deltas"], tf.float32)
        matches, matched_boxes, matched_classes = assign(
            anchors, gt_boxes, gt_classes, c.iou_threshold, c.iou_threshold
        )
        positive = matches >= 0
        labels = tf.where(positive, matched_classes + 1, 0)  # 0: background
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        counted = positive | hard_negative_mask(cross_entropy, positive, c.neg_pos_ratio)
        classification = tf.reduce_sum(cross_entropy * tf.cast(counted, tf.float32))
        # negatives regress onto their own box (a zero target, masked out): no log(0)
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
        """``(boxes [B, N, 4] xyxy pixels, scores [B, N, C])``: the softmax over ``C + 1``
        classes without the background column."""
        deltas = tf.cast(outputs["box_deltas"], tf.float32)
        boxes = decode_boxes(deltas, anchors[None], self.config.box_weights)
        probabilities = tf.nn.softmax(tf.cast(outputs["class_logits"], tf.float32), axis=-1)
        return boxes, probabilities[..., 1:]


# registered name -> input shape the variant is built for by default
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "ssd300_vgg16": (300, 300, 3),
    "ssd_small": (64, 64, 3),
}


def _small_trunk(input_shape):
    return small_backbone(input_shape, (32, 64, 128, 256))


def variants(features_of) -> dict:
    """Registered name -> a zero-argument factory of the family object. ``features_of(name)``
    gives a backbone builder for a registered classifier built with ``features=True`` (unused:
    SSD300's VGG-16 differs from the registered one, see :func:`vgg16_trunk`)."""
    del features_of
    return {
        "ssd300_vgg16": lambda: SSD(SSD300, vgg16_trunk, "ssd300_vgg16"),
        "ssd_small": lambda: SSD(SMALL, _small_trunk, "ssd_small"),
    }
