"""Detection losses against float64 NumPy formulas written from the papers, and Keras."""

import keras
import numpy as np
import pytest

from yeehaw_tf.losses.detection import giou_loss, sigmoid_focal_loss, smooth_l1_loss


def _focal_reference(t, x, alpha, gamma):
    """Lin et al. 2017, eq. 5, in float64: -alpha_t (1 - p_t)^gamma log(p_t)."""
    x, t = x.astype(np.float64), t.astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-x))
    p_t = np.where(t == 1, p, 1 - p)
    alpha_t = np.where(t == 1, alpha, 1 - alpha)
    return -alpha_t * (1 - p_t) ** gamma * np.log(p_t)


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 0.0), (0.75, 1.0)])
def test_focal_loss_matches_the_papers_formula(alpha, gamma):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(64, 5)).astype(np.float32)
    targets = (rng.random((64, 5)) < 0.3).astype(np.float32)
    ours = np.asarray(sigmoid_focal_loss(targets, logits, alpha, gamma))
    np.testing.assert_allclose(
        ours, _focal_reference(targets, logits, alpha, gamma), rtol=2e-5, atol=1e-7
    )


def test_focal_loss_without_focusing_is_keras_binary_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(32, 1)).astype(np.float32)
    targets = (rng.random((32, 1)) < 0.5).astype(np.float32)
    keras_bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(targets, logits)
    ours = np.asarray(sigmoid_focal_loss(targets, logits, alpha=None, gamma=0.0))[:, 0]
    np.testing.assert_allclose(ours, np.asarray(keras_bce), rtol=1e-5, atol=1e-6)


def test_focal_loss_down_weights_easy_examples_and_is_finite_for_huge_logits():
    easy = float(sigmoid_focal_loss([[1.0]], [[5.0]]).numpy()[0, 0])
    hard = float(sigmoid_focal_loss([[1.0]], [[-5.0]]).numpy()[0, 0])
    assert easy < 1e-4 * hard
    huge = np.asarray(sigmoid_focal_loss([[0.0, 1.0]], [[1e4, -1e4]]))
    assert np.all(np.isfinite(huge))


def test_focal_loss_refuses_bad_parameters():
    with pytest.raises(ValueError, match="gamma"):
        sigmoid_focal_loss([1.0], [0.0], gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        sigmoid_focal_loss([1.0], [0.0], alpha=1.5)


@pytest.mark.parametrize("beta", [0.0, 1.0 / 9.0, 1.0])
def test_smooth_l1_matches_its_definition(beta):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    x = np.abs(b - a)
    expected = x if beta == 0 else np.where(x < beta, 0.5 * x**2 / beta, x - 0.5 * beta)
    np.testing.assert_allclose(
        np.asarray(smooth_l1_loss(a, b, beta)), expected, rtol=1e-5, atol=1e-6
    )


def test_smooth_l1_with_beta_one_is_keras_huber():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(20, 1)).astype(np.float32), rng.normal(size=(20, 1)).astype(np.float32)
    huber = keras.losses.Huber(delta=1.0, reduction=None)(a, b)
    np.testing.assert_allclose(
        np.asarray(smooth_l1_loss(a, b, 1.0))[:, 0], np.asarray(huber), rtol=1e-5
    )


def _giou_reference(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    area = lambda z: (z[:, 2] - z[:, 0]).clip(0) * (z[:, 3] - z[:, 1]).clip(0)  # noqa: E731
    wh = (np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2])).clip(0)
    inter = wh[:, 0] * wh[:, 1]
    union = area(a) + area(b) - inter
    hull = np.prod(np.maximum(a[:, 2:], b[:, 2:]) - np.minimum(a[:, :2], b[:, :2]), axis=1)
    return 1 - (inter / union - (hull - union) / hull)


def test_giou_loss_matches_the_papers_formula():
    rng = np.random.default_rng(4)
    corners = rng.uniform(0, 50, size=(40, 2, 2))
    a = np.concatenate([corners[:, 0], corners[:, 0] + rng.uniform(1, 30, size=(40, 2))], 1)
    b = np.concatenate([corners[:, 1], corners[:, 1] + rng.uniform(1, 30, size=(40, 2))], 1)
    np.testing.assert_allclose(
        np.asarray(giou_loss(a, b)), _giou_reference(a, b), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(giou_loss(a, a)), 0.0, atol=1e-6)
