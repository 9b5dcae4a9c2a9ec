"""The sinusoidal timestep embedding of diffusion models (the Transformer's position encoding
applied to the timestep; Vaswani et al. 2017, Ho et al. 2020)."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SinusoidalEmbedding(keras.layers.Layer):
    """``t -> [sin(t w_0), ..., sin(t w_{h-1}), cos(t w_0), ..., cos(t w_{h-1})]`` with
    ``h = dim / 2`` frequencies ``w_i = max_period^(-i / h)`` (geometric from 1 to
    ``1 / max_period``).

    Args:
        dim: the embedding size (even).
        max_period: the longest wavelength.

    Input shape: ``(batch,)`` timesteps (any numeric dtype). Output: ``(batch, dim)`` float.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"SinusoidalEmbedding: dim must be an even integer >= 2, got {dim!r}")
        if not max_period > 1:
            raise ValueError(f"SinusoidalEmbedding: max_period must be > 1, got {max_period!r}")
        self.dim = dim
        self.max_period = float(max_period)

    def call(self, inputs):
        half = self.dim // 2
        frequencies = ops.exp(
            -math.log(self.max_period) * ops.arange(half, dtype="float32") / float(half)
        )
        t = ops.cast(ops.reshape(inputs, (-1, 1)), "float32")
        angles = t * ops.expand_dims(frequencies, 0)
        return ops.cast(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1), self.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}
