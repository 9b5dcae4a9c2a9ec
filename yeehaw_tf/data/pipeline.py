"""tf.data input pipelines: cast, resize, cache, shuffle, augment, batch, prefetch."""

from __future__ import annotations

import functools
from collections.abc import Callable

import tensorflow as tf

from yeehaw_tf.data.augmentation import (
    Policy,
    classification_augmenter,
    get_policy,
    mixing_augmenter,
    segmentation_augmenter,
)
from yeehaw_tf.data.shuffling import shuffled_forever

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
    augment: str | Policy | Augment | None = None,
    num_classes: int | None = None,
) -> tf.data.Dataset:
    """Turns ``(image uint8, label)`` pairs into batches of ``(float32 pixels 0..255, int64)``.

    Pixels stay in 0..255: standardisation is the model's first layer
    (:class:`yeehaw_tf.layers.ChannelStandardization`), so serving feeds raw images.

    For training the dataset is shuffled with ``seed`` (a fresh, deterministic order each epoch),
    repeated forever and batched with ``drop_remainder=True`` so every step sees a full global
    batch; the order of batches is a pure function of ``seed``, which is what lets a resumed run
    skip exactly the batches it already consumed. For evaluation it is batched once, in order,
    keeping the last partial batch.

    ``augment``: a policy of ``yeehaw_tf.data.augmentation.policy_names("classification")``
    (or a ``Policy``), applied in training only, after shuffle and repeat, each example drawing
    from ``(seed, its position in the stream)``; or a function ``(image, label) -> (image,
    label)``, mapped as it is. ``mixup`` and ``cutmix`` mix whole batches and turn the training
    labels into ``[batch, num_classes]`` float32 mixtures, so they need ``num_classes``;
    evaluation labels stay integers.
    """

    def prepare(image, label):
        image = tf.cast(image, tf.float32)
        if image_size is not None:
            image = resize_images(image, image_size)
        return image, tf.cast(label, tf.int64)

    policy, function = _policy("classification", augment)
    per_example = per_batch = None
    if policy is not None and policy.soft_labels:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(
                f"augment={policy.name!r} gives soft labels [batch, num_classes]: pass "
                f"num_classes (a positive int), got {num_classes!r}"
            )
        per_batch = mixing_augmenter(policy, seed, num_classes)
    elif policy is not None:
        per_example = functools.partial(classification_augmenter, policy, seed=seed)
    return _batched(
        dataset,
        prepare,
        batch_size,
        training,
        seed,
        shuffle_buffer,
        cache,
        function,
        per_example,
        per_batch,
    )


def segmentation_pipeline(
    dataset: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    augment: str | Policy | Augment | None = None,
) -> tf.data.Dataset:
    """Turns ``(image uint8 [H, W, C], mask [H, W])`` pairs into batches of ``(float32 pixels
    0..255, int64 class maps)``; with ``image_size`` the image is resized bilinearly and the mask
    by nearest neighbour (class indices must not be interpolated). Shuffling, repetition and
    batching are as in :func:`classification_pipeline`. ``augment``: a policy of
    ``policy_names("segmentation")``, whose geometric steps move the mask with the image
    (nearest neighbour; uncovered pixels become class 0, background), or a function."""

    def prepare(image, mask):
        image = tf.cast(image, tf.float32)
        mask = tf.cast(mask, tf.int64)
        if image_size is not None:
            image = resize_images(image, image_size)
            mask = tf.image.resize(mask[..., None], image_size, method="nearest")[..., 0]
        return image, mask

    policy, function = _policy("segmentation", augment)
    per_example = None
    if policy is not None:
        per_example = functools.partial(segmentation_augmenter, policy, seed=seed)
    return _batched(
        dataset, prepare, batch_size, training, seed, shuffle_buffer, cache, function, per_example
    )


def _policy(kind: str, augment) -> tuple[Policy | None, Augment | None]:
    """``(policy, None)`` for a policy name or ``Policy`` (``None`` for ``"none"``), ``(None,
    function)`` for a function, ``(None, None)`` for ``None``."""
    if augment is None or (callable(augment) and not isinstance(augment, Policy)):
        return None, augment
    policy = get_policy(kind, augment)
    return (None if policy.name == "none" else policy), None


def _batched(
    dataset,
    prepare,
    batch_size,
    training,
    seed,
    shuffle_buffer,
    cache,
    augment,
    per_example=None,
    per_batch=None,
):
    """``per_example(image_shape)`` builds ``(index, example) -> example``, mapped over the
    enumerated training stream; ``per_batch``: ``(index, batch) -> batch``, over its batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
    ds = dataset.map(prepare, **parallel)
    if cache:
        ds = ds.cache()
    if training:
        ds = shuffled_forever(ds, shuffle_buffer, seed)
        if augment is not None:
            ds = ds.map(augment, **parallel)
        if per_example is not None:
            ds = ds.enumerate().map(per_example(ds.element_spec[0].shape), **parallel)
    ds = ds.batch(batch_size, drop_remainder=training)
    if training and per_batch is not None:
        ds = ds.enumerate().map(per_batch, **parallel)
    return ds.prefetch(tf.data.AUTOTUNE)
