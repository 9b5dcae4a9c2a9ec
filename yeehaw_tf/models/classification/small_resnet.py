"""A compact ResNet for small images (8x8 digits up to 32x32 CIFAR): the main job's classifier.

He et al., "Deep Residual Learning for Image Recognition" (2016): basic residual blocks (two 3x3
conv-norm layers with an identity shortcut, or a strided 1x1 projection when the shape changes)
in stages whose width doubles as the resolution halves, then global average pooling, optional
dropout and one fully-connected layer. The stages are data: ``widths`` and ``blocks_per_stage``;
the activation, normalisation, dropout and weight penalty are choices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras

from yeehaw_tf.layers import Dropout, get_activation, get_normalization
from yeehaw_tf.layers.conv_blocks import conv_norm_act
from yeehaw_tf.models.validation import check_classifier_args


@dataclasses.dataclass(frozen=True)
class _Units:
    """The choices shared by every conv-norm-activation unit of one network."""

    activation: str
    norm: str
    kernel_regularizer: keras.regularizers.Regularizer | None

    def conv_norm(self, x, filters: int, kernel: int, stride: int, name: str, act: bool = True):
        return conv_norm_act(
            x,
            filters,
            kernel,
            stride,
            "same",
            name=name,
            norm=self.norm,
            activation=self.activation if act else None,
            kernel_regularizer=self.kernel_regularizer,
        )

    def basic_block(self, x, filters: int, stride: int, name: str):
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            shortcut = self.conv_norm(x, filters, 1, stride, f"{name}_proj", act=False)
        y = self.conv_norm(x, filters, 3, stride, f"{name}_a")
        y = self.conv_norm(y, filters, 3, 1, f"{name}_b", act=False)
        y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
        return get_activation(self.activation, name=f"{name}_out")(y)


def small_resnet(
    num_classes: int = 10,
    input_shape: Sequence[int] = (8, 8, 1),
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    activation: str = "relu",
    norm: str = "batch",
    dropout: float = 0.0,
    kernel_regularizer: keras.regularizers.Regularizer | None = None,
    features: bool = False,
    name: str = "small_resnet",
) -> keras.Model:
    """Builds the network: a 3x3 stem, ``len(widths)`` stages (each after the first halves the
    resolution), global average pooling, dropout and a linear classifier producing logits.

    With the defaults on 8x8x1 inputs and 10 classes it has 309,418 parameters (307,370
    trainable). The default batch normalisation is synchronized across replicas, so training
    under ``MirroredStrategy`` equals training on one device with the same global batch.

    Args:
        activation: one of ``yeehaw_tf.layers.ACTIVATIONS``.
        norm: one of ``yeehaw_tf.layers.NORMALIZATIONS`` (see ``get_normalization``).
        dropout: inverted-dropout rate before the classifier, in [0, 1).
        kernel_regularizer: a weight penalty on every conv and dense kernel.
        features: return the trunk instead: a model to the last stage's feature map
            ``[batch, h, w, widths[-1]]`` (output ``features``), with no pooling or classifier;
            height and width may then be ``None`` (any size the strides allow).
    """
    if features:
        sized = [d if d is not None else 2 ** (len(widths) - 1) for d in input_shape[:2]]
        check_classifier_args(num_classes, (*sized, *input_shape[2:]), 2 ** (len(widths) - 1))
    else:
        check_classifier_args(num_classes, input_shape, min_size=2 ** (len(widths) - 1))
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths}")
    if blocks_per_stage < 1:
        raise ValueError(f"blocks_per_stage must be at least 1, got {blocks_per_stage}")
    get_activation(activation)  # validate the names before building anything
    get_normalization(norm, 1, "check")
    units = _Units(activation, norm, kernel_regularizer)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = units.conv_norm(inputs, widths[0], 3, 1, "stem")
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            x = units.basic_block(x, int(width), stride, f"stage{stage + 1}_block{block + 1}")
    if features:
        return keras.Model(inputs, {"features": x}, name=name)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, dtype="float32", kernel_regularizer=kernel_regularizer, name="logits"
    )(x)
    return keras.Model(inputs, outputs, name=name)
