"""Anchor boxes tiled over feature maps (Faster R-CNN / RetinaNet style)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import tensorflow as tf

from yeehaw_tf.ops.levels import level_key, parse_level


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
    levels: Iterable[str] = ("P3", "P4", "P5", "P6", "P7"),
    sizes: Sequence[float] | None = None,
    scales: Sequence[float] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3)),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> dict[str, tf.Tensor]:
    """Anchors for every pyramid level, keyed as the neck keys its maps (``"P3"``, ...; see
    :mod:`yeehaw_tf.ops.levels`): pass ``levels=fpn.output`` (a dict iterates its keys) to get
    the anchors of each map of an FPN.

    Level ``l`` has stride ``2**l`` and a ``ceil(H / 2**l) x ceil(W / 2**l)`` map (the sizes of
    a ``same``-padded backbone such as ResNet and of FPN's extra levels).

    Args:
        image_height, image_width: the input size in pixels.
        levels: the pyramid's keys, ``"P<l>"``.
        sizes: one anchor size per level, in the order of ``levels``; ``None`` gives
            ``4 * 2**l`` (RetinaNet: 32 .. 512 on P3..P7). Faster R-CNN FPN uses 32 .. 512 on
            P2..P6 (``8 * 2**l``).
        scales, aspect_ratios: as in :func:`anchor_shapes` (RetinaNet's defaults: three each).

    Returns:
        ``{"P<l>": [H_l * W_l * A, 4]}`` xyxy anchors in input pixels, as
        :func:`generate_anchors`, in increasing level order.
    """
    if isinstance(levels, str):
        raise ValueError(f"levels must be a list of keys such as ['P3', 'P4'], got {levels!r}")
    keys = list(levels)
    numbered = [parse_level(key) for key in keys]
    if not numbered or len(set(numbered)) != len(numbered):
        raise ValueError(f"levels must be distinct and non-empty, got {keys}")
    if sizes is None:
        sizes = [4 * 2**level for level in numbered]
    if len(sizes) != len(keys):
        raise ValueError(f"one size per level needed, got {len(sizes)} for levels {keys}")
    by_level = sorted(zip(numbered, sizes, strict=True))
    return {
        level_key(level): generate_anchors(
            -(-image_height // 2**level),
            -(-image_width // 2**level),
            2**level,
            size,
            scales,
            aspect_ratios,
        )
        for level, size in by_level
    }
