"""Export to SavedModel (serving) and TFLite/LiteRT (mobile), checked against the Keras model."""

from yeehaw_tf.atomic import atomic_directory, atomic_write_text
from yeehaw_tf.export.classifier import (
    FORMATS,
    ExportCheckError,
    export_classifier,
    export_model,
    export_segmenter,
    keras_probabilities,
    mean_iou,
)
from yeehaw_tf.export.saved_model import SERVING_KEY, ServingModel, export_classifier_saved_model
from yeehaw_tf.export.tflite import QUANTIZATIONS, TFLiteModel, convert_saved_model

__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "SERVING_KEY",
    "ServingModel",
    "ExportCheckError",
    "TFLiteModel",
    "atomic_directory",
    "atomic_write_text",
    "convert_saved_model",
    "export_classifier",
    "export_classifier_saved_model",
    "export_model",
    "export_segmenter",
    "keras_probabilities",
    "mean_iou",
]
