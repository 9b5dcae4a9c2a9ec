"""A compact ResNet for small images (8x8 digits up to 32x32 CIFAR): the main job's classifier.

He et al., "Deep Residual Learning for Image Recognition" (2016): basic residual blocks (two 3x3
conv-BN layers with an identity shortcut, or a strided 1x1 projection when the shape changes)
in stages whose width doubles as the resolution halves, then global average pooling and one
fully-connected layer. The stages are data: ``widths`` and ``blocks_per_stage``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from yeehaw_tf.models.validation import check_classifier_args


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    x = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters: int, stride: int, name: str):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_proj", relu=False)
    y = _conv_bn(x, filters, 3, stride, f"{name}_a")
    y = _conv_bn(y, filters, 3, 1, f"{name}_b", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def small_resnet(
    num_classes: int = 10,
    input_shape: Sequence[int] = (8, 8, 1),
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    name: str = "small_resnet",
) -> keras.Model:
    """Builds the network: a 3x3 stem, ``len(widths)`` stages (each after the first halves the
    resolution), global average pooling and a linear classifier producing logits.

    With the defaults on 8x8x1 inputs and 10 classes it has 309,418 parameters (307,370
    trainable). Batch normalisation is synchronized across replicas, so training under
    ``MirroredStrategy`` equals training on one device with the same global batch.
    """
    check_classifier_args(num_classes, input_shape, min_size=2 ** (len(widths) - 1))
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths}")
    if blocks_per_stage < 1:
        raise ValueError(f"blocks_per_stage must be at least 1, got {blocks_per_stage}")
    inputs = keras.Input(tuple(input_shape), name="images")
    x = _conv_bn(inputs, widths[0], 3, 1, "stem")
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, int(width), stride, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
