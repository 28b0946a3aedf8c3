"""Exact p-median, p-center and capacitated p-median on random graphs, against independent MILPs
written here (textbook formulations, scipy's milp; nothing from geo.staging): every plan that
says ``optimal=True`` must be optimal."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import shortest_path

from geo import staging as st


def graph_cost(n: int, seed: int, degree: float = 4.0) -> np.ndarray:
    """Shortest-path costs on a random connected graph: a random spanning tree plus random
    edges (about ``degree`` per vertex on average), integer lengths 1-100, like OR-Library's
    p-median graphs. Every vertex is a demand point and a candidate."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    a = perm[1:]
    b = perm[rng.integers(0, np.arange(1, n))]  # each vertex joins one placed before it
    extra = int(n * degree / 2) - (n - 1)
    u, v = rng.integers(0, n, extra), rng.integers(0, n, extra)
    ok = u != v
    r, c = np.r_[a, u[ok]], np.r_[b, v[ok]]
    g = sp.coo_matrix((rng.integers(1, 101, r.size).astype(float), (r, c)), shape=(n, n))
    return shortest_path(g.tocsr(), directed=False)


def ref_p_median(
    cost: np.ndarray, w: np.ndarray, k: int, cap: np.ndarray | None = None, fixed=()
) -> float:
    """Textbook p-median MILP with every assignment variable x_ij (fractions of row i),
    capacities sum_i w_i x_ij <= cap_j y_j when given, and ``fixed`` columns open (k counts
    all open columns)."""
    n, m = cost.shape
    nv = m + n * m
    xi = m + np.arange(n * m).reshape(n, m)
    rows = [
        LinearConstraint(
            sp.coo_matrix((np.ones(n * m), (np.repeat(np.arange(n), m), xi.ravel())), (n, nv)),
            1,
            1,
        ),
        LinearConstraint(
            sp.coo_matrix(
                (
                    np.r_[np.ones(n * m), -np.ones(n * m)],
                    (
                        np.r_[np.arange(n * m), np.arange(n * m)],
                        np.r_[xi.ravel(), np.tile(np.arange(m), n)],
                    ),
                ),
                (n * m, nv),
            ),
            -np.inf,
            0,
        ),
        LinearConstraint(sp.coo_matrix((np.ones(m), (np.zeros(m), np.arange(m))), (1, nv)), k, k),
    ]
    if cap is not None:
        r = np.tile(np.arange(m), n)
        rows.append(
            LinearConstraint(
                sp.coo_matrix(
                    (
                        np.r_[np.repeat(w, m), -cap],
                        (np.r_[r, np.arange(m)], np.r_[xi.ravel(), np.arange(m)]),
                    ),
                    (m, nv),
                ),
                -np.inf,
                0,
            )
        )
    res = milp(
        np.r_[np.zeros(m), (w[:, None] * cost).ravel()],
        constraints=rows,
        integrality=np.r_[np.ones(m), np.zeros(n * m)],
        bounds=Bounds(np.r_[np.isin(np.arange(m), list(fixed)), np.zeros(n * m)], 1),
        options={"mip_rel_gap": 1e-9},
    )
    assert res.status == 0
    return float(res.fun)


def ref_covers(cost: np.ndarray, k: int, r: float) -> bool:
    """Can k sites put every row within r? (set cover MILP with a cardinality limit)"""
    a = (cost <= r).astype(float)
    m = a.shape[1]
    res = milp(
        np.ones(m),
        constraints=[LinearConstraint(a, 1, np.inf), LinearConstraint(np.ones((1, m)), 0, k)],
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
    )
    return res.status == 0


def ref_p_center(cost: np.ndarray, k: int) -> float:
    """Smallest distinct cost r at which k sites reach every row (binary search of MILPs)."""
    vals = np.unique(cost[np.isfinite(cost)])
    lo, hi = 0, len(vals) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if ref_covers(cost, k, float(vals[mid])):
            hi = mid
        else:
            lo = mid + 1
    return float(vals[lo])


@pytest.mark.parametrize(("n", "k", "seed"), [(100, 5, 0), (100, 12, 1), (120, 30, 2)])
def test_p_median_on_graphs_matches_independent_milp(n, k, seed):
    cost = graph_cost(n, seed)
    w = np.ones(n)
    plan = st.p_median(cost, k)
    ref = ref_p_median(cost, w, k)
    assert plan.optimal and plan.gap == 0
    assert plan.objective == pytest.approx(ref, rel=1e-9)
    assert cost[:, plan.sites].min(axis=1).sum() == pytest.approx(plan.objective)
    assert plan.bound <= ref * (1 + 1e-9)


@pytest.mark.parametrize(("n", "k", "seed"), [(100, 5, 3), (200, 20, 4), (300, 60, 5)])
def test_p_center_on_graphs_is_optimal(n, k, seed):
    cost = graph_cost(n, seed)
    plan = st.p_center(cost, k)
    assert plan.optimal
    assert cost[:, plan.sites].min(axis=1).max() == plan.objective
    # optimal: k sites cannot do the next smaller radius (independent set cover MILP)
    smaller = np.unique(cost[cost < plan.objective])
    if smaller.size:
        assert not ref_covers(cost, k, float(smaller[-1]))
    if n <= 100:
        assert plan.objective == ref_p_center(cost, k)


def test_weighted_p_median_with_fixed_sites_is_optimal():
    cost = graph_cost(80, 6)
    w = np.random.default_rng(6).integers(0, 30, 80).astype(float)  # some points empty
    plan = st.p_median(cost, 4, w, fixed=[3, 50])
    assert plan.optimal and 3 not in plan.sites and 50 not in plan.sites
    assert plan.objective == pytest.approx(ref_p_median(cost, w, 6, fixed=(3, 50)), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_capacitated_p_median_matches_independent_milp(seed):
    rng = np.random.default_rng(seed)
    n = m = 30
    d = rng.random((n, 2))
    cost = np.sqrt(((d[:, None] - d[None]) ** 2).sum(-1)) * 100
    w = rng.integers(1, 21, n).astype(float)
    cap = np.full(m, 1.1 * w.sum() / 4)
    plan = st.p_median(cost, 4, w, capacity=cap, exact=True)
    ref = ref_p_median(cost, w, 4, cap)
    assert plan.objective == pytest.approx(ref, rel=1e-6)
    assert plan.optimal
    load = plan.flows.groupby("site")["people"].sum()
    assert (load <= cap[0] * (1 + 1e-6)).all() and load.sum() == pytest.approx(w.sum())
    # without capacities the optimum is lower (capacity binds here)
    assert st.p_median(cost, 4, w).objective <= plan.objective


def test_capacity_short_leaves_people_unserved_and_says_so():
    cost = np.abs(np.arange(6.0)[:, None] - np.arange(6.0)[None, :])
    w = np.full(6, 10.0)
    plan = st.p_median(cost, 2, w, capacity=20.0)  # 40 places for 60 people
    assert plan.uncovered == pytest.approx(20.0)
    assert plan.objective == np.inf and any("cannot be served" in s for s in plan.notes)


@pytest.fixture(scope="module")
def hard150():
    cost = graph_cost(150, 11)
    return cost, ref_p_median(cost, np.ones(150), 5), ref_p_center(cost, 5)


@pytest.mark.parametrize("limit", [0.2, 0.6, 1.5])
def test_short_time_limits_never_claim_too_much(hard150, limit):
    """Stopped early, a plan may have a gap, but its bound must hold and "optimal" must be
    true (an unfinished branch-and-cut node once counted as pruned)."""
    cost, ref, ref_pc = hard150
    plan = st.p_median(cost, 5, time_limit=limit)
    assert plan.bound <= ref * (1 + 1e-9)
    assert plan.objective >= ref * (1 - 1e-9)
    if plan.optimal:
        assert plan.objective == pytest.approx(ref, rel=1e-9)
    pc = st.p_center(cost, 5, time_limit=limit)
    assert pc.bound <= ref_pc <= pc.objective
