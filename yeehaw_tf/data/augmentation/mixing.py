"""Mixup and CutMix: Keras's batch layers, seeded per batch, with integer labels made soft.

Both mix each image of a batch with another of the same batch and return soft labels
``[batch, num_classes]`` (float32): the loss must accept them (``SoftmaxCrossEntropy`` and
``MulticlassHinge`` do), and a sparse accuracy metric must not be fed them.

Keras's ``CutMix`` (3.15) weighs the labels by the area of a continuous box, but pastes the
whole pixels whose index lies in it: on 8 x 8 digits the two differ by up to tens of percent.
Here the label weight is the fraction of pixels actually pasted.
"""

from __future__ import annotations

import zlib

import keras
import tensorflow as tf

from yeehaw_tf.data.augmentation.policies import Policy
from yeehaw_tf.data.augmentation.seeding import StatelessSeedGenerator

_SALT = zlib.crc32(b"yeehaw_tf.data.augmentation.mixing")


def batch_seed(seed: int, index) -> tf.Tensor:
    """The ``[2]`` int64 seed of batch ``index`` of a run seeded with ``seed``."""
    base = tf.constant([int(seed), _SALT], tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def mixing_augmenter(policy: Policy, seed: int, num_classes: int):
    """``(batch index, (images [B, H, W, C], labels [B] int)) -> (images, soft labels [B,
    num_classes] float32)`` for a policy with ``mix`` (``mixup``, ``cutmix``)."""
    if policy.mix is None:
        raise ValueError(f"augment={policy.name!r} does not mix batches")
    layer = policy.mix()

    def mix(index, batch):
        images, labels = batch
        targets = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
        generator = StatelessSeedGenerator(batch_seed(seed, index))
        transformation = layer.get_random_transformation(
            {"images": images}, training=True, seed=generator
        )
        if isinstance(layer, keras.layers.CutMix):
            pasted = tf.reduce_mean(
                tf.cast(transformation["batch_masks"][..., 0], tf.float32), [1, 2]
            )
            transformation = {**transformation, "mix_weight": 1.0 - pasted}
        images = layer.transform_images(images, transformation, training=True)
        targets = layer.transform_labels(targets, transformation, training=True)
        return tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 255.0), tf.cast(
            targets, tf.float32
        )

    return mix
