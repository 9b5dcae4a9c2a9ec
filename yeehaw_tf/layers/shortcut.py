"""The parameter-free "option A" shortcut of the CIFAR ResNets (He et al., 2016, sec. 4.2)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ZeroPadShortcut(keras.layers.Layer):
    """Identity shortcut across a stage change: subsample by ``stride`` (keep every
    ``stride``-th pixel) and pad the channels with zeros up to ``channels``, split evenly
    before and after. No parameters, so a CIFAR ResNet's count is that of its convolutions.

    Input: ``(batch, H, W, C)``; output ``(batch, ceil(H / stride), ceil(W / stride), channels)``.
    """

    def __init__(self, channels: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        if channels < 1 or stride < 1:
            raise ValueError(
                f"ZeroPadShortcut: channels and stride must be positive, got {channels}, {stride}"
            )
        self.channels = int(channels)
        self.stride = int(stride)

    def build(self, input_shape):
        extra = self.channels - input_shape[-1]
        if extra < 0:
            raise ValueError(
                f"ZeroPadShortcut: input has {input_shape[-1]} channels, more than {self.channels}"
            )
        self._padding = [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]]

    def call(self, inputs):
        x = inputs[:, :: self.stride, :: self.stride, :]
        return ops.pad(x, self._padding)

    def compute_output_shape(self, input_shape):
        def sub(d):
            return None if d is None else -(-d // self.stride)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "stride": self.stride}
