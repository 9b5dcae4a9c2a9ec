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


def np_iou(a, b):
    """Pairwise IoU of xyxy boxes in float64 (0 where the union is empty)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
