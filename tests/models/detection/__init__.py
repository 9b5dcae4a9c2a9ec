"""Shared by the detector tests."""

import keras
import numpy as np


def non_batch_norm_weights(model: keras.Model) -> int:
    """The number of weights outside batch-normalisation layers: torchvision's detection
    backbones use frozen batch norm, whose weights are buffers its published counts leave out."""
    bn = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if "BatchNormalization" in type(layer).__name__:
            bn |= {id(w) for w in layer.weights}
    return sum(int(np.prod(w.shape)) for w in model.weights if id(w) not in bn)
