"""Subsets of a classification dataset: some of its classes, a few labelled examples of each.

The small-data settings of the training-techniques experiments (transfer from digits 0-4 to
5-9 with ten labelled examples per class; augmentation on a tenth of the training split) are
these two operations, both deterministic: which examples are kept depends only on the split's
order, never on a random draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def check_classes(classes: Sequence[int], num_classes: int, what: str = "classes") -> tuple:
    """``classes`` as a tuple of distinct labels in ``[0, num_classes)``, at least two."""
    classes = tuple(int(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"{what} must list at least two distinct class labels, got {classes}")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise ValueError(
            f"{what}: labels {bad} are not classes of this dataset (0..{num_classes - 1})"
        )
    return classes


def select_classes(dataset: tf.data.Dataset, classes: Sequence[int]) -> tf.data.Dataset:
    """The ``(image, label)`` pairs whose label is in ``classes``, relabelled by position:
    ``classes[i]`` becomes ``i`` (so ``(5, 6, 7, 8, 9)`` trains a 5-class model)."""
    table = np.full(max(classes) + 1, -1, np.int64)
    table[list(classes)] = np.arange(len(classes))
    table = tf.constant(table)

    def keep(image, label):
        label = tf.cast(label, tf.int64)
        return (
            (label >= 0)
            & (label < len(table))
            & (tf.gather(table, tf.minimum(label, len(table) - 1)) >= 0)
        )

    def relabel(image, label):
        return image, tf.gather(table, tf.cast(label, tf.int64))

    return dataset.filter(keep).map(relabel)


def first_per_class(dataset: tf.data.Dataset, per_class: int, num_classes: int) -> tf.data.Dataset:
    """The first ``per_class`` examples of each class, in the split's order."""
    if per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class}")

    def count(seen, example):
        label = tf.cast(example[1], tf.int64)
        kept = seen[label] < per_class
        seen = tf.tensor_scatter_nd_add(seen, [[label]], [1])
        return seen, (example, kept)

    def is_kept(example, kept):
        return kept

    def example_of(example, kept):
        return example

    counted = dataset.scan(tf.zeros([num_classes], tf.int64), count)
    return counted.filter(is_kept).map(example_of)


def count_examples(dataset: tf.data.Dataset) -> int:
    """The number of elements of a finite dataset (by iterating it once)."""
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1).numpy())
