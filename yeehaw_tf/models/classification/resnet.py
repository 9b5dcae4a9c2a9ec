"""Residual networks (He et al., 2016) and their wide and grouped descendants.

ImageNet family, as torchvision builds them (ResNet v1.5: the stride is on the 3x3 conv of a
bottleneck), published parameter counts at 224x224x3 and 1000 classes (trainable weights; Keras
keeps batch norm's moving statistics as extra non-trainable weights, torchvision as buffers):

    resnet18 11,689,512   resnet34 21,797,672   resnet50 25,557,032   resnet101 44,549,160
    resnet152 60,192,808  wide_resnet50_2 68,883,240 (Zagoruyko & Komodakis, 2016)
    resnext50_32x4d 25,028,904   resnext101_32x8d 88,791,336 (Xie et al., 2017: cardinality)

CIFAR family (He et al., 2016, section 4.2): 6n+2 layers, widths 16-32-64, option-A
(parameter-free) shortcuts; with 10 classes resnet20/32/44/56/110 have 269,722 / 464,154 /
658,586 / 853,018 / 1,727,962 parameters (the counts of the widely used reference code).

Wide ResNets for CIFAR (Zagoruyko & Komodakis, 2016), WRN-d-k: pre-activation basic blocks,
widths 16k-32k-64k, (d - 4) / 6 blocks per stage; WRN-28-10 has 36,479,194 parameters with
10 classes (trainable).
"""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.layers import BatchNormalization, Dropout, ReLU
from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act, pool
from yeehaw_tf.layers.shortcut import ZeroPadShortcut
from yeehaw_tf.models.validation import check_classifier_args


@dataclasses.dataclass(frozen=True)
class ResNetSpec:
    block: str  # "basic" or "bottleneck"
    layers: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64


RESNETS = {
    "resnet18": ResNetSpec("basic", (2, 2, 2, 2)),
    "resnet34": ResNetSpec("basic", (3, 4, 6, 3)),
    "resnet50": ResNetSpec("bottleneck", (3, 4, 6, 3)),
    "resnet101": ResNetSpec("bottleneck", (3, 4, 23, 3)),
    "resnet152": ResNetSpec("bottleneck", (3, 8, 36, 3)),
    "wide_resnet50_2": ResNetSpec("bottleneck", (3, 4, 6, 3), width_per_group=128),
    "wide_resnet101_2": ResNetSpec("bottleneck", (3, 4, 23, 3), width_per_group=128),
    "resnext50_32x4d": ResNetSpec("bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4),
    "resnext101_32x8d": ResNetSpec("bottleneck", (3, 4, 23, 3), groups=32, width_per_group=8),
}


# output stride -> how many of the last stages are dilated instead of strided
OUTPUT_STRIDES = {32: 0, 16: 1, 8: 2}


def _basic(x, planes, stride, spec, name, dilation=(1, 1)):
    shortcut = x
    if stride != 1 or x.shape[-1] != planes:
        shortcut = conv_norm_act(x, planes, 1, stride, activation=None, name=f"{name}_down")
    first, second = dilation
    y = conv_norm_act(x, planes, 3, stride, first, dilation=first, name=f"{name}_1")
    y = conv_norm_act(y, planes, 3, 1, second, dilation=second, activation=None, name=f"{name}_2")
    return ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))


def _bottleneck(x, planes, stride, spec, name, dilation=(1, 1)):
    width = int(planes * spec.width_per_group / 64) * spec.groups
    out = planes * 4
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        shortcut = conv_norm_act(x, out, 1, stride, activation=None, name=f"{name}_down")
    y = conv_norm_act(x, width, 1, name=f"{name}_1")
    d = dilation[0]
    y = conv_norm_act(y, width, 3, stride, d, dilation=d, groups=spec.groups, name=f"{name}_2")
    y = conv_norm_act(y, out, 1, activation=None, name=f"{name}_3")
    return ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet(
    name: str = "resnet50",
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    features: bool = False,
    output_stride: int = 32,
    base_width: int = 64,
) -> keras.Model:
    """An ImageNet-style ResNet/ResNeXt/Wide ResNet from ``RESNETS``. ``features=True``
    returns ``{"C2": stride 4, "C3": 8, "C4": 16, "C5": 32}`` feature maps instead of logits.

    ``output_stride`` 16 or 8 makes the network *à trous* (DeepLab; Chen et al. 2017): the last
    one (16) or two (8) stages keep their input's resolution -- their first block's stride
    becomes 1 -- and their 3x3 convolutions are dilated by 2 (and 4) instead, so each sees
    what it saw before, with the same parameters, at 2x (4x) the resolution. As torchvision's
    ``replace_stride_with_dilation``, a stage's first block keeps the previous dilation.
    ``C4``/``C5`` are then at stride ``min(16, output_stride)`` / ``output_stride``.

    ``base_width`` sets the channels of the stem and the first stage (stage ``i`` has
    ``base_width * 2**i`` planes); the published networks have 64, narrower ones train on a CPU."""
    if name not in RESNETS:
        raise ValueError(f"unknown ResNet {name!r}; valid names: {', '.join(RESNETS)}")
    dilated_stages = OUTPUT_STRIDES.get(output_stride)
    if dilated_stages is None:
        raise ValueError(
            f"output_stride must be one of {sorted(OUTPUT_STRIDES)}, got {output_stride!r}"
        )
    if isinstance(base_width, bool) or not isinstance(base_width, int) or base_width < 1:
        raise ValueError(f"base_width must be a positive integer, got {base_width!r}")
    check_classifier_args(num_classes, input_shape, min_size=32)
    spec = RESNETS[name]
    block = _basic if spec.block == "basic" else _bottleneck
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(inputs, base_width, 7, 2, 3, name="stem")
    x = pool(x, "max", 3, 2, 1, name="stem_pool")
    maps = {}
    dilation = 1
    widths = [base_width * 2**stage for stage in range(4)]
    for stage, (planes, blocks) in enumerate(zip(widths, spec.layers, strict=True)):
        previous = dilation
        stride = 2 if stage > 0 else 1
        if stage >= 4 - dilated_stages:
            dilation, stride = dilation * 2, 1
        for i in range(blocks):
            rates = (previous, dilation) if i == 0 else (dilation, dilation)
            x = block(x, planes, stride if i == 0 else 1, spec, f"layer{stage + 1}_{i}", rates)
        maps[f"C{stage + 2}"] = x
    if features:
        return keras.Model(inputs, maps, name=f"{name}_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def cifar_resnet(
    depth: int = 20, num_classes: int = 10, input_shape=(32, 32, 3), features: bool = False
) -> keras.Model:
    """He et al.'s CIFAR ResNet with 6n+2 layers and option-A shortcuts. ``features=True``
    returns ``{"C1": stride 1, "C2": 2, "C3": 4}``."""
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (20, 32, 44, ...), got {depth}")
    check_classifier_args(num_classes, input_shape, min_size=4)
    n = (depth - 2) // 6
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(inputs, 16, 3, 1, 1, name="stem")
    maps = {}
    for stage, planes in enumerate((16, 32, 64)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            name = f"stage{stage + 1}_{i}"
            shortcut = x
            if stride != 1 or x.shape[-1] != planes:
                shortcut = ZeroPadShortcut(planes, stride, name=f"{name}_shortcut")(x)
            y = conv_norm_act(x, planes, 3, stride, 1, name=f"{name}_1")
            y = conv_norm_act(y, planes, 3, 1, 1, activation=None, name=f"{name}_2")
            x = ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))
        maps[f"C{stage + 1}"] = x
    if features:
        return keras.Model(inputs, maps, name=f"resnet{depth}_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}")


def wide_resnet(
    depth: int = 28,
    width: int = 10,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    dropout: float = 0.0,
    features: bool = False,
) -> keras.Model:
    """WRN-depth-width: pre-activation (BN-ReLU-conv) basic blocks with optional dropout
    between the two convolutions; 1x1 convolution shortcuts where the shape changes."""
    if (depth - 4) % 6 or depth < 10:
        raise ValueError(f"WRN depth must be 6n + 4 (10, 16, 22, 28, ...), got {depth}")
    if width < 1:
        raise ValueError(f"WRN width must be >= 1, got {width}")
    check_classifier_args(num_classes, input_shape, min_size=4)
    n = (depth - 4) // 6
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv(inputs, 16, 3, 1, 1, use_bias=False, name="stem_conv")
    maps = {}
    for stage, planes in enumerate((16 * width, 32 * width, 64 * width)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            name = f"group{stage + 1}_{i}"
            pre = BatchNormalization(synchronized=True, name=f"{name}_bn1")(x)
            pre = ReLU(name=f"{name}_relu1")(pre)
            shortcut = x
            if stride != 1 or x.shape[-1] != planes:
                shortcut = conv(pre, planes, 1, stride, use_bias=False, name=f"{name}_shortcut")
            y = conv(pre, planes, 3, stride, 1, use_bias=False, name=f"{name}_conv1")
            y = ReLU(name=f"{name}_relu2")(
                BatchNormalization(synchronized=True, name=f"{name}_bn2")(y)
            )
            if dropout:
                y = Dropout(dropout, name=f"{name}_dropout")(y)
            y = conv(y, planes, 3, 1, 1, use_bias=False, name=f"{name}_conv2")
            x = keras.layers.Add(name=f"{name}_add")([shortcut, y])
        maps[f"C{stage + 1}"] = x
    x = ReLU(name="final_relu")(BatchNormalization(synchronized=True, name="final_bn")(x))
    if features:
        return keras.Model(inputs, {**maps, "C3": x}, name=f"wrn{depth}_{width}_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=f"wrn{depth}_{width}")
