"""Helpers the image tasks share: split checks, the training split's channel statistics, and
uint8 arrays of a split (for export)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.data.datasets import default_data_dir
from yeehaw_tf.data.statistics import channel_mean_std


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
