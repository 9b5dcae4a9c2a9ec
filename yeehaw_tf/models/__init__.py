"""Model families and the registry that names them."""

from yeehaw_tf.models.registry import (
    CLASSIFIERS,
    DETECTORS,
    SEGMENTERS,
    accepts,
    build,
    classifier_names,
    detector_names,
    get_builder,
    get_classifier,
    get_detector,
    get_segmenter,
    list_models,
    segmenter_names,
)

__all__ = [
    "CLASSIFIERS",
    "DETECTORS",
    "SEGMENTERS",
    "accepts",
    "build",
    "classifier_names",
    "detector_names",
    "get_builder",
    "get_detector",
    "get_classifier",
    "get_segmenter",
    "list_models",
    "segmenter_names",
]
