"""The CIE lightness of an RGB image as a grey RGB image: what a colorization network sees."""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.ops.color import rgb_to_lab


def lightness_image(images: tf.Tensor) -> tf.Tensor:
    """Float RGB 0..255 ``[..., 3]`` -> the grey picture of its CIE L* (``L / 100 * 255`` in
    every channel), of the same shape."""
    lab = rgb_to_lab(tf.cast(images, tf.float32) / 255.0)
    grey = lab[..., :1] * (255.0 / 100.0)
    return tf.concat([grey, grey, grey], axis=-1)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Lightness(keras.layers.Layer):
    """:func:`lightness_image` as a layer (no weights): the input of a colorization-trained
    encoder, in its embedding model and its exports (Zhang et al. probe on L alone)."""

    def build(self, input_shape):
        if input_shape[-1] != 3:
            raise ValueError(f"Lightness: images must have 3 channels, got shape {input_shape}")

    def call(self, images):
        return lightness_image(images)

    def compute_output_shape(self, input_shape):
        return input_shape
