"""Drives Keras's image preprocessing layers with explicit, stateless seeds.

A Keras image layer splits its work into ``get_random_transformation(data, training, seed)``
and ``transform_images`` / ``transform_segmentation_masks`` / ``transform_bounding_boxes`` of
that one transformation. :func:`apply_layers` calls them directly, layer after layer, with a
:class:`StatelessSeedGenerator` per layer, so the layers' own ``SeedGenerator`` state is never
read or advanced and the result is a pure function of the seed.
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.data.augmentation.seeding import StatelessSeedGenerator, layer_seed


def apply_layers(layers, seed, images, masks=None, boxes=None):
    """Applies ``layers`` in order to one batch (in the pipelines, a batch of one example).

    Args:
        layers: Keras image preprocessing layers (boxes, if given, in ``"xyxy"``).
        seed: ``[2]`` int64 seed; layer ``i`` draws from ``fold_in(seed, i)``.
        images: ``[B, H, W, C]`` float32.
        masks: optional ``[B, H, W, M]`` float32 masks (nearest-neighbour, fill 0).
        boxes: optional ``[B, K, 4]`` pixel ``xyxy`` boxes.

    Returns ``(images, masks, boxes, valid)``: ``valid [B, K]`` is false for every box that some
    layer clipped to nothing (Keras marks those with label -1; once gone, a box stays gone even
    if a later layer would give its degenerate remains an area again). ``masks``, ``boxes``
    and ``valid`` are ``None`` when not given.
    """
    labels = None if boxes is None else tf.zeros(tf.shape(boxes)[:2], tf.int32)
    for position, layer in enumerate(layers):
        generator = StatelessSeedGenerator(layer_seed(seed, position))
        transformation = layer.get_random_transformation(
            {"images": images}, training=True, seed=generator
        )
        images = layer.transform_images(images, transformation, training=True)
        if masks is not None:
            masks = layer.transform_segmentation_masks(masks, transformation, training=True)
        if boxes is not None:
            moved = layer.transform_bounding_boxes(
                {"boxes": boxes, "labels": labels}, transformation, training=True
            )
            boxes = tf.cast(moved["boxes"], tf.float32)
            labels = tf.where(tf.cast(moved["labels"], tf.int32) < 0, -1, labels)
    valid = None if labels is None else labels >= 0
    return images, masks, boxes, valid
