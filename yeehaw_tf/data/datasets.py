"""Dataset names -> TFDS builders: the built-in offline datasets and real ones, by one code path.

Built-in datasets (`digits`, `shapes`) are our own TFDS builders and prepare offline. Real
datasets (`mnist`, `cifar10`, ...) are TFDS's; preparing them downloads, so they are only used
when asked for by name, and a download starts only once its host has answered a short probe.
Either way the data lands in ``data_dir`` and is read through the dataset's TFDS builder.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data import downloads
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
# Real datasets known to work with the detection pipeline (image + objects/bbox, objects/label).
REAL_DETECTION_DATASETS = ("voc", "coco")


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
    real = (
        set(REAL_CLASSIFICATION_DATASETS)
        | set(SEGMENTATION_DATASETS)
        | set(REAL_DETECTION_DATASETS)
    )
    return sorted(BUILTIN_DATASETS) + sorted(real - set(BUILTIN_DATASETS))


def default_data_dir() -> str:
    """``$XDG_CACHE_HOME/yeehaw_tf/tensorflow_datasets`` (``~/.cache/...`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "yeehaw_tf", "tensorflow_datasets")


def _base_name(name: str) -> str:
    """``mnist`` of ``mnist``, ``mnist:3.0.1`` or ``shapes/tiny``."""
    return name.split("/", 1)[0].split(":", 1)[0]


def validate_dataset_name(name: str) -> str:
    """Returns ``name`` if it names a known dataset (optionally ``name/config``), else raises."""
    base = _base_name(name)
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
    """Prepares (if needed) and loads a classification dataset by name (see ``load_splits``)."""
    validate_dataset_name(name)
    (train, test), info = load_splits(name, data_dir or default_data_dir(), as_supervised=True)
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
        num_train=num_examples(info, "train", train),
        num_test=num_examples(info, "test", test),
    )


def load_splits(name: str, data_dir: str, as_supervised: bool = False):
    """``((train, test), info)`` of ``name`` in ``data_dir``, as ``tfds.load`` gives them, with
    the preparation made explicit. A built-in dataset is generated (offline) if missing. A real
    one is read if ``data_dir`` holds it; if not, it is downloaded only once its host has
    answered a short probe, and otherwise a ``ValueError`` says where from and what to do."""
    builder = tfds.builder(name, data_dir=data_dir)
    if _base_name(name) in BUILTIN_DATASETS:
        builder.download_and_prepare()  # generated offline; a no-op once prepared
        return _as_splits(builder, as_supervised), builder.info
    # A real dataset is read if it is there (or if TFDS's `mock_data` stands in for it, in
    # tests); if it is not, TFDS raises an AssertionError ("could not find data in ...").
    try:
        return _as_splits(builder, as_supervised), builder.info
    except AssertionError:
        if builder.data_path.exists():
            raise
    _require_download_host(name, builder, data_dir)
    builder.download_and_prepare()
    return _as_splits(builder, as_supervised), builder.info


def _as_splits(builder: tfds.core.DatasetBuilder, as_supervised: bool):
    return builder.as_dataset(
        split=["train", "test"], as_supervised=as_supervised, shuffle_files=False
    )


def _require_download_host(name: str, builder: tfds.core.DatasetBuilder, data_dir: str) -> None:
    """Raises a ``ValueError`` saying where ``name`` would come from and what to do instead
    unless the first of its download hosts answers a short probe."""
    urls = downloads.download_urls(builder)
    if not urls:
        return  # nothing to probe: leave it to TFDS
    host, port = downloads.probe_address(urls[0])
    error = downloads.connection_error(host, port)
    if error is None:
        return
    where = urls[0] if len(urls) == 1 else f"{urls[0]} and {len(urls) - 1} more URL(s)"
    raise ValueError(
        f"dataset {name!r} is not prepared in {data_dir} and must be downloaded from {where}, "
        f"but {host}:{port} cannot be reached ({error}). Either pass --data_dir=DIR with DIR a "
        f"TFDS data dir that holds {builder.info.full_name} (prepared on a machine with "
        f"internet, e.g. by `tfds build {name} --data_dir=DIR`), or use a built-in dataset, "
        f"generated offline: {', '.join(sorted(BUILTIN_DATASETS))}."
    )


def num_examples(info: tfds.core.DatasetInfo, split: str, dataset: tf.data.Dataset) -> int:
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
    """Prepares (if needed) and loads a dataset with semantic masks (see ``load_splits``)."""
    validate_dataset_name(name)
    base = _base_name(name)
    if base not in SEGMENTATION_DATASETS:
        raise ValueError(
            f"dataset {name!r} has no segmentation masks; valid names: "
            f"{', '.join(sorted(SEGMENTATION_DATASETS))}"
        )
    source = SEGMENTATION_DATASETS[base]
    (train, test), info = load_splits(name, data_dir or default_data_dir())

    def pair(example):
        mask = tf.cast(example[source.key][..., 0], tf.int64) - source.offset
        return example["image"], mask

    return SegmentationData(
        name=name,
        train=train.map(pair),
        test=test.map(pair),
        class_names=source.class_names,
        image_shape=tuple(info.features["image"].shape),
        num_train=num_examples(info, "train", train),
        num_test=num_examples(info, "test", test),
    )
