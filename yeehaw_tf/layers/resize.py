"""Bilinear resizing inside a model (so a model can take images of another size)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Resize(keras.layers.Layer):
    """Resizes ``(batch, H, W, C)`` images to ``(batch, height, width, C)``, bilinearly
    (half-pixel centres, no antialiasing: TFLite's builtin RESIZE_BILINEAR).

    Used instead of ``keras.layers.Resizing``: placed inside a functional model, that
    preprocessing layer makes the layers after it run in training mode when the model is
    called without ``training`` (Keras 3.15; seen as dropout firing and batch-norm statistics
    moving at inference).
    """

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        if height < 1 or width < 1:
            raise ValueError(f"Resize: height and width must be positive, got {height}, {width}")
        self.height = int(height)
        self.width = int(width)

    def call(self, inputs):
        return ops.image.resize(
            inputs, (self.height, self.width), interpolation="bilinear", antialias=False
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
