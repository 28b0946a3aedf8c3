"""Capacitated p-median: k sites, each serving at most its capacity (used by :func:`p_median`).

A site's capacity is the people it can test by the deadline (lanes x throughput x hours left),
so people at one demand point may be split between sites (the demand points are cells of a
crowd, not single households). The model, on the pairs a row can reach:

    min  sum_ij w_i c_ij x_ij + P sum_i w_i u_i
    s.t. sum_j x_ij + u_i = 1              (everyone served, or counted as unserved)
         sum_i w_i x_ij <= cap_j y_j        (capacity, only where the site is open)
         x_ij <= y_j                        (strong linking: a much tighter LP)
         sum_j y_j = k + fixed,  y binary,  x, u in [0, 1]

with P larger than any travel cost, so serving one more person always beats any saving in
travel. Small instances go to HiGHS whole, warm-started from the heuristic plan (the
uncapacitated optimum's sites with the best capacity-respecting assignment); large ones keep
each row's nearest candidates only, which makes the MILP a heuristic: the bound is then the
uncapacitated p-median's lower bound (capacities only add constraints, so it stays valid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo.staging.common import _Clock, highs_mip

__all__ = [
    "CAPACITY_EXACT_PAIRS",
    "assign_with_capacity",
    "capacitated_assignment",
    "CapacityResult",
    "solve_capacitated",
]

# rows with people x candidates up to which the MILP keeps every pair (exact)
CAPACITY_EXACT_PAIRS = 40_000


@dataclass
class CapacityResult:
    """The best plan found: open columns, split assignment, figures, and the MILP's verdict."""

    sites: np.ndarray
    rows: np.ndarray  # per used pair: demand row (index among rows with people)
    cols: np.ndarray  # per used pair: column
    people: np.ndarray  # per used pair: people sent
    cost: float  # people x cost of the people served
    unserved: np.ndarray  # per row with people: people not served (capacity short)
    bound: float  # proven lower bound on the penalised objective (cost + P x unserved)
    penalised: float  # cost + P x unserved
    optimal: bool
    exact_model: bool  # every pair was in the model (so its bound is the problem's)


def _pairs(c: np.ndarray, keep: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) pairs of the model: finite costs, each row's ``keep`` nearest if given."""
    n, m = c.shape
    if keep is not None and keep < m:
        idx = np.argpartition(c, keep - 1, axis=1)[:, :keep]
        rows = np.repeat(np.arange(n), keep)
        cols = idx.ravel()
    else:
        rows, cols = np.nonzero(np.ones((n, m), dtype=bool))
    ok = np.isfinite(c[rows, cols])
    return rows[ok], cols[ok]


def _model(
    c: np.ndarray,
    w: np.ndarray,
    cap: np.ndarray,
    kt: int,
    pr: np.ndarray,
    pc: np.ndarray,
    pen: float,
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray]:
    """Objective, constraint matrix and row bounds; variables are y (m), x (pairs), u (n)."""
    n, m = c.shape
    npair = pr.size
    nv = m + npair + n
    xs = m + np.arange(npair)
    us = m + npair + np.arange(n)
    obj = np.r_[np.zeros(m), w[pr] * c[pr, pc], pen * w]
    finite = np.isfinite(cap)
    capped = np.flatnonzero(finite)
    rmap = np.full(m, -1)
    rmap[capped] = np.arange(capped.size)
    inx = finite[pc]
    blocks = [
        # assignment rows: sum_j x_ij + u_i = 1
        sp.csr_matrix(
            (np.ones(npair + n), (np.r_[pr, np.arange(n)], np.r_[xs, us])), shape=(n, nv)
        ),
        # capacity rows: sum_i w_i x_ij - cap_j y_j <= 0
        sp.csr_matrix(
            (
                np.r_[w[pr[inx]], -cap[capped]],
                (np.r_[rmap[pc[inx]], np.arange(capped.size)], np.r_[xs[inx], capped]),
            ),
            shape=(capped.size, nv),
        ),
        # linking: x_ij - y_j <= 0
        sp.csr_matrix(
            (
                np.r_[np.ones(npair), -np.ones(npair)],
                (np.r_[np.arange(npair), np.arange(npair)], np.r_[xs, pc]),
            ),
            shape=(npair, nv),
        ),
        sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv)),
    ]
    a = sp.vstack(blocks, format="csr")
    lo = np.r_[np.ones(n), np.full(capped.size, -np.inf), np.full(npair, -np.inf), float(kt)]
    hi = np.r_[np.ones(n), np.zeros(capped.size), np.zeros(npair), float(kt)]
    return obj, a, lo, hi


def _result(
    x: np.ndarray,
    c: np.ndarray,
    w: np.ndarray,
    pr: np.ndarray,
    pc: np.ndarray,
    pen: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, float]:
    n, m = c.shape
    npair = pr.size
    y = x[:m]
    frac = np.clip(x[m : m + npair], 0.0, 1.0)
    unserved = np.clip(x[m + npair :], 0.0, 1.0) * w
    used = frac > 1e-9
    people = frac[used] * w[pr[used]]
    cost = float(people @ c[pr[used], pc[used]])
    sites = np.flatnonzero(y > 0.5).astype(np.intp)
    return sites, pr[used], pc[used], people, cost, unserved, cost + pen * float(unserved.sum())


def assign_with_capacity(
    c: np.ndarray, w: np.ndarray, cap: np.ndarray, sites: np.ndarray, clock: _Clock
) -> CapacityResult:
    """The least-travel assignment to the open ``sites`` within their capacities (an LP)."""
    n, m = c.shape
    sub = c[:, sites]
    pen = _penalty(c)
    pr, pc = _pairs(sub, None)
    obj, a, lo, hi = _model(sub, w, cap[sites], len(sites), pr, pc, pen)
    k = len(sites)
    nv = obj.size
    res = highs_mip(
        obj,
        a,
        lo,
        hi,
        np.r_[np.ones(k), np.zeros(nv - k)],
        np.ones(nv),
        np.zeros(nv, bool),
        max(clock.left(), 1.0),
    )
    if res.x is None:  # cannot happen: serving nobody is feasible
        raise RuntimeError("the capacity assignment LP failed")
    _, rr, cc, people, cost, unserved, penal = _result(res.x, sub, w, pr, pc, pen)
    return CapacityResult(
        np.asarray(sites, dtype=np.intp),
        rr,
        np.asarray(sites)[cc],
        people,
        cost,
        unserved,
        -math.inf,
        penal,
        False,
        False,
    )


def capacitated_assignment(
    cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray, time_limit: float = 10.0
) -> pd.DataFrame:
    """Everyone sent to the open sites (every column of ``cost``) by least total travel without
    exceeding any site's ``capacity``: one row per (demand, site) pair used, with ``demand``,
    ``site``, ``people`` and ``cost``; people no site can take are left out.

    >>> import numpy as np
    >>> flows = capacitated_assignment(np.array([[1.0, 5.0], [2.0, 3.0]]), np.array([10.0, 10]),
    ...                                np.array([10.0, 10]))
    >>> flows[["demand", "site", "people"]].values.tolist()
    [[0.0, 0.0, 10.0], [1.0, 1.0, 10.0]]
    """
    c = np.asarray(cost, dtype=float)
    if c.shape[1] == 0:
        return pd.DataFrame({"demand": [], "site": [], "people": [], "cost": []})
    res = assign_with_capacity(
        c,
        np.asarray(weights, dtype=float),
        np.asarray(capacity, dtype=float),
        np.arange(c.shape[1]),
        _Clock(time_limit),
    )
    return pd.DataFrame(
        {"demand": res.rows, "site": res.cols, "people": res.people, "cost": c[res.rows, res.cols]}
    )


def _penalty(c: np.ndarray) -> float:
    finite = c[np.isfinite(c)]
    return 10.0 * (float(finite.max()) + 1.0) if finite.size else 1.0


def solve_capacitated(
    c: np.ndarray,
    w: np.ndarray,
    cap: np.ndarray,
    kt: int,
    fixed: np.ndarray,
    start_sites: np.ndarray,
    clock: _Clock,
    *,
    exact: bool | None,
) -> CapacityResult:
    """Best capacitated plan within ``clock``, starting from ``start_sites`` (kt columns).

    ``c``: costs of the rows with people (+inf = unreachable); ``w`` their people; ``cap``:
    capacity per column (+inf = unlimited)."""
    n, m = c.shape
    start = assign_with_capacity(c, w, cap, np.asarray(start_sites, dtype=np.intp), clock)
    full = exact is True or (exact is None and n * m <= CAPACITY_EXACT_PAIRS)
    if exact is False or clock.left() <= 0:
        return start
    keep = None if full else min(m, max(10, 3 * m // max(kt, 1) + 5))
    pr, pc = _pairs(c, keep)
    pen = _penalty(c)
    obj, a, lo, hi = _model(c, w, cap, kt, pr, pc, pen)
    nv = obj.size
    ylo = np.zeros(m)
    ylo[fixed] = 1.0
    # warm start: the start plan, written in this model's pairs
    x0 = np.zeros(nv)
    x0[start.sites] = 1.0
    key = {(int(i), int(j)): p for i, j, p in zip(pr, pc, range(pr.size), strict=True)}
    ok = True
    for i, j, ppl in zip(start.rows, start.cols, start.people, strict=True):
        slot = key.get((int(i), int(j)))
        if slot is None:
            ok = False
            break
        x0[m + slot] += ppl / w[i]
    x0[m + pr.size :] = start.unserved / w
    res = highs_mip(
        obj,
        a,
        lo,
        hi,
        np.r_[ylo, np.zeros(nv - m)],
        np.ones(nv),
        np.r_[np.ones(m, dtype=bool), np.zeros(nv - m, dtype=bool)],
        clock.left(),
        rel_gap=1e-6,
        start=x0 if ok else None,
    )
    best = start
    if res.x is not None:
        sites, rr, cc, people, cost, unserved, penal = _result(res.x, c, w, pr, pc, pen)
        if len(sites) == kt and penal < start.penalised - 1e-9 * max(abs(start.penalised), 1):
            best = CapacityResult(
                sites, rr, cc, people, cost, unserved, -math.inf, penal, False, False
            )
    bound = res.bound if full and math.isfinite(res.bound) else -math.inf
    best.bound = min(bound, best.penalised)
    best.exact_model = full
    best.optimal = full and res.status == "optimal"
    return best
