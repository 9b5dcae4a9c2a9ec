"""tf.data input pipelines: cast, resize, cache, shuffle, augment, batch, prefetch."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

Augment = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def resize_images(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Bilinear resize that keeps pixel units (0..255, float32); a no-op when sizes agree."""
    images = tf.cast(images, tf.float32)
    if tuple(images.shape[-3:-1]) == tuple(size):
        return images
    resized = tf.image.resize(images, size, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def classification_pipeline(
    dataset: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    augment: Augment | None = None,
) -> tf.data.Dataset:
    """Turns ``(image uint8, label)`` pairs into batches of ``(float32 pixels 0..255, int64)``.

    Pixels stay in 0..255: standardisation is the model's first layer
    (:class:`yeehaw_tf.layers.ChannelStandardization`), so serving feeds raw images.

    For training the dataset is shuffled with ``seed`` (a fresh, deterministic order each epoch),
    repeated forever and batched with ``drop_remainder=True`` so every step sees a full global
    batch; the order of batches is a pure function of ``seed``, which is what lets a resumed run
    skip exactly the batches it already consumed. For evaluation it is batched once, in order,
    keeping the last partial batch.
    """

    def prepare(image, label):
        image = tf.cast(image, tf.float32)
        if image_size is not None:
            image = resize_images(image, image_size)
        return image, tf.cast(label, tf.int64)

    return _batched(dataset, prepare, batch_size, training, seed, shuffle_buffer, cache, augment)


def segmentation_pipeline(
    dataset: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    augment: Augment | None = None,
) -> tf.data.Dataset:
    """Turns ``(image uint8 [H, W, C], mask [H, W])`` pairs into batches of ``(float32 pixels
    0..255, int64 class maps)``; with ``image_size`` the image is resized bilinearly and the mask
    by nearest neighbour (class indices must not be interpolated). Shuffling, repetition and
    batching are as in :func:`classification_pipeline`."""

    def prepare(image, mask):
        image = tf.cast(image, tf.float32)
        mask = tf.cast(mask, tf.int64)
        if image_size is not None:
            image = resize_images(image, image_size)
            mask = tf.image.resize(mask[..., None], image_size, method="nearest")[..., 0]
        return image, mask

    return _batched(dataset, prepare, batch_size, training, seed, shuffle_buffer, cache, augment)


def _batched(dataset, prepare, batch_size, training, seed, shuffle_buffer, cache, augment):
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    ds = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
        if augment is not None:
            ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(tf.data.AUTOTUNE)
