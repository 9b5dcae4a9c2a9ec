"""Exact optimal transport against independent references (float64).

* ``transport_plan``: the same linear programme solved by ``scipy.optimize.linprog`` (HiGHS),
  and, for assignment problems (unit masses), the minimum over all permutations (Birkhoff-von
  Neumann: the optimum of the LP is attained at a permutation matrix).
* ``wasserstein_1d`` and ``wasserstein_1``: ``scipy.stats.wasserstein_distance``; in several
  dimensions, cases with a known answer (two Diracs; a cloud and its translate, where
  Kantorovich-Rubinstein duality with ``f(x) = <x, t> / |t|`` gives ``W1 = |t|``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.stats import wasserstein_distance

from yeehaw_tf.ops.transport import transport_plan, wasserstein_1, wasserstein_1d

# tolerances, in one place
COST_ATOL = 1e-8  # our exact simplex against HiGHS (its own feasibility tolerance ~1e-7)
MARGINAL_ATOL = 1e-12
W_RTOL = 1e-12


def _linprog_cost(a, b, cost):
    """``min sum P C`` s.t. row sums ``a``, column sums ``b``, ``P >= 0``, by HiGHS."""
    m, n = cost.shape
    rows = np.kron(np.eye(m), np.ones((1, n)))  # sum_j P_ij = a_i
    cols = np.kron(np.ones((1, m)), np.eye(n))  # sum_i P_ij = b_j
    result = linprog(
        cost.ravel(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
    )
    assert result.status == 0, result.message
    return result.fun


def _random_problem(seed):
    """Small problems, sizes 1..7, five kinds: generic, integer masses with tied integer costs
    (degenerate), equal masses (assignment-like), zero masses, a single sink with signed costs.
    """
    rng = np.random.default_rng(seed)
    m, n = (int(k) for k in rng.integers(1, 8, 2))
    kind = seed % 5
    if kind == 0:
        a, b, cost = rng.dirichlet(np.ones(m)), rng.dirichlet(np.ones(n)), rng.random((m, n))
    elif kind == 1:
        a = rng.integers(1, 4, m).astype(float)
        b = rng.multinomial(int(a.sum()), np.ones(n) / n).astype(float)
        cost = rng.integers(0, 3, (m, n)).astype(float)
    elif kind == 2:
        a, b = np.full(m, float(n)), np.full(n, float(m))
        cost = rng.integers(0, 4, (m, n)).astype(float)
    elif kind == 3:
        a = np.where(rng.random(m) < 0.4, 0.0, rng.integers(1, 5, m).astype(float))
        a[rng.integers(m)] += 1.0
        b = np.where(rng.random(n) < 0.4, 0.0, rng.random(n))
        b[rng.integers(n)] += 0.5
        b *= a.sum() / b.sum()
        cost = rng.random((m, n)) * 10
    else:
        a, b = rng.random(m), np.zeros(n)
        b[rng.integers(n)] = a.sum()
        cost = rng.normal(size=(m, n))
    return a, b, cost


def _check_plan(a, b, cost, plan, total):
    assert plan.shape == cost.shape and plan.dtype == np.float64
    assert np.all(plan >= 0)
    np.testing.assert_allclose(plan.sum(axis=1), a, rtol=0, atol=MARGINAL_ATOL * max(1, a.sum()))
    np.testing.assert_allclose(plan.sum(axis=0), b, rtol=0, atol=MARGINAL_ATOL * max(1, a.sum()))
    np.testing.assert_allclose(total, np.sum(plan * cost), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(50))
def test_transport_plan_matches_linprog(seed):
    a, b, cost = _random_problem(seed)
    plan, total = transport_plan(a, b, cost)
    _check_plan(a, b, cost, plan, total)
    scale = max(1.0, a.sum() * np.abs(cost).max())
    np.testing.assert_allclose(total, _linprog_cost(a, b, cost), rtol=0, atol=COST_ATOL * scale)


@settings(max_examples=30, deadline=None)
@given(
    st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
        lambda mn: st.tuples(
            st.lists(st.integers(0, 3), min_size=mn[0], max_size=mn[0]),
            st.lists(st.integers(0, 3), min_size=mn[1], max_size=mn[1]),
            st.lists(st.integers(0, 2), min_size=mn[0] * mn[1], max_size=mn[0] * mn[1]),
        )
    )
)
def test_transport_plan_on_integer_degenerate_problems(problem):
    """Integer masses and tied integer costs, zero masses allowed: maximally degenerate."""
    a, b, cost = (np.asarray(x, np.float64) for x in problem)
    cost = cost.reshape(len(a), len(b))
    # make the totals equal by topping up the lighter side's first entry
    gap = a.sum() - b.sum()
    a[0] += max(-gap, 0.0)
    b[0] += max(gap, 0.0)
    plan, total = transport_plan(a, b, cost)
    _check_plan(a, b, cost, plan, total)
    if a.sum() > 0:
        np.testing.assert_allclose(total, _linprog_cost(a, b, cost), atol=COST_ATOL * a.sum())


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_transport_plan_on_assignment_problems_equals_best_permutation(n):
    rng = np.random.default_rng(n)
    for cost in (rng.random((n, n)), rng.integers(0, 3, (n, n)).astype(float)):
        plan, total = transport_plan(np.ones(n), np.ones(n), cost)
        _check_plan(np.ones(n), np.ones(n), cost, plan, total)
        best = min(cost[range(n), perm].sum() for perm in itertools.permutations(range(n)))
        np.testing.assert_allclose(total, best, rtol=0, atol=1e-12)


def test_transport_plan_hand_checked_cases():
    # one source, two sinks: the plan is forced
    plan, total = transport_plan([1.0], [0.25, 0.75], [[2.0, 4.0]])
    np.testing.assert_allclose(plan, [[0.25, 0.75]])
    assert total == pytest.approx(3.5)
    # swapping is cheaper than going straight across
    plan, total = transport_plan([1.0, 1.0], [1.0, 1.0], [[5.0, 1.0], [1.0, 5.0]])
    np.testing.assert_allclose(plan, [[0.0, 1.0], [1.0, 0.0]])
    assert total == pytest.approx(2.0)
    # no mass at all: nothing moves
    plan, total = transport_plan([0.0, 0.0], [0.0], [[1.0], [2.0]])
    np.testing.assert_array_equal(plan, np.zeros((2, 1)))
    assert total == 0.0
    # totals equal within the relative 1e-9 tolerance: accepted, rows sum to a exactly-ish
    plan, _ = transport_plan([0.5, 0.5], [1.0 + 1e-12], [[1.0], [1.0]])
    np.testing.assert_allclose(plan.sum(axis=0), [1.0], rtol=1e-15)


def test_wasserstein_1d_matches_scipy_with_and_without_weights():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=13), rng.normal(1.0, 2.0, size=9)
    u[3] = u[5] = v[2]  # ties inside and across the samples
    wu, wv = rng.random(13), rng.random(9)
    wu[0] = 0.0  # a zero weight
    assert wasserstein_1d(u, v) == pytest.approx(wasserstein_distance(u, v), rel=W_RTOL)
    assert wasserstein_1d(u, v, wu, wv) == pytest.approx(
        wasserstein_distance(u, v, wu, wv), rel=W_RTOL
    )
    assert wasserstein_1d(u, v, wu) == pytest.approx(wasserstein_distance(u, v, wu), rel=W_RTOL)
    assert wasserstein_1d(u, u) == 0.0
    # weights are relative: scaling them changes nothing
    assert wasserstein_1d(u, v, 7 * wu, wv) == pytest.approx(wasserstein_1d(u, v, wu, wv))


def test_wasserstein_1_on_the_line_matches_scipy():
    rng = np.random.default_rng(1)
    for n, m in [(1, 1), (5, 5), (7, 4), (3, 8)]:
        x, y = rng.normal(size=n), rng.normal(0.5, 1.5, size=m)
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
        assert wasserstein_1(x, y) == pytest.approx(wasserstein_distance(x, y), rel=1e-10)
        assert wasserstein_1(x[:, None], y[:, None], a, b) == pytest.approx(
            wasserstein_distance(x, y, a, b), rel=1e-10
        )
        assert wasserstein_1d(x, y, a, b) == pytest.approx(wasserstein_1(x, y, a, b), rel=1e-10)


def test_wasserstein_1_known_answers_in_several_dimensions():
    # two Diracs: all the mass moves the distance between them
    assert wasserstein_1([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(5.0)
    assert wasserstein_1d([2.0], [-3.0]) == pytest.approx(5.0)
    # a cloud and its translate by t: W1 = |t|
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 3))
    t = np.array([0.3, -1.2, 0.4])
    assert wasserstein_1(x, x + t) == pytest.approx(np.linalg.norm(t), rel=1e-12)
    # symmetric, zero on itself, triangle inequality
    y, z = rng.normal(size=(5, 3)), rng.normal(1.0, size=(4, 3))
    assert wasserstein_1(x, y) == pytest.approx(wasserstein_1(y, x), rel=1e-12)
    assert wasserstein_1(x, x) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein_1(x, z) <= wasserstein_1(x, y) + wasserstein_1(y, z) + 1e-12


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"a and b must have equal total mass.*sum\(a\) = 1\.0"):
        transport_plan([0.5, 0.5], [0.5, 0.6], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^a must be finite and non-negative"):
        transport_plan([-0.5, 1.5], [1.0], np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"^b must be a non-empty 1-D"):
        transport_plan([1.0], [[1.0]], np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"^cost must have shape \(len\(a\), len\(b\)\)"):
        transport_plan([1.0], [0.5, 0.5], np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"^cost must be finite"):
        transport_plan([1.0], [1.0], [[np.inf]])
    with pytest.raises(ValueError, match=r"^u_weights must have one weight per point"):
        wasserstein_1d([0.0, 1.0], [0.0], u_weights=[1.0])
    with pytest.raises(ValueError, match=r"^v_weights must have a positive sum"):
        wasserstein_1d([0.0], [1.0], v_weights=[0.0])
    with pytest.raises(ValueError, match=r"^u_values must be finite"):
        wasserstein_1d([np.nan], [1.0])
    with pytest.raises(ValueError, match=r"^x and y must have points of the same dimension"):
        wasserstein_1(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^b must be finite and non-negative"):
        wasserstein_1(np.zeros((2, 2)), np.zeros((1, 2)), b=[-1.0])
