"""Assigning anchors (or proposals) to ground truth by IoU, and balanced sampling."""

from __future__ import annotations

import tensorflow as tf

NEGATIVE = -1
IGNORE = -2


def _check_thresholds(positive_threshold: float, negative_threshold: float) -> None:
    if not 0 <= negative_threshold <= positive_threshold <= 1:
        raise ValueError(
            "need 0 <= negative_threshold <= positive_threshold <= 1, got "
            f"{negative_threshold}, {positive_threshold}"
        )


def match(
    iou_matrix,
    positive_threshold: float = 0.5,
    negative_threshold: float = 0.4,
    allow_low_quality: bool = True,
) -> tf.Tensor:
    """For each anchor (row of ``iou_matrix [A, G]``): the index of its best ground truth if
    that IoU >= ``positive_threshold``, ``NEGATIVE`` (-1) if < ``negative_threshold``,
    ``IGNORE`` (-2) in between. ``allow_low_quality`` also makes positive, for each ground
    truth, the anchors whose IoU with it equals its highest IoU (torchvision's ``Matcher``), so
    no object is left without an anchor. With no ground truth every anchor is negative."""
    _check_thresholds(positive_threshold, negative_threshold)
    iou_matrix = tf.convert_to_tensor(iou_matrix)
    anchors = tf.shape(iou_matrix)[0]
    if iou_matrix.shape[1] == 0:
        return tf.fill([anchors], NEGATIVE)
    valid = tf.ones([1, tf.shape(iou_matrix)[1]], tf.bool)
    return match_padded(
        iou_matrix[None], valid, positive_threshold, negative_threshold, allow_low_quality
    )[0]


def match_padded(
    iou_matrix,
    valid,
    positive_threshold: float = 0.5,
    negative_threshold: float = 0.4,
    allow_low_quality: bool = True,
) -> tf.Tensor:
    """:func:`match` for a batch whose ground truth is padded: ``iou_matrix [B, A, G]``,
    ``valid [B, G]`` (False for padding, which no anchor matches). Returns ``[B, A]`` int32;
    an image without valid ground truth has every anchor ``NEGATIVE``."""
    _check_thresholds(positive_threshold, negative_threshold)
    iou_matrix = tf.convert_to_tensor(iou_matrix)
    if iou_matrix.shape[-1] == 0:
        return tf.fill(tf.shape(iou_matrix)[:2], NEGATIVE)
    valid = tf.convert_to_tensor(valid, tf.bool)[:, None, :]
    iou_matrix = tf.where(valid, iou_matrix, -1.0)  # padding: below every threshold
    best = tf.reduce_max(iou_matrix, axis=2)
    matched = tf.cast(tf.argmax(iou_matrix, axis=2), tf.int32)
    result = tf.where(
        best >= positive_threshold, matched, tf.where(best < negative_threshold, NEGATIVE, IGNORE)
    )
    if allow_low_quality:
        best_per_gt = tf.reduce_max(iou_matrix, axis=1, keepdims=True)
        is_best = (iou_matrix == best_per_gt) & (best_per_gt > 0) & valid
        result = tf.where(tf.reduce_any(is_best, axis=2), matched, result)
    return result


def _check_sampling(num_samples: int, positive_fraction: float) -> None:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
    if not 0 < positive_fraction <= 1:
        raise ValueError(f"positive_fraction must be in (0, 1], got {positive_fraction}")


def sample_balanced_batch(
    positive, negative, num_samples: int, positive_fraction: float, noise
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per row of ``[B, N]`` boolean masks: at most ``num_samples`` entries, up to
    ``positive_fraction`` of them positives, the rest negatives, each chosen uniformly at
    random (the ranks of ``noise``, ``[B, N]`` uniform draws: pass the step's randomness).
    Fewer positives than the quota leave the room to negatives, as torchvision's
    ``BalancedPositiveNegativeSampler``. Returns the ``(positive, negative)`` sampled masks."""
    _check_sampling(num_samples, positive_fraction)
    positive = tf.convert_to_tensor(positive, tf.bool)
    negative = tf.convert_to_tensor(negative, tf.bool) & ~positive
    noise = tf.cast(noise, tf.float32)
    quota = int(num_samples * positive_fraction)
    num_positive = tf.minimum(tf.reduce_sum(tf.cast(positive, tf.int32), -1), quota)
    num_negative = tf.minimum(
        tf.reduce_sum(tf.cast(negative, tf.int32), -1), num_samples - num_positive
    )

    def first(mask, count):
        # the rank of each entry among the row's candidates in the order of its noise
        order = tf.argsort(tf.where(mask, noise, 2.0), axis=-1, stable=True)
        rank = tf.argsort(order, axis=-1, stable=True)
        return mask & (rank < count[:, None])

    return first(positive, num_positive), first(negative, num_negative)


def sample_balanced(
    matches, num_samples: int, positive_fraction: float = 0.5, seed: int | None = None
) -> tf.Tensor:
    """A boolean mask of at most ``num_samples`` anchors: up to ``positive_fraction`` of them
    positives (chosen at random), the rest negatives; ignored anchors are never sampled."""
    _check_sampling(num_samples, positive_fraction)
    matches = tf.convert_to_tensor(matches)
    noise = tf.random.stateless_uniform(tf.shape(matches), seed=[seed or 0, 1])
    positive, negative = sample_balanced_batch(
        (matches >= 0)[None],
        tf.equal(matches, NEGATIVE)[None],
        num_samples,
        positive_fraction,
        noise[None],
    )
    return positive[0] | negative[0]
