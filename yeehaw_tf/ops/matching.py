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


def sample_balanced(
    matches, num_samples: int, positive_fraction: float = 0.5, seed: int | None = None
) -> tf.Tensor:
    """A boolean mask of at most ``num_samples`` anchors: up to ``positive_fraction`` of them
    positives (chosen at random), the rest negatives; ignored anchors are never sampled."""
    if num_samples < 1 or not 0 < positive_fraction <= 1:
        raise ValueError(
            f"need num_samples >= 1 and 0 < positive_fraction <= 1, got {num_samples}, "
            f"{positive_fraction}"
        )
    matches = tf.convert_to_tensor(matches)
    positive = matches >= 0
    negative = tf.equal(matches, NEGATIVE)
    num_positive = tf.minimum(
        tf.reduce_sum(tf.cast(positive, tf.int32)), int(num_samples * positive_fraction)
    )
    num_negative = tf.minimum(
        tf.reduce_sum(tf.cast(negative, tf.int32)), num_samples - num_positive
    )

    def pick(mask, count, salt):
        noise = tf.random.stateless_uniform(tf.shape(mask), seed=[seed or 0, salt])
        noise = tf.where(mask, noise, -1.0)
        chosen = tf.math.top_k(noise, k=tf.shape(mask)[0]).indices[:count]
        return tf.scatter_nd(chosen[:, None], tf.ones_like(chosen, tf.bool), tf.shape(mask))

    return pick(positive, num_positive, 1) | pick(negative, num_negative, 2)
