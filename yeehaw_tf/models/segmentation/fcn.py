"""Fully convolutional networks (Long, Shelhamer & Darrell, 2015): FCN-32s, FCN-16s, FCN-8s.

A classifier becomes dense: its fully connected layers are recast as convolutions (VGG's fc6 as
a 7x7 convolution, fc7 as 1x1; a ResNet's final FC as a 1x1 convolution), giving a coarse map of
class scores at stride 32. Upsampling is a transposed convolution initialised to bilinear
interpolation. FCN-16s and FCN-8s first fuse finer predictions (1x1 convolutions on pool4 and
pool3, initialised to zero) by **addition** with the 2x-upsampled coarse scores.

The backbone is passed in, built (:func:`fcn`, as ``build_fpn`` takes it): any model returning
feature maps ``{"C3", "C4", "C5"}``. The registry's ``fcn32s``/``fcn16s``/``fcn8s`` build it
from a registered classifier's name.

Differences from the paper: convolutions are ``same``-padded so no cropping is needed (the paper
pads the input by 100 and crops), which requires H and W divisible by 32.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras

from yeehaw_tf.initializers import BilinearUpsampling
from yeehaw_tf.layers.conv_blocks import conv
from yeehaw_tf.layers.regularization import Dropout
from yeehaw_tf.layers.transposed_conv import TransposedConv2D
from yeehaw_tf.models.validation import check_classifier_args

STRIDES = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}
FC_WIDTH = 4096  # fc6 and fc7 of VGG, as convolutions
DROPOUT = 0.5


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


def _check_args(variant: str, num_classes: int, fc_width: int | None) -> None:
    if variant not in STRIDES:
        raise ValueError(f"variant must be one of {', '.join(STRIDES)}, got {variant!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if fc_width is not None and (
        isinstance(fc_width, bool) or not isinstance(fc_width, int) or fc_width < 1
    ):
        raise ValueError(f"fc_width must be a positive integer or None, got {fc_width!r}")


def fcn_head(
    features: Mapping,
    variant: str = "fcn8s",
    num_classes: int = 21,
    fc_width: int | None = FC_WIDTH,
    dropout: float = DROPOUT,
):
    """Applies a new FCN head to backbone features and returns the logits tensor.

    Args:
        features: ``{"C3": ..., "C4": ..., "C5": ...}`` at strides 8, 16, 32 (keys as in
            :mod:`yeehaw_tf.ops.levels`; other keys are ignored), each level exactly half the
            size of the previous one.
        variant, num_classes, fc_width, dropout: as in :func:`fcn`.
    Returns:
        Logits ``(batch, 8 H_3, 8 W_3, num_classes)`` in float32 (the input size when the
        backbone's input is divisible by 32).
    """
    _check_args(variant, num_classes, fc_width)
    if not isinstance(features, Mapping) or not {"C3", "C4", "C5"} <= set(features):
        given = list(features) if isinstance(features, Mapping) else type(features).__name__
        raise ValueError(
            f"fcn: the backbone must give feature maps C3, C4 and C5 (strides 8, 16, 32), "
            f"got {given}"
        )
    x = features["C5"]
    if fc_width is not None:
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
        skip = _score(features[f"C{level}"], num_classes, f"score_{pool_name}", zeros=True)
        scores = keras.layers.Add(name=f"fuse_{pool_name}")([scores, skip])
        stride //= 2
    logits = _upsample(scores, stride, name=f"upscore{stride}")
    return keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)


def fcn(
    backbone: keras.Model,
    variant: str = "fcn8s",
    num_classes: int = 21,
    fc_width: int | None = FC_WIDTH,
    dropout: float = DROPOUT,
    name: str | None = None,
) -> keras.Model:
    """Builds FCN-32s/16s/8s on a built backbone.

    Args:
        backbone: a model ``images -> {"C3": ..., "C4": ..., "C5": ...}`` (strides 8, 16, 32),
            e.g. ``registry.build("vgg16", input_shape=(224, 224, 3), features=True)``, with a
            static input size divisible by 32. It stays one nested layer, so
            ``backbone.trainable = False`` freezes it.
        variant: ``fcn32s``, ``fcn16s`` or ``fcn8s`` (the stride of the final upsampling).
        num_classes: output channels (background included).
        fc_width: channels of fc6 (7x7) and fc7 (1x1), a classifier's fully connected layers
            recast as convolutions on ``C5`` (VGG; the paper: 4096). ``None`` scores ``C5``
            directly (a ResNet, whose only fully connected layer is the classifier).
        dropout: after fc6 and fc7 (the paper: 0.5).
        name: the model's name; default ``"{variant}_{backbone name}"``.
    Returns:
        A model ``[batch, H, W, C] -> logits [batch, H, W, num_classes]``.
    """
    _check_args(variant, num_classes, fc_width)
    if not isinstance(backbone, keras.Model):
        raise ValueError(f"fcn: backbone must be a keras.Model, got {type(backbone).__name__}")
    if len(backbone.inputs) != 1:
        raise ValueError(f"fcn: backbone must take one input, it takes {len(backbone.inputs)}")
    input_shape = tuple(backbone.inputs[0].shape[1:])
    check_classifier_args(num_classes, input_shape, min_size=32)
    if input_shape[0] % 32 or input_shape[1] % 32:
        raise ValueError(f"input_shape {input_shape}: height and width must be divisible by 32")
    images = keras.Input(input_shape, name="images")
    features = backbone(images)
    if not isinstance(features, Mapping):
        raise ValueError(
            f"fcn: backbone {backbone.name!r} must return a dict of feature maps "
            "(build it with features=True)"
        )
    logits = fcn_head(features, variant, num_classes, fc_width, dropout)
    model_name = name or f"{variant}_{backbone.name.removesuffix('_features')}"
    return keras.Model(images, logits, name=model_name)
