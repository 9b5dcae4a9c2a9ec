"""Anchors for a pyramid, as data: which levels, one size per level, scales and aspect ratios
(RetinaNet: P3..P7, sizes 32..512, scales 2^{0, 1/3, 2/3}, ratios {1/2, 1, 2})."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from yeehaw_tf.ops.anchors import pyramid_anchors
from yeehaw_tf.ops.levels import level_key


@dataclasses.dataclass(frozen=True)
class AnchorGenerator:
    """``levels`` (ints, stride ``2**l``), ``sizes`` (one per level, pixels), ``scales`` and
    ``aspect_ratios`` (height / width). Anchors are ordered level, then location (row-major),
    then shape -- the order the heads flatten their outputs in."""

    levels: Sequence[int] = (3, 4, 5, 6, 7)
    sizes: Sequence[float] = (32, 64, 128, 256, 512)
    scales: Sequence[float] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0)

    def __post_init__(self):
        if len(self.sizes) != len(self.levels) or not self.levels:
            raise ValueError(
                f"AnchorGenerator: one size per level needed, got sizes {list(self.sizes)} for "
                f"levels {list(self.levels)}"
            )
        if list(self.levels) != sorted(set(self.levels)):
            raise ValueError(f"AnchorGenerator: levels must increase, got {list(self.levels)}")

    @property
    def num_anchors(self) -> int:
        """Anchors per location."""
        return len(self.scales) * len(self.aspect_ratios)

    def __call__(self, image_height: int, image_width: int) -> tf.Tensor:
        """``[N, 4]`` xyxy pixel anchors of every level, concatenated in level order."""
        anchors = pyramid_anchors(
            image_height,
            image_width,
            [level_key(level) for level in self.levels],
            list(self.sizes),
            list(self.scales),
            list(self.aspect_ratios),
        )
        return tf.concat([anchors[level_key(level)] for level in self.levels], axis=0)

    def check_fits(self, pyramid: dict, who: str) -> None:
        """Anchors that do not fit the feature maps: a clear error naming the level."""
        for level in self.levels:
            if level_key(level) not in pyramid:
                raise ValueError(
                    f"{who}: anchors on level {level} but the pyramid has {list(pyramid)}"
                )
