"""Element-wise activation functions, written from their formulas (the notes' "NN basics").

Each is a function (``sigmoid(x)``, ...) and a Keras layer (``Sigmoid()``, ...). The functions
are written to be numerically stable and to have well-defined gradients everywhere they are
differentiable: no ``exp`` of a large positive number is ever formed.
"""

from __future__ import annotations

import keras
from keras import ops


def _split(x):
    """``(max(x, 0), min(x, 0))`` via ``where``, so each branch's gradient is exact at 0 (the
    gradient of ``|x|`` at 0 is 0, which would zero the gradient there)."""
    zeros = ops.zeros_like(x)
    return ops.where(x >= 0, x, zeros), ops.where(x < 0, x, zeros)


def sigmoid(x):
    """``1 / (1 + e^-x)``: squashes to (0, 1). Stable: no ``e^t`` with ``t > 0`` is formed."""
    positive, negative = _split(x)
    z = ops.exp(negative)
    return ops.where(x >= 0, 1.0 / (1.0 + ops.exp(-positive)), z / (1.0 + z))


def tanh(x):
    """``(e^x - e^-x) / (e^x + e^-x)``: squashes to (-1, 1). Stable: no ``e^t`` with ``t > 0``."""
    positive, negative = _split(x)
    zp, zn = ops.exp(-2.0 * positive), ops.exp(2.0 * negative)
    return ops.where(x >= 0, (1.0 - zp) / (1.0 + zp), (zn - 1.0) / (zn + 1.0))


def relu(x):
    """``max(0, x)``: negative inputs become 0 (gradient 0 at 0, as ``tf.nn.relu``)."""
    return ops.where(x > 0, x, ops.zeros_like(x))


def leaky_relu(x, negative_slope: float = 0.1):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (the notes use 0.1)."""
    return ops.where(x > 0, x, negative_slope * x)


def elu(x, alpha: float = 1.0):
    """``x`` for ``x > 0``, ``alpha * (e^x - 1)`` otherwise: a smooth ReLU with negative outputs."""
    negative = ops.where(x > 0, ops.zeros_like(x), x)  # no e^x of positives: no inf*0 grads
    return ops.where(x > 0, x, alpha * ops.expm1(negative))


class _Activation(keras.layers.Layer):
    """Base: an element-wise activation layer with no weights."""

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Sigmoid(_Activation):
    """Logistic sigmoid ``1 / (1 + e^-x)``. Input and output: any shape."""

    def call(self, inputs):
        return sigmoid(inputs)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Tanh(_Activation):
    """Hyperbolic tangent. Input and output: any shape."""

    def call(self, inputs):
        return tanh(inputs)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ReLU(_Activation):
    """Rectified linear unit ``max(0, x)`` (Nair & Hinton, 2010). Input and output: any shape."""

    def call(self, inputs):
        return relu(inputs)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class LeakyReLU(_Activation):
    """Leaky ReLU (Maas et al., 2013): slope ``negative_slope`` (default 0.1) below zero.

    Args:
        negative_slope: the slope for negative inputs, >= 0.
    """

    def __init__(self, negative_slope: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if not negative_slope >= 0:
            raise ValueError(f"LeakyReLU: negative_slope must be >= 0, got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ELU(_Activation):
    """Exponential linear unit (Clevert et al., 2016): ``alpha * (e^x - 1)`` below zero.

    Args:
        alpha: the negative saturation value's magnitude, > 0.
    """

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not alpha > 0:
            raise ValueError(f"ELU: alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def call(self, inputs):
        return elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
}


def get_activation(kind: str, name: str | None = None) -> keras.layers.Layer:
    """A new activation layer by kind (``sigmoid, tanh, relu, leaky_relu, elu``), named
    ``name``."""
    if kind not in ACTIVATIONS:
        raise ValueError(f"unknown activation {kind!r}; valid names: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[kind](name=name)
