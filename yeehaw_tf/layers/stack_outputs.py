"""Stacking a network's heads into one tensor, so one loss and both drivers can train them."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class StackOutputs(keras.layers.Layer):
    """``[main, aux_1, ...]`` (each ``[batch, classes]``) -> ``[batch, heads, classes]``."""

    def call(self, inputs):
        return ops.stack(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), *input_shape[0][1:])
