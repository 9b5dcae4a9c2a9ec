"""Built-in datasets (TFDS builders), dataset loading by name, input pipelines, statistics."""

from yeehaw_tf.data.datasets import (
    BUILTIN_DATASETS,
    ClassificationData,
    dataset_names,
    default_data_dir,
    load_classification,
    validate_dataset_name,
)
from yeehaw_tf.data.digits import Digits
from yeehaw_tf.data.pipeline import classification_pipeline, resize_images
from yeehaw_tf.data.shapes import Shapes
from yeehaw_tf.data.statistics import channel_mean_std

__all__ = [
    "BUILTIN_DATASETS",
    "ClassificationData",
    "Digits",
    "Shapes",
    "channel_mean_std",
    "classification_pipeline",
    "dataset_names",
    "default_data_dir",
    "load_classification",
    "resize_images",
    "validate_dataset_name",
]
