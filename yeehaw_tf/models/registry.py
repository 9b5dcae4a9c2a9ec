"""Every model, reachable by name from one explicit table: name -> builder function.

Classification builders take ``num_classes`` and ``input_shape`` (plus their own options) and
return a Keras model that maps (standardised) float images to logits; families that can also
return a dict of feature maps take ``features=True``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import keras

from yeehaw_tf.models.classification import classic, densenet, inception, mobilenet, resnet
from yeehaw_tf.models.classification.small_resnet import small_resnet

_p = functools.partial

CLASSIFIERS: dict[str, Callable[..., keras.Model]] = {
    "small_resnet": small_resnet,
    "lenet5": classic.lenet5,
    "alexnet": classic.alexnet,
    **{f"vgg{d}": _p(classic.vgg, d) for d in classic.VGG_CONFIGS},
    **{f"vgg{d}_bn": _p(classic.vgg, d, batch_norm=True) for d in classic.VGG_CONFIGS},
    "googlenet": inception.googlenet,
    "inception_v3": inception.inception_v3,
    **{name: _p(resnet.resnet, name) for name in resnet.RESNETS},
    **{f"resnet{d}": _p(resnet.cifar_resnet, d) for d in resnet.CIFAR_DEPTHS},
    **{
        f"wrn{d}_{k}": _p(resnet.wide_resnet, d, k)
        for d, k in ((16, 4), (16, 8), (28, 10), (40, 4))
    },
    **{f"densenet{d}": _p(densenet.densenet, d) for d in densenet.DENSENETS},
    "mobilenet_v1": mobilenet.mobilenet_v1,
    "mobilenet_v2": mobilenet.mobilenet_v2,
}


def classifier_names() -> list[str]:
    return sorted(CLASSIFIERS)


list_models = classifier_names


def get_classifier(name: str) -> Callable[..., keras.Model]:
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; valid names: {', '.join(classifier_names())}"
        ) from None


def accepts(name: str, option: str) -> bool:
    """Whether the builder of ``name`` takes keyword ``option``."""
    return option in inspect.signature(get_classifier(name)).parameters


def build(name: str, num_classes: int = 1000, input_shape=None, **options) -> keras.Model:
    """Builds a registered model. ``input_shape`` defaults to the builder's canonical one;
    an option the builder does not take is refused by name."""
    builder = get_classifier(name)
    for option in options:
        if not accepts(name, option):
            raise ValueError(f"model {name!r} does not take option {option!r}")
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    return builder(num_classes=num_classes, **options)
