"""Exact optimal transport between small discrete distributions (NumPy, float64).

The Kantorovich problem (Villani 2008, "Optimal Transport: Old and New", ch. 4; Peyre & Cuturi
2019, "Computational Optimal Transport", section 3.1): for masses ``a`` (``m`` sources) and
``b`` (``n`` sinks) with equal totals and a cost matrix ``C``::

    min_{P >= 0, P 1 = a, P^T 1 = b}  sum_ij P_ij C_ij

``transport_plan`` solves it exactly with the transportation simplex (Dantzig 1951, "Application
of the simplex method to a transportation problem"; the MODI / u-v method, e.g. Hillier &
Lieberman, "Introduction to Operations Research", section 9.2): a north-west-corner basic
solution, then pivots on the most negative reduced cost ``C_ij - u_i - v_j``, where the
potentials solve ``u_i + v_j = C_ij`` on the basis. A basis is always a spanning tree of the
bipartite row/column graph with ``m + n - 1`` cells, zero-valued ("degenerate") cells included,
so degeneracy (equal integer masses, zero masses) needs no perturbation. Against cycling on
degenerate pivots the entering rule falls back to Bland's smallest-index rule (Bland 1977).

``wasserstein_1`` is the Earth Mover's distance (Rubner et al. 2000) between point clouds with
Euclidean ground cost, the distance of Wasserstein GANs (Arjovsky et al. 2017, eq. 1);
``wasserstein_1d`` is its closed form on the line, ``W1 = int |F_u(x) - F_v(x)| dx``.
"""

from __future__ import annotations

import numpy as np

# relative tolerance on sum(a) == sum(b)
MASS_RTOL = 1e-9
# a reduced cost counts as negative below -COST_RTOL * max(1, max |C|)
COST_RTOL = 1e-12


def _masses(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of masses, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {x}")
    return x


def _northwest_corner(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, list]:
    """The north-west-corner basic solution and its ``m + n - 1`` basic cells.

    The cells form a staircase from ``(0, 0)`` to ``(m - 1, n - 1)``; when a row and a column
    run out together the walk moves down only, so the next cell is a zero-valued basic cell.
    """
    m, n = len(a), len(b)
    plan = np.zeros((m, n))
    rows, cols = a.copy(), b.copy()
    basis = []
    i = j = 0
    while True:
        amount = max(min(rows[i], cols[j]), 0.0)
        plan[i, j] = amount
        rows[i] -= amount
        cols[j] -= amount
        basis.append((i, j))
        if i == m - 1 and j == n - 1:
            return plan, basis
        if j == n - 1 or (i < m - 1 and rows[i] <= cols[j]):
            i += 1
        else:
            j += 1


def _neighbours(basis: list, m: int, n: int) -> list:
    """Adjacency of the basis tree: node ``i`` is row ``i``, node ``m + j`` is column ``j``;
    ``neighbours[node]`` lists ``(other node, cell)``."""
    neighbours = [[] for _ in range(m + n)]
    for i, j in basis:
        neighbours[i].append((m + j, (i, j)))
        neighbours[m + j].append((i, (i, j)))
    return neighbours


def _potentials(cost: np.ndarray, basis: list) -> tuple[np.ndarray, np.ndarray]:
    """``u``, ``v`` with ``u_i + v_j = C_ij`` on every basic cell and ``u_0 = 0``."""
    m, n = cost.shape
    neighbours = _neighbours(basis, m, n)
    potential = np.full(m + n, np.nan)  # [u, v]
    potential[0] = 0.0
    stack = [0]
    while stack:
        node = stack.pop()
        for other, cell in neighbours[node]:
            if np.isnan(potential[other]):
                potential[other] = cost[cell] - potential[node]
                stack.append(other)
    return potential[:m], potential[m:]


def _cycle(basis: list, enter: tuple[int, int], m: int, n: int) -> list:
    """The basic cells on the tree path from row ``enter[0]`` to column ``enter[1]``.

    With the entering cell they close the pivoting cycle; along the path the cells alternate
    ``-theta``, ``+theta``, ..., ``-theta`` (a row-to-column path has odd length).
    """
    neighbours = _neighbours(basis, m, n)
    start, goal = enter[0], m + enter[1]
    previous = {start: None}
    stack = [start]
    while goal not in previous:
        node = stack.pop()
        for other, cell in neighbours[node]:
            if other not in previous:
                previous[other] = (node, cell)
                stack.append(other)
    path = []
    node = goal
    while previous[node] is not None:
        node, cell = previous[node]
        path.append(cell)
    return path[::-1]


def transport_plan(a, b, cost) -> tuple[np.ndarray, float]:
    """Exact optimal transport plan ``argmin_{P >= 0, P 1 = a, P^T 1 = b} sum_ij P_ij C_ij``.

    Transportation simplex (north-west corner + MODI potentials + cycle pivoting), see the
    module docstring. Meant for small problems (tens of points): each pivot is ``O(m n)``.

    Args:
        a: ``[m]`` non-negative source masses.
        b: ``[n]`` non-negative sink masses, ``sum(b) == sum(a)`` to a relative ``1e-9``
            (``b`` is rescaled to ``sum(a)`` exactly).
        cost: ``[m, n]`` finite ground costs (any sign).

    Returns:
        ``(plan, total_cost)``: the ``[m, n]`` float64 plan (rows sum to ``a``, columns to
        ``b``, entries ``>= 0``) and ``sum(plan * cost)``.
    """
    a = _masses(a, "a")
    b = _masses(b, "b")
    total_a, total_b = float(a.sum()), float(b.sum())
    if abs(total_a - total_b) > MASS_RTOL * max(total_a, total_b):
        raise ValueError(
            f"a and b must have equal total mass (relative tolerance {MASS_RTOL:g}), got "
            f"sum(a) = {total_a!r} and sum(b) = {total_b!r}"
        )
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape != (len(a), len(b)):
        raise ValueError(
            f"cost must have shape (len(a), len(b)) = {(len(a), len(b))}, got {cost.shape}"
        )
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite (no inf or NaN entries)")
    m, n = cost.shape
    if total_a == 0:
        return np.zeros((m, n)), 0.0
    b = b * (total_a / total_b)
    plan, basis = _northwest_corner(a, b)
    tolerance = COST_RTOL * max(1.0, float(np.abs(cost).max()))
    bland = False  # switched on for good after a long run of degenerate pivots
    degenerate_run = 0
    for _ in range(100 * (m + n) * m * n + 100):
        u, v = _potentials(cost, basis)
        reduced = cost - u[:, None] - v[None, :]
        for i, j in basis:
            reduced[i, j] = 0.0
        negative = np.flatnonzero(reduced < -tolerance)
        if negative.size == 0:
            return plan, float(np.sum(plan * cost))
        flat = negative[0] if bland else negative[np.argmin(reduced.flat[negative])]
        enter = (int(flat // n), int(flat % n))
        path = _cycle(basis, enter, m, n)
        minus = path[0::2]
        theta = min(plan[cell] for cell in minus)
        # leaving cell: the smallest-valued "-" cell, ties broken by the smallest index (Bland)
        leave = min((cell for cell in minus if plan[cell] == theta), key=lambda c: c[0] * n + c[1])
        for cell in minus:
            plan[cell] = max(plan[cell] - theta, 0.0)
        for cell in path[1::2]:
            plan[cell] += theta
        plan[enter] = theta
        plan[leave] = 0.0
        basis[basis.index(leave)] = enter
        degenerate_run = degenerate_run + 1 if theta == 0 else 0
        bland = bland or degenerate_run > m + n
    raise RuntimeError("transport_plan: the transportation simplex did not converge")


def _points(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty [num_points] or [num_points, dim] array, got shape "
            f"{x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _values(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _weights(weights, size: int, name: str) -> np.ndarray:
    """Relative weights, normalised to sum to one (uniform when ``weights`` is None)."""
    if weights is None:
        return np.full(size, 1.0 / size)
    weights = _masses(weights, name)
    if weights.shape != (size,):
        raise ValueError(f"{name} must have one weight per point ({size}), got {weights.shape}")
    if weights.sum() <= 0:
        raise ValueError(f"{name} must have a positive sum, got {float(weights.sum())!r}")
    return weights / weights.sum()


def wasserstein_1d(u_values, v_values, u_weights=None, v_weights=None) -> float:
    """``W1(u, v) = int |F_u(x) - F_v(x)| dx`` for weighted samples on the real line.

    ``F_u``, ``F_v`` are the empirical CDFs; both are step functions that only change at the
    pooled sorted sample points ``x_0 <= ... <= x_k``, so the integral is
    ``sum_t |F_u(x_t) - F_v(x_t)| (x_{t+1} - x_t)``. Same semantics as
    ``scipy.stats.wasserstein_distance``: weights are relative (normalised to sum to one),
    uniform when omitted.

    Args:
        u_values: ``[N]`` support of the first distribution.
        v_values: ``[M]`` support of the second distribution.
        u_weights: optional ``[N]`` non-negative weights with a positive sum.
        v_weights: optional ``[M]`` non-negative weights with a positive sum.

    Returns:
        The distance, a float ``>= 0``.
    """
    u = _values(u_values, "u_values")
    v = _values(v_values, "v_values")
    wu = _weights(u_weights, len(u), "u_weights")
    wv = _weights(v_weights, len(v), "v_weights")
    u_order, v_order = np.argsort(u), np.argsort(v)
    u, wu, v, wv = u[u_order], wu[u_order], v[v_order], wv[v_order]
    pooled = np.sort(np.concatenate([u, v]))
    # F(x_t): total weight of the samples <= x_t
    cdf_u = np.concatenate([[0.0], np.cumsum(wu)])[np.searchsorted(u, pooled[:-1], "right")]
    cdf_v = np.concatenate([[0.0], np.cumsum(wv)])[np.searchsorted(v, pooled[:-1], "right")]
    return float(np.sum(np.abs(cdf_u - cdf_v) * np.diff(pooled)))


def wasserstein_1(x, y, a=None, b=None) -> float:
    """Earth Mover's distance ``W1 = min_P sum_ij P_ij ||x_i - y_j||_2`` between point clouds.

    Solved exactly with ``transport_plan`` on the Euclidean cost matrix.

    Args:
        x: ``[N, D]`` points (or ``[N]`` for points on the line).
        y: ``[M, D]`` points, same ``D``.
        a: optional ``[N]`` relative weights of ``x`` (normalised to sum to one; uniform when
            omitted).
        b: optional ``[M]`` relative weights of ``y``.

    Returns:
        The distance, a float ``>= 0``.
    """
    x = _points(x, "x")
    y = _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have points of the same dimension, got x: {x.shape} and y: {y.shape}"
        )
    cost = np.sqrt(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1))
    _, total = transport_plan(_weights(a, len(x), "a"), _weights(b, len(y), "b"), cost)
    return total
