"""Semantic segmentation: standardise inside the model, predict per-pixel logits, per-pixel
cross-entropy; pixel accuracy and mean IoU as metrics."""

from __future__ import annotations

import dataclasses
import functools
import os

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.data.augmentation import policy_names, validate_policy
from yeehaw_tf.data.datasets import load_segmentation, validate_dataset_name
from yeehaw_tf.data.pipeline import resize_images, segmentation_pipeline
from yeehaw_tf.export.spec import probabilities_spec
from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.losses.segmentation import PixelwiseCrossEntropy
from yeehaw_tf.metrics.segmentation import MeanIoU, PixelAccuracy
from yeehaw_tf.models.registry import build, get_segmenter, segmenter_names
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks.base import TaskData, TaskOptions
from yeehaw_tf.training.tasks.images import ImageTask, as_arrays, check_splits, statistics
from yeehaw_tf.training.tasks.options import (
    check_fraction,
    check_image_size,
    chosen_model_options,
    option,
)

NUM_REPRESENTATIVE = 256
NUM_OVERLAYS = 6


@dataclasses.dataclass(frozen=True)
class SegmentationOptions(TaskOptions):
    """Options of the segmentation task (validated on construction)."""

    model: str = option("unet", "Segmenter to train.", segmenter_names)
    dataset: str = option("shapes", "Dataset with semantic masks, optionally name/config.")
    epochs: int = option(6, "Epochs to train when --train_steps is not set.")
    base_filters: int | None = option(
        None,
        "Width of segmentation models that take it (unet, segnet: filters of level 1; "
        "deeplab_*: the ResNet's base width).",
    )
    dropout: float = option(0.0, "Dropout rate, for models that take it, in [0, 1).")
    l1: float = option(0.0, "L1 penalty on every kernel, for models that take it.")
    l2: float = option(0.0, "L2 penalty on every kernel, for models that take it.")
    image_size: tuple[int, int] | None = option(
        None,
        "height,width to resize images (bilinear) and masks (nearest) to; needed for datasets "
        "whose images differ in size.",
    )
    augment: str = option(
        "none",
        "Training augmentation policy: the same geometric transform on image and mask (nearest "
        "neighbour for the mask, uncovered pixels background); never in exports.",
        lambda: policy_names("segmentation"),
    )

    def __post_init__(self):
        validate_policy("segmentation", self.augment)
        get_segmenter(self.model)  # a clear error for an unknown or non-segmentation name
        validate_dataset_name(self.dataset)
        check_fraction("dropout", self.dropout)
        check_image_size(self.image_size)
        if self.base_filters is not None and (
            not isinstance(self.base_filters, int) or self.base_filters < 1
        ):
            raise ValueError(f"base_filters must be a positive integer, got {self.base_filters!r}")
        weight_penalty(self.l1, self.l2)
        model_options(self)


def model_options(options: SegmentationOptions) -> dict:
    chosen = {
        "base_filters": (options.base_filters, None),
        "dropout": (options.dropout, 0.0),
        "kernel_regularizer": (weight_penalty(options.l1, options.l2), None),
    }
    return chosen_model_options(options.model, chosen)


class SegmentationTask(ImageTask):
    """What the Trainer needs for semantic segmentation.

    The model takes float pixels (0..255) of shape ``input_shape``, standardises them with the
    training split's per-channel ``mean``/``std`` and returns logits ``[batch, H, W, classes]``.
    Labels are class maps ``[batch, H, W]`` (background is a class).
    """

    name = "segmentation"
    Options = SegmentationOptions

    # ----------------------------------------------------------------------------- data
    @classmethod
    def load_data(cls, options: SegmentationOptions, data_dir: str | None) -> TaskData:
        data = load_segmentation(options.dataset, data_dir)
        size = tuple(options.image_size or data.image_shape[:2])
        if None in size:
            raise ValueError(
                f"dataset {options.dataset!r} has images of different sizes: choose one with "
                "--image_size"
            )
        check_splits(options.dataset, data_dir, data.num_train, data.num_test)
        info = {
            "class_names": data.class_names,
            "image_shape": (*size, data.image_shape[-1]),
        }
        return TaskData(data.name, data.train, data.test, data.num_train, data.num_test, info)

    @classmethod
    def from_data(cls, options: SegmentationOptions, data: TaskData) -> SegmentationTask:
        size = options.image_size
        mean, std = statistics(
            data.train.map(lambda image, mask: resize_images(image, size) if size else image)
        )
        return cls(
            options,
            num_classes=len(data.info["class_names"]),
            input_shape=data.info["image_shape"],
            mean=mean,
            std=std,
            class_names=data.info["class_names"],
        )

    def _pipeline(self):
        return functools.partial(segmentation_pipeline, image_size=self.options.image_size)

    def train_dataset(self, data: TaskData, batch_size: int, seed: int):
        return self._pipeline()(
            data.train,
            batch_size=batch_size,
            training=True,
            seed=seed,
            augment=self.options.augment,
        )

    def eval_dataset(self, data: TaskData, batch_size: int):
        return self._pipeline()(data.test, batch_size=batch_size, training=False)

    # ----------------------------------------------------------------------------- models
    def build_model(self) -> keras.Model:
        inputs = keras.Input(self.input_shape, name="images")
        x = ChannelStandardization(self.mean, self.std, name="standardize")(inputs)
        network = build(
            self.options.model, self.num_classes, self.input_shape, **model_options(self.options)
        )
        return keras.Model(inputs, network(x), name=f"{self.options.model}_segmenter")

    def loss(self) -> keras.losses.Loss:
        return PixelwiseCrossEntropy()

    def metrics(self) -> list[keras.metrics.Metric]:
        return [PixelAccuracy(self.num_classes, name="accuracy"), MeanIoU(self.num_classes)]

    # ----------------------------------------------------------------------------- results
    def _at_model_size(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        size = self.input_shape[:2]

        def resize(image, mask):
            if tuple(image.shape[:2]) == tuple(size):
                return image, mask
            image = tf.cast(tf.round(resize_images(image, size)), tf.uint8)
            mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
            return image, mask

        return dataset.map(resize)

    def serving_spec(self, model: keras.Model, data: TaskData):
        images, labels = as_arrays(self._at_model_size(data.test))
        representative, _ = as_arrays(self._at_model_size(data.train), NUM_REPRESENTATIVE)
        return probabilities_spec(
            model,
            images=images,
            labels=labels,
            representative_images=representative,
            num_classes=self.num_classes,
            metadata={"task": self.name, "class_names": list(self.class_names)},
        )

    def summary_rows(self, evaluation) -> list[tuple[str, str]]:
        return [
            ("test accuracy", f"{evaluation.get('accuracy', float('nan')):.4f}"),
            ("test mean IoU", f"{evaluation['mean_iou']:.4f}"),
            *super().summary_rows(evaluation),
        ]

    def write_artifacts(self, model: keras.Model, data: TaskData, workdir: str) -> dict:
        """``workdir/overlays.png``: the first test images, their masks and the prediction."""
        from yeehaw_tf.analysis.plots import plot_segmentation

        batch = next(iter(self.eval_dataset(data, NUM_OVERLAYS)))
        images, masks = batch
        predictions = np.argmax(model(images, training=False), axis=-1)
        path = os.path.join(workdir, "overlays.png")
        pixels = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
        return {
            "overlays": plot_segmentation(
                path, pixels, masks.numpy(), predictions, self.class_names
            )
        }
