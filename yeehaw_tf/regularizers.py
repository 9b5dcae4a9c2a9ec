"""Weight penalties added to the loss: L1, L2 and their sum (elastic net).

Usable as ``kernel_regularizer=`` on any Keras layer. The Trainer adds ``model.losses`` to the
training loss exactly as ``fit`` does.
"""

from __future__ import annotations

import keras
from keras import ops


def _check(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class L1(keras.regularizers.Regularizer):
    """``l1 * sum(|w|)``: drives weights to exactly zero (sparsity)."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _check("l1", l1)

    def __call__(self, x):
        return self.l1 * ops.sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class L2(keras.regularizers.Regularizer):
    """``l2 * sum(w^2)``: shrinks weights smoothly ("weight decay" when added to the loss)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        return self.l2 * ops.sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ElasticNet(keras.regularizers.Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w^2)`` (Zou & Hastie, 2005)."""

    def __init__(self, l1: float = 0.01, l2: float = 0.01):
        self.l1 = _check("l1", l1)
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        return self.l1 * ops.sum(ops.abs(x)) + self.l2 * ops.sum(ops.square(x))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def weight_penalty(l1: float = 0.0, l2: float = 0.0) -> keras.regularizers.Regularizer | None:
    """The regulariser for the given strengths: None, L1, L2 or ElasticNet."""
    l1, l2 = _check("l1", l1), _check("l2", l2)
    if l1 and l2:
        return ElasticNet(l1, l2)
    if l1:
        return L1(l1)
    if l2:
        return L2(l2)
    return None
