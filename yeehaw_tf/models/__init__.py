"""Model families and the registry that names them."""

from yeehaw_tf.models.registry import (
    CLASSIFIERS,
    SEGMENTERS,
    accepts,
    build,
    classifier_names,
    get_builder,
    get_classifier,
    get_segmenter,
    list_models,
    segmenter_names,
)

__all__ = [
    "CLASSIFIERS",
    "SEGMENTERS",
    "accepts",
    "build",
    "classifier_names",
    "get_builder",
    "get_classifier",
    "get_segmenter",
    "list_models",
    "segmenter_names",
]
