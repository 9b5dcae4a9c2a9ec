"""Transfer learning for classifiers: a pre-trained network's weights into a new model with a
new head (``--init_from``), some of its layers frozen (``--freeze``), optionally unfrozen after a
number of steps at a lower learning rate (``--unfreeze_step``, ``--fine_tune_lr_factor``).

The head is the network's ``logits`` layer: always new (it is built for the new classes and
never loaded). ``--freeze``:

- ``none``: every layer trains (fine-tuning from the start);
- ``backbone``: every layer with weights except the head is frozen;
- ``all_but_last_N``: all but the last ``N`` layers with weights are frozen
  (``all_but_last_1`` is ``backbone``).

Frozen layers have ``trainable = False``, so their batch normalisation runs in inference mode
(moving statistics, not the batch's), as the Keras transfer-learning guide recommends for small
target datasets; with ``--unfreeze_step`` their batch normalisation stays in inference mode
after unfreezing too (the guide's advice), while their other weights are held still by a zero
gradient until that step and then train at ``fine_tune_lr_factor`` times the learning rate
(the whole model's learning rate drops, as the guide recompiles with a lower one).
"""

from __future__ import annotations

import re

import keras
import numpy as np

from yeehaw_tf.layers.batch_normalization import BatchNormalization

HEAD = "logits"
_FREEZE = re.compile(r"^(none|backbone|all_but_last_([1-9][0-9]*))$")


def check_freeze(value: str) -> None:
    if not isinstance(value, str) or not _FREEZE.match(value):
        raise ValueError(f"freeze must be none, backbone or all_but_last_N (N >= 1), got {value!r}")


def weighted_layers(network: keras.Model) -> list[keras.layers.Layer]:
    """The network's layers that own weights, in order (a nested model counts as its own
    layers)."""
    layers = []
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            layers.extend(weighted_layers(layer))
        elif layer.weights:
            layers.append(layer)
    return layers


def frozen_layers(network: keras.Model, freeze: str) -> list[keras.layers.Layer]:
    """The layers ``freeze`` holds still."""
    check_freeze(freeze)
    layers = weighted_layers(network)
    if freeze == "none":
        return []
    if freeze == "backbone":
        return [layer for layer in layers if layer.name != HEAD]
    keep = int(_FREEZE.match(freeze).group(2))
    if keep >= len(layers):
        raise ValueError(
            f"--freeze={freeze}: the model {network.name!r} has only {len(layers)} layers with "
            f"weights, so at most all_but_last_{len(layers) - 1} leaves something frozen"
        )
    return layers[: len(layers) - keep]


def network_of(model: keras.Model) -> keras.Model:
    """The registry network inside a classification model (its one nested model), or the model
    itself when it is a bare network."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else model


def pretrained(path: str) -> tuple[dict[str, list[np.ndarray]], dict | None]:
    """``(weights, preprocessing)`` of the model saved at ``path`` (a workdir or a ``.keras``
    file): layer name -> weights of its network, head excluded, and the config of its
    ``standardize`` layer (``None`` if it has none). The new model must prepare its inputs as
    the pre-trained one did: its features were learned on those inputs. ``path`` may also name
    ``keras.applications.<Model>`` (ImageNet weights, see :func:`application_weights`)."""
    from yeehaw_tf.training.runs import load_model

    if path.startswith(APPLICATIONS):
        return application_weights(path[len(APPLICATIONS) :])

    model = load_model(path, what="--init_from")
    network = network_of(model)
    weights = {
        layer.name: [np.asarray(w) for w in layer.get_weights()]
        for layer in weighted_layers(network)
        if layer.name != HEAD
    }
    names = {layer.name: layer for layer in model.layers}
    preprocessing = None
    if "standardize" in names and network is not model:
        layer = names["standardize"]
        preprocessing = {"class_name": type(layer).__name__, "config": layer.get_config()}
    return weights, preprocessing


APPLICATIONS = "keras.applications."
# keras.applications models whose inputs are x / 127.5 - 1 ("tf" mode): carried over as a
# ChannelStandardization; the others' (caffe BGR means, torch) keep the dataset's statistics.
_TF_MODE = ("MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "Xception")


def application_weights(
    name: str, weights: str | None = "imagenet", input_shape=None
) -> tuple[list[list[np.ndarray]], dict | None]:
    """``(weights, preprocessing)`` of ``keras.applications.<name>`` (see
    :func:`weights_in_order`); ``weights="imagenet"`` downloads them once (online only; never
    in tests). MobileNets and Xception expect ``x / 127.5 - 1``, carried over as a
    ``ChannelStandardization``; the others' preprocessing (caffe BGR means, torch statistics)
    is not, and the dataset's statistics stay."""
    builder = getattr(keras.applications, name, None)
    if not callable(builder) or name.startswith("_"):
        raise ValueError(f"--init_from {APPLICATIONS}{name}: keras.applications has no {name!r}")
    options = {"weights": weights}
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    preprocessing = None
    if name in _TF_MODE:
        config = {"mean": [127.5] * 3, "std": [127.5] * 3}
        preprocessing = {"class_name": "ChannelStandardization", "config": config}
    return weights_in_order(builder(**options)), preprocessing


def weights_in_order(model: keras.Model) -> list[list[np.ndarray]]:
    """The weights of ``model``'s layers in order, its last (the classifier) excluded: matched
    to ours by order and shape (our ``mobilenet_v2`` and ``vgg16`` compute the same functions
    as ``keras.applications``' MobileNetV2 and VGG16, tested)."""
    return [[np.asarray(w) for w in layer.get_weights()] for layer in weighted_layers(model)[:-1]]


def load_pretrained(network: keras.Model, weights, path: str):
    """Sets every non-head layer of ``network`` from ``weights``: a dict by layer name (our
    runs), or a list in layer order (``keras.applications``); raises a ``ValueError`` naming
    ``--init_from`` and the layers that did not match."""
    if isinstance(weights, list):
        return _load_in_order(network, weights, path)
    missing, mismatched = [], []
    for layer in weighted_layers(network):
        if layer.name == HEAD:
            continue
        if layer.name not in weights:
            missing.append(layer.name)
            continue
        ours = [tuple(w.shape) for w in layer.weights]
        theirs = [tuple(w.shape) for w in weights[layer.name]]
        if ours != theirs:
            mismatched.append(f"{layer.name} (ours {ours}, theirs {theirs})")
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} layers not in it: {', '.join(missing[:8])}")
        if mismatched:
            parts.append(f"{len(mismatched)} with other shapes: {'; '.join(mismatched[:4])}")
        raise ValueError(
            f"--init_from {path}: its network does not fit model {network.name!r}: "
            + "; ".join(parts)
        )
    for layer in weighted_layers(network):
        if layer.name != HEAD:
            layer.set_weights(weights[layer.name])


def freeze(network: keras.Model, freeze: str, unfreeze_step: int) -> list:
    """Freezes ``network``'s layers as ``freeze`` says; returns the variables held by a zero
    gradient until ``unfreeze_step`` (empty when nothing unfreezes: those layers are simply not
    trainable)."""
    held = []
    for layer in frozen_layers(network, freeze):
        if not unfreeze_step or isinstance(
            layer, BatchNormalization | keras.layers.BatchNormalization
        ):
            layer.trainable = False
        else:
            held.extend(layer.trainable_variables)
    return held


def _load_in_order(network: keras.Model, weights: list, path: str) -> None:
    ours = [layer for layer in weighted_layers(network) if layer.name != HEAD]
    if len(ours) != len(weights):
        raise ValueError(
            f"--init_from {path}: it has {len(weights)} layers with weights (classifier "
            f"excluded), model {network.name!r} has {len(ours)}"
        )
    for i, (layer, theirs) in enumerate(zip(ours, weights, strict=True)):
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [tuple(w.shape) for w in theirs]:
            raise ValueError(
                f"--init_from {path}: its layer {i} does not fit {layer.name!r} (ours "
                f"{shapes}, theirs {[tuple(w.shape) for w in theirs]}); the architectures differ"
            )
    for layer, theirs in zip(ours, weights, strict=True):
        layer.set_weights(theirs)
