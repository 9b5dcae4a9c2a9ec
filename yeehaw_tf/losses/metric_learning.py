"""Metric learning: the triplet loss (Schroff et al., 2015, "FaceNet"), with online mining."""

from __future__ import annotations

import keras
from keras import ops

MINING = ("batch_all", "batch_hard")


def pairwise_distances(embeddings, squared: bool = False):
    """Euclidean (or squared) distances between all rows, ``[batch, batch]``.

    The square root has an infinite gradient at 0 (every row's distance to itself); zeros are
    masked so the gradient there is 0 instead of NaN.
    """
    dot = ops.matmul(embeddings, ops.transpose(embeddings))
    norms = ops.diagonal(dot)
    d2 = ops.maximum(norms[:, None] - 2.0 * dot + norms[None, :], 0.0)
    if squared:
        return d2
    zero = ops.cast(ops.equal(d2, 0.0), d2.dtype)
    return ops.sqrt(d2 + zero * 1e-16) * (1.0 - zero)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class TripletLoss(keras.losses.Loss):
    """``max(0, d(a, p) - d(a, n) + margin)``: pull an anchor towards a positive (same label)
    and push it from a negative (different label) until the negative is ``margin`` further.

    ``y_true`` are integer labels ``[batch]``, ``y_pred`` embeddings ``[batch, dim]``; triplets
    are mined inside the batch:

    - ``batch_all``: every valid triplet (a != p, same label; n with another label); the loss is
      the sum over triplets divided by the number of triplets with a positive loss.
    - ``batch_hard``: per anchor, its farthest positive and nearest negative; the loss is the
      mean over anchors that have at least one positive and one negative.

    The per-example values returned are per-anchor shares scaled so that their mean over the
    batch is the loss above; with the default reduction the result is exactly that loss.

    Args:
        margin: the required gap, > 0.
        mining: ``batch_all`` or ``batch_hard``.
        squared: use squared Euclidean distances.
    """

    def __init__(
        self,
        margin: float = 1.0,
        mining: str = "batch_all",
        squared: bool = False,
        reduction="sum_over_batch_size",
        name="triplet_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not margin > 0:
            raise ValueError(f"TripletLoss: margin must be > 0, got {margin}")
        if mining not in MINING:
            raise ValueError(
                f"TripletLoss: mining must be one of {', '.join(MINING)}, got {mining!r}"
            )
        self.margin = float(margin)
        self.mining = mining
        self.squared = bool(squared)

    def call(self, y_true, y_pred):
        embeddings = ops.convert_to_tensor(y_pred)
        if len(embeddings.shape) != 2:
            raise ValueError(
                f"TripletLoss: y_pred must be embeddings [batch, dim], got {embeddings.shape}"
            )
        labels = ops.reshape(y_true, (-1,))
        d = pairwise_distances(embeddings, self.squared)
        batch = ops.shape(d)[0]
        same = ops.equal(labels[:, None], labels[None, :])
        not_self = ops.logical_not(ops.cast(ops.eye(batch), "bool"))
        positive = ops.cast(ops.logical_and(same, not_self), d.dtype)  # [a, p]
        negative = ops.cast(ops.logical_not(same), d.dtype)  # [a, n]
        size = ops.cast(batch, d.dtype)
        if self.mining == "batch_all":
            losses = d[:, :, None] - d[:, None, :] + self.margin  # [a, p, n]
            valid = positive[:, :, None] * negative[:, None, :]
            losses = ops.relu(losses) * valid
            num_positive = ops.sum(ops.cast(losses > 1e-16, d.dtype))
            return ops.sum(losses, axis=(1, 2)) * size / ops.maximum(num_positive, 1.0)
        hardest_positive = ops.max(d * positive, axis=1)
        largest = ops.max(d, axis=1, keepdims=True)
        hardest_negative = ops.min(d + largest * (1.0 - negative), axis=1)
        has_both = ops.cast(
            (ops.sum(positive, axis=1) > 0) & (ops.sum(negative, axis=1) > 0), d.dtype
        )
        losses = ops.relu(hardest_positive - hardest_negative + self.margin) * has_both
        return losses * size / ops.maximum(ops.sum(has_both), 1.0)

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "mining": self.mining,
            "squared": self.squared,
        }
