"""Detection data: any TFDS dataset whose examples hold ``image`` and ``objects`` with ``bbox``
(TFDS ``BBoxFeature``: relative ``[ymin, xmin, ymax, xmax]``) and ``label`` -- the built-in
``shapes``, and ``voc/2007``, ``coco/2017`` ... by name, through the same code.

Examples become ``(image uint8 [H, W, 3], {"boxes": [K, 4] rel_yxyx float32, "classes": [K]
int32})``; batches pad the boxes to a fixed ``max_boxes`` with class ``-1`` (so the global batch
splits evenly over replicas and every step has one shape).

Bad boxes: coordinates are clipped to ``[0, 1]`` and boxes left with ``max <= min`` on either
axis (empty, or given with max < min) are dropped; an image may have no objects (every anchor is
then background). Images with more than ``max_boxes`` objects keep their first ``max_boxes``.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data.augmentation import Policy, detection_augmenter, get_policy
from yeehaw_tf.data.augmentation.boxes import MAX_BOXES, clean_boxes
from yeehaw_tf.data.datasets import (
    default_data_dir,
    load_splits,
    num_examples,
    validate_dataset_name,
)
from yeehaw_tf.data.pipeline import resize_images
from yeehaw_tf.data.shuffling import shuffled_forever

__all__ = [
    "MAX_BOXES",
    "DetectionData",
    "clean_boxes",
    "detection_pipeline",
    "flip_horizontally",
    "load_detection",
]


@dataclasses.dataclass(frozen=True)
class DetectionData:
    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    class_names: tuple[str, ...]
    image_shape: tuple  # (H, W, C); H and W are None when images differ in size
    num_train: int
    num_test: int


def load_detection(name: str, data_dir: str | None = None, masks: bool = False) -> DetectionData:
    """Prepares (if needed) and loads a detection dataset by name; ``masks=True`` adds each
    object's instance mask, ``"masks": [K, H, W]`` uint8 in {0, 1} (datasets whose objects
    have a ``mask`` image, such as ``shapes``)."""
    validate_dataset_name(name)
    (train, test), info = load_splits(name, data_dir or default_data_dir())
    objects = info.features["objects"] if "objects" in info.features else None
    if (
        objects is None
        or "bbox" not in objects.feature
        or not isinstance(objects.feature["label"], tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"dataset {name!r} has no objects with bbox and label: not a detection dataset"
        )
    if masks and "mask" not in objects.feature:
        raise ValueError(
            f"dataset {name!r} has no instance masks (objects/mask): choose a detector without "
            "masks, or a dataset with them (e.g. shapes)"
        )

    def pair(example):
        boxes, labels = example["objects"]["bbox"], example["objects"]["label"]
        # one length (a TFDS Sequence keeps its fields aligned; TFDS's mock data does not)
        count = tf.minimum(tf.shape(boxes)[0], tf.shape(labels)[0])
        target = {
            "boxes": tf.cast(boxes[:count], tf.float32),
            "classes": tf.cast(labels[:count], tf.int32),
        }
        if masks:
            target["masks"] = tf.cast(example["objects"]["mask"][:count, ..., 0] > 0, tf.uint8)
        return example["image"], target

    return DetectionData(
        name=name,
        train=train.map(pair),
        test=test.map(pair),
        class_names=tuple(objects.feature["label"].names),
        image_shape=tuple(info.features["image"].shape),
        num_train=num_examples(info, "train", train),
        num_test=num_examples(info, "test", test),
    )


def flip_horizontally(image, boxes):
    """The mirrored image and its boxes (relative yxyx)."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    return tf.reverse(image, axis=[1]), tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=-1)


def _resize_masks(masks, size):
    """``[K, H, W]`` uint8 masks resized (nearest neighbour) to ``size``."""
    resized = tf.image.resize(masks[..., None], size, method="nearest")
    return tf.cast(resized[..., 0], tf.uint8)


def detection_pipeline(
    dataset: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool,
    image_size: tuple[int, int] | None = None,
    max_boxes: int = MAX_BOXES,
    flip: bool = True,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    augment: str | Policy | None = None,
) -> tf.data.Dataset:
    """Batches of ``(float32 pixels 0..255 [B, H, W, 3], {"boxes": [B, max_boxes, 4],
    "classes": [B, max_boxes]})``, padded with zero boxes of class -1 (and ``"masks": [B,
    max_boxes, H, W]`` uint8, padded with zeros, when the examples carry masks; and their
    ``"proposals": [B, R, 4]`` relative yxyx, mirrored with the image, when they carry region
    proposals, :mod:`yeehaw_tf.data.proposals`). With
    ``image_size`` the image is resized bilinearly (relative boxes are unchanged). Training:
    shuffled with ``seed``, repeated, each example mirrored with probability 1/2 (a stateless
    draw from ``(seed, position in the stream)``, so the stream is a pure function of
    ``seed``), full batches only; evaluation: in order, once, the last batch kept.

    ``augment``: a policy of ``yeehaw_tf.data.augmentation.policy_names("detection")`` (or a
    ``Policy``), applied in training after the mirror, drawing from ``(seed, position)`` too:
    boxes move with the image, are clipped, and are dropped with their classes and masks when
    nothing of them is left. A policy that flips (``Policy.flips``) does the mirroring itself:
    ``flip`` then adds no second mirror, so ``flip=True`` changes nothing with it."""
    policy = get_policy("detection", augment)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if max_boxes < 1:
        raise ValueError(f"max_boxes must be a positive integer, got {max_boxes}")

    with_masks = "masks" in dataset.element_spec[1]
    proposals = dataset.element_spec[1].get("proposals")
    if proposals is not None and policy.name != "none":
        raise ValueError(
            f"augment={policy.name!r} cannot be used with region proposals (the examples carry "
            "'proposals', which the policy's geometry would not move): use augment='none' "
            "(the horizontal flip moves them)"
        )

    def prepare(image, target):
        image = tf.cast(image, tf.float32)
        if image_size is not None:
            image = resize_images(image, image_size)
        extra = {} if proposals is None else {"proposals": target["proposals"]}
        if not with_masks:
            boxes, classes = clean_boxes(target["boxes"], target["classes"], max_boxes)
            return image, {"boxes": boxes, "classes": classes, **extra}
        masks = target["masks"]
        if image_size is not None:
            masks = _resize_masks(masks, image_size)
        boxes, classes, masks = clean_boxes(target["boxes"], target["classes"], max_boxes, masks)
        return image, {"boxes": boxes, "classes": classes, "masks": masks, **extra}

    def mirror(index, example):
        image, target = example
        coin = tf.random.stateless_uniform([], seed=tf.stack([tf.cast(seed, tf.int64), index]))
        flipped, boxes = flip_horizontally(image, target["boxes"])
        image = tf.where(coin < 0.5, flipped, image)
        mirrored = {
            "boxes": tf.where(coin < 0.5, boxes, target["boxes"]),
            "classes": target["classes"],
        }
        if with_masks:
            masks = target["masks"]
            mirrored["masks"] = tf.where(coin < 0.5, tf.reverse(masks, axis=[2]), masks)
        if proposals is not None:
            _, moved = flip_horizontally(image, target["proposals"])
            # a zero padding row mirrors to zero width: still padding
            mirrored["proposals"] = tf.where(coin < 0.5, moved, target["proposals"])
        return image, mirrored

    ds = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if training:
        ds = shuffled_forever(ds, shuffle_buffer, seed)
        mirrors = flip and not policy.flips
        augment_example = None
        if policy.name != "none":
            augment_example = detection_augmenter(policy, ds.element_spec[0].shape, seed, max_boxes)

        def augment_at(index, example):
            if mirrors:
                example = mirror(index, example)
            if augment_example is not None:
                example = augment_example(index, example)
            return example

        if mirrors or augment_example is not None:
            ds = ds.enumerate().map(
                augment_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
    image_shape = ds.element_spec[0].shape
    shapes = {"boxes": [max_boxes, 4], "classes": [max_boxes]}
    values = {"boxes": 0.0, "classes": -1}
    if with_masks:
        shapes["masks"] = [max_boxes, *image_shape[:2]]
        values["masks"] = tf.constant(0, tf.uint8)
    if proposals is not None:
        shapes["proposals"], values["proposals"] = proposals.shape, 0.0
    ds = ds.padded_batch(
        batch_size,
        padded_shapes=(image_shape, shapes),
        padding_values=(0.0, values),
        drop_remainder=training,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
