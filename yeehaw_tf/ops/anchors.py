"""Anchor boxes tiled over feature maps (Faster R-CNN / RetinaNet style)."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def anchor_shapes(size: float, scales: Sequence[float], aspect_ratios: Sequence[float]):
    """``[A, 2]`` (width, height) of the anchors at one location: for each aspect ratio
    ``r = height / width`` and scale ``s``, area ``(size * s)^2``, so ``w = size s / sqrt(r)``,
    ``h = size s sqrt(r)``. Ordered ratio-major, as torchvision."""
    if size <= 0 or not scales or not aspect_ratios:
        raise ValueError("anchor size must be > 0 and scales/aspect_ratios non-empty")
    if any(s <= 0 for s in scales) or any(r <= 0 for r in aspect_ratios):
        raise ValueError(
            f"scales and aspect_ratios must be positive, got {scales}, {aspect_ratios}"
        )
    shapes = [(size * s / r**0.5, size * s * r**0.5) for r in aspect_ratios for s in scales]
    return tf.constant(shapes, tf.float32)


def generate_anchors(
    feature_height: int,
    feature_width: int,
    stride: float,
    size: float,
    scales: Sequence[float] = (1.0,),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> tf.Tensor:
    """``[H * W * A, 4]`` xyxy anchors in input pixels for one feature map: centred at
    ``((j + 0.5) stride, (i + 0.5) stride)``, row-major over locations, then over shapes."""
    if feature_height < 1 or feature_width < 1 or stride <= 0:
        raise ValueError(
            f"feature size must be positive and stride > 0, got {feature_height}x"
            f"{feature_width}, stride {stride}"
        )
    shapes = anchor_shapes(size, scales, aspect_ratios)
    ys = (tf.range(feature_height, dtype=tf.float32) + 0.5) * stride
    xs = (tf.range(feature_width, dtype=tf.float32) + 0.5) * stride
    cy, cx = tf.meshgrid(ys, xs, indexing="ij")
    centres = tf.reshape(tf.stack([cx, cy], -1), [-1, 1, 2])
    half = shapes[None, :, :] / 2
    boxes = tf.concat([centres - half, centres + half], axis=-1)
    return tf.reshape(boxes, [-1, 4])


def pyramid_anchors(
    image_height: int,
    image_width: int,
    strides: Sequence[int] = (8, 16, 32, 64, 128),
    sizes: Sequence[float] = (32, 64, 128, 256, 512),
    scales: Sequence[float] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3)),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> dict[int, tf.Tensor]:
    """Anchors for every pyramid level (RetinaNet defaults: P3..P7, sizes 32..512, three scales
    and three ratios). Returns ``{stride: [H_l * W_l * A, 4]}`` with ``H_l = ceil(H / stride)``."""
    if len(strides) != len(sizes):
        raise ValueError(f"one size per stride needed, got {len(sizes)} for {len(strides)}")
    return {
        stride: generate_anchors(
            -(-image_height // stride),
            -(-image_width // stride),
            stride,
            size,
            scales,
            aspect_ratios,
        )
        for stride, size in zip(strides, sizes, strict=True)
    }
