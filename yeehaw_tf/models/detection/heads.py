"""Dense prediction heads shared across pyramid levels (RetinaNet's class and box subnets,
FCOS's towers): the same layers run on every level, and each level's ``[B, H, W, A * D]``
output is flattened to ``[B, H * W * A, D]`` and concatenated in level order -- the order of
:class:`~yeehaw_tf.models.detection.anchor_generator.AnchorGenerator`'s anchors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import keras

from yeehaw_tf.ops.levels import level_key


def prior_bias(prior: float) -> float:
    """The bias giving ``sigmoid(b) = prior`` (RetinaNet's ``-log((1 - pi) / pi)``), so at the
    start every anchor predicts background with confidence ``1 - prior`` and the loss of the
    many negatives does not dominate the first steps."""
    if not 0 < prior < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    return -math.log((1 - prior) / prior)


def conv_tower(width: int, depth: int, norm: str | None, name: str) -> list:
    """``depth`` 3x3 convolutions (weights N(0, 0.01), as the papers), each followed by
    ``norm`` (``"group"``: 32 groups, FCOS) and ReLU; returned as layers to share."""
    layers = []
    init = keras.initializers.RandomNormal(stddev=0.01, seed=None)
    for i in range(depth):
        layers.append(
            keras.layers.Conv2D(
                width, 3, padding="same", kernel_initializer=init, name=f"{name}_conv{i}"
            )
        )
        if norm == "group":
            layers.append(keras.layers.GroupNormalization(min(32, width), name=f"{name}_gn{i}"))
        elif norm is not None:
            raise ValueError(f"conv_tower: norm must be None or 'group', got {norm!r}")
        layers.append(keras.layers.ReLU(name=f"{name}_relu{i}"))
    return layers


def predictor(outputs: int, name: str, bias: float = 0.0) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(
        outputs,
        3,
        padding="same",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        bias_initializer=keras.initializers.Constant(bias),
        name=name,
    )


def apply_per_level(
    pyramid: Mapping,
    levels: Sequence[int],
    layers: Sequence,
    per_location: int,
    depth: int,
    name: str,
):
    """Runs ``layers`` on each level and returns ``[B, sum_l H_l W_l A, depth]`` (the last
    layer outputs ``per_location * depth`` channels)."""
    flat = []
    for level in levels:
        x = pyramid[level_key(level)]
        for layer in layers:
            x = layer(x)
        height, width = x.shape[1], x.shape[2]
        flat.append(
            keras.layers.Reshape(
                (height * width * per_location, depth), name=f"{name}_flat{level}"
            )(x)
        )
    if len(flat) == 1:
        return flat[0]
    return keras.layers.Concatenate(axis=1, name=f"{name}_concat")(flat)
