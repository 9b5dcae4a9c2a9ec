"""The early CNNs: LeNet-5, AlexNet and VGG, as spec tables and one builder each.

- LeNet-5 (LeCun et al., 1998): tanh, average pooling, 61,706 parameters at 32x32x1 with 10
  classes (full C3 connectivity, as in most re-implementations).
- AlexNet (Krizhevsky et al., 2012), torchvision's single-tower 64-192-384-256-256 variant:
  61,100,840 parameters at 224x224x3 with 1000 classes. ``two_tower=True`` gives the paper's
  96-256-384-384-256 network with the grouped (two-GPU) convolutions 2, 4 and 5.
- VGG-11/13/16/19 (Simonyan & Zisserman, 2015), with and without batch norm, as torchvision:
  132,863,336 / 133,047,848 / 138,357,544 / 143,667,240 parameters (batch norm adds
  2 x conv channels trainable ones: 132,868,840 / 133,053,736 / 138,365,992 / 143,678,248).

Batch-norm moving statistics are non-trainable weights in Keras and buffers in torchvision, so
the published counts are compared with the trainable count where batch norm is present.
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers import Dropout, Tanh
from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act, pool
from yeehaw_tf.models.validation import check_classifier_args


def _classifier(x, widths, num_classes, dropout, name="classifier"):
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    for i, width in enumerate(widths):
        if dropout:
            x = Dropout(dropout, name=f"{name}_dropout{i + 1}")(x)
        x = keras.layers.Dense(width, activation="relu", name=f"{name}_fc{i + 1}")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


def lenet5(
    num_classes: int = 10, input_shape=(32, 32, 1), features: bool = False, name: str = "lenet5"
) -> keras.Model:
    """LeNet-5: C1 conv 6@5x5, S2 avg-pool, C3 conv 16@5x5, S4 avg-pool, F5 120, F6 84, F7.
    ``features=True`` returns the subsampled maps ``{"C1": S2, "C2": S4}`` (strides 2, 4)."""
    check_classifier_args(num_classes, input_shape, min_size=12)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = Tanh(name="c1_tanh")(conv(inputs, 6, 5, name="c1"))
    s2 = x = pool(x, "avg", 2, name="s2")
    x = Tanh(name="c3_tanh")(conv(x, 16, 5, name="c3"))
    x = pool(x, "avg", 2, name="s4")
    if features:
        return keras.Model(inputs, {"C1": s2, "C2": x}, name=f"{name}_features")
    x = keras.layers.Flatten(name="flatten")(x)
    x = Tanh(name="f5_tanh")(keras.layers.Dense(120, name="f5")(x))
    x = Tanh(name="f6_tanh")(keras.layers.Dense(84, name="f6")(x))
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


# (filters, kernel, stride, padding, groups, max-pool after) per conv layer
_ALEXNET = {
    False: [
        (64, 11, 4, 2, 1, True),
        (192, 5, 1, 2, 1, True),
        (384, 3, 1, 1, 1, False),
        (256, 3, 1, 1, 1, False),
        (256, 3, 1, 1, 1, True),
    ],
    True: [
        (96, 11, 4, 0, 1, True),
        (256, 5, 1, 2, 2, True),
        (384, 3, 1, 1, 1, False),
        (384, 3, 1, 1, 2, False),
        (256, 3, 1, 1, 2, True),
    ],
}


def alexnet(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    two_tower: bool = False,
    dropout: float = 0.5,
    features: bool = False,
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet; ``two_tower`` for the paper's grouped variant (use 227x227 inputs).
    ``features=True`` returns the pooled maps ``{"C3", "C4", "C5"}`` (strides 8, 16, 32)."""
    check_classifier_args(num_classes, input_shape, min_size=63)
    inputs = keras.Input(tuple(input_shape), name="images")
    x, maps = inputs, {}
    for i, (filters, kernel, stride, padding, groups, pooled) in enumerate(_ALEXNET[two_tower]):
        x = conv_norm_act(
            x, filters, kernel, stride, padding, groups=groups, norm=None, name=f"conv{i + 1}"
        )
        if pooled:
            x = pool(x, "max", 3, 2, name=f"pool{i + 1}")
            maps[f"C{len(maps) + 3}"] = x
    if features:
        return keras.Model(inputs, maps, name=f"{name}_features")
    outputs = _classifier(x, (4096, 4096), num_classes, dropout)
    return keras.Model(inputs, outputs, name=name)


VGG_CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def vgg(
    depth: int = 16,
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    batch_norm: bool = False,
    dropout: float = 0.5,
    features: bool = False,
) -> keras.Model:
    """VGG: stacks of 3x3 convolutions (padding 1) and 2x2 max pools, then FC 4096-4096.
    Convolutions keep their bias with batch norm, as torchvision's do. ``features=True``
    returns the feature maps ``C1..C5`` (strides 2..32) instead of logits."""
    if depth not in VGG_CONFIGS:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_CONFIGS)}, got {depth}")
    check_classifier_args(num_classes, input_shape, min_size=32)
    inputs = keras.Input(tuple(input_shape), name="images")
    x, conv_index, stage = inputs, 0, 1
    maps = {}
    for item in VGG_CONFIGS[depth]:
        if item == "M":
            x = pool(x, "max", 2, name=f"pool{stage}")
            maps[f"C{stage}"] = x
            stage += 1
            continue
        conv_index += 1
        x = conv_norm_act(
            x,
            item,
            3,
            1,
            1,
            norm="batch" if batch_norm else None,
            use_bias=True,
            name=f"block{stage}_conv{conv_index}",
        )
    suffix = "_bn" if batch_norm else ""
    if features:
        return keras.Model(inputs, maps, name=f"vgg{depth}{suffix}_features")
    outputs = _classifier(x, (4096, 4096), num_classes, dropout)
    return keras.Model(inputs, outputs, name=f"vgg{depth}{suffix}")
