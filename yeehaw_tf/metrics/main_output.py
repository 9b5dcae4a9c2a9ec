"""Accuracy of the main head when a model's heads are stacked (auxiliary classifiers)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MainOutputAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Sparse categorical accuracy of ``y_pred[:, 0]`` for stacked heads
    ``[batch, heads, classes]`` (of ``y_pred`` itself for ``[batch, classes]``). Soft labels
    ``[batch, classes]`` (mixup, cutmix) count their largest class as the label."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        if len(y_pred.shape) == 3:
            y_pred = y_pred[:, 0]
        if len(y_true.shape) == 2 and y_true.shape[-1] == y_pred.shape[-1] != 1:
            y_true = keras.ops.argmax(y_true, axis=-1)
        return super().update_state(y_true, y_pred, sample_weight)
