"""Dataset names -> TFDS builders: the built-in offline datasets and real ones, by one code path.

Built-in datasets (`digits`, `shapes`) are our own TFDS builders and prepare offline. Real
datasets (`mnist`, `cifar10`, ...) are TFDS's; preparing them downloads, so they are only used
when asked for by name. Either way the data lands in ``data_dir`` and is read with ``tfds.load``.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data.digits import Digits
from yeehaw_tf.data.shapes import Shapes
from yeehaw_tf.data.shapes_scenes import CLASS_NAMES

# The builders are registered with TFDS when their classes are defined (TFDS's own mechanism);
# this explicit table is what we validate names against.
BUILTIN_DATASETS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    "digits": Digits,
    "shapes": Shapes,
}
# Real datasets known to work with the classification pipeline (image + integer label).
REAL_CLASSIFICATION_DATASETS = ("mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100")


@dataclasses.dataclass(frozen=True)
class _MaskSource:
    """Where a dataset keeps its semantic mask and how its values map to class indices."""

    key: str  # feature holding a uint8 (H, W, 1) mask
    offset: int  # subtracted from the stored values
    class_names: tuple[str, ...]


# Datasets with semantic masks: `shapes` (0 background, 1.. the shape classes) and the Oxford-IIIT
# Pet trimaps (stored 1 pet, 2 background, 3 border).
SEGMENTATION_DATASETS = {
    "shapes": _MaskSource("segmentation_mask", 0, ("background", *CLASS_NAMES)),
    "oxford_iiit_pet": _MaskSource("segmentation_mask", 1, ("pet", "background", "border")),
}


def dataset_names() -> list[str]:
    real = set(REAL_CLASSIFICATION_DATASETS) | set(SEGMENTATION_DATASETS)
    return sorted(BUILTIN_DATASETS) + sorted(real - set(BUILTIN_DATASETS))


def default_data_dir() -> str:
    """``$XDG_CACHE_HOME/yeehaw_tf/tensorflow_datasets`` (``~/.cache/...`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "yeehaw_tf", "tensorflow_datasets")


def validate_dataset_name(name: str) -> str:
    """Returns ``name`` if it names a known dataset (optionally ``name/config``), else raises."""
    base = name.split("/", 1)[0].split(":", 1)[0]
    if base not in dataset_names():
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(dataset_names())}")
    if base in BUILTIN_DATASETS and "/" in name:
        configs = [c.name for c in BUILTIN_DATASETS[base].BUILDER_CONFIGS]
        config = name.split("/", 1)[1].split(":", 1)[0]
        if config not in configs:
            raise ValueError(
                f"unknown config {config!r} of dataset {base!r}; "
                f"valid configs: {', '.join(configs)}"
            )
    return name


@dataclasses.dataclass(frozen=True)
class ClassificationData:
    """The splits of a classification dataset, as ``(image uint8, label int64)`` pairs."""

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    image_shape: tuple[int, int, int]
    num_train: int
    num_test: int


def load_classification(name: str, data_dir: str | None = None) -> ClassificationData:
    """Prepares (if needed) and loads a classification dataset by name through ``tfds.load``."""
    validate_dataset_name(name)
    data_dir = data_dir or default_data_dir()
    (train, test), info = tfds.load(
        name,
        split=["train", "test"],
        data_dir=data_dir,
        as_supervised=True,
        with_info=True,
        shuffle_files=False,
    )
    image = info.features["image"]
    label = info.features["label"]
    if not isinstance(label, tfds.features.ClassLabel) or image.shape[-1] is None:
        raise ValueError(f"dataset {name!r} is not an (image, class label) dataset")
    return ClassificationData(
        name=name,
        train=train,
        test=test,
        num_classes=label.num_classes,
        image_shape=tuple(image.shape),
        num_train=_num_examples(info, "train", train),
        num_test=_num_examples(info, "test", test),
    )


def _num_examples(info: tfds.core.DatasetInfo, split: str, dataset: tf.data.Dataset) -> int:
    """The split's size from the dataset's metadata, else from the dataset's known cardinality
    (TFDS's mock data, used in tests, has no split metadata)."""
    if split in info.splits:
        return info.splits[split].num_examples
    cardinality = int(dataset.cardinality())
    if cardinality < 0:
        raise ValueError(f"the size of split {split!r} of {info.full_name} is unknown")
    return cardinality


@dataclasses.dataclass(frozen=True)
class SegmentationData:
    """The splits of a segmentation dataset, as ``(image uint8 [H, W, C], mask int64 [H, W])``
    pairs; mask values are class indices in ``[0, num_classes)``."""

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    class_names: tuple[str, ...]
    image_shape: tuple  # (H, W, C); H and W are None when images differ in size
    num_train: int
    num_test: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_segmentation(name: str, data_dir: str | None = None) -> SegmentationData:
    """Prepares (if needed) and loads a dataset with semantic masks through ``tfds.load``."""
    validate_dataset_name(name)
    base = name.split("/", 1)[0].split(":", 1)[0]
    if base not in SEGMENTATION_DATASETS:
        raise ValueError(
            f"dataset {name!r} has no segmentation masks; valid names: "
            f"{', '.join(sorted(SEGMENTATION_DATASETS))}"
        )
    source = SEGMENTATION_DATASETS[base]
    (train, test), info = tfds.load(
        name,
        split=["train", "test"],
        data_dir=data_dir or default_data_dir(),
        with_info=True,
        shuffle_files=False,
    )

    def pair(example):
        mask = tf.cast(example[source.key][..., 0], tf.int64) - source.offset
        return example["image"], mask

    return SegmentationData(
        name=name,
        train=train.map(pair),
        test=test.map(pair),
        class_names=source.class_names,
        image_shape=tuple(info.features["image"].shape),
        num_train=_num_examples(info, "train", train),
        num_test=_num_examples(info, "test", test),
    )
