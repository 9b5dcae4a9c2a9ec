"""U-Net (Ronneberger, Fischer & Brox, 2015): a contracting path of double 3x3 convolutions and
2x2 max pools, an expanding path of 2x2 up-convolutions whose output is **concatenated** with
the contracting path's feature map of the same resolution, and a 1x1 convolution to class scores.

Differences from the paper, chosen so output and input have the same size: convolutions are
``same``-padded (the paper's are unpadded and crop the skip connections), and batch norm follows
each convolution by default (``norm=None`` gives the paper's plain conv + ReLU).
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act, pool
from yeehaw_tf.layers.transposed_conv import TransposedConv2D
from yeehaw_tf.models.validation import check_classifier_args


def _double_conv(x, filters: int, norm: str | None, name: str):
    for i in (1, 2):
        x = conv_norm_act(x, filters, 3, 1, "same", norm=norm, name=f"{name}_conv{i}")
    return x


def unet(
    num_classes: int = 2,
    input_shape=(572, 572, 1),
    depth: int = 4,
    base_filters: int = 64,
    norm: str | None = "batch",
    dropout: float = 0.0,
) -> keras.Model:
    """Builds a U-Net.

    Args:
        num_classes: output channels (background included).
        input_shape: ``(H, W, C)``; H and W must be divisible by ``2**depth``.
        depth: number of 2x2 poolings (the paper: 4).
        base_filters: filters of the first level; each level down doubles them (the paper: 64).
        norm: normalisation after each convolution (``None``: the paper's plain convolutions).
        dropout: dropout before the bottom level's convolutions (the paper uses 0.5 there).
    Returns:
        A model ``[batch, H, W, C] -> logits [batch, H, W, num_classes]``.
    """
    check_classifier_args(num_classes, input_shape, min_size=2**depth)
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    if not isinstance(base_filters, int) or base_filters < 1:
        raise ValueError(f"base_filters must be a positive integer, got {base_filters!r}")
    if input_shape[0] % 2**depth or input_shape[1] % 2**depth:
        raise ValueError(
            f"input_shape {tuple(input_shape)}: height and width must be divisible by "
            f"2**depth = {2**depth}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    inputs = keras.Input(tuple(input_shape), name="images")
    x, skips = inputs, []
    for level in range(depth):
        x = _double_conv(x, base_filters * 2**level, norm, f"down{level + 1}")
        skips.append(x)
        x = pool(x, "max", 2, name=f"down{level + 1}_pool")
    if dropout:
        x = keras.layers.Dropout(dropout, name="bottom_dropout")(x)
    x = _double_conv(x, base_filters * 2**depth, norm, "bottom")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = TransposedConv2D(filters, 2, strides=2, name=f"up{level + 1}_upconv")(x)
        x = keras.layers.Concatenate(name=f"up{level + 1}_concat")([skips[level], x])
        x = _double_conv(x, filters, norm, f"up{level + 1}")
    logits = conv(x, num_classes, 1, name="logits")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    return keras.Model(inputs, logits, name="unet")
