"""Built-in datasets (TFDS builders), dataset loading by name, input pipelines, statistics."""

from yeehaw_tf.data.datasets import (
    BUILTIN_DATASETS,
    SEGMENTATION_DATASETS,
    ClassificationData,
    SegmentationData,
    dataset_names,
    default_data_dir,
    load_classification,
    load_segmentation,
    validate_dataset_name,
)
from yeehaw_tf.data.digits import Digits
from yeehaw_tf.data.pipeline import classification_pipeline, resize_images, segmentation_pipeline
from yeehaw_tf.data.shapes import Shapes
from yeehaw_tf.data.statistics import channel_mean_std

__all__ = [
    "BUILTIN_DATASETS",
    "SEGMENTATION_DATASETS",
    "ClassificationData",
    "SegmentationData",
    "Digits",
    "Shapes",
    "channel_mean_std",
    "classification_pipeline",
    "dataset_names",
    "default_data_dir",
    "load_classification",
    "load_segmentation",
    "resize_images",
    "segmentation_pipeline",
    "validate_dataset_name",
]
