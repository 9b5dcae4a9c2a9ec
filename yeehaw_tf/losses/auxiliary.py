"""Auxiliary-classifier losses (GoogLeNet, Inception v3): main loss plus weighted side losses."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class AuxiliaryLoss(keras.losses.Loss):
    """``loss(y, main) + aux_weight * sum_k loss(y, aux_k)`` for predictions stacked as
    ``[batch, 1 + K, classes]`` (main first; :class:`yeehaw_tf.layers.StackOutputs` builds
    them). The auxiliary heads push gradient into the early layers of a deep network, as
    GoogLeNet's do with weight 0.3.

    Args:
        loss: the per-head loss (a Keras loss object or its config).
        aux_weight: the weight of each auxiliary loss, >= 0.
    """

    def __init__(
        self,
        loss,
        aux_weight: float = 0.3,
        reduction="sum_over_batch_size",
        name="auxiliary_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(loss, dict):
            loss = keras.losses.deserialize(loss)
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(f"AuxiliaryLoss: loss must be a keras.losses.Loss, got {loss!r}")
        if not aux_weight >= 0:
            raise ValueError(f"AuxiliaryLoss: aux_weight must be >= 0, got {aux_weight}")
        self.loss = loss
        self.aux_weight = float(aux_weight)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 3:
            raise ValueError(
                f"AuxiliaryLoss: y_pred must be stacked heads [batch, heads, classes], got "
                f"{y_pred.shape}"
            )
        total = self.loss.call(y_true, y_pred[:, 0])
        for k in range(1, y_pred.shape[1]):
            total = total + self.aux_weight * self.loss.call(y_true, y_pred[:, k])
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "loss": keras.losses.serialize(self.loss),
            "aux_weight": self.aux_weight,
        }
