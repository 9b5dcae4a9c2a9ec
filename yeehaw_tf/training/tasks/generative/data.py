"""The generative tasks' images: a classification dataset's images (labels only for the scorer),
as floats in ``[-1, 1]`` for the models and back to uint8 for pictures, scores and serving."""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.data.datasets import load_classification
from yeehaw_tf.data.shuffling import shuffled_forever
from yeehaw_tf.training.tasks.base import TaskData
from yeehaw_tf.training.tasks.images import check_splits

SHUFFLE_BUFFER = 10_000


def load_images(dataset: str, data_dir: str | None) -> TaskData:
    """The splits of ``(image, label)`` pairs; ``info`` holds the classes, the image shape and
    ``data_dir`` (where the scorer is cached)."""
    data = load_classification(dataset, data_dir)
    check_splits(dataset, data_dir, data.num_train, data.num_test)
    info = {
        "num_classes": data.num_classes,
        "image_shape": tuple(data.image_shape),
        "data_dir": data_dir,
    }
    return TaskData(data.name, data.train, data.test, data.num_train, data.num_test, info)


def to_unit(images) -> tf.Tensor:
    """uint8-valued pixels (0..255) -> floats in ``[-1, 1]``."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images) -> tf.Tensor:
    """Floats in ``[-1, 1]`` (clipped) -> uint8 pixels, rounded."""
    pixels = (tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) * 127.5
    return tf.cast(tf.round(pixels), tf.uint8)


def image_pipeline(
    dataset: tf.data.Dataset, batch_size: int, training: bool, seed: int = 0
) -> tf.data.Dataset:
    """Batches of images in ``[-1, 1]`` (labels dropped): shuffled and repeated for training
    (the order depends only on ``seed``)."""
    ds = dataset.map(lambda image, label: to_unit(image)).cache()
    if training:
        ds = shuffled_forever(ds, SHUFFLE_BUFFER, seed)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
