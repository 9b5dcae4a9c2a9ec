"""A DeepLab-style segmenter (Chen et al. 2017, "Rethinking Atrous Convolution"): a ResNet made
*à trous* to output stride 16 or 8 (:func:`yeehaw_tf.models.classification.resnet.resnet`'s
``output_stride``), a small head on its last feature map and bilinear upsampling to the input.

The backbone is passed in, built: any model whose outputs include ``"C5"``. The head is one
3x3 conv-norm-ReLU of ``head_width`` channels and a 1x1 classifier (DeepLab v3's ASPP is left
out: at our 32-64 pixel images its large rates would only see padding), so the variants differ
in the backbone's output stride alone: same parameters, more resolution, more computation.
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers.bilinear_upsampling import BilinearUpsampling2D
from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act
from yeehaw_tf.models.validation import check_classifier_args

HEAD_WIDTH = 128


def deeplab(backbone: keras.Model, num_classes: int, head_width: int = HEAD_WIDTH, name="deeplab"):
    """Per-pixel logits ``[B, H, W, num_classes]`` from ``backbone``'s ``C5``."""
    input_shape = tuple(backbone.inputs[0].shape[1:])
    check_classifier_args(num_classes, input_shape)
    c5 = backbone.outputs[0] if not isinstance(backbone.output, dict) else backbone.output["C5"]
    stride = input_shape[0] // c5.shape[1]
    if stride * c5.shape[1] != input_shape[0] or stride * c5.shape[2] != input_shape[1]:
        raise ValueError(
            f"deeplab: the input {input_shape[:2]} must be a multiple of the backbone's output "
            f"stride (its C5 is {tuple(c5.shape[1:3])})"
        )
    x = conv_norm_act(c5, head_width, 3, 1, 1, name="head")
    x = conv(x, num_classes, 1, name="classifier")
    if stride > 1:
        x = BilinearUpsampling2D(stride, name="upsample")(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(backbone.inputs[0], outputs, name=name)
