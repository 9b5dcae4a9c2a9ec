"""Model families and the registry that names them."""

from yeehaw_tf.models.registry import CLASSIFIERS, classifier_names, get_classifier

__all__ = ["CLASSIFIERS", "classifier_names", "get_classifier"]
