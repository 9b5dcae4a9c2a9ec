"""R-CNN's stages 2 and 3 (Girshick et al., 2014, section 2.3 and appendix C), on features
extracted from the fine-tuned CNN, in NumPy and eager TensorFlow (outside any training step):

* the labels of each class's SVM (:func:`svm_labels`): positives are the class's ground-truth
  boxes only, negatives the regions under 0.3 IoU with every box of the class, the rest
  ignored;
* hard-negative mining (:func:`mine_hard_negatives`, after Felzenszwalb et al.'s DPM, the
  rule of the authors' code): the negatives inside the margin (score > -1) join the cache,
  cached ones far outside it (score < -1.2) leave;
* the SVMs (:func:`fit_svms`): per class the L2-regularised hinge loss of
  :func:`svm_objective`, with our :class:`~yeehaw_tf.losses.classification.MulticlassHinge`
  on the scores ``(0, s_c)`` ("not c", "c"). With two classes the Weston-Watkins hinge is
  ``max(0, 0 - s + 1) = max(0, 1 - s)`` for a positive and ``max(0, s - 0 + 1) = max(0, 1 +
  s)`` for a negative: the binary hinge ``max(0, 1 - t s)``, so these are the paper's
  one-vs-rest binary SVMs exactly (the multiclass hinge over all classes at once would not
  be: it couples the classes and needs one label per region, while a region may be a
  negative for one class and ignored for another). Minimised by full-batch Adam (liblinear
  in the paper), positives weighted 2 as in the authors' code;
* the box regressors (:func:`fit_ridge_regressors`): ridge regression of the R-CNN box
  coding of the regions at IoU >= 0.6 with a ground-truth box, per class, in closed form.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.losses.classification import MulticlassHinge
from yeehaw_tf.ops.boxes import encode_boxes, iou


def svm_labels(
    candidates, candidate_classes, gt_boxes, gt_classes, num_classes: int, negative_iou: float
):
    """``(positive, negative)`` ``[N, C]`` bool for the SVM of each class, for one image's
    ``candidates [N, 4]`` (``candidate_classes [N]``: the class of a ground-truth box, -1 for a
    proposal) and its ground truth ``gt_boxes [M, 4]``, ``gt_classes [M]``: positives are the
    ground-truth boxes of the class, negatives the regions whose IoU with every box of the
    class is below ``negative_iou`` (the paper's 0.3)."""
    overlaps = _overlaps(candidates, gt_boxes)
    positive = np.asarray(candidate_classes)[:, None] == np.arange(num_classes)
    negative = np.ones_like(positive)
    for c in range(num_classes):
        of_class = np.asarray(gt_classes) == c
        if of_class.any():
            negative[:, c] = overlaps[:, of_class].max(axis=1) < negative_iou
    return positive, negative


def regression_examples(candidates, gt_boxes, gt_classes, min_iou: float, weights):
    """``(box_class [N], box_targets [N, 4])`` for one image: a region at IoU >= ``min_iou``
    with its best ground-truth box (the paper's 0.6) regresses onto it, ``box_class`` that
    box's class and the targets its R-CNN coding (``weights``); other regions: -1 and 0."""
    candidates = np.asarray(candidates, np.float64)
    if len(gt_boxes) == 0:
        return np.full(len(candidates), -1), np.zeros((len(candidates), 4))
    overlaps = _overlaps(candidates, gt_boxes)
    best = overlaps.argmax(axis=1)
    chosen = overlaps.max(axis=1) >= min_iou
    box_class = np.where(chosen, np.asarray(gt_classes)[best], -1)
    safe = np.where(chosen[:, None], candidates, [0.0, 0.0, 1.0, 1.0])
    matched = np.where(chosen[:, None], np.asarray(gt_boxes, np.float64)[best], safe)
    return box_class, encode_boxes(matched, safe, weights).numpy()


def _overlaps(a, b) -> np.ndarray:
    if len(b) == 0:
        return np.zeros((len(a), 0))
    return iou(np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64)).numpy()


def mine_hard_negatives(scores, candidates, cache, hard_threshold=-1.0, easy_threshold=-1.2):
    """One step of hard-negative mining (the paper's, after Felzenszwalb et al.'s DPM): the
    cached negatives the current SVMs score below ``easy_threshold`` leave the cache, the new
    ``candidates`` (``[N, C]`` bool) inside the margin (score above ``hard_threshold``; -1 is
    the margin of a negative) enter it. ``scores [N, C]``; returns the new cache ``[N, C]``."""
    scores = np.asarray(scores)
    return (np.asarray(cache) & (scores >= easy_threshold)) | (
        np.asarray(candidates) & (scores > hard_threshold)
    )


def svm_objective(kernel, bias, features, positive, negative, l2: float, positive_weight: float):
    """``[C]``: per class, ``(w_+ sum_pos hinge + sum_neg hinge) / n_c + l2 / 2 ||w_c||^2``
    with ``hinge`` the :class:`MulticlassHinge` of the scores ``(0, s)`` -- for a positive
    ``max(0, 1 - s)``, a negative ``max(0, 1 + s)`` -- and ``n_c`` the class's examples."""
    scores = tf.matmul(tf.cast(features, tf.float32), kernel) + bias  # [N, C]
    pairs = tf.reshape(tf.stack([tf.zeros_like(scores), scores], -1), [-1, 2])
    labels = tf.reshape(tf.cast(positive, tf.int32), [-1])
    hinge = tf.reshape(MulticlassHinge(reduction=None)(labels, pairs), tf.shape(scores))
    positive, negative = tf.cast(positive, tf.float32), tf.cast(negative, tf.float32)
    weights = positive_weight * positive + negative
    count = tf.maximum(tf.reduce_sum(positive + negative, 0), 1.0)
    return tf.reduce_sum(weights * hinge, 0) / count + 0.5 * l2 * tf.reduce_sum(kernel**2, 0)


def fit_svms(
    features,
    positive,
    negative,
    *,
    l2: float = 1e-3,
    positive_weight: float = 2.0,
    hard_threshold: float = -1.0,
    easy_threshold: float = -1.2,
    rounds: int = 4,
    steps: int = 200,
    learning_rate: float = 1e-2,
):
    """The SVMs of every class with hard-negative mining: the regions (in image order) are
    taken in ``rounds`` chunks; for each, mine its negatives with the current SVMs
    (:func:`mine_hard_negatives`), then minimise :func:`svm_objective` over the positives and
    the cache by ``steps`` of full-batch Adam. Returns ``(kernel [D, C], bias [C], cache)``."""
    features = np.asarray(features, np.float32)
    n, d = features.shape
    c = positive.shape[1]
    kernel, bias = tf.Variable(tf.zeros([d, c])), tf.Variable(tf.zeros([c]))
    x = tf.constant(features)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([kernel, bias])

    @tf.function
    def descend(cache):
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(
                    svm_objective(kernel, bias, x, positive, cache, l2, positive_weight)
                )
            grads = tape.gradient(loss, [kernel, bias])
            optimizer.apply_gradients(zip(grads, [kernel, bias], strict=True))

    cache = np.zeros_like(negative)
    for chunk in np.array_split(np.arange(n), rounds):
        candidates = np.zeros_like(negative)
        candidates[chunk] = negative[chunk]
        scores = features @ kernel.numpy() + bias.numpy()
        cache = mine_hard_negatives(scores, candidates, cache, hard_threshold, easy_threshold)
        descend(tf.constant(cache))
    return kernel.numpy(), bias.numpy(), cache


def fit_ridge_regressors(features, box_class, targets, num_classes: int, ridge: float):
    """Per class ``c``, ``min ||T - X W - b||^2 + ridge ||W||^2`` over its regions (``box_class
    == c``; -1: none) in float64 closed form (centred, so the bias is not penalised; the dual
    form when there are fewer regions than features). Returns ``(kernel [D, 4 C], bias [4 C])``
    in the layout of the regressor layer; a class without regions keeps zeros."""
    x_all = np.asarray(features, np.float64)
    d = x_all.shape[1]
    kernel, bias = np.zeros((d, num_classes, 4)), np.zeros((num_classes, 4))
    for c in range(num_classes):
        rows = np.asarray(box_class) == c
        if not rows.any():
            continue
        x, t = x_all[rows], np.asarray(targets, np.float64)[rows]
        mx, mt = x.mean(0), t.mean(0)
        xc, tc = x - mx, t - mt
        if len(x) < d:
            w = xc.T @ np.linalg.solve(xc @ xc.T + ridge * np.eye(len(x)), tc)
        else:
            w = np.linalg.solve(xc.T @ xc + ridge * np.eye(d), xc.T @ tc)
        kernel[:, c], bias[c] = w, mt - mx @ w
    return kernel.reshape(d, 4 * num_classes), bias.reshape(-1)


def merge_examples(parts: Sequence[dict]) -> dict:
    """Concatenate :meth:`RCNN.region_examples` dicts along the regions."""
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
