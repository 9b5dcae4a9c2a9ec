"""Class subsets and first-N-per-class subsets against plain Python loops."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data.subsets import check_classes, count_examples, first_per_class, select_classes


def _pairs():
    labels = np.random.default_rng(0).integers(0, 6, size=50)
    return np.arange(50), labels, tf.data.Dataset.from_tensor_slices((np.arange(50), labels))


def test_select_classes_keeps_their_examples_in_order_relabelled_by_position():
    images, labels, ds = _pairs()
    classes = (4, 1, 5)
    got = list(select_classes(ds, classes).as_numpy_iterator())
    expected = [(i, classes.index(y)) for i, y in zip(images, labels, strict=True) if y in classes]
    assert [(int(i), int(y)) for i, y in got] == expected


def test_first_per_class_keeps_the_first_n_of_each_class():
    images, labels, ds = _pairs()
    seen = {}
    expected = []
    for i, y in zip(images, labels, strict=True):
        seen[y] = seen.get(y, 0) + 1
        if seen[y] <= 3:
            expected.append((i, y))
    got = list(first_per_class(ds, 3, 6).as_numpy_iterator())
    assert [(int(i), int(y)) for i, y in got] == [(int(i), int(y)) for i, y in expected]
    assert count_examples(first_per_class(ds, 3, 6)) == len(expected) == 18


@pytest.mark.parametrize(
    "classes, match",
    [((1,), "at least two distinct"), ((2, 2), "at least two distinct"), ((1, 9), r"\[9\]")],
)
def test_bad_classes_are_refused(classes, match):
    with pytest.raises(ValueError, match=match):
        check_classes(classes, 6)
    with pytest.raises(ValueError, match="per_class must be a positive integer"):
        first_per_class(_pairs()[2], 0, 6)
