"""DenseNet (Huang et al., 2017): inside a dense block every layer sees all earlier ones.

As torchvision builds it (growth rate 32, bottleneck width 4 x growth, compression 0.5):
densenet121 / 169 / 201 have 7,978,856 / 14,149,480 / 20,013,928 trainable parameters at
224x224x3 with 1000 classes.
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers import BatchNormalization, ReLU
from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act, pool
from yeehaw_tf.models.validation import check_classifier_args

DENSENETS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def _bn_relu_conv(x, filters, kernel, padding, name):
    x = BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    x = ReLU(name=f"{name}_relu")(x)
    return conv(x, filters, kernel, 1, padding, use_bias=False, name=f"{name}_conv")


def densenet(
    depth: int = 121,
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    growth_rate: int = 32,
    bottleneck: int = 4,
    compression: float = 0.5,
    features: bool = False,
) -> keras.Model:
    """DenseNet-BC. ``features=True`` returns ``{"C2".."C5"}`` (strides 4 to 32)."""
    if depth not in DENSENETS:
        raise ValueError(f"DenseNet depth must be one of {sorted(DENSENETS)}, got {depth}")
    if not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1], got {compression}")
    check_classifier_args(num_classes, input_shape, min_size=32)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = conv_norm_act(inputs, 64, 7, 2, 3, name="stem")
    x = pool(x, "max", 3, 2, 1, name="stem_pool")
    maps = {}
    blocks = DENSENETS[depth]
    for b, layers in enumerate(blocks):
        for i in range(layers):
            name = f"block{b + 1}_layer{i + 1}"
            y = _bn_relu_conv(x, bottleneck * growth_rate, 1, 0, f"{name}_1")
            y = _bn_relu_conv(y, growth_rate, 3, 1, f"{name}_2")
            x = keras.layers.Concatenate(name=f"{name}_concat")([x, y])
        if b < len(blocks) - 1:
            maps[f"C{b + 2}"] = x
            x = _bn_relu_conv(x, int(x.shape[-1] * compression), 1, 0, f"transition{b + 1}")
            x = pool(x, "avg", 2, name=f"transition{b + 1}_pool")
    x = ReLU(name="final_relu")(BatchNormalization(synchronized=True, name="final_bn")(x))
    maps["C5"] = x
    if features:
        return keras.Model(inputs, maps, name=f"densenet{depth}_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=f"densenet{depth}")
