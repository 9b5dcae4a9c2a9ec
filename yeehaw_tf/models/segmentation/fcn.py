"""Fully convolutional networks (Long, Shelhamer & Darrell, 2015): FCN-32s, FCN-16s, FCN-8s.

A classifier becomes dense: its fully connected layers are recast as convolutions (VGG's fc6 as
a 7x7 convolution, fc7 as 1x1; a ResNet's final FC as a 1x1 convolution), giving a coarse map of
class scores at stride 32. Upsampling is a transposed convolution initialised to bilinear
interpolation. FCN-16s and FCN-8s first fuse finer predictions (1x1 convolutions on pool4 and
pool3, initialised to zero) by **addition** with the 2x-upsampled coarse scores.

Differences from the paper: convolutions are ``same``-padded so no cropping is needed (the paper
pads the input by 100 and crops), which requires H and W divisible by 32.
"""

from __future__ import annotations

import keras

from yeehaw_tf.initializers import BilinearUpsampling
from yeehaw_tf.layers.conv_blocks import conv
from yeehaw_tf.layers.regularization import Dropout
from yeehaw_tf.layers.transposed_conv import TransposedConv2D
from yeehaw_tf.models.validation import check_classifier_args

STRIDES = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}


def _upsample(x, factor: int, name: str):
    """A transposed convolution by ``factor`` (kernel ``2 * factor``), bilinear at init."""
    return TransposedConv2D(
        x.shape[-1],
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        name=name,
    )(x)


def _score(x, num_classes: int, name: str, zeros: bool = False):
    initializer = "zeros" if zeros else "glorot_uniform"
    return keras.layers.Conv2D(num_classes, 1, kernel_initializer=initializer, name=name)(x)


def fcn(
    variant: str = "fcn8s",
    num_classes: int = 21,
    input_shape=(224, 224, 3),
    backbone: str = "vgg16",
    fc_width: int = 4096,
    dropout: float = 0.5,
) -> keras.Model:
    """Builds FCN-32s/16s/8s.

    Args:
        variant: ``fcn32s``, ``fcn16s`` or ``fcn8s`` (the stride of the final upsampling).
        num_classes: output channels (background included).
        input_shape: ``(H, W, C)``, H and W divisible by 32.
        backbone: a registered classifier offering ``features=True`` with maps ``C3, C4, C5``
            at strides 8, 16, 32 (``vgg*`` or an ImageNet ``resnet*``). VGG keeps its fc6/fc7 as
            convolutions of width ``fc_width``; other backbones score ``C5`` directly.
        fc_width: channels of fc6 and fc7 (VGG; the paper: 4096).
        dropout: after fc6 and fc7 (VGG; the paper: 0.5).
    Returns:
        A model ``[batch, H, W, C] -> logits [batch, H, W, num_classes]``.
    """
    from yeehaw_tf.models.registry import build  # the registry imports this module

    if variant not in STRIDES:
        raise ValueError(f"variant must be one of {', '.join(STRIDES)}, got {variant!r}")
    check_classifier_args(num_classes, input_shape, min_size=32)
    if input_shape[0] % 32 or input_shape[1] % 32:
        raise ValueError(
            f"input_shape {tuple(input_shape)}: height and width must be divisible by 32"
        )
    if not isinstance(fc_width, int) or fc_width < 1:
        raise ValueError(f"fc_width must be a positive integer, got {fc_width!r}")
    features = build(backbone, num_classes, input_shape, features=True)
    missing = {"C3", "C4", "C5"} - set(features.output)
    if missing:
        raise ValueError(f"backbone {backbone!r} does not give feature maps C3, C4 and C5")
    inputs = keras.Input(tuple(input_shape), name="images")
    maps = features(inputs)
    x = maps["C5"]
    if backbone.startswith("vgg"):
        x = conv(x, fc_width, 7, 1, "same", name="fc6")
        x = Dropout(dropout, name="fc6_dropout")(keras.layers.ReLU(name="fc6_relu")(x))
        x = conv(x, fc_width, 1, name="fc7")
        x = Dropout(dropout, name="fc7_dropout")(keras.layers.ReLU(name="fc7_relu")(x))
    scores = _score(x, num_classes, "score_fr")
    stride = 32
    for level, pool_name in ((4, "pool4"), (3, "pool3")):
        if STRIDES[variant] > stride // 2:
            break
        scores = _upsample(scores, 2, name=f"upscore_to_{pool_name}")
        skip = _score(maps[f"C{level}"], num_classes, f"score_{pool_name}", zeros=True)
        scores = keras.layers.Add(name=f"fuse_{pool_name}")([scores, skip])
        stride //= 2
    logits = _upsample(scores, stride, name=f"upscore{stride}")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    return keras.Model(inputs, logits, name=f"{variant}_{backbone}")
