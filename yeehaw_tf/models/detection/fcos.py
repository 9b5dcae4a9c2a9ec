"""FCOS (Tian et al., 2019, "FCOS: Fully Convolutional One-Stage Object Detection"), assembled
from parts: anchor-free, one prediction per feature-map location.

A backbone (``{"C<l>"}`` maps, passed in as a builder), the FPN neck, and two towers shared over
the pyramid's levels (``head_depth`` 3x3 convs of ``head_width`` with GroupNorm and ReLU): the
class tower ends in the class logits (bias at the prior 0.01), the regression tower in the
distances ``(l, t, r, b)`` from the location to the box's sides, in units of the level's stride
(``ReLU`` of the predictor, torchvision's ``FCOSRegressionHead`` with its
``BoxLinearCoder(normalize_by_size=True)``), and in the centerness logit. The network maps
standardised images to ``{"class_logits": [B, N, C], "box_regression": [B, N, 4],
"centerness": [B, N, 1]}`` over the ``N`` locations of every level.

Locations: level ``l`` (stride ``s = 2**l``) has a ``ceil(H / s) x ceil(W / s)`` map whose
location ``(i, j)`` sits at pixel ``(x, y) = (j s + s // 2, i s + s // 2)`` (the paper's
``floor(s / 2) + x s``), ordered level, then row-major. :meth:`FCOS.anchors` gives them as
degenerate boxes ``(x, y, x, y)``. Since ``x = (s / 2)(2 j + 1)``, the largest power of two
dividing ``x`` is ``s / 2``: the loss and the decoding read each location's stride back from its
own coordinates (:func:`location_strides`), so they need nothing but the points.

Training targets (the paper's rules, with torchvision's inequalities): a location is a
candidate for a ground truth box if it lies strictly inside the box, within the centre-sampling
square ``max(|x - cx|, |y - cy|) < radius * s`` around the box centre (``radius`` 1.5), and
``lower < max(l, t, r, b) < upper`` for its level's size range (P3..P7:
``[0, 64], [64, 128], [128, 256], [256, 512], [512, inf)``). Among several candidate boxes the
one of smallest area wins. Losses, sums divided by the number of positive locations of the
global batch: the sigmoid focal loss (alpha 0.25, gamma 2) over every location and class, the
GIoU loss of the decoded boxes of the positives, and the binary cross-entropy of the
centerness logit against ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))`` on the
positives.

Inference: boxes ``(x - l s, y - t s, x + r s, y + b s)``, scores
``sqrt(sigmoid(class) * sigmoid(centerness))``, then the shared
:class:`~yeehaw_tf.models.detection.postprocess.PostProcessor`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.losses.detection import giou_loss, sigmoid_focal_loss
from yeehaw_tf.models.detection.backbones import check_backbone, small_backbone
from yeehaw_tf.models.detection.fpn import fpn_neck
from yeehaw_tf.models.detection.heads import conv_tower, predictor, prior_bias
from yeehaw_tf.ops.levels import level_key

INF = math.inf


@dataclasses.dataclass(frozen=True)
class FCOSConfig:
    """An FCOS variant, as data. The defaults are the paper's (and torchvision's
    ``fcos_resnet50_fpn``): P3..P7 (P6, P7 by stride-2 convs on P5), 256 channels, 4-conv towers
    with GroupNorm(32), size ranges 64 .. 512 pixels, centre sampling radius 1.5 strides.

    ``size_ranges``: one ``(lower, upper)`` per level, in pixels, of ``max(l, t, r, b)``."""

    min_level: int = 3
    max_level: int = 7
    extra_levels: str = "conv_p5"
    fpn_channels: int = 256
    head_width: int = 256
    head_depth: int = 4
    size_ranges: Sequence[tuple[float, float]] = (
        (0.0, 64.0),
        (64.0, 128.0),
        (128.0, 256.0),
        (256.0, 512.0),
        (512.0, INF),
    )
    center_radius: float = 1.5
    alpha: float = 0.25
    gamma: float = 2.0
    prior: float = 0.01

    def __post_init__(self):
        if not 1 <= self.min_level <= self.max_level:
            raise ValueError(
                f"FCOSConfig: need 1 <= min_level <= max_level, got min_level={self.min_level}, "
                f"max_level={self.max_level}"
            )
        if len(self.size_ranges) != len(self.levels):
            raise ValueError(
                f"FCOSConfig: size_ranges needs one (lower, upper) per level {self.levels}, got "
                f"{list(self.size_ranges)}"
            )
        for lower, upper in self.size_ranges:
            if not 0 <= lower < upper:
                raise ValueError(
                    f"FCOSConfig: size_ranges must be 0 <= lower < upper, got {(lower, upper)}"
                )
        if self.center_radius <= 0:
            raise ValueError(f"FCOSConfig: center_radius must be > 0, got {self.center_radius}")

    @property
    def levels(self) -> list[int]:
        return list(range(self.min_level, self.max_level + 1))


# An FCOS sized for 64x64 `shapes` (objects of 8-21 pixels) on two CPU cores: P2..P4 of the
# small backbone (strides 4, 8, 16), a 64-wide FPN and 2-conv towers, the size ranges scaled
# down to the objects.
SMALL = FCOSConfig(
    min_level=2,
    max_level=4,
    fpn_channels=64,
    head_width=64,
    head_depth=2,
    size_ranges=((0.0, 16.0), (16.0, 32.0), (32.0, INF)),
)


def location_strides(anchors) -> tf.Tensor:
    """``[N]`` float32 stride of each location ``anchors [N, 4]`` (``(x, y, x, y)`` at
    ``x = j s + s / 2``, ``s >= 2`` a power of two): twice the largest power of two dividing
    ``x``. A constant when ``anchors`` is (the task's anchors are), so exported graphs hold no
    bitwise ops."""
    static = tf.get_static_value(anchors)
    if static is not None:
        x = np.round(np.asarray(static, np.float64)[:, 0]).astype(np.int64)
        return tf.constant(2 * np.bitwise_and(x, -x), tf.float32)
    x = tf.cast(tf.round(tf.cast(anchors, tf.float32)[:, 0]), tf.int32)
    return tf.cast(2 * tf.bitwise.bitwise_and(x, -x), tf.float32)


class FCOS:
    """The FCOS family: the network, its locations, its loss and its decoding (the detector
    family contract of :mod:`yeehaw_tf.models.detection`).

    Args:
        config: the variant (:class:`FCOSConfig`).
        backbone: ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>": ...}``.
        name: the variant's registered name.
    """

    loss_names = ("classification", "box", "centerness")

    def __init__(
        self,
        config: FCOSConfig,
        backbone: Callable[[tuple], keras.Model],
        name: str = "fcos",
    ):
        self.config = config
        self.backbone = backbone
        self.name = name

    # ----------------------------------------------------------------------------- network
    def build(self, num_classes: int, input_shape: Sequence[int]) -> keras.Model:
        c = self.config
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be a positive int, got {num_classes}")
        backbone = self.backbone(tuple(input_shape))
        check_backbone(backbone, [c.min_level], self.name)
        images = keras.Input(tuple(input_shape), name="images")
        pyramid = fpn_neck(
            backbone(images), c.fpn_channels, c.min_level, c.max_level, c.extra_levels
        )
        class_tower = conv_tower(c.head_width, c.head_depth, "group", "class_tower")
        box_tower = conv_tower(c.head_width, c.head_depth, "group", "box_tower")
        class_out = predictor(num_classes, "class_logits", prior_bias(c.prior))
        box_out = predictor(4, "box_regression")
        box_relu = keras.layers.ReLU(name="box_regression_relu")
        centerness_out = predictor(1, "centerness")
        flat = {"class_logits": [], "box_regression": [], "centerness": []}

        def run(x, layers):
            for layer in layers:
                x = layer(x)
            return x

        for level in c.levels:
            features = pyramid[level_key(level)]
            cls = class_out(run(features, class_tower))
            box_features = run(features, box_tower)
            maps = {
                "class_logits": cls,
                "box_regression": box_relu(box_out(box_features)),
                "centerness": centerness_out(box_features),
            }
            for key, value in maps.items():
                height, width, depth = value.shape[1:]
                flat[key].append(
                    keras.layers.Reshape((height * width, depth), name=f"{key}_flat{level}")(value)
                )
        outputs = {
            key: values[0]
            if len(values) == 1
            else keras.layers.Concatenate(axis=1, name=f"{key}_concat")(values)
            for key, values in flat.items()
        }
        return keras.Model(images, outputs, name=self.name)

    # ----------------------------------------------------------------------------- locations
    def locations(self, input_shape: Sequence[int]):
        """``(points [N, 2] (x, y) pixels, strides [N], size ranges [N, 2])`` as float64 NumPy,
        from the config: level by level, row-major within a level."""
        height, width = int(input_shape[0]), int(input_shape[1])
        points, strides, ranges = [], [], []
        for level, size_range in zip(self.config.levels, self.config.size_ranges, strict=True):
            s = 2**level
            rows, cols = -(-height // s), -(-width // s)
            y, x = np.meshgrid(np.arange(rows) * s + s // 2, np.arange(cols) * s + s // 2)
            grid = np.stack([x.T.reshape(-1), y.T.reshape(-1)], axis=-1)
            points.append(grid.astype(np.float64))
            strides.append(np.full(rows * cols, float(s)))
            ranges.append(np.tile(np.asarray(size_range, np.float64), (rows * cols, 1)))
        return np.concatenate(points), np.concatenate(strides), np.concatenate(ranges)

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        """``[N, 4]`` float32 locations as degenerate xyxy boxes ``(x, y, x, y)``."""
        points, _, _ = self.locations(input_shape)
        return tf.constant(np.concatenate([points, points], axis=-1), tf.float32)

    def _level_data(self, anchors):
        """Per location of ``anchors``: ``(points [N, 2], strides [N], ranges [N, 2])``."""
        strides = location_strides(anchors)
        anchors = tf.cast(anchors, tf.float32)
        table = np.asarray(self.config.size_ranges, np.float64)
        levels = len(self.config.levels)
        static = tf.get_static_value(strides)
        if static is not None:
            index = np.clip(
                np.round(np.log2(static)).astype(int) - self.config.min_level, 0, levels - 1
            )
            return anchors[:, :2], strides, tf.constant(table[index], tf.float32)
        index = tf.cast(tf.round(tf.math.log(strides) / math.log(2.0)), tf.int32)
        index = tf.clip_by_value(index - self.config.min_level, 0, levels - 1)
        return anchors[:, :2], strides, tf.gather(tf.constant(table, tf.float32), index)

    # ----------------------------------------------------------------------------- training
    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {"classification", "box", "centerness"}, number of positive locations)``
        for this replica's batch: sums, to be divided by the positives of the global batch.

        ``gt_boxes [B, M, 4]`` xyxy pixels and ``gt_classes [B, M]`` padded with class -1."""
        c = self.config
        logits = tf.cast(outputs["class_logits"], tf.float32)
        centerness = tf.cast(outputs["centerness"], tf.float32)[..., 0]
        num_classes = logits.shape[-1]
        points, strides, ranges = self._level_data(anchors)
        matches, matched_boxes, matched_classes = assign(
            points, strides, ranges, gt_boxes, gt_classes, c.center_radius
        )
        positive = matches >= 0
        weight = tf.cast(positive, tf.float32)
        targets = tf.one_hot(tf.where(positive, matched_classes, -1), num_classes)
        classification = tf.reduce_sum(sigmoid_focal_loss(targets, logits, c.alpha, c.gamma))
        # non-positive locations get a dummy 2x2 box around themselves: finite targets, masked
        dummy = tf.concat([points - 1.0, points + 1.0], axis=-1)[None]
        target_boxes = tf.stop_gradient(tf.where(positive[..., None], matched_boxes, dummy))
        predicted = self.decode_boxes(outputs["box_regression"], anchors)
        box = tf.reduce_sum(giou_loss(target_boxes, predicted) * weight)
        center_targets = tf.stop_gradient(centerness_targets(points[None], target_boxes))
        centerness_loss = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=center_targets, logits=centerness)
            * weight
        )
        num_positive = tf.reduce_sum(weight)
        components = {"classification": classification, "box": box, "centerness": centerness_loss}
        return classification + box + centerness_loss, components, num_positive

    # ----------------------------------------------------------------------------- inference
    def decode_boxes(self, box_regression, anchors) -> tf.Tensor:
        """``[B, N, 4]`` xyxy pixel boxes from the distances ``(l, t, r, b)`` in strides."""
        points, strides, _ = self._level_data(anchors)
        distances = tf.cast(box_regression, tf.float32) * strides[None, :, None]
        return tf.concat(
            [points[None] - distances[..., :2], points[None] + distances[..., 2:]], axis=-1
        )

    def decode(self, outputs, anchors):
        """``(boxes [B, N, 4] xyxy pixels, scores [B, N, C])``, scores
        ``sqrt(sigmoid(class) * sigmoid(centerness))``."""
        boxes = self.decode_boxes(outputs["box_regression"], anchors)
        scores = tf.sqrt(
            tf.sigmoid(tf.cast(outputs["class_logits"], tf.float32))
            * tf.sigmoid(tf.cast(outputs["centerness"], tf.float32))
        )
        return boxes, scores


def centerness_targets(points, boxes) -> tf.Tensor:
    """``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))`` of ``points [..., 2]`` inside
    ``boxes [..., 4]`` (xyxy, broadcast together)."""
    left_top = points - boxes[..., :2]
    right_bottom = boxes[..., 2:] - points
    ratio = tf.minimum(left_top, right_bottom) / tf.maximum(left_top, right_bottom)
    return tf.sqrt(ratio[..., 0] * ratio[..., 1])


def assign(points, strides, ranges, gt_boxes, gt_classes, center_radius: float = 1.5):
    """FCOS's assignment of locations ``points [N, 2]`` (strides ``[N]``, size ranges
    ``[N, 2]``) to padded ground truth ``gt_boxes [B, M, 4]`` (xyxy pixels) with classes
    ``gt_classes [B, M]`` (-1: padding); the rules are in the module docstring. Returns
    ``(matches [B, N]`` -- the ground truth index or -1 --, the matched boxes ``[B, N, 4]`` and
    classes ``[B, N]`` (those of box 0 where not positive))."""
    points = tf.cast(points, tf.float32)
    boxes = tf.cast(gt_boxes, tf.float32)
    x, y = points[None, :, None, 0], points[None, :, None, 1]  # [1, N, 1]
    x1, y1, x2, y2 = (boxes[:, None, :, k] for k in range(4))  # [B, 1, M]
    distances = tf.stack([x - x1, y - y1, x2 - x, y2 - y], axis=-1)  # [B, N, M, 4]
    inside = tf.reduce_min(distances, axis=-1) > 0
    radius = (center_radius * strides)[None, :, None]
    near_centre = tf.maximum(tf.abs(x - (x1 + x2) / 2), tf.abs(y - (y1 + y2) / 2)) < radius
    extent = tf.reduce_max(distances, axis=-1)
    in_range = (extent > ranges[None, :, None, 0]) & (extent < ranges[None, :, None, 1])
    valid = (gt_classes >= 0)[:, None, :]
    candidate = inside & near_centre & in_range & valid
    area = (x2 - x1) * (y2 - y1)  # [B, 1, M]
    masked_area = tf.where(candidate, area, INF)
    best = tf.argmin(masked_area, axis=-1, output_type=tf.int32)  # smallest area; ties: first
    matches = tf.where(tf.reduce_any(candidate, axis=-1), best, -1)
    index = tf.maximum(matches, 0)
    matched_boxes = tf.gather(boxes, index, batch_dims=1)
    matched_classes = tf.gather(tf.cast(gt_classes, tf.int32), index, batch_dims=1)
    return matches, matched_boxes, matched_classes


# registered name -> input shape the variant is built for by default
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "fcos_small": (64, 64, 3),
    "fcos_resnet50_fpn": (512, 512, 3),
}


def variants(features_of) -> dict:
    """Registered name -> a zero-argument factory of the family object. ``features_of(name)``
    gives a backbone builder for a registered classifier built with ``features=True``."""

    def small(input_shape):
        return small_backbone(input_shape, (32, 64, 128, 256))

    return {
        "fcos_small": lambda: FCOS(SMALL, small, "fcos_small"),
        "fcos_resnet50_fpn": lambda: FCOS(
            FCOSConfig(), features_of("resnet50"), "fcos_resnet50_fpn"
        ),
    }
