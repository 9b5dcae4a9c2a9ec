"""MobileNets: depthwise-separable convolutions (v1, Howard et al., 2017) and inverted
residuals with linear bottlenecks (v2, Sandler et al., 2018).

- ``mobilenet_v1`` follows ``keras.applications.MobileNet`` (alpha 1): 4,253,864 parameters
  at 224x224x3 with 1000 classes (all weights, as Keras counts them; 4,231,976 trainable).
- ``mobilenet_v2`` follows torchvision / ``keras.applications.MobileNetV2``: 3,504,872
  trainable parameters (3,538,984 with batch norm's moving statistics).
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers import Dropout
from yeehaw_tf.layers.conv_blocks import (
    conv,
    conv_norm_act,
    depthwise_norm_act,
    depthwise_separable,
)
from yeehaw_tf.models.validation import check_classifier_args

# (filters, stride) of the 13 depthwise-separable blocks
_V1 = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    + [(512, 1)] * 5
    + [(1024, 2), (1024, 1)]
)
# (expansion t, channels c, repeats n, first stride s)
_V2 = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
_FEATURE_STRIDES = {2: "C1", 4: "C2", 8: "C3", 16: "C4", 32: "C5"}


def mobilenet_v1(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    dropout: float = 1e-3,
    features: bool = False,
) -> keras.Model:
    """MobileNet v1: a 3x3 stem, 13 depthwise-separable blocks, global pooling, and Keras's
    1x1-convolution classifier."""
    check_classifier_args(num_classes, input_shape, min_size=32)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(inputs, 32, 3, 2, 1, activation="relu6", name="stem")
    maps, stride = {}, 2
    for i, (filters, s) in enumerate(_V1):
        if s == 2:
            maps[_FEATURE_STRIDES[stride]] = x
            stride *= 2
        x = depthwise_separable(x, filters, s, name=f"block{i + 1}", activation="relu6")
    maps[_FEATURE_STRIDES[stride]] = x
    if features:
        return keras.Model(inputs, maps, name="mobilenet_v1_features")
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="avgpool")(x)
    x = Dropout(dropout, name="dropout")(x) if dropout else x
    x = conv(x, num_classes, 1, name="logits_conv")
    outputs = keras.layers.Flatten(dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1")


def _inverted_residual(x, expansion, filters, stride, name):
    hidden = x.shape[-1] * expansion
    y = x
    if expansion != 1:
        y = conv_norm_act(y, hidden, 1, activation="relu6", name=f"{name}_expand")
    y = depthwise_norm_act(y, 3, stride, 1, name=name, activation="relu6")
    y = conv_norm_act(y, filters, 1, activation=None, name=f"{name}_project")  # linear
    if stride == 1 and x.shape[-1] == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v2(
    num_classes: int = 1000, input_shape=(224, 224, 3), dropout: float = 0.2, features: bool = False
) -> keras.Model:
    """MobileNet v2: inverted residual blocks (expand 1x1, depthwise 3x3, linear project 1x1)
    with residual connections where shapes allow, then a 1x1 conv to 1280 and a classifier."""
    check_classifier_args(num_classes, input_shape, min_size=32)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(inputs, 32, 3, 2, 1, activation="relu6", name="stem")
    maps, stride, index = {}, 2, 0
    for expansion, filters, repeats, first_stride in _V2:
        for i in range(repeats):
            s = first_stride if i == 0 else 1
            if s == 2:
                maps[_FEATURE_STRIDES[stride]] = x
                stride *= 2
            x = _inverted_residual(x, expansion, filters, s, f"block{index}")
            index += 1
    x = conv_norm_act(x, 1280, 1, activation="relu6", name="head")
    maps[_FEATURE_STRIDES[stride]] = x
    if features:
        return keras.Model(inputs, maps, name="mobilenet_v2_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = Dropout(dropout, name="dropout")(x) if dropout else x
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2")
