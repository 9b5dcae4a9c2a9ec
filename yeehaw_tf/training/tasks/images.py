"""Helpers the image tasks share: split checks, the training split's channel statistics, and
uint8 arrays of a split (for export)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.data.datasets import default_data_dir
from yeehaw_tf.data.statistics import channel_mean_std
from yeehaw_tf.training.tasks.supervised import SupervisedTask


def check_splits(name: str, data_dir: str | None, num_train: int, num_test: int) -> None:
    for split, size in (("train", num_train), ("test", num_test)):
        if size == 0:
            where = data_dir or default_data_dir()
            raise ValueError(f"split {split!r} of dataset {name!r} in {where} is empty")


def statistics(images: tf.data.Dataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation (at least 1e-3) of a dataset of images."""
    mean, std = channel_mean_std(images)
    return tuple(mean.tolist()), tuple(np.maximum(std, 1e-3).tolist())


def as_arrays(dataset: tf.data.Dataset, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8, labels int64)`` numpy arrays from a dataset of pairs (labels may be
    class maps)."""
    if limit is not None:
        dataset = dataset.take(limit)
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    return np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64)


class ImageTask(SupervisedTask):
    """A supervised task on images whose model standardises its input with the training
    split's per-channel ``mean``/``std``: what it measured, kept in the run record.

    Args:
        options: the task's options.
        num_classes: classes the model predicts (segmentation: background included).
        input_shape: ``(H, W, C)`` of the images the model takes (uint8 units, 0..255).
        mean, std: per-channel statistics of the training split.
        class_names: their names, if the dataset has them (for reports and pictures).
    """

    def __init__(
        self,
        options,
        *,
        num_classes: int,
        input_shape: tuple[int, int, int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        class_names: tuple[str, ...] = (),
    ):
        super().__init__(options)
        self.num_classes = int(num_classes)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.class_names = tuple(class_names)
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names for {self.num_classes} classes"
            )

    def _record(self) -> dict:
        return {
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "mean": list(self.mean),
            "std": list(self.std),
            "class_names": list(self.class_names),
        }

    @classmethod
    def from_dict(cls, record):
        return cls(
            cls.Options.from_dict(record["options"]),
            num_classes=record["num_classes"],
            input_shape=tuple(record["input_shape"]),
            mean=tuple(record["mean"]),
            std=tuple(record["std"]),
            class_names=tuple(record.get("class_names", ())),
        )
