"""Segmentation metrics from a streaming confusion matrix: pixel accuracy and mean IoU."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class _ConfusionMetric(keras.metrics.Metric):
    """Accumulates a ``[classes, classes]`` confusion matrix (rows: truth, columns: prediction)
    of per-pixel argmax predictions. ``y_true``: ``[batch, H, W]`` (or ``[..., 1]``) integer
    labels; ``y_pred``: logits or probabilities ``[batch, H, W, classes]``, or integer class maps
    of the same shape as ``y_true``. Pixels labelled ``ignore_class`` are skipped.

    The matrix is a sum-aggregated variable, so under ``tf.distribute`` each replica counts its
    pixels and the result covers the global batch.
    """

    def __init__(self, num_classes: int, ignore_class: int | None = None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if ignore_class is not None and not isinstance(ignore_class, int):
            raise ValueError(f"ignore_class must be an integer or None, got {ignore_class!r}")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype="float64",  # exact counts far beyond float32's 2**24
            aggregation="sum",
            name="confusion",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) == len(y_true.shape) + 1 and y_pred.shape[-1] != 1:
            y_pred = ops.argmax(y_pred, axis=-1)
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predictions = ops.reshape(ops.cast(y_pred, "int32"), (-1,))
        if labels.shape[0] is not None and predictions.shape[0] is not None:
            if labels.shape[0] != predictions.shape[0]:
                raise ValueError(
                    f"{self.name}: y_true {tuple(y_true.shape)} and y_pred "
                    f"{tuple(y_pred.shape)} do not hold the same number of pixels"
                )
        weights = ops.ones_like(labels, dtype="float64")
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, "float64"), (-1,))
        if self.ignore_class is not None:
            keep = ops.not_equal(labels, self.ignore_class)
            weights = ops.where(keep, weights, 0.0)
            labels = ops.where(keep, labels, 0)
        ok = tf.reduce_all((labels >= 0) & (labels < self.num_classes))
        ok &= tf.reduce_all((predictions >= 0) & (predictions < self.num_classes))
        with tf.control_dependencies(
            [tf.debugging.Assert(ok, [f"{self.name}: labels must be in [0, {self.num_classes})"])]
        ):
            index = labels * self.num_classes + predictions
        counts = tf.math.unsorted_segment_sum(weights, index, self.num_classes**2)
        self.confusion.assign_add(ops.reshape(counts, (self.num_classes, self.num_classes)))

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MeanIoU(_ConfusionMetric):
    """Mean over classes of ``TP / (TP + FP + FN)`` (the PASCAL VOC segmentation measure).

    Classes that appear in neither the labels nor the predictions are left out of the mean (as
    ``keras.metrics.MeanIoU`` does); unlike it, this metric takes logits directly.
    """

    def __init__(
        self, num_classes: int, ignore_class: int | None = None, name="mean_iou", dtype=None
    ):
        super().__init__(num_classes, ignore_class, name=name, dtype=dtype)

    def result(self):
        return ops.cast(mean_iou_from_confusion(self.confusion), self.dtype)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class PixelAccuracy(_ConfusionMetric):
    """The fraction of (non-ignored) pixels whose predicted class is right."""

    def __init__(
        self, num_classes: int, ignore_class: int | None = None, name="pixel_accuracy", dtype=None
    ):
        super().__init__(num_classes, ignore_class, name=name, dtype=dtype)

    def result(self):
        total = ops.sum(self.confusion)
        correct = ops.sum(tf.linalg.diag_part(self.confusion))
        return ops.cast(ops.divide_no_nan(correct, total), self.dtype)


def mean_iou_from_confusion(confusion):
    """Mean IoU of a confusion matrix, over the classes present in truth or prediction."""
    confusion = ops.cast(confusion, "float64")
    true_positives = tf.linalg.diag_part(confusion)
    union = ops.sum(confusion, axis=0) + ops.sum(confusion, axis=1) - true_positives
    present = ops.cast(union > 0, "float64")
    iou = ops.divide_no_nan(true_positives, union)
    return ops.divide_no_nan(ops.sum(iou * present), ops.sum(present))
