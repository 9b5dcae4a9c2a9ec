"""Stochastic regularisers active in training only: inverted dropout and Gaussian input noise."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Dropout(keras.layers.Layer):
    """Inverted dropout (Srivastava et al., 2014): in training each value is zeroed with
    probability ``rate`` and the survivors are scaled by ``1 / (1 - rate)``, so the expected
    activation is unchanged and inference (and exports) need no rescaling: it is the identity.

    Args:
        rate: drop probability in [0, 1).
        seed: an integer seed.

    Input and output shape: the same.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return ops.where(keep, inputs / (1.0 - self.rate), ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class GaussianNoise(keras.layers.Layer):
    """Adds ``N(0, stddev^2)`` noise to its inputs in training only ("adding noise to inputs").

    Args:
        stddev: the noise's standard deviation, >= 0.
        seed: an integer seed.
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not stddev >= 0:
            raise ValueError(f"GaussianNoise: stddev must be >= 0, got {stddev}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.stddev == 0.0:
            return inputs
        noise = keras.random.normal(
            ops.shape(inputs), stddev=self.stddev, dtype=inputs.dtype, seed=self.seed_generator
        )
        return inputs + noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
