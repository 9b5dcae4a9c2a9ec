"""Every model, reachable by name from one explicit table: name -> builder function.

Classification builders take ``num_classes`` and ``input_shape`` and return a Keras model that
maps standardised float images to logits.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from yeehaw_tf.models.classification.small_resnet import small_resnet

CLASSIFIERS: dict[str, Callable[..., keras.Model]] = {
    "small_resnet": small_resnet,
}


def classifier_names() -> list[str]:
    return sorted(CLASSIFIERS)


def get_classifier(name: str) -> Callable[..., keras.Model]:
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; valid names: {', '.join(classifier_names())}"
        ) from None
