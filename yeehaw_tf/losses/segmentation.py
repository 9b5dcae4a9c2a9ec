"""Per-pixel losses for semantic segmentation."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class PixelwiseCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy at every pixel, averaged over each image's pixels (FCN, U-Net).

    ``y_true``: integer class maps ``[batch, H, W]`` (or ``[batch, H, W, 1]``);
    ``y_pred``: logits ``[batch, H, W, classes]``. Returns one value per image (``[batch]``),
    which the Keras ``reduction`` (or the Trainer) then averages over the global batch; since
    every image has the same number of pixels, that is the mean over all pixels of the batch.

    Args:
        ignore_class: a label value that contributes nothing (e.g. VOC's 255 "void" border);
            the image's mean is then over its other pixels. ``None``: every label must be in
            ``[0, classes)`` (checked at run time).
        class_weights: optional per-class weights ``w[y]`` multiplying each pixel's loss
            (the U-Net paper's class-frequency balancing); the mean stays over pixels.
    """

    def __init__(
        self,
        ignore_class: int | None = None,
        class_weights: list[float] | tuple[float, ...] | None = None,
        reduction="sum_over_batch_size",
        name="pixelwise_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if ignore_class is not None and not isinstance(ignore_class, int):
            raise ValueError(f"ignore_class must be an integer or None, got {ignore_class!r}")
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
            if not class_weights or min(class_weights) < 0:
                raise ValueError(
                    f"class_weights must be a non-empty list of non-negative numbers, "
                    f"got {class_weights}"
                )
        self.ignore_class = ignore_class
        self.class_weights = class_weights

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 4:
            raise ValueError(
                f"y_pred must be logits [batch, H, W, classes], got shape {tuple(y_pred.shape)}"
            )
        num_classes = y_pred.shape[-1]
        if self.class_weights is not None and len(self.class_weights) != num_classes:
            raise ValueError(
                f"class_weights has {len(self.class_weights)} entries for {num_classes} classes"
            )
        labels = ops.cast(ops.convert_to_tensor(y_true), "int32")
        if len(labels.shape) == 4:
            labels = ops.squeeze(labels, -1)
        if len(labels.shape) != 3:
            raise ValueError(
                f"y_true must be class maps [batch, H, W], got shape {tuple(labels.shape)}"
            )
        valid = ops.ones_like(labels, dtype=y_pred.dtype)
        if self.ignore_class is not None:
            valid = ops.cast(ops.not_equal(labels, self.ignore_class), y_pred.dtype)
            labels = ops.where(ops.not_equal(labels, self.ignore_class), labels, 0)
        labels = _check_labels(labels, num_classes)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
        nll = ops.cast(nll, y_pred.dtype)
        if self.class_weights is not None:
            weights = ops.take(ops.convert_to_tensor(self.class_weights, y_pred.dtype), labels)
            nll = nll * weights
        total = ops.sum(nll * valid, axis=(1, 2))
        count = ops.maximum(ops.sum(valid, axis=(1, 2)), 1.0)
        return total / count

    def get_config(self):
        return {
            **super().get_config(),
            "ignore_class": self.ignore_class,
            "class_weights": self.class_weights,
        }


def _check_labels(labels, num_classes: int):
    ok = tf.reduce_all((labels >= 0) & (labels < num_classes))
    with tf.control_dependencies(
        [tf.debugging.Assert(ok, [f"y_true labels must be in [0, {num_classes})"])]
    ):
        return tf.identity(labels)
