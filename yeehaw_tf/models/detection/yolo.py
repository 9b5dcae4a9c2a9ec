"""YOLO v1 (Redmon et al., 2016, "You Only Look Once: Unified, Real-Time Object Detection").

The image is divided into an ``S x S`` grid (``S = 7`` in the paper). Each cell predicts ``B``
boxes (``B = 2``), each ``(x, y, sqrt(w), sqrt(h), confidence)``, and ``C`` class scores
``Pr(class | object)`` shared by its boxes: ``x, y`` are the box centre's offset within the cell
(in cell units, ``[0, 1]``), ``w, h`` its size relative to the image, predicted through their
square roots as in the paper (so that an error on a small box costs more than on a large one).

The network maps standardised images to ``{"grid": [batch, S, S, B * 5 + C]}``; each cell's
channels are ``B`` groups of ``(x, y, sqrt_w, sqrt_h, confidence)`` and then the ``C`` class
scores. Cells are in row-major order and a cell's predictors in order, which is the order of
:meth:`Yolo.anchors` (one prior per (cell, predictor): the cell's box in pixels, repeated ``B``
times) and of the boxes :meth:`Yolo.decode` returns. ``activation="linear"`` (the paper: "a
linear activation function for the final layer") uses the outputs as they are;
``"logistic"`` passes the box and confidence outputs through a sigmoid and the class scores
through a softmax first (the small variant: bounded predictions train faster from scratch).

Training (the paper's eq. 3, sum-squared error): in a cell containing an object's centre, the
*responsible* predictor is the one of the ``B`` whose predicted box has the highest IoU with the
object (computed on the current predictions, without gradient; on a tie -- e.g. all zero --
the first). If several objects' centres fall in one cell, the **largest** (by area; on equal
areas the first in the list) owns the cell; the others are not targets. Then::

    coord      = lambda_coord * sum_resp (x - x*)^2 + (y - y*)^2
                 + lambda_coord * sum_resp (sqrt_w - sqrt(w*))^2 + (sqrt_h - sqrt(h*))^2
    confidence = sum_resp (conf - IoU)^2 + lambda_noobj * sum_others conf^2
    class      = sum_{cells with an object} sum_c (p(c) - 1[c = c*])^2

with ``lambda_coord = 5``, ``lambda_noobj = 0.5``, the confidence target of a responsible
predictor the IoU of its box with the object (the paper's "we want the confidence score to
equal the IoU"), ``others`` every predictor that is not responsible (including the other
predictors of an object's cell). The components are sums over the replica's images; the
normaliser is that number of images (the paper's loss is per image).

Inference: boxes decoded from the cell and the predictions (``w = sqrt_w ** 2``), scores the
paper's class-specific confidence ``Pr(class | object) * confidence``, clipped to ``[0, 1]``,
then the shared :class:`~yeehaw_tf.models.detection.postprocess.PostProcessor`.

Variants: ``yolo_v1`` is the paper's network (Figure 3: 24 convolutions and 2 fully connected
layers, leaky ReLU 0.1, biases everywhere, no batch norm, dropout 0.5 after the first fully
connected layer; 448 x 448 x 3 input; trained from scratch here, not ImageNet-pretrained);
``yolo_v1_small`` is sized for 64 x 64 ``shapes`` on two CPU cores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act
from yeehaw_tf.models.detection.backbones import check_backbone, small_backbone
from yeehaw_tf.models.detection.fpn import NearestUpsampleLike
from yeehaw_tf.models.detection.yolo_targets import assign, elementwise_iou
from yeehaw_tf.ops.levels import BACKBONE, level_key

HEADS = ("fc", "conv")
ACTIVATIONS = ("linear", "logistic")
LEAKY_SLOPE = 0.1

# The paper's Figure 3, as (kernel, filters, stride) convolutions and "pool" (2x2 max pool,
# stride 2): 24 convolutions, stride 64 at the end (7 x 7 on a 448 x 448 image).
YOLO_V1_LAYERS: tuple = (
    (7, 64, 2),
    "pool",
    (3, 192, 1),
    "pool",
    (1, 128, 1),
    (3, 256, 1),
    (1, 256, 1),
    (3, 512, 1),
    "pool",
    *((1, 256, 1), (3, 512, 1)) * 4,
    (1, 512, 1),
    (3, 1024, 1),
    "pool",
    *((1, 512, 1), (3, 1024, 1)) * 2,
    (3, 1024, 1),
    (3, 1024, 2),
    (3, 1024, 1),
    (3, 1024, 1),
)


def yolo_v1_features(input_shape: Sequence[int] = (448, 448, 3)) -> keras.Model:
    """The paper's 24 convolutional layers (Figure 3) as a backbone: ``images -> {"C6": map}``
    (stride 64: 7 x 7 x 1024 on 448 x 448 images). Each convolution has a bias and is followed
    by a leaky ReLU (slope 0.1); padding ``k // 2``, as Darknet's."""
    images = keras.Input(tuple(input_shape), name="images")
    x = images
    index = pools = 0
    for layer in YOLO_V1_LAYERS:
        if layer == "pool":
            pools += 1
            x = keras.layers.MaxPooling2D(2, 2, name=f"pool{pools}")(x)
            continue
        kernel, filters, stride = layer
        index += 1
        x = conv(x, filters, kernel, stride, kernel // 2, name=f"conv{index}", use_bias=True)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"conv{index}_leaky")(x)
    return keras.Model(images, {level_key(6, BACKBONE): x}, name="yolo_v1_features")


@dataclasses.dataclass(frozen=True)
class YoloConfig:
    """A YOLO v1 variant, as data. The defaults are the paper's: a 7 x 7 grid read by two
    fully connected layers (4096 units, dropout 0.5) from the stride-64 features, ``B = 2``,
    linear outputs, ``lambda_coord = 5``, ``lambda_noobj = 0.5``.

    ``head="conv"`` predicts each cell from the backbone's level ``level`` by ``head_depth``
    3x3 conv-BN-leaky layers of ``head_width`` and a 1x1 convolution, so ``S = size / 2**level``;
    ``context_level`` (optional, coarser) is upsampled and concatenated to it first."""

    level: int = 6
    head: str = "fc"
    grid: int = 7  # S, for head="fc"
    boxes_per_cell: int = 2
    fc_width: int = 4096
    dropout: float = 0.5
    context_level: int | None = None
    head_width: int = 128
    head_depth: int = 2
    activation: str = "linear"
    lambda_coord: float = 5.0
    lambda_noobj: float = 0.5

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"YoloConfig: head must be one of {HEADS}, got {self.head!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"YoloConfig: activation must be one of {ACTIVATIONS}, got {self.activation!r}"
            )
        for field in ("grid", "boxes_per_cell", "fc_width", "head_width", "level"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"YoloConfig: {field} must be a positive int, got {value!r}")
        if not isinstance(self.head_depth, int) or self.head_depth < 0:
            raise ValueError(f"YoloConfig: head_depth must be an int >= 0, got {self.head_depth}")
        if self.context_level is not None and self.context_level <= self.level:
            raise ValueError(
                f"YoloConfig: context_level {self.context_level} must be coarser than level "
                f"{self.level}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"YoloConfig: dropout must be in [0, 1), got {self.dropout}")
        if self.lambda_coord < 0 or self.lambda_noobj < 0:
            raise ValueError(
                "YoloConfig: lambda_coord and lambda_noobj must be >= 0, got "
                f"{self.lambda_coord}, {self.lambda_noobj}"
            )


# The paper's network: 7 x 7 x (2 * 5 + C) on 448 x 448 images.
YOLO_V1 = YoloConfig()

# Sized for 64x64 `shapes` (objects of 8-21 pixels, 1-4 per image) on two CPU cores: an 8 x 8
# grid (stride 8, so objects rarely share a cell) on C3 of the small backbone with C4 upsampled
# for context, two 3x3 conv-BN-leaky layers of 128, bounded (logistic) outputs.
SMALL = YoloConfig(
    level=3, head="conv", context_level=4, head_width=128, head_depth=2, activation="logistic"
)


class Yolo:
    """The YOLO v1 family: the network, its grid priors, its loss and its decoding (the
    detector family contract of :mod:`yeehaw_tf.models.detection`).

    Args:
        config: the variant (:class:`YoloConfig`).
        backbone: ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>": ...}`` with
            ``C<config.level>`` (and ``C<config.context_level>``).
        name: the variant's registered name.
    """

    loss_names = ("coord", "confidence", "class")

    def __init__(
        self,
        config: YoloConfig,
        backbone: Callable[[tuple], keras.Model],
        name: str = "yolo",
    ):
        self.config = config
        self.backbone = backbone
        self.name = name

    # ----------------------------------------------------------------------------- network
    def grid_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        """``(S_rows, S_cols)`` of the grid on images of ``input_shape``."""
        c = self.config
        if c.head == "fc":
            return c.grid, c.grid
        stride = 2**c.level
        height, width = int(input_shape[0]), int(input_shape[1])
        if height % stride or width % stride:
            raise ValueError(
                f"{self.name}: input_shape {tuple(input_shape)} must be a multiple of the "
                f"grid's stride {stride}"
            )
        return height // stride, width // stride

    def build(self, num_classes: int, input_shape: Sequence[int]) -> keras.Model:
        c = self.config
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be a positive int, got {num_classes}")
        rows, cols = self.grid_shape(input_shape)
        depth = c.boxes_per_cell * 5 + num_classes
        backbone = self.backbone(tuple(input_shape))
        levels = [c.level] + ([c.context_level] if c.context_level is not None else [])
        check_backbone(backbone, levels, self.name)
        images = keras.Input(tuple(input_shape), name="images")
        features = backbone(images)
        x = features[level_key(c.level, BACKBONE)]
        if c.head == "fc":
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dense(c.fc_width, name="fc1")(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="fc1_leaky")(x)
            x = keras.layers.Dropout(c.dropout, name="fc1_dropout")(x)
            x = keras.layers.Dense(rows * cols * depth, name="fc2")(x)
            grid = keras.layers.Reshape((rows, cols, depth), name="grid")(x)
        else:
            if x.shape[1] != rows or x.shape[2] != cols:
                raise ValueError(
                    f"{self.name}: backbone level {c.level} is {x.shape[1]}x{x.shape[2]}, "
                    f"expected the grid {rows}x{cols}"
                )
            if c.context_level is not None:
                context = features[level_key(c.context_level, BACKBONE)]
                x = keras.layers.Concatenate(name="head_concat")(
                    [
                        x,
                        NearestUpsampleLike(2 ** (c.context_level - c.level), name="head_upsample")(
                            [context, x]
                        ),
                    ]
                )
            for i in range(c.head_depth):
                x = conv_norm_act(x, c.head_width, 3, 1, 1, name=f"head{i}", activation=None)
                x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"head{i}_leaky")(x)
            grid = keras.layers.Conv2D(depth, 1, name="grid")(x)
        return keras.Model(images, {"grid": grid}, name=self.name)

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        """``[S_rows * S_cols * B, 4]``: each cell's box (xyxy pixels), once per predictor, in
        row-major cell order."""
        rows, cols = self.grid_shape(input_shape)
        height, width = float(input_shape[0]), float(input_shape[1])
        ys = tf.range(rows, dtype=tf.float32) * (height / rows)
        xs = tf.range(cols, dtype=tf.float32) * (width / cols)
        y1, x1 = tf.meshgrid(ys, xs, indexing="ij")
        cells = tf.stack([x1, y1, x1 + width / cols, y1 + height / rows], axis=-1)
        cells = tf.reshape(cells, [rows * cols, 1, 4])
        boxes = tf.tile(cells, [1, self.config.boxes_per_cell, 1])
        return tf.reshape(boxes, [-1, 4])

    def predictions(self, outputs):
        """``outputs["grid"]`` split into ``(boxes [B, S*S, B', 4]`` as (x, y, sqrt_w, sqrt_h),
        ``confidence [B, S*S, B']``, ``class scores [B, S*S, C])``, after the activation."""
        grid = tf.cast(outputs["grid"], tf.float32)
        rows, cols, depth = grid.shape[1], grid.shape[2], grid.shape[3]
        per_cell = self.config.boxes_per_cell
        num_classes = depth - 5 * per_cell
        if num_classes < 1:
            raise ValueError(
                f"{self.name}: grid depth {depth} leaves no class scores for {per_cell} boxes"
            )
        flat = tf.reshape(grid, [-1, rows * cols, depth])
        boxes = tf.reshape(flat[..., : 5 * per_cell], [-1, rows * cols, per_cell, 5])
        classes = flat[..., 5 * per_cell :]
        if self.config.activation == "logistic":
            boxes = tf.sigmoid(boxes)
            classes = tf.nn.softmax(classes, axis=-1)
        return boxes[..., :4], boxes[..., 4], classes

    def _cells(self, anchors, outputs):
        """``(cell boxes [S*S, 4], (rows, cols), image height, image width)``."""
        rows, cols = outputs["grid"].shape[1], outputs["grid"].shape[2]
        per_cell = self.config.boxes_per_cell
        if anchors.shape[0] is not None and anchors.shape[0] != rows * cols * per_cell:
            raise ValueError(
                f"{self.name}: {anchors.shape[0]} anchors for a {rows}x{cols} grid of "
                f"{per_cell} boxes"
            )
        cells = tf.reshape(tf.cast(anchors, tf.float32), [rows * cols, per_cell, 4])[:, 0]
        height = tf.reduce_max(cells[:, 3])
        width = tf.reduce_max(cells[:, 2])
        return cells, (rows, cols), height, width

    def _pixel_boxes(self, coords, cells, height, width):
        """(x, y, sqrt_w, sqrt_h) ``[B, S*S, B', 4]`` -> xyxy pixels."""
        x, y, sqrt_w, sqrt_h = tf.unstack(coords, axis=-1)
        cell = cells[None, :, None]  # [1, S*S, 1, 4]
        cx = cell[..., 0] + x * (cell[..., 2] - cell[..., 0])
        cy = cell[..., 1] + y * (cell[..., 3] - cell[..., 1])
        w = tf.square(sqrt_w) * width
        h = tf.square(sqrt_h) * height
        return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)

    # ----------------------------------------------------------------------------- training
    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {"coord", "confidence", "class"}, number of images)`` for this replica's
        batch (sums over its images). ``gt_boxes [B, M, 4]`` xyxy pixels, ``gt_classes
        [B, M]`` padded with class -1."""
        c = self.config
        coords, confidence, class_scores = self.predictions(outputs)
        num_classes = class_scores.shape[-1]
        cells, (rows, cols), height, width = self._cells(anchors, outputs)
        owner, targets, target_boxes, target_classes = assign(
            gt_boxes, gt_classes, rows, cols, height, width, num_classes
        )  # [B, S*S], [B, S*S, 4], [B, S*S, 4], [B, S*S, C]
        predicted = self._pixel_boxes(coords, cells, height, width)
        overlap = tf.stop_gradient(elementwise_iou(predicted, target_boxes[:, :, None]))
        best = tf.reduce_max(overlap, axis=-1, keepdims=True)
        is_best = tf.cast(overlap >= best, tf.float32)
        first = is_best * tf.cast(
            tf.equal(tf.cumsum(is_best, axis=-1, exclusive=True), 0.0), tf.float32
        )
        responsible = first * owner[..., None]  # [B, S*S, B']
        squared = tf.reduce_sum(tf.square(coords - targets[:, :, None]), axis=-1)
        coord = c.lambda_coord * tf.reduce_sum(responsible * squared)
        conf = tf.reduce_sum(responsible * tf.square(confidence - overlap)) + (
            c.lambda_noobj * tf.reduce_sum((1.0 - responsible) * tf.square(confidence))
        )
        classes = tf.reduce_sum(
            owner * tf.reduce_sum(tf.square(class_scores - target_classes), axis=-1)
        )
        images = tf.cast(tf.shape(gt_boxes)[0], tf.float32)
        parts = {"coord": coord, "confidence": conf, "class": classes}
        return coord + conf + classes, parts, images

    # ----------------------------------------------------------------------------- inference
    def decode(self, outputs, anchors):
        """``(boxes [B, S*S*B', 4] xyxy pixels, scores [B, S*S*B', C])``, scores the
        class-specific confidences ``Pr(class | object) * confidence`` clipped to [0, 1]."""
        coords, confidence, class_scores = self.predictions(outputs)
        cells, (rows, cols), height, width = self._cells(anchors, outputs)
        per_cell = self.config.boxes_per_cell
        boxes = tf.reshape(
            self._pixel_boxes(coords, cells, height, width), [-1, rows * cols * per_cell, 4]
        )
        scores = confidence[..., None] * class_scores[:, :, None]  # [B, S*S, B', C]
        scores = tf.reshape(scores, [-1, rows * cols * per_cell, class_scores.shape[-1]])
        return boxes, tf.clip_by_value(scores, 0.0, 1.0)


# registered name -> input shape the variant is built for by default
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "yolo_v1": (448, 448, 3),
    "yolo_v1_small": (64, 64, 3),
}


def _small_backbone(input_shape):
    return small_backbone(input_shape, (32, 64, 128, 256))


def variants(features_of) -> dict:
    """Registered name -> a zero-argument factory of the family object. ``features_of(name)``
    gives a backbone builder for a registered classifier built with ``features=True``.

    ``yolo_v1``: the paper's network, 271,703,550 weights for ``C = 20`` at 448 x 448 (24
    convolutions 60,155,968; fc1 7*7*1024*4096 + 4096; fc2 4096*1470 + 1470).
    ``yolo_v1_small``: :data:`SMALL` on :func:`small_backbone` (widths 32, 64, 128, 256)."""
    del features_of
    return {
        "yolo_v1": lambda: Yolo(YOLO_V1, yolo_v1_features, "yolo_v1"),
        "yolo_v1_small": lambda: Yolo(SMALL, _small_backbone, "yolo_v1_small"),
    }
