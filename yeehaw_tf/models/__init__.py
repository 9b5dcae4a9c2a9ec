"""Model families and the registry that names them."""

from yeehaw_tf.models.registry import (
    CLASSIFIERS,
    accepts,
    build,
    classifier_names,
    get_classifier,
    list_models,
)

__all__ = ["CLASSIFIERS", "accepts", "build", "classifier_names", "get_classifier", "list_models"]
