"""Maxout (Goodfellow et al., 2013): the maximum of several learned linear functions."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Maxout(keras.layers.Layer):
    """Dense maxout: ``y_i = max_k (x W_k + b_k)_i`` over ``num_pieces`` linear pieces.

    With two pieces ``(w, 0)`` and ``(a w, 0)`` it is exactly ReLU (a = 0) or leaky ReLU (a > 0):
    the notes' "take max of two different linearities". The pieces are stored as one kernel of
    shape ``(input_dim, units * num_pieces)``, piece ``k`` of unit ``i`` in column
    ``i * num_pieces + k``.

    Args:
        units: output features.
        num_pieces: linear pieces per unit (k >= 2).
        kernel_initializer, bias_initializer, kernel_regularizer: as for ``keras.layers.Dense``.

    Input shape: ``(..., input_dim)``. Output shape: ``(..., units)``.
    """

    def __init__(
        self,
        units: int,
        num_pieces: int = 2,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"Maxout: units must be a positive integer, got {units!r}")
        if not isinstance(num_pieces, int) or num_pieces < 2:
            raise ValueError(f"Maxout: num_pieces must be an integer >= 2, got {num_pieces!r}")
        self.units = units
        self.num_pieces = num_pieces
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        width = self.units * self.num_pieces
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = self.add_weight(shape=(width,), initializer=self.bias_initializer, name="bias")

    def call(self, inputs):
        pieces = ops.matmul(inputs, self.kernel) + self.bias
        pieces = ops.reshape(pieces, (*ops.shape(pieces)[:-1], self.units, self.num_pieces))
        return ops.max(pieces, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_pieces": self.num_pieces,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ChannelMaxout(keras.layers.Layer):
    """Maxout over channels of conv features: groups of ``num_pieces`` adjacent channels are
    reduced to their maximum (the preceding convolution supplies the linear pieces).

    Args:
        num_pieces: channels per group (>= 2); the channel count must be divisible by it.
        num_units: tensorflow-addons' ``Maxout(num_units)``, accepted instead of
            ``num_pieces``: the number of outputs, so that ``num_pieces = C // num_units``.
        axis: tfa's argument; only the last axis (``-1``) is supported.

    Input shape: ``(..., C)``. Output shape: ``(..., C // num_pieces)``.
    """

    def __init__(
        self, num_pieces: int | None = None, num_units: int | None = None, axis=-1, **kwargs
    ):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"ChannelMaxout: axis must be -1 (channels last), got {axis!r}")
        if num_pieces is not None and num_units is not None:
            raise ValueError(
                f"ChannelMaxout: give num_pieces or tfa's num_units, not both (got "
                f"num_pieces={num_pieces!r}, num_units={num_units!r})"
            )
        if num_units is not None and (not isinstance(num_units, int) or num_units < 1):
            raise ValueError(f"ChannelMaxout: num_units must be an integer >= 1, got {num_units!r}")
        if num_units is None:
            num_pieces = 2 if num_pieces is None else num_pieces
            if not isinstance(num_pieces, int) or num_pieces < 2:
                raise ValueError(
                    f"ChannelMaxout: num_pieces must be an integer >= 2, got {num_pieces!r}"
                )
        self.num_pieces = num_pieces  # None until build when num_units is given
        self.num_units = num_units

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.num_units is not None:
            if channels is None or channels % self.num_units:
                raise ValueError(
                    f"ChannelMaxout: {channels} input channels are not divisible by "
                    f"num_units={self.num_units}"
                )
            self.num_pieces = channels // self.num_units
        elif channels is not None and channels % self.num_pieces:
            raise ValueError(
                f"ChannelMaxout: {channels} input channels are not divisible by "
                f"num_pieces={self.num_pieces}"
            )

    def call(self, inputs):
        shape = ops.shape(inputs)
        grouped = ops.reshape(inputs, (*shape[:-1], shape[-1] // self.num_pieces, self.num_pieces))
        return ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        if self.num_units is not None:
            return (*input_shape[:-1], self.num_units)
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels // self.num_pieces)

    def get_config(self):
        config = {**super().get_config(), "num_units": self.num_units}
        return {**config, "num_pieces": None if self.num_units is not None else self.num_pieces}
