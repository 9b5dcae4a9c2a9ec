"""Losses, one family per file, each a ``keras.losses.Loss`` returning per-example values."""

from yeehaw_tf.losses.auxiliary import AuxiliaryLoss
from yeehaw_tf.losses.classification import MulticlassHinge, SoftmaxCrossEntropy
from yeehaw_tf.losses.distillation import DistillationLoss
from yeehaw_tf.losses.metric_learning import TripletLoss, pairwise_distances

__all__ = [
    "AuxiliaryLoss",
    "DistillationLoss",
    "MulticlassHinge",
    "SoftmaxCrossEntropy",
    "TripletLoss",
    "pairwise_distances",
]
