"""Backbones for detectors: a small fast one for CPU training, and the check every detector
applies to the backbone it is given (a model returning ``{"C<l>": map}``, as any registered
classifier built with ``features=True``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from yeehaw_tf.layers.conv_blocks import conv_norm_act
from yeehaw_tf.ops.levels import BACKBONE, level_key, sorted_levels


def small_backbone(
    input_shape: Sequence[int] = (64, 64, 3), widths: Sequence[int] = (32, 64, 128, 256)
) -> keras.Model:
    """``images -> {"C2": .., "C<1+len(widths)>": ..}``: a stride-2 stem and one stage per
    width after the first, each a stride-2 conv-BN-ReLU and a residual pair of 3x3 convs, so
    level ``l`` has stride ``2**l``. On 64x64 inputs with the default widths: a 32-wide stem,
    then C2 16x16x64, C3 8x8x128, C4 4x4x256 (1.9M weights), sized to train on two CPU
    cores."""
    if len(widths) < 2 or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"small_backbone: widths must be >= 2 positive ints, got {widths}")
    images = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(images, widths[0], 3, 2, "same", name="stem")
    maps = {}
    for index, width in enumerate(widths[1:]):
        level = index + 2
        x = conv_norm_act(x, width, 3, 2, "same", name=f"stage{level}_down")
        y = conv_norm_act(x, width, 3, 1, "same", name=f"stage{level}_a")
        y = conv_norm_act(y, width, 3, 1, "same", name=f"stage{level}_b", activation=None)
        x = keras.layers.ReLU(name=f"stage{level}_out")(keras.layers.Add()([x, y]))
        maps[level_key(level, BACKBONE)] = x
    return keras.Model(images, maps, name="small_backbone_features")


def check_backbone(backbone, levels: Sequence[int], who: str) -> Mapping:
    """The backbone's symbolic feature dict, after checking it holds ``C<l>`` for ``levels``
    (a clear error naming ``who`` for a classifier built without ``features=True``)."""
    if not isinstance(backbone, keras.Model):
        raise ValueError(f"{who}: backbone must be a keras.Model, got {type(backbone).__name__}")
    features = backbone.output
    if not isinstance(features, Mapping):
        raise ValueError(
            f"{who}: backbone {backbone.name!r} returns one tensor, not a dict of feature maps; "
            "build it with features=True (e.g. yeehaw_tf.models.build(name, features=True))"
        )
    have = sorted_levels(features, BACKBONE, strict=False)
    missing = [level_key(level, BACKBONE) for level in levels if level not in have]
    if missing:
        raise ValueError(
            f"{who}: backbone {backbone.name!r} gives features {list(features)}, missing {missing}"
        )
    return features
