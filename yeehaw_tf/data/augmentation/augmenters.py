"""Per-example augmentation functions for ``dataset.enumerate().map(...)``, one per task kind.

Each takes ``(index, example)`` -- ``index`` the example's position in the training stream --
and draws everything from ``element_seed(seed, index)``: the stream is a pure function of the
run seed, so ``pipeline.skip(n)`` (how a resumed run catches up) yields exactly what the
uninterrupted run saw from position ``n`` on.
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.data.augmentation import boxes as box_geometry
from yeehaw_tf.data.augmentation import masks as mask_geometry
from yeehaw_tf.data.augmentation.policies import Policy
from yeehaw_tf.data.augmentation.seeding import element_seed
from yeehaw_tf.data.augmentation.transform import apply_layers


def _layers(policy: Policy, image_shape) -> list:
    height, width = tuple(image_shape)[:2]
    if height is None or width is None:
        raise ValueError(
            f"augment={policy.name!r} needs images of one size; these are {tuple(image_shape)} "
            "(pass image_size to the pipeline)"
        )
    return policy.layers(int(height), int(width))


def classification_augmenter(policy: Policy, image_shape, seed: int):
    """``(index, (image [H, W, C] float32, label)) -> (image, label)``."""
    layers = _layers(policy, image_shape)

    def augment(index, example):
        image, label = example
        images, _, _, _ = apply_layers(layers, element_seed(seed, index), image[None])
        return images[0], label

    return augment


def segmentation_augmenter(policy: Policy, image_shape, seed: int):
    """``(index, (image [H, W, C] float32, mask [H, W] int)) -> (image, mask)``: the mask moves
    with the image (nearest neighbour) and is 0, background, where the image was filled."""
    layers = _layers(policy, image_shape)

    def augment(index, example):
        image, mask = example
        images, masks, _, _ = apply_layers(
            layers,
            element_seed(seed, index),
            image[None],
            masks=mask_geometry.class_map_to_channels(mask),
        )
        return images[0], mask_geometry.channels_to_class_map(masks, mask.dtype)

    return augment


def detection_augmenter(policy: Policy, image_shape, seed: int, max_boxes: int):
    """``(index, (image [H, W, 3] float32, {"boxes": [K, 4] rel yxyx, "classes": [K],
    optional "masks": [K, H, W] uint8})) -> (image, target)``.

    Boxes move with the image (a rotated box becomes the enclosing box of its corners), are
    clipped to it and dropped -- with their classes and masks -- when nothing of them is left
    (or, with masks, when nothing of the mask is left).
    """
    layers = _layers(policy, image_shape)
    height, width = (int(d) for d in tuple(image_shape)[:2])

    def augment(index, example):
        image, target = example
        pixel_boxes = box_geometry.relative_yxyx_to_xyxy(target["boxes"], height, width)
        with_masks = "masks" in target
        masks = mask_geometry.instance_masks_to_channels(target["masks"]) if with_masks else None
        images, masks, moved, valid = apply_layers(
            layers, element_seed(seed, index), image[None], masks=masks, boxes=pixel_boxes[None]
        )
        boxes = box_geometry.xyxy_to_relative_yxyx(moved[0], height, width)
        boxes = tf.where(valid[0][:, None], boxes, 0.0)  # Keras's label -1: drop it below
        if not with_masks:
            boxes, classes = box_geometry.clean_boxes(boxes, target["classes"], max_boxes)
            return images[0], {"boxes": boxes, "classes": classes}
        instance_masks = mask_geometry.channels_to_instance_masks(masks, target["masks"].dtype)
        boxes, classes, instance_masks = box_geometry.clean_boxes(
            boxes, target["classes"], max_boxes, instance_masks, drop_empty_masks=True
        )
        return images[0], {"boxes": boxes, "classes": classes, "masks": instance_masks}

    return augment
