"""The `digits` built-in dataset: the 1,797 real 8x8 handwritten digits shipped by scikit-learn.

The images come from the UCI "Optical Recognition of Handwritten Digits" data set (Alpaydin &
Kaynak, 1998), 8x8 pixels with 17 grey levels (0..16). We scale them to uint8 0..255
(``round(v * 255 / 16)``) and split them once, stratified by class with a fixed seed, into 80%
train (1,437 images) and 20% test (360 images). Nothing is downloaded: scikit-learn carries the
data inside its wheel.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

NUM_CLASSES = 10
SPLIT_SEED = 0
TEST_FRACTION = 0.2


def digits_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns ``{"train": (images, labels), "test": (images, labels)}`` as uint8 / int64 arrays."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = data.target.astype(np.int64)
    indices = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        indices, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED
    )
    return {
        "train": (images[np.sort(train_idx)], labels[np.sort(train_idx)]),
        "test": (images[np.sort(test_idx)], labels[np.sort(test_idx)]),
    }


class Digits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits as a TFDS dataset (offline)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Stratified 80/20 split with seed 0; pixels scaled 0..16 -> 0..255."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://archive.ics.uci.edu/dataset/80",
            citation=(
                "@misc{alpaydin1998optical, title={Optical Recognition of Handwritten Digits},"
                " author={Alpaydin, E. and Kaynak, C.}, year={1998},"
                " howpublished={UCI Machine Learning Repository}}"
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        splits = digits_split()
        return {name: self._generate_examples(*arrays) for name, arrays in splits.items()}

    def _generate_examples(self, images: np.ndarray, labels: np.ndarray):
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield index, {"image": image, "label": int(label)}
