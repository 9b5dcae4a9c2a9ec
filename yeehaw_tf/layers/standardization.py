"""Per-channel standardisation: the model's own preprocessing, so every consumer applies it."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ChannelStandardization(keras.layers.Layer):
    """Computes ``(x - mean) / std`` per channel, after casting ``x`` to the compute dtype.

    The statistics are measured on the training split (see
    :func:`yeehaw_tf.data.statistics.channel_mean_std`) and stored in the layer's config, so a
    saved model, a SavedModel signature and a TFLite file all standardise exactly as training
    did, and serving can feed raw uint8 pixels. This is "subtract per-channel means" from the
    notes' NN-training section, with the division by the standard deviation that keeps every
    input channel at unit scale.

    Args:
        mean: one value per channel (pixel units, e.g. 0..255).
        std: one positive value per channel.

    Input shape: ``(..., channels)``, any numeric dtype. Output shape: the same, float.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        mean = [float(m) for m in np.ravel(mean)]
        std = [float(s) for s in np.ravel(std)]
        if not mean:
            raise ValueError("ChannelStandardization: `mean` needs at least one value")
        if len(mean) != len(std):
            raise ValueError(
                f"ChannelStandardization: `mean` and `std` need one value per channel each, "
                f"got {len(mean)} and {len(std)}"
            )
        if not all(np.isfinite(mean)) or not all(s > 0 and np.isfinite(s) for s in std):
            raise ValueError(
                f"ChannelStandardization: `mean` must be finite and `std` finite and positive, "
                f"got mean={mean}, std={std}"
            )
        self.mean = mean
        self.std = std

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != len(self.mean):
            raise ValueError(
                f"ChannelStandardization: input has {channels} channels but `mean`/`std` have "
                f"{len(self.mean)} values"
            )
        self.built = True

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        mean = keras.ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        inv_std = keras.ops.convert_to_tensor(1.0 / np.asarray(self.std), dtype=self.compute_dtype)
        return (x - mean) * inv_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}
