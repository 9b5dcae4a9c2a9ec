"""Classification losses from the notes: the multiclass SVM (hinge) loss and softmax
cross-entropy. Both take integer labels ``[batch]`` or one-hot/probability targets
``[batch, classes]``, and return one loss per example (reduced by the Keras ``reduction``)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def _targets(y_true, y_pred):
    """Dense float targets ``[batch, classes]`` from integer labels (``[batch]`` or
    ``[batch, 1]``) or from dense targets (``[batch, classes]``)."""
    num_classes = y_pred.shape[-1]
    y_true = ops.convert_to_tensor(y_true)
    dense = len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == num_classes != 1
    if dense:
        return ops.cast(y_true, y_pred.dtype)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] not in (1, None):
        raise ValueError(
            f"y_true must be integer labels [batch] or [batch, 1], or targets [batch, "
            f"{num_classes}]; got shape {tuple(y_true.shape)}"
        )
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    if num_classes is not None:  # out-of-range labels would one-hot to zero rows: loss 0
        labels = _check_labels(labels, num_classes)
    return ops.one_hot(labels, num_classes, dtype=y_pred.dtype)


def _check_labels(labels, num_classes: int):
    ok = tf.reduce_all((labels >= 0) & (labels < num_classes))
    with tf.control_dependencies(
        [tf.debugging.Assert(ok, [f"y_true labels must be in [0, {num_classes})", labels])]
    ):
        return tf.identity(labels)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MulticlassHinge(keras.losses.Loss):
    """Multiclass SVM loss (Weston & Watkins; the notes' hinge loss):
    ``sum_{j != y} max(0, s_j - s_y + margin)`` per example.

    A class other than the target costs nothing once its score is ``margin`` below the target's.
    Keras's ``CategoricalHinge`` is different: ``max(0, max_{j != y} s_j - s_y + 1)`` looks only
    at the highest wrong score.

    Args:
        margin: the required gap, > 0.
    """

    def __init__(
        self,
        margin: float = 1.0,
        reduction="sum_over_batch_size",
        name="multiclass_hinge",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not margin > 0:
            raise ValueError(f"MulticlassHinge: margin must be > 0, got {margin}")
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        scores = ops.convert_to_tensor(y_pred)
        target = _targets(y_true, scores)
        target_score = ops.sum(scores * target, axis=-1, keepdims=True)
        margins = ops.relu(scores - target_score + self.margin) * (1.0 - target)
        return ops.sum(margins, axis=-1)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SoftmaxCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy ``-log(e^{s_y} / sum_j e^{s_j})`` (the notes' formula), or with soft
    targets ``-sum_j t_j log softmax(s)_j``.

    Computed as ``s_y - logsumexp(s)`` with the maximum subtracted first, so logits of magnitude
    1e4 neither overflow nor lose the answer.

    Args:
        from_logits: ``y_pred`` are logits (default) or probabilities.
        label_smoothing: mixes the one-hot target with the uniform distribution:
            ``t = (1 - label_smoothing) * onehot + label_smoothing / classes``, as Keras does.
    """

    def __init__(
        self,
        from_logits: bool = True,
        label_smoothing: float = 0.0,
        reduction="sum_over_batch_size",
        name="softmax_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"SoftmaxCrossEntropy: label_smoothing must be in [0, 1), got {label_smoothing}"
            )
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        target = _targets(y_true, y_pred)
        if self.label_smoothing:
            classes = ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
            target = target * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        if self.from_logits:
            shifted = y_pred - ops.max(y_pred, axis=-1, keepdims=True)
            log_probs = shifted - ops.log(ops.sum(ops.exp(shifted), axis=-1, keepdims=True))
        else:
            probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            epsilon = keras.config.epsilon()
            log_probs = ops.log(ops.clip(probs, epsilon, 1.0 - epsilon))
        return -ops.sum(target * log_probs, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }
