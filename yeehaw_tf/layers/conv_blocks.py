"""Convolution building blocks shared by the architectures, as functions on Keras tensors.

They add plain Keras layers (and ours) to a functional graph, so every model is a graph of
primitive layers that the cost table and the receptive-field analysis can read. Every block
checks its output size, ``floor((W - K_eff + 2P) / S) + 1`` with ``K_eff = D (K - 1) + 1``,
and refuses a configuration that would leave no pixels, naming the layer.

Padding is an integer (explicit zero padding, as in the papers and torchvision: it keeps their
exact output sizes and so their parameter counts after flattening), ``"same"`` or ``"valid"``.
"""

from __future__ import annotations

import math

import keras

from yeehaw_tf.layers.activations import get_activation
from yeehaw_tf.layers.batch_normalization import BatchNormalization
from yeehaw_tf.layers.normalization import get_normalization


def conv_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis: ``floor((size + 2P - K_eff) / S) + 1`` (``ceil`` with
    ``ceil_mode``); ``"same"`` gives ``ceil(size / S)``."""
    effective = dilation * (kernel - 1) + 1
    if padding == "same":
        return math.ceil(size / stride)
    pad = 0 if padding == "valid" else int(padding)
    rounding = math.ceil if ceil_mode else math.floor
    return rounding((size + 2 * pad - effective) / stride) + 1


def _pair(kernel) -> tuple[int, int]:
    return (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)


def _check(x, kernel, stride: int, padding, dilation: int, name: str, ceil_mode=False):
    for axis, size, k in zip(("height", "width"), x.shape[1:3], _pair(kernel), strict=True):
        if size is None:
            continue
        out = conv_output_size(size, k, stride, padding, dilation, ceil_mode)
        if out < 1:
            raise ValueError(
                f"layer {name!r}: input {axis} {size} with kernel {kernel}, stride {stride}, "
                f"padding {padding!r} and dilation {dilation} gives output {axis} {out}; "
                "use a larger input"
            )


def _pad(x, padding, name: str):
    if isinstance(padding, int) and padding > 0:
        return keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x), "valid"
    return x, "valid" if padding in (0, "valid") else padding


def conv(
    x,
    filters: int,
    kernel,
    stride: int = 1,
    padding: int | str = 0,
    *,
    name: str,
    groups: int = 1,
    dilation: int = 1,
    use_bias: bool = True,
    kernel_regularizer=None,
):
    """A (grouped, dilated) 2-D convolution with explicit padding; ``kernel`` is an int or
    ``(height, width)``."""
    _check(x, kernel, stride, padding, dilation, name)
    kh, kw = _pair(kernel)
    if isinstance(padding, int) and stride == 1 and kh == kw and 2 * padding == dilation * (kh - 1):
        padding = "same"  # exactly the same result, without a separate padding op
    x, mode = _pad(x, padding, name)
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=mode,
        groups=groups,
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_regularizer=kernel_regularizer,
        name=name,
    )(x)


def conv_norm_act(
    x,
    filters: int,
    kernel,
    stride: int = 1,
    padding: int | str = 0,
    *,
    name: str,
    groups: int = 1,
    dilation: int = 1,
    norm: str | None = "batch",
    activation: str | None = "relu",
    use_bias: bool | None = None,
    kernel_regularizer=None,
    bn_scale: bool = True,
):
    """Convolution, normalisation, activation (each optional): the unit every CNN repeats.
    The convolution has a bias only without a normalisation unless ``use_bias`` says otherwise
    (a normalisation's shift makes it redundant). ``bn_scale=False`` drops batch norm's
    ``gamma`` (Keras's Inception v3 does, since a ReLU follows)."""
    use_bias = norm in (None, "none") if use_bias is None else use_bias
    x = conv(
        x,
        filters,
        kernel,
        stride,
        padding,
        name=f"{name}_conv",
        groups=groups,
        dilation=dilation,
        use_bias=use_bias,
        kernel_regularizer=kernel_regularizer,
    )
    if norm == "batch":
        x = BatchNormalization(synchronized=True, scale=bn_scale, name=f"{name}_bn")(x)
    elif norm not in (None, "none"):
        x = get_normalization(norm, filters, name=f"{name}_bn")(x)
    if activation == "relu6":
        x = keras.layers.ReLU(6.0, name=f"{name}_relu6")(x)
    elif activation is not None:
        x = get_activation(activation, name=f"{name}_{activation}")(x)
    return x


def depthwise_norm_act(
    x,
    kernel: int = 3,
    stride: int = 1,
    padding: int | str = 1,
    *,
    name: str,
    activation: str | None = "relu",
    multiplier: int = 1,
):
    """Depthwise convolution (one filter per channel), normalisation, activation."""
    _check(x, kernel, stride, padding, 1, name)
    x, mode = _pad(x, padding, name)
    x = keras.layers.DepthwiseConv2D(
        kernel,
        strides=stride,
        padding=mode,
        depth_multiplier=multiplier,
        use_bias=False,
        name=f"{name}_dw",
    )(x)
    x = get_normalization("batch", x.shape[-1], name=f"{name}_dw_bn")(x)
    if activation == "relu6":
        return keras.layers.ReLU(6.0, name=f"{name}_dw_relu6")(x)
    return (
        x if activation is None else get_activation(activation, name=f"{name}_dw_{activation}")(x)
    )


def depthwise_separable(x, filters: int, stride: int = 1, *, name: str, activation="relu"):
    """MobileNet's unit: 3x3 depthwise then 1x1 pointwise convolution, each normalised."""
    x = depthwise_norm_act(x, 3, stride, 1, name=name, activation=activation)
    return conv_norm_act(x, filters, 1, name=f"{name}_pw", activation=activation)


def pool(
    x,
    kind: str,
    size: int,
    stride: int | None = None,
    padding: int | str = 0,
    *,
    name: str,
    ceil_mode: bool = False,
):
    """Max or average pooling with explicit padding; ``ceil_mode`` rounds the output size up
    (torchvision's option) by padding the bottom/right edge. Padding uses zeros, so max pooling
    with padding expects non-negative inputs (it follows a ReLU wherever the models use it)."""
    if kind not in ("max", "avg"):
        raise ValueError(f"pool kind must be 'max' or 'avg', got {kind!r}")
    stride = stride or size
    _check(x, size, stride, padding, 1, name, ceil_mode)
    pad = padding if isinstance(padding, int) else 0
    extra = 0
    if ceil_mode and x.shape[1] is not None:
        extra = max(
            (conv_output_size(x.shape[1], size, stride, pad, 1, True) - 1) * stride
            + size
            - (x.shape[1] + 2 * pad),
            0,
        )
    mode = padding if isinstance(padding, str) else "valid"
    if pad or extra:
        x = keras.layers.ZeroPadding2D(
            ((pad, pad + extra), (pad, pad + extra)), name=f"{name}_pad"
        )(x)
    layer = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    return layer(size, strides=stride, padding=mode, name=name)(x)
