"""Choosing a normalisation layer by name, for models whose normalisation is configurable."""

from __future__ import annotations

import keras

from yeehaw_tf.layers.batch_normalization import BatchNormalization
from yeehaw_tf.layers.group_normalization import GroupNormalization, InstanceNormalization

NORMALIZATIONS = ("batch", "layer", "group", "instance", "none")


def get_normalization(kind: str, channels: int, name: str) -> keras.layers.Layer | None:
    """A normalisation layer for conv features with ``channels`` channels, or None for "none".

    - ``batch``: :class:`BatchNormalization`, synchronized across replicas;
    - ``layer``: statistics over all of an example's features (C, H, W): group norm with one
      group, the form of layer normalisation used for convolutional features;
    - ``group``: group norm with ``min(32, channels)`` groups (fewer if they do not divide);
    - ``instance``: :class:`InstanceNormalization` (per example and channel).
    """
    if kind not in NORMALIZATIONS:
        raise ValueError(f"unknown norm {kind!r}; valid names: {', '.join(NORMALIZATIONS)}")
    if kind == "batch":
        return BatchNormalization(synchronized=True, name=name)
    if kind == "layer":
        return GroupNormalization(groups=1, name=name)
    if kind == "group":
        groups = min(32, channels)
        while channels % groups:
            groups -= 1
        return GroupNormalization(groups=groups, name=name)
    if kind == "instance":
        return InstanceNormalization(name=name)
    return None
