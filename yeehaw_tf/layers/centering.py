"""Zero-centering: the model's own mean subtraction, so serving does what training did.

The notes' NN-training section: "subtract the mean image" (AlexNet) or "subtract per-channel
means" (VGGNet), with statistics from the training data, and "must perform the same processing
at test time". Both layers keep the statistics in their config, so a saved model, a SavedModel
signature and a TFLite file all centre exactly as training did and serving feeds raw pixels.
:class:`~yeehaw_tf.layers.ChannelStandardization` also divides by the standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np


def _check_scale(layer: str, scale: float) -> float:
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"{layer}: `scale` must be finite and positive, got {scale}")
    return scale


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MeanImageSubtraction(keras.layers.Layer):
    """Computes ``(x - mean_image) * scale``: one mean per pixel and channel.

    Args:
        mean_image: ``[H, W, C]`` mean of the training images (pixel units, e.g. 0..255).
        scale: a positive factor applied after centring (e.g. ``1/255`` to keep the pixel
            range's scale out of a comparison of centring choices).

    Input shape: ``(batch, H, W, C)`` matching ``mean_image``, any numeric dtype. Output: the
    same shape, float.
    """

    def __init__(self, mean_image, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        mean_image = np.asarray(mean_image, dtype=np.float64)
        if mean_image.ndim != 3 or 0 in mean_image.shape:
            raise ValueError(
                f"MeanImageSubtraction: `mean_image` must be [height, width, channels], got "
                f"shape {mean_image.shape}"
            )
        if not np.all(np.isfinite(mean_image)):
            raise ValueError("MeanImageSubtraction: `mean_image` must be finite")
        self.mean_image = mean_image.tolist()
        self.scale = _check_scale("MeanImageSubtraction", scale)
        self._shape = mean_image.shape

    def build(self, input_shape):
        if tuple(input_shape[1:]) != tuple(self._shape) and None not in input_shape[1:]:
            raise ValueError(
                f"MeanImageSubtraction: input images are {tuple(input_shape[1:])} but "
                f"`mean_image` is {tuple(self._shape)}"
            )
        self.built = True

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        mean = keras.ops.convert_to_tensor(self.mean_image, dtype=self.compute_dtype)
        return (x - mean) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean_image": self.mean_image, "scale": self.scale}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ChannelMeanSubtraction(keras.layers.Layer):
    """Computes ``(x - mean[c]) * scale`` per channel ``c``.

    Args:
        mean: one value per channel (pixel units).
        scale: a positive factor applied after centring.

    Input shape: ``(..., channels)``, any numeric dtype. Output: the same shape, float.
    """

    def __init__(self, mean: Sequence[float], scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        mean = [float(m) for m in np.ravel(mean)]
        if not mean or not all(np.isfinite(mean)):
            raise ValueError(
                f"ChannelMeanSubtraction: `mean` needs one finite value per channel, got {mean}"
            )
        self.mean = mean
        self.scale = _check_scale("ChannelMeanSubtraction", scale)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != len(self.mean):
            raise ValueError(
                f"ChannelMeanSubtraction: input has {channels} channels but `mean` has "
                f"{len(self.mean)} values"
            )
        self.built = True

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        mean = keras.ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        return (x - mean) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "scale": self.scale}
