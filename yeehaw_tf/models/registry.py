"""Every model, reachable by name from one explicit table: name -> builder function.

Builders take ``num_classes`` and ``input_shape`` (plus their own options). Classifiers map
(standardised) float images to logits ``[batch, classes]``; families that can also return a dict
of feature maps take ``features=True``. Segmenters map them to per-pixel logits
``[batch, H, W, classes]``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import keras

from yeehaw_tf.models.classification import classic, densenet, inception, mlp, mobilenet, resnet
from yeehaw_tf.models.classification.small_resnet import small_resnet
from yeehaw_tf.models.detection import fast_rcnn, faster_rcnn, fcos, rcnn, retinanet, ssd, yolo
from yeehaw_tf.models.detection.backbones import small_backbone
from yeehaw_tf.models.generative.dcgan import dcgan_discriminator, dcgan_generator
from yeehaw_tf.models.generative.unet import ddpm_unet
from yeehaw_tf.models.generative.vae import vae_decoder, vae_encoder
from yeehaw_tf.models.segmentation import deeplab, fcn, segnet, unet
from yeehaw_tf.models.self_supervised.vit import VITS, vit

_p = functools.partial

CLASSIFIERS: dict[str, Callable[..., keras.Model]] = {
    "small_resnet": small_resnet,
    **{name: _p(mlp.mlp, hidden=hidden, name=name) for name, hidden in mlp.MLPS.items()},
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
    **{name: _p(vit, **spec, name=name) for name, spec in VITS.items()},
}


def _fcn_on_classifier(
    variant: str,
    num_classes: int = 21,
    input_shape=(224, 224, 3),
    backbone: str = "vgg16",
    fc_width: int = fcn.FC_WIDTH,
    dropout: float = fcn.DROPOUT,
) -> keras.Model:
    """FCN ``variant`` on the features of the registered classifier ``backbone`` (``vgg*`` or
    an ImageNet ``resnet*``: maps ``C3, C4, C5``). VGG keeps its fc6/fc7 as convolutions of
    width ``fc_width``; other backbones score ``C5`` directly."""
    features = build(backbone, num_classes, input_shape, features=True)
    fc = fc_width if backbone.startswith("vgg") else None
    return fcn.fcn(features, variant, num_classes, fc_width=fc, dropout=dropout)


def _deeplab_on_resnet(
    output_stride: int,
    num_classes: int = 21,
    input_shape=(64, 64, 3),
    backbone="resnet18",
    base_filters: int = 64,
) -> keras.Model:
    """DeepLab's head on an ImageNet ``backbone`` made à trous to ``output_stride``;
    ``base_filters`` is the backbone's ``base_width`` (64 published, 16 trains on a CPU)."""
    features = resnet.resnet(
        backbone,
        input_shape=input_shape,
        features=True,
        output_stride=output_stride,
        base_width=base_filters,
    )
    return deeplab.deeplab(features, num_classes, name=f"deeplab_{backbone}_os{output_stride}")


# Segmenters. ``unet`` is the paper's architecture at a quarter of its width (16 base filters,
# sized for small images on a CPU); ``unet(base_filters=64)`` is the paper's.
SEGMENTERS: dict[str, Callable[..., keras.Model]] = {
    "unet": _p(unet.unet, base_filters=16),
    **{variant: _p(_fcn_on_classifier, variant) for variant in fcn.STRIDES},
    "segnet": segnet.segnet,
    **{f"deeplab_resnet18_os{s}": _p(_deeplab_on_resnet, s) for s in resnet.OUTPUT_STRIDES},
}


def _features_of(name: str) -> Callable[[tuple], keras.Model]:
    """A backbone builder: the registered classifier ``name`` with ``features=True``."""
    return lambda input_shape: build(name, input_shape=input_shape, features=True)


# Detector families (``yeehaw_tf.models.detection``): name -> the family object (network,
# anchors, loss, decoding). ``build(name, num_classes, input_shape)`` builds its network.
DETECTORS: dict[str, Callable[[], object]] = {
    "retinanet_small": _p(retinanet.RetinaNet, retinanet.SMALL, small_backbone, "retinanet_small"),
    "retinanet_resnet50_fpn": _p(
        retinanet.RetinaNet,
        retinanet.RetinaNetConfig(),
        _features_of("resnet50"),
        "retinanet_resnet50_fpn",
    ),
    **fcos.variants(_features_of),
    **ssd.variants(_features_of),
    **yolo.variants(_features_of),
    **faster_rcnn.variants(_features_of),
    **fast_rcnn.variants(_features_of),
    **rcnn.variants(_features_of),
}
DETECTOR_INPUT_SHAPES = {
    "retinanet_small": (64, 64, 3),
    "retinanet_resnet50_fpn": (512, 512, 3),
    **fcos.INPUT_SHAPES,
    **ssd.INPUT_SHAPES,
    **yolo.INPUT_SHAPES,
    **faster_rcnn.INPUT_SHAPES,
    **fast_rcnn.INPUT_SHAPES,
    **rcnn.INPUT_SHAPES,
}


# Generative families: name -> the named parts a generative task builds (builders called with
# keyword arguments: ``image_shape`` and their own options).
GENERATIVE: dict[str, dict[str, Callable[..., keras.Model]]] = {
    "dcgan": {"generator": dcgan_generator, "discriminator": dcgan_discriminator},
    "conv_vae": {"encoder": vae_encoder, "decoder": vae_decoder},
    "ddpm_unet": {"eps_model": ddpm_unet},
}


def generative_names(part: str | None = None) -> list[str]:
    """Generative families (those with a part named ``part``, if given)."""
    return sorted(name for name, parts in GENERATIVE.items() if part is None or part in parts)


def get_generative(name: str) -> dict[str, Callable[..., keras.Model]]:
    """The builders of generative family ``name``'s parts."""
    return _lookup(GENERATIVE, name, "generative model")


def detector_names() -> list[str]:
    return sorted(DETECTORS)


def get_detector(name: str):
    """The detector family ``name`` (its ``build``, ``anchors``, ``loss``, ``decode``)."""
    return _lookup(DETECTORS, name, "detector")()


def classifier_names() -> list[str]:
    return sorted(CLASSIFIERS)


def segmenter_names() -> list[str]:
    return sorted(SEGMENTERS)


list_models = classifier_names


def _lookup(table: dict, name: str, kind: str) -> Callable[..., keras.Model]:
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"unknown {kind} {name!r}; valid names: {', '.join(sorted(table))}"
        ) from None


def get_classifier(name: str) -> Callable[..., keras.Model]:
    return _lookup(CLASSIFIERS, name, "model")


def get_segmenter(name: str) -> Callable[..., keras.Model]:
    return _lookup(SEGMENTERS, name, "segmentation model")


def get_builder(name: str) -> Callable[..., keras.Model]:
    """The builder of any registered model (classifier or segmenter)."""
    return _lookup({**CLASSIFIERS, **SEGMENTERS}, name, "model")


def accepts(name: str, option: str) -> bool:
    """Whether the builder of ``name`` takes keyword ``option``."""
    return option in inspect.signature(get_builder(name)).parameters


def build(name: str, num_classes: int = 1000, input_shape=None, **options) -> keras.Model:
    """Builds a registered model. ``input_shape`` defaults to the builder's canonical one;
    an option the builder does not take is refused by name."""
    if name in DETECTORS:
        if options:
            raise ValueError(f"detector {name!r} takes no options, got {sorted(options)}")
        shape = DETECTOR_INPUT_SHAPES[name] if input_shape is None else tuple(input_shape)
        return get_detector(name).build(num_classes, shape)
    builder = get_builder(name)
    for option in options:
        if not accepts(name, option):
            raise ValueError(f"model {name!r} does not take option {option!r}")
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    return builder(num_classes=num_classes, **options)
