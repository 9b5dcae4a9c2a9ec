import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from yeehaw_tf.data import load_classification
from yeehaw_tf.data.digits import digits_split


def _rows(images, labels):
    """A sortable fingerprint per example, to compare splits regardless of order."""
    return sorted(
        image.tobytes() + bytes([label]) for image, label in zip(images, labels, strict=True)
    )


def test_split_matches_an_independent_stratified_split():
    raw = load_digits()
    expected_images = np.round(raw.images * 255 / 16).astype(np.uint8)[..., None]
    train_idx, test_idx = train_test_split(
        np.arange(1797), test_size=0.2, stratify=raw.target, random_state=0
    )
    split = digits_split()
    assert _rows(*split["train"]) == _rows(expected_images[train_idx], raw.target[train_idx])
    assert _rows(*split["test"]) == _rows(expected_images[test_idx], raw.target[test_idx])


def test_split_sizes_and_stratification():
    split = digits_split()
    train_images, train_labels = split["train"]
    test_images, test_labels = split["test"]
    assert len(train_labels) == 1437 and len(test_labels) == 360
    assert train_images.shape == (1437, 8, 8, 1) and train_images.dtype == np.uint8
    assert train_images.max() == 255 and train_images.min() == 0
    # every class is split about 80/20
    for c in range(10):
        n_train, n_test = np.sum(train_labels == c), np.sum(test_labels == c)
        assert abs(n_test / (n_train + n_test) - 0.2) < 0.02


def test_tfds_builder_serves_the_split(data_dir):
    data = load_classification("digits", data_dir)
    assert (data.num_train, data.num_test, data.num_classes) == (1437, 360, 10)
    assert data.image_shape == (8, 8, 1)
    test = list(data.test.as_numpy_iterator())
    images = np.stack([image for image, _ in test])
    labels = np.array([label for _, label in test])
    assert images.dtype == np.uint8
    assert _rows(images, labels) == _rows(*digits_split()["test"])


def test_loading_is_deterministic(data_dir):
    first = [
        label for _, label in load_classification("digits", data_dir).train.as_numpy_iterator()
    ]
    second = [
        label for _, label in load_classification("digits", data_dir).train.as_numpy_iterator()
    ]
    assert first == second


@pytest.mark.parametrize("name", ["digitz", "shapes/huge", "mnist2"])
def test_unknown_dataset_names_are_refused_with_the_valid_ones(name, data_dir):
    with pytest.raises(ValueError, match="valid"):
        load_classification(name, data_dir)
