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

# The builders are registered with TFDS when their classes are defined (TFDS's own mechanism);
# this explicit table is what we validate names against.
BUILTIN_DATASETS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    "digits": Digits,
    "shapes": Shapes,
}
# Real datasets known to work with the classification pipeline (image + integer label).
REAL_CLASSIFICATION_DATASETS = ("mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100")


def dataset_names() -> list[str]:
    return sorted(BUILTIN_DATASETS) + sorted(REAL_CLASSIFICATION_DATASETS)


def default_data_dir() -> str:
    """``$XDG_CACHE_HOME/yeehaw_tf/tensorflow_datasets`` (``~/.cache/...`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "yeehaw_tf", "tensorflow_datasets")


def validate_dataset_name(name: str) -> str:
    """Returns ``name`` if it names a known dataset (optionally ``name/config``), else raises."""
    base = name.split("/", 1)[0].split(":", 1)[0]
    if base not in BUILTIN_DATASETS and base not in REAL_CLASSIFICATION_DATASETS:
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
