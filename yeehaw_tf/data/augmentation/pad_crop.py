"""Pad-and-random-crop (the CIFAR recipe): Keras's ``RandomCrop`` on a padded image.

Keras has no padding crop, and ``RandomCrop``'s box code (Keras 3.15) is wrong: it subtracts
the vertical offset from x and the horizontal one from y, converts relative boxes with the crop
size instead of the input size, and never clips the far edge. This layer keeps ``RandomCrop``'s
image and mask slicing and replaces the box code.
"""

from __future__ import annotations

import keras
from keras.utils import bounding_boxes as keras_boxes


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RandomPadCrop(keras.layers.RandomCrop):
    """Pads every side by ``padding`` pixels of 0 and crops ``height x width`` back at a random
    offset: a translation by a whole number of pixels in ``[-padding, padding]`` on each axis,
    with the uncovered border filled with 0 (and 0, background, in masks).

    Args:
        padding: pixels added on each side (a positive int).
        height, width: the output size (the input's, for a pure translation).
        seed, bounding_box_format, data_format, name: as ``keras.layers.RandomCrop``.

    Input: images ``[B, H, W, C]`` or ``[H, W, C]`` (channels last); boxes in
    ``bounding_box_format`` are shifted with the pixels and clipped, and a box left with no area
    gets label -1 (as Keras's other layers do). One offset is drawn per call (per batch), as
    ``RandomCrop`` does.
    """

    def __init__(
        self,
        padding: int,
        height: int,
        width: int,
        seed=None,
        bounding_box_format=None,
        data_format=None,
        name=None,
        **kwargs,
    ):
        if not isinstance(padding, int) or isinstance(padding, bool) or padding < 1:
            raise ValueError(f"RandomPadCrop: padding must be a positive integer, got {padding!r}")
        super().__init__(
            height,
            width,
            seed=seed,
            data_format=data_format,
            name=name,
            bounding_box_format=bounding_box_format,
            **kwargs,
        )
        if self.data_format != "channels_last":
            raise ValueError("RandomPadCrop: data_format must be 'channels_last'")
        self.padding = padding

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        if seed is None:
            seed = self._get_seed_generator(self.backend._backend)
        top = self.backend.random.randint((), 0, 2 * self.padding + 1, seed=seed)
        left = self.backend.random.randint((), 0, 2 * self.padding + 1, seed=seed)
        return top, left

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return self.backend.cast(images, self.compute_dtype)
        p = self.padding
        spatial = [[p, p], [p, p], [0, 0]]
        pad = spatial if len(images.shape) == 3 else [[0, 0], *spatial]
        padded = self.backend.numpy.pad(self.backend.cast(images, self.compute_dtype), pad)
        return super().transform_images(padded, transformation, training=True)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if not training or transformation is None:
            return bounding_boxes
        top, left = transformation
        ops = self.backend
        height, width = self.height, self.width  # the input size, which is the output size
        boxes = keras_boxes.convert_format(
            bounding_boxes["boxes"], self.bounding_box_format, "xyxy", height, width
        )
        shift_x = ops.cast(self.padding - left, boxes.dtype)
        shift_y = ops.cast(self.padding - top, boxes.dtype)
        boxes = boxes + ops.numpy.stack([shift_x, shift_y, shift_x, shift_y])
        result = keras_boxes.clip_to_image_size(
            {**bounding_boxes, "boxes": boxes}, height=height, width=width
        )
        result["boxes"] = keras_boxes.convert_format(
            result["boxes"], "xyxy", self.bounding_box_format, height, width
        )
        return result

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
