"""KL and Jensen-Shannon divergences against SciPy (float64, natural log).

References: ``scipy.special.rel_entr(p, q).sum(-1)`` is ``KL(P || Q)`` with the same limits
(``0`` for ``p = 0``, ``inf`` for ``p > 0 = q``); ``scipy.spatial.distance.jensenshannon``
returns the Jensen-Shannon *distance*, the square root of the divergence, so it is squared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.special import log_softmax, rel_entr, softmax

from yeehaw_tf.ops.divergences import (
    js_divergence,
    js_divergence_from_logits,
    kl_divergence,
    kl_divergence_from_logits,
)

# tolerances, in one place
RTOL64, ATOL64 = 1e-12, 1e-12
RTOL32, ATOL32 = 1e-5, 1e-6
LOG2 = math.log(2.0)


def _dirichlet(shape, seed, zeros=0.0):
    """Random distributions along the last axis; a fraction ``zeros`` of entries set to 0."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:
        p = np.where(rng.random(shape) < zeros, 0.0, p)
        p[..., 0] += 1e-3  # never an all-zero row
        p /= p.sum(-1, keepdims=True)
    return p


def _reference_kl(p, q):
    return rel_entr(p, q).sum(-1)


def _reference_js(p, q):
    return jensenshannon(p, q, axis=-1) ** 2


@pytest.mark.parametrize(
    "dtype, rtol, atol", [("float64", RTOL64, ATOL64), ("float32", RTOL32, ATOL32)]
)
def test_kl_and_js_match_scipy(dtype, rtol, atol):
    p, q = _dirichlet((6, 5), 0), _dirichlet((6, 5), 1)
    kl = kl_divergence(p.astype(dtype), q.astype(dtype))
    js = js_divergence(p.astype(dtype), q.astype(dtype))
    assert kl.dtype == dtype and js.dtype == dtype
    np.testing.assert_allclose(kl, _reference_kl(p, q), rtol=rtol, atol=atol)
    np.testing.assert_allclose(js, _reference_js(p, q), rtol=rtol, atol=atol)


def test_kl_limits_zeros_in_p_and_in_q():
    p = np.array(
        [
            [0.5, 0.5, 0.0],  # p = 0 where q > 0: that term is 0
            [0.5, 0.0, 0.5],  # p = 0 and q = 0 together: still 0
            [0.2, 0.3, 0.5],  # p > 0 where q = 0: +inf
            [1.0, 0.0, 0.0],
        ]
    )
    q = np.array([[0.25, 0.25, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    expected = _reference_kl(p, q)
    assert np.isinf(expected[2]) and np.isinf(expected[3])
    for dtype in ("float64", "float32"):
        kl = kl_divergence(p.astype(dtype), q.astype(dtype)).numpy()
        assert not np.any(np.isnan(kl))
        np.testing.assert_allclose(kl, expected, rtol=RTOL32)
        assert kl[2] == np.inf and kl[3] == np.inf
    np.testing.assert_allclose(kl_divergence(p[1], q[1]), 0.0, atol=ATOL64)


def test_js_with_zeros_matches_scipy_and_is_log2_on_disjoint_supports():
    p, q = _dirichlet((8, 6), 2, zeros=0.4), _dirichlet((8, 6), 3, zeros=0.4)
    np.testing.assert_allclose(js_divergence(p, q), _reference_js(p, q), rtol=1e-10, atol=1e-12)
    disjoint_p, disjoint_q = np.array([0.3, 0.7, 0.0, 0.0]), np.array([0.0, 0.0, 0.9, 0.1])
    np.testing.assert_allclose(js_divergence(disjoint_p, disjoint_q), LOG2, rtol=RTOL64)
    np.testing.assert_allclose(js_divergence(p, p), 0.0, atol=ATOL64)


def test_batched_leading_axes_reduce_over_the_last():
    p, q = _dirichlet((2, 3, 7), 4, zeros=0.2), _dirichlet((2, 3, 7), 5)
    kl, js = kl_divergence(p, q), js_divergence(p, q)
    assert kl.shape == (2, 3) and js.shape == (2, 3)
    np.testing.assert_allclose(kl, _reference_kl(p, q), rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(js, _reference_js(p, q), rtol=RTOL64, atol=ATOL64)
    for i, j in np.ndindex(2, 3):  # one row at a time agrees with the batch
        np.testing.assert_allclose(kl_divergence(p[i, j], q[i, j]), kl[i, j], rtol=RTOL64)


def test_from_logits_equals_softmax_then_probabilities_in_float64():
    rng = np.random.default_rng(6)
    logits_p, logits_q = rng.normal(0, 3, (4, 9)), rng.normal(0, 3, (4, 9))
    p, q = softmax(logits_p, -1), softmax(logits_q, -1)
    np.testing.assert_allclose(
        kl_divergence_from_logits(logits_p, logits_q), kl_divergence(p, q), rtol=1e-10
    )
    np.testing.assert_allclose(
        js_divergence_from_logits(logits_p, logits_q), js_divergence(p, q), rtol=1e-10
    )
    # softmax is shift-invariant, and so are the divergences from logits
    np.testing.assert_allclose(
        kl_divergence_from_logits(logits_p + 5.0, logits_q - 7.0),
        kl_divergence(p, q),
        rtol=1e-10,
    )


def test_from_logits_is_stable_for_large_logits_in_float32():
    logits_p = np.array([[80.0, -80.0, 0.0], [-80.0, 80.0, 79.0]], np.float32)
    logits_q = np.array([[-80.0, 80.0, 0.0], [80.0, -80.0, 79.5]], np.float32)
    # float64 reference from the formula, in log space
    log_p = log_softmax(logits_p.astype(np.float64), -1)
    log_q = log_softmax(logits_q.astype(np.float64), -1)
    log_m = np.logaddexp(log_p, log_q) - LOG2
    kl_ref = np.sum(np.exp(log_p) * (log_p - log_q), -1)
    js_ref = 0.5 * np.sum(np.exp(log_p) * (log_p - log_m) + np.exp(log_q) * (log_q - log_m), -1)
    logits_p_var, logits_q_var = tf.Variable(logits_p), tf.Variable(logits_q)
    with tf.GradientTape(persistent=True) as tape:
        kl = kl_divergence_from_logits(logits_p_var, logits_q_var)
        js = js_divergence_from_logits(logits_p_var, logits_q_var)
    np.testing.assert_allclose(kl, kl_ref, rtol=RTOL32)
    np.testing.assert_allclose(js, js_ref, rtol=RTOL32)
    assert np.all(js.numpy() <= LOG2 + 1e-6)
    for loss in (kl, js):
        for grad in tape.gradient(loss, [logits_p_var, logits_q_var]):
            assert np.all(np.isfinite(grad.numpy()))


def test_gradients_are_finite_where_p_has_zeros_and_right_elsewhere():
    p0 = np.array([[0.0, 0.3, 0.7, 0.0], [0.5, 0.0, 0.5, 0.0]])
    q0 = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.5, 0.0]])  # q = 0 where p = 0 too
    p, q = tf.Variable(p0), tf.Variable(q0)
    with tf.GradientTape(persistent=True) as tape:
        kl = tf.reduce_sum(kl_divergence(p, q))
        js = tf.reduce_sum(js_divergence(p, q))
    dkl_dp, dkl_dq = (g.numpy() for g in tape.gradient(kl, [p, q]))
    djs_dp, djs_dq = (g.numpy() for g in tape.gradient(js, [p, q]))
    for grad in (dkl_dp, dkl_dq, djs_dp, djs_dq):
        assert np.all(np.isfinite(grad))
    # d/dp p log(p/q) = log(p/q) + 1 and d/dq = -p/q where p > 0; zero where p = 0 (xlogy rule)
    positive = p0 > 0
    safe_q = np.where(positive, q0, 1.0)
    expected_dp = np.where(positive, np.log(np.where(positive, p0, 1.0) / safe_q) + 1.0, 0.0)
    np.testing.assert_allclose(dkl_dp, expected_dp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dkl_dq, np.where(positive, -p0 / safe_q, 0.0), rtol=1e-12)


def test_graph_mode_with_unknown_dimensions_agrees_with_eager():
    p, q = _dirichlet((3, 5), 7), _dirichlet((3, 5), 8)
    spec = tf.TensorSpec([None, None], tf.float64)
    kl = tf.function(kl_divergence, input_signature=[spec, spec])
    js = tf.function(js_divergence, input_signature=[spec, spec])
    np.testing.assert_allclose(kl(p, q), kl_divergence(p, q), rtol=RTOL64)
    np.testing.assert_allclose(js(p, q), js_divergence(p, q), rtol=RTOL64)
    with pytest.raises(tf.errors.InvalidArgumentError, match="p and q must have the same shape"):
        kl(p, q[:, :4])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda k: st.tuples(
            *(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k) for _ in range(2))
        )
    )
)
def test_js_is_symmetric_and_within_zero_and_log2(pair):
    p, q = (np.asarray(x) for x in pair)
    p[0] += 1e-3  # never all zero
    q[0] += 1e-3
    p, q = p / p.sum(), q / q.sum()
    js_pq, js_qp = js_divergence(p, q).numpy(), js_divergence(q, p).numpy()
    np.testing.assert_allclose(js_pq, js_qp, rtol=1e-12, atol=1e-15)
    assert -1e-12 <= js_pq <= LOG2 + 1e-12
    np.testing.assert_allclose(js_pq, _reference_js(p, q), rtol=1e-9, atol=1e-12)
    assert kl_divergence(p, q).numpy() >= -1e-12  # Gibbs' inequality


def test_shape_and_dtype_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"p and q must have the same shape.*\(3,\).*\(4,\)"):
        kl_divergence(np.ones(3) / 3, np.ones(4) / 4)
    with pytest.raises(ValueError, match=r"p and q must have the same shape.*\(2, 3\).*\(3,\)"):
        js_divergence(np.ones((2, 3)) / 3, np.ones(3) / 3)
    with pytest.raises(ValueError, match=r"logits_p and logits_q must have the same shape"):
        kl_divergence_from_logits(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"logits_p and logits_q must have the same shape"):
        js_divergence_from_logits(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match=r"same dtype.*float32.*float64"):
        kl_divergence(np.ones(3, np.float32) / 3, np.ones(3) / 3)
    with pytest.raises(ValueError, match=r"float32 or float64"):
        kl_divergence(np.array([1, 0]), np.array([0, 1]))


def test_check_flags_inputs_that_are_not_distributions():
    good = np.array([0.2, 0.8])
    np.testing.assert_allclose(kl_divergence(good, good, check=True), 0.0, atol=ATOL64)
    with pytest.raises(tf.errors.InvalidArgumentError, match="q must sum to 1"):
        kl_divergence(good, np.array([0.2, 0.9]), check=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="p must be non-negative"):
        js_divergence(np.array([-0.2, 1.2]), good, check=True)
