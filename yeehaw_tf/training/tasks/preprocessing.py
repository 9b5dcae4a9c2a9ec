"""The classifier's first layer: how raw pixels are prepared, chosen by ``--preprocessing``.

- ``channel_standardize`` (default): ``(x - mean[c]) / std[c]``, per-channel statistics;
- ``channel_mean``: ``(x - mean[c]) / 255``: "subtract per-channel means" (VGGNet);
- ``mean_image``: ``(x - mean_image) / 255``: "subtract the mean image" (AlexNet);
- ``none``: ``x / 255``: not centred.

The statistics come from the training split only and live in the layer's config, so
evaluation, the SavedModel and TFLite apply the same processing. The three choices other than
``channel_standardize`` share the one factor ``1/255`` so that comparing them compares centring
alone, not the inputs' scale.
"""

from __future__ import annotations

import keras
import numpy as np

from yeehaw_tf.layers import ChannelMeanSubtraction, ChannelStandardization, MeanImageSubtraction

PREPROCESSING = ("channel_standardize", "channel_mean", "mean_image", "none")
PIXEL_SCALE = 1.0 / 255.0
# the choice each layer class implements (to carry a pre-trained model's over)
PREPROCESSING_OF_LAYER = {
    "ChannelStandardization": "channel_standardize",
    "ChannelMeanSubtraction": "channel_mean",
    "MeanImageSubtraction": "mean_image",
    "Rescaling": "none",
}


def preprocessing_layer(kind: str, mean, std, mean_image=None) -> keras.layers.Layer:
    """The layer for ``kind`` (named ``standardize``, whatever it does)."""
    if kind == "channel_standardize":
        return ChannelStandardization(mean, std, name="standardize")
    if kind == "channel_mean":
        return ChannelMeanSubtraction(mean, scale=PIXEL_SCALE, name="standardize")
    if kind == "mean_image":
        if mean_image is None:
            raise ValueError("preprocessing=mean_image needs the training split's mean image")
        return MeanImageSubtraction(np.asarray(mean_image), scale=PIXEL_SCALE, name="standardize")
    if kind == "none":
        return keras.layers.Rescaling(PIXEL_SCALE, name="standardize")
    raise ValueError(f"unknown preprocessing {kind!r}; valid names: {', '.join(PREPROCESSING)}")


def carried_preprocessing(source: dict, kind: str, input_shape, where: str) -> dict:
    """The statistics a transferred model takes over from its pre-trained source (whose
    ``standardize`` layer is ``source = {"class_name", "config"}``): its features were learned
    on inputs prepared that way. Returns the task attributes to set (``mean``, ``std``,
    ``mean_image``); refuses another kind of preprocessing or other channels, naming
    ``--init_from`` (``where``)."""
    theirs = PREPROCESSING_OF_LAYER.get(source["class_name"])
    if theirs != kind:
        raise ValueError(
            f"--init_from {where}: its model prepares inputs with "
            f"{theirs or source['class_name']}, not --preprocessing={kind}"
        )
    config = source["config"]
    channels = input_shape[-1]
    carried = {}
    if kind in ("channel_standardize", "channel_mean"):
        if len(config["mean"]) != channels:
            raise ValueError(
                f"--init_from {where}: its model takes {len(config['mean'])} channels, this "
                f"dataset has {channels}"
            )
        carried["mean"] = tuple(config["mean"])
    if kind == "channel_standardize":
        carried["std"] = tuple(config["std"])
    if kind == "mean_image":
        image = np.asarray(config["mean_image"], np.float64)
        if image.shape != tuple(input_shape):
            raise ValueError(
                f"--init_from {where}: its mean image is {image.shape}, this dataset's images "
                f"are {tuple(input_shape)}"
            )
        carried["mean_image"] = image
    return carried
