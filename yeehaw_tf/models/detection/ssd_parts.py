"""The parts SSD (Liu et al., 2016) is assembled from, each usable alone: the scaled L2
normalisation of its ``conv4_3`` source map (ParseNet, Liu et al., 2015), the default-box
generator (torchvision's ``DefaultBoxGenerator``; the formulas are in :mod:`.ssd`), and the
VGG-16 trunk of SSD300."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from yeehaw_tf.layers.conv_blocks import conv_norm_act, pool


# --------------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ScaledL2Normalization(keras.layers.Layer):
    """SSD's L2Norm (Liu et al., 2016, sec. 3.1, after ParseNet): each location's channel
    vector divided by its L2 norm (at least ``epsilon``), times a learnable per-channel scale
    initialised to ``scale``. Computed in float32.

    Args:
        scale: the scale's initial value (20 in SSD).
        epsilon: the smallest norm divided by (torch's ``F.normalize``: 1e-12).

    Input shape: ``(batch, ..., channels)``. Output shape: the same.
    """

    def __init__(self, scale: float = 20.0, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        if not scale > 0 or not epsilon > 0:
            raise ValueError(
                f"ScaledL2Normalization: scale and epsilon must be > 0, got {scale}, {epsilon}"
            )
        self.scale = float(scale)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma",
            shape=(int(input_shape[-1]),),
            initializer=keras.initializers.Constant(self.scale),
        )

    def call(self, x):
        x32 = ops.cast(x, "float32")
        norm = ops.sqrt(ops.sum(ops.square(x32), axis=-1, keepdims=True))
        y = x32 / ops.maximum(norm, self.epsilon) * ops.cast(self.gamma, "float32")
        return ops.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "epsilon": self.epsilon}


# --------------------------------------------------------------------------------- default boxes
@dataclasses.dataclass(frozen=True)
class DefaultBoxGenerator:
    """SSD's default boxes, as data (torchvision's ``DefaultBoxGenerator``).

    Args:
        aspect_ratios: per feature map, the ratios ``r`` besides 1 (each gives two boxes,
            ``r`` and ``1/r``); the map has ``2 + 2 len(ratios)`` boxes per location.
        scales: ``m + 1`` scales (fractions of the image side), ``s_{m+1}`` only sizing the last
            map's second square box. ``None``: the paper's ``s_k`` from ``min_ratio`` and
            ``max_ratio`` for the ``m`` maps, then 1.0 (torchvision's rule).
        steps: per map, the distance between box centres in pixels; ``None``: the image side
            divided by the map's side.
        clip: clip the boxes' widths and heights to the image (torchvision: True).

    Boxes are ordered map, then location (row-major), then box -- the heads' order.
    """

    aspect_ratios: Sequence[Sequence[float]] = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))
    scales: Sequence[float] | None = None
    min_ratio: float = 0.2
    max_ratio: float = 0.9
    steps: Sequence[float] | None = None
    clip: bool = True

    def __post_init__(self):
        m = len(self.aspect_ratios)
        if m < 1:
            raise ValueError("DefaultBoxGenerator: aspect_ratios needs one entry per feature map")
        if self.scales is not None and len(self.scales) != m + 1:
            raise ValueError(
                f"DefaultBoxGenerator: scales needs {m + 1} values (one per map and one more), "
                f"got {len(self.scales)}"
            )
        if self.steps is not None and len(self.steps) != m:
            raise ValueError(
                f"DefaultBoxGenerator: steps needs one value per map ({m}), got {len(self.steps)}"
            )
        if any(r <= 0 for ratios in self.aspect_ratios for r in ratios):
            raise ValueError(
                f"DefaultBoxGenerator: aspect_ratios must be > 0, got {self.aspect_ratios}"
            )

    @property
    def num_maps(self) -> int:
        return len(self.aspect_ratios)

    @property
    def num_boxes(self) -> list[int]:
        """Boxes per location of each map."""
        return [2 + 2 * len(ratios) for ratios in self.aspect_ratios]

    def box_scales(self) -> list[float]:
        if self.scales is not None:
            return [float(s) for s in self.scales]
        m = self.num_maps
        if m == 1:
            return [self.min_ratio, self.max_ratio]
        spread = self.max_ratio - self.min_ratio
        return [self.min_ratio + spread * k / (m - 1) for k in range(m)] + [1.0]

    def wh_pairs(self, k: int) -> np.ndarray:
        """``[A_k, 2]`` relative (width, height) of map ``k``'s boxes, before clipping."""
        s = self.box_scales()
        pairs = [(s[k], s[k]), (math.sqrt(s[k] * s[k + 1]),) * 2]
        for ratio in self.aspect_ratios[k]:
            root = math.sqrt(ratio)
            pairs += [(s[k] * root, s[k] / root), (s[k] / root, s[k] * root)]
        return np.asarray(pairs, np.float64)

    def __call__(self, image_height: int, image_width: int, grid_sizes) -> tf.Tensor:
        """``[N, 4]`` float32 xyxy pixel boxes for maps of ``grid_sizes`` ``[(h, w), ...]``."""
        if len(grid_sizes) != self.num_maps:
            raise ValueError(
                f"DefaultBoxGenerator: {self.num_maps} maps of aspect ratios, got "
                f"{len(grid_sizes)} feature maps"
            )
        boxes = []
        for k, (rows, cols) in enumerate(grid_sizes):
            step_y = self.steps[k] / image_height if self.steps else 1.0 / rows
            step_x = self.steps[k] / image_width if self.steps else 1.0 / cols
            cy, cx = np.meshgrid(
                (np.arange(rows) + 0.5) * step_y, (np.arange(cols) + 0.5) * step_x, indexing="ij"
            )
            wh = self.wh_pairs(k)
            if self.clip:
                wh = np.clip(wh, 0.0, 1.0)
            centres = np.stack([cx.ravel(), cy.ravel()], -1)[:, None, :]  # [HW, 1, 2]
            half = wh[None] / 2  # [1, A, 2]
            xyxy = np.concatenate([centres - half, centres + half], -1).reshape(-1, 4)
            boxes.append(xyxy * np.array([image_width, image_height] * 2, np.float64))
        return tf.constant(np.concatenate(boxes, 0), tf.float32)


# --------------------------------------------------------------------------------- trunks
def vgg16_trunk(input_shape: Sequence[int] = (300, 300, 3)) -> keras.Model:
    """SSD's VGG-16 (torchvision's ``SSDFeatureExtractorVGG``): VGG-16's convolutions with a
    ceil-mode pool3, then pool5 as a 3x3 stride-1 pool, conv6 (3x3, dilation 6, 1024) and conv7
    (1x1, 1024), no classifier. Returns ``{"conv4_3": 38x38x512, "conv7": 19x19x1024}`` at
    300x300 (conv4_3 before its L2 normalisation)."""
    images = keras.Input(tuple(input_shape), name="images")
    x, stage, index = images, 1, 0
    maps = {}
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "4"):
        if item in ("M", "C"):
            x = pool(x, "max", 2, name=f"pool{stage}", ceil_mode=item == "C")
            stage, index = stage + 1, 0
        elif item == "4":
            maps["conv4_3"] = x
        else:
            index += 1
            x = conv_norm_act(x, item, 3, 1, 1, norm=None, name=f"conv{stage}_{index}")
    x = pool(x, "max", 2, name="pool4")
    for index in (1, 2, 3):
        x = conv_norm_act(x, 512, 3, 1, 1, norm=None, name=f"conv5_{index}")
    x = pool(x, "max", 3, 1, 1, name="pool5")
    x = conv_norm_act(x, 1024, 3, 1, 6, dilation=6, norm=None, name="conv6")
    maps["conv7"] = conv_norm_act(x, 1024, 1, norm=None, name="conv7")
    return keras.Model(images, maps, name="ssd_vgg16_trunk")
