"""Wrappers that change a Dense or Conv layer's kernel before it is applied: weight
normalisation (a re-parameterisation) and weight noise (a regulariser)."""

from __future__ import annotations

import keras
from keras import ops

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
TRANSPOSED_CONVS = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


def check_wrappable(wrapper: str, layer) -> None:
    if type(layer) not in (keras.layers.Dense, *_CONVS):
        raise ValueError(
            f"{wrapper} wraps keras.layers.Dense or Conv1D/Conv2D/Conv3D layers, "
            f"got {type(layer).__name__}"
        )
    if getattr(layer, "padding", None) == "causal":
        raise ValueError(f"{wrapper}: causal padding is not supported; pad the input instead")


def apply_with_kernel(layer: keras.layers.Layer, inputs, kernel, activate: bool = True):
    """What ``layer(inputs)`` computes, but with ``kernel`` in place of ``layer.kernel``
    (and without the activation if ``activate`` is False). ``layer``: a Dense, ConvND or
    ConvNDTranspose layer."""
    if isinstance(layer, keras.layers.Dense):
        outputs = ops.matmul(inputs, kernel)
        if layer.use_bias:
            outputs = outputs + layer.bias
    else:
        if isinstance(layer, TRANSPOSED_CONVS):
            outputs = ops.conv_transpose(
                inputs,
                kernel,
                strides=list(layer.strides),
                padding=layer.padding,
                output_padding=layer.output_padding,
                dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
            )
        else:
            outputs = ops.conv(
                inputs,
                kernel,
                strides=layer.strides,
                padding=layer.padding,
                data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        if layer.use_bias:
            shape = [1] * len(outputs.shape)
            shape[1 if layer.data_format == "channels_first" else -1] = layer.filters
            outputs = outputs + ops.reshape(layer.bias, shape)
    return layer.activation(outputs) if activate and layer.activation is not None else outputs


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class WeightNormalization(keras.layers.Wrapper):
    """Weight normalisation (Salimans & Kingma, 2016): the kernel is ``g * v / ||v||``.

    ``v`` is the wrapped layer's kernel (the direction), ``g`` one learned length per output
    unit, and ``||v||`` the norm of each output unit's weights (over every kernel axis but the
    last). Decoupling length from direction conditions gradient descent better. ``g`` starts
    at ``||v||`` so the wrapped layer's initial output is unchanged.

    :meth:`initialize_from_data` performs the paper's data-dependent initialisation: on one
    batch, ``g`` and the bias are set so that each pre-activation has zero mean and unit
    variance.

    Args:
        layer: a ``keras.layers.Dense`` or ``Conv1D/2D/3D``.

    Input and output shapes: those of the wrapped layer.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        check_wrappable("WeightNormalization", layer)
        super().__init__(layer, **kwargs)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        kernel = self.layer.kernel
        self._norm_axes = list(range(len(kernel.shape) - 1))
        norm_axes = self._norm_axes

        def length(shape, dtype=None):  # g starts at ||v||: the initial kernel is unchanged
            return ops.sqrt(ops.sum(ops.square(kernel), axis=norm_axes))

        self.g = self.add_weight(shape=(kernel.shape[-1],), initializer=length, name="g")

    def _norm(self, v):
        # epsilon: a zero direction gives a zero kernel, not NaN
        return ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes) + 1e-12)

    def kernel(self):
        """The effective kernel ``g * v / ||v||``."""
        v = self.layer.kernel
        return v * (self.g / self._norm(v))

    def call(self, inputs):
        return apply_with_kernel(self.layer, inputs, self.kernel())

    def initialize_from_data(self, inputs) -> None:
        """Sets ``g`` and the bias so pre-activations on ``inputs`` are standardised."""
        if not self.built:
            self.build(inputs.shape)
        if not self.layer.use_bias:
            raise ValueError("initialize_from_data needs the wrapped layer to use a bias")
        v = self.layer.kernel
        direction = v / self._norm(v)
        self.layer.bias.assign(ops.zeros_like(self.layer.bias))
        t = apply_with_kernel(self.layer, inputs, direction, activate=False)
        axes = list(range(len(t.shape) - 1))
        mean = ops.mean(t, axis=axes)
        std = ops.sqrt(ops.mean(ops.square(t - mean), axis=axes) + 1e-10)
        self.g.assign(1.0 / std)
        self.layer.bias.assign(-mean / std)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class WeightNoise(keras.layers.Wrapper):
    """Adds Gaussian noise ``N(0, stddev^2)`` to the wrapped layer's kernel in training only
    (a regulariser: "adding noise to weights"). Inference and exports use the clean kernel.

    Args:
        layer: a ``keras.layers.Dense`` or ``Conv1D/2D/3D``.
        stddev: the noise's standard deviation, >= 0.
        seed: an integer seed for the noise.
    """

    def __init__(
        self, layer: keras.layers.Layer, stddev: float = 0.01, seed: int | None = None, **kwargs
    ):
        check_wrappable("WeightNoise", layer)
        super().__init__(layer, **kwargs)
        if not stddev >= 0:
            raise ValueError(f"WeightNoise: stddev must be >= 0, got {stddev}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, inputs, training=None):
        kernel = self.layer.kernel
        if training and self.stddev > 0:
            kernel = kernel + keras.random.normal(
                ops.shape(kernel),
                stddev=self.stddev,
                dtype=kernel.dtype,
                seed=self.seed_generator,
            )
        return apply_with_kernel(self.layer, inputs, kernel)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
