"""Export to SavedModel (serving) and TFLite/LiteRT (mobile) from a serving spec, checked
against the Keras model: one path for every task."""

from yeehaw_tf.atomic import atomic_directory, atomic_write_text
from yeehaw_tf.export.exporter import (
    FORMATS,
    ExportCheckError,
    export_spec,
    keras_reference,
)
from yeehaw_tf.export.saved_model import SERVING_KEY, ServingModel, export_saved_model
from yeehaw_tf.export.spec import (
    OutputCheck,
    ServingSpec,
    Signature,
    image_input,
    mean_iou,
    probabilities_spec,
    softmax_serving,
)
from yeehaw_tf.export.tflite import (
    QUANTIZATIONS,
    TFLiteConversionError,
    TFLiteModel,
    convert_saved_model,
)


def export_probabilities(model, export_dir: str, *, images, labels, representative_images, **kw):
    """Exports a classifier or segmenter (float pixels -> logits) through
    :func:`probabilities_spec` and :func:`export_spec`; keyword arguments go to the latter."""
    spec = probabilities_spec(
        model, images=images, labels=labels, representative_images=representative_images
    )
    return export_spec(spec, export_dir, **kw)


__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "SERVING_KEY",
    "ExportCheckError",
    "OutputCheck",
    "ServingModel",
    "ServingSpec",
    "Signature",
    "TFLiteConversionError",
    "TFLiteModel",
    "atomic_directory",
    "atomic_write_text",
    "convert_saved_model",
    "export_probabilities",
    "export_saved_model",
    "export_spec",
    "image_input",
    "keras_reference",
    "mean_iou",
    "probabilities_spec",
    "softmax_serving",
]
