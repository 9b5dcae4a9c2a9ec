"""Transposed convolution ("deconvolution"; Zeiler & Fergus, 2014; Long et al., 2015, FCN),
written out as the lecture notes define it: every input value paints a scaled copy of the
filter into the output, ``stride`` pixels apart, and overlapping paint is summed."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

_PADDINGS = ("valid", "same")


def _pair(value, name: str, layer: str) -> tuple[int, int]:
    """``3`` or ``(3, 2)`` -> ``(3, 2)`` of positive ints, else a ValueError naming ``name``."""
    pair = (value, value) if isinstance(value, int) else value
    if (
        not isinstance(pair, list | tuple)
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
    ):
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    pair = tuple(pair)
    if min(pair) < 1:
        raise ValueError(f"{layer}: {name} must be positive, got {value!r}")
    return pair


def _check_padding(padding: str, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in _PADDINGS:
        raise ValueError(f"{layer}: padding must be one of {_PADDINGS}, got {padding!r}")
    return padding.lower()


def _dim(x, axis: int):
    """The static size of ``axis`` when known, else the dynamic one (a scalar tensor)."""
    static = x.shape[axis]
    return static if static is not None else tf.shape(x)[axis]


def transposed_output_length(length, kernel: int, stride: int, padding: str):
    """Output length of a transposed convolution, as ``keras.layers.Conv2DTranspose`` gives it:
    ``valid``: ``(length - 1) * stride + max(kernel, stride)``; ``same``: ``length * stride``.
    ``None`` (unknown) stays ``None``."""
    if length is None:
        return None
    if padding == "same":
        return length * stride
    return (length - 1) * stride + max(kernel, stride)


def _crop(kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Rows cropped from the start and the end of the full painted canvas (length
    ``length * stride + kernel - 1``: the dilated input plus ``kernel - 1``) to leave the
    output. ``same`` follows TensorFlow's SAME convention for the forward convolution: the
    ``max(kernel - stride, 0)`` extra rows are split with the smaller half at the start."""
    extra = max(kernel - stride, 0)
    if padding == "same":
        return extra // 2, kernel - 1 - extra // 2
    return 0, kernel - 1 - extra


def _interleave(blocks, stride: tuple[int, int], filters: int):
    """``(B, H, W, sh * sw * F)`` holding, per input pixel, an ``sh x sw`` patch of paint ->
    ``(B, H * sh, W * sw, F)`` with the patch of pixel ``(y, x)`` at ``(y * sh, x * sw)``.
    Reshapes and one 5-D transpose (TFLite builtins)."""
    sh, sw = stride
    shape = tf.shape(blocks)
    b, h, w = shape[0], shape[1], shape[2]
    x = tf.reshape(blocks, [b, h, w, sh, sw * filters])
    x = tf.transpose(x, [0, 1, 3, 2, 4])  # (B, H, sh, W, sw * F)
    return tf.reshape(x, [b, h * sh, w * sw, filters])


def transposed_conv2d(inputs, kernel, strides=(1, 1), padding: str = "valid"):
    """Transposed 2-D convolution of ``inputs`` ``(B, H, W, C_in)`` with ``kernel``
    ``(kh, kw, filters, C_in)`` (the layout of ``keras.layers.Conv2DTranspose``).

    Input pixel ``(y, x)`` adds ``kernel[i, j] @ inputs[b, y, x]`` to output pixel
    ``(y * sh + i, x * sw + j)`` of the full canvas; the output is the canvas cropped as
    ``Conv2DTranspose`` crops it (see ``transposed_output_length``).

    Computed without any convolution op: the kernel (zero-padded to multiples of the stride)
    is cut into ``ceil(kh / sh) x ceil(kw / sw)`` blocks of ``sh x sw`` taps. One matmul
    paints every block for every input pixel; the painted ``sh x sw`` patches of a block
    tile the plane exactly (no overlap), so each block becomes one image by interleaving,
    and the overlaps between blocks are summed by shifting each block image by its offset.
    That is ``ceil(kh / sh) * ceil(kw / sw)`` shifted adds (4 for FCN's ``k = 2s``) instead of
    one per tap.
    """
    kh, kw, filters, channels = kernel.shape
    sh, sw = strides
    nh, nw = -(-kh // sh), -(-kw // sw)
    kernel = ops.pad(kernel, [[0, nh * sh - kh], [0, nw * sw - kw], [0, 0], [0, 0]])
    kernel = ops.reshape(kernel, (nh, sh, nw, sw, filters, channels))
    kernel = ops.transpose(kernel, (5, 0, 2, 1, 3, 4))  # (C, nh, nw, sh, sw, F)
    painted = ops.matmul(inputs, ops.reshape(kernel, (channels, -1)))
    block_size = sh * sw * filters
    canvas = None
    for a in range(nh):
        for b in range(nw):
            first = (a * nw + b) * block_size
            block = _interleave(painted[..., first : first + block_size], (sh, sw), filters)
            if nh > 1 or nw > 1:
                pads = [[0, 0], [a * sh, (nh - 1 - a) * sh], [b * sw, (nw - 1 - b) * sw], [0, 0]]
                block = tf.pad(block, pads)
            canvas = block if canvas is None else canvas + block
    top, _ = _crop(kh, sh, padding)
    left, _ = _crop(kw, sw, padding)
    out_h = transposed_output_length(_dim(inputs, 1), kh, sh, padding)
    out_w = transposed_output_length(_dim(inputs, 2), kw, sw, padding)
    return canvas[:, top : top + out_h, left : left + out_w, :]


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class TransposedConv2D(keras.layers.Layer):
    """Transposed convolution: the learnable upsampling of FCN (Long et al., 2015) and of
    deconvolutional networks (Zeiler & Fergus, 2014).

    Each input value scales a copy of the filter and paints it into the output at
    ``stride`` times its position; overlaps are summed. It is the gradient (adjoint) of a
    strided convolution with the same kernel, so a stride ``s`` upsamples by ``s``. Numerically
    equal to ``keras.layers.Conv2DTranspose`` with the same weights (same kernel layout
    ``(kh, kw, filters, in_channels)``, same output size and cropping), but built from
    matmul, reshape, pad and add only, so it converts to TFLite builtins.

    Args:
        filters: output channels.
        kernel_size: int or pair ``(kh, kw)``.
        strides: int or pair; the upsampling factor.
        padding: ``"valid"`` (output ``(H - 1) * s + max(k, s)``: the whole painted canvas,
            zero-extended to ``H * s`` when ``k < s``) or ``"same"`` (output ``H * s``: the
            canvas cropped by ``max(k - s, 0)``, the smaller half at the top/left).
        activation: applied after the bias (a Keras activation name or callable); None: linear.
        use_bias: add a learned per-filter bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as for
            ``keras.layers.Conv2DTranspose``.

    Input shape: ``(batch, H, W, in_channels)`` (channels last).
    Output shape: ``(batch, H_out, W_out, filters)``, sizes as in ``padding``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = "TransposedConv2D"
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"{name}: filters must be a positive integer, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.strides = _pair(strides, "strides", name)
        self.padding = _check_padding(padding, name)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError("TransposedConv2D: the input channel dimension must be known")
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self.filters, input_shape[-1]),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                name="bias",
            )

    def call(self, inputs):
        outputs = transposed_conv2d(inputs, self.kernel, self.strides, self.padding)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        return (
            input_shape[0],
            transposed_output_length(input_shape[1], kh, sh, self.padding),
            transposed_output_length(input_shape[2], kw, sw, self.padding),
            self.filters,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }
