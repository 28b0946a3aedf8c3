"""Exact p-median by the radius formulation, solved with HiGHS (used by :mod:`p_median`).

The radius formulation (Elloumi 2010; García, Labbé & Marín 2011, "Solving large p-median
problems with a radius formulation") describes a demand row's cost by its sorted distinct
costs; projected on the sites it becomes the cuts theta_i >= D - sum_j (D - wc_ij)^+ y_j, one
per row and radius D (Cornuejols, Nemhauser & Wolsey), whose LP relaxation is as strong as the
textbook formulation's with n x m assignment variables, on a model of only m + n variables.
Only the cuts that are needed are added (Benders; Duran-Mateos et al. 2023 do the same at
scale):

1. cutting planes on the LP relaxation, each round a warm-started dual simplex;
2. candidates fixed closed (open) when the LP's reduced cost lifts the bound past the best
   known plan, after the same test on the Lagrangian bound (:func:`fix_by_lagrangian`);
3. branch and cut: best-first on the LP bound, branching on the most fractional site, cuts
   separated at every node (they hold everywhere). The LP gap is small on these instances, so
   the tree is small too.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.staging.common import _Clock

__all__ = [
    "fix_by_lagrangian",
    "RadiusResult",
    "solve_benders",
]


@dataclass
class RadiusResult:
    """Sites of the best plan found, its cost, the proven lower bound, and whether the bound
    proves the plan optimal."""

    sites: np.ndarray
    objective: float
    bound: float
    optimal: bool
    rounds: int


def fix_by_lagrangian(
    rho: np.ndarray, lam_sum: float, fixed: np.ndarray, kf: int, ub: float
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates that no plan costing less than ``ub`` opens (closed) or leaves closed (open).

    ``rho`` are the Lagrangian column costs at the best multipliers (sum of ``lam`` =
    ``lam_sum``): the bound is ``lam_sum`` + the fixed sites' rho + the ``kf`` smallest free
    rho; forcing one more column in, or one of the chosen out, changes it by a known amount.
    """
    m = rho.size
    free = np.setdiff1d(np.arange(m), fixed)
    closed = np.zeros(m, dtype=bool)
    opened = np.zeros(m, dtype=bool)
    if kf <= 0 or kf >= free.size:
        return closed, opened
    order = free[np.argsort(rho[free], kind="stable")]
    base = lam_sum + float(rho[fixed].sum()) + float(rho[order[:kf]].sum())
    tol = 1e-9 * max(abs(ub), 1.0)
    last_in, first_out = float(rho[order[kf - 1]]), float(rho[order[kf]])
    outside = order[kf:]
    closed[outside] = base + rho[outside] - last_in > ub + tol
    inside = order[:kf]
    opened[inside] = base - rho[inside] + first_out > ub + tol
    return closed, opened


class _Cuts:
    """Separation of the cuts theta_i >= D - sum_j (D - wc_ij)^+ y_j.

    For fixed y these cuts, over every D, describe row i's cost exactly (Cornuejols, Nemhauser
    & Wolsey's form of the radius formulation); at a fractional y the most violated one has D
    where the y of the row's candidates, taken nearest first, adds up to 1. Each row's
    candidates are sorted once; separation is then a few cumulative sums."""

    def __init__(self, wc: np.ndarray) -> None:
        self.order = np.argsort(wc, axis=1, kind="stable")
        self.sorted = np.take_along_axis(wc, self.order, axis=1)
        self.n, self.m = wc.shape

    def separate(
        self, y: np.ndarray, theta: np.ndarray, tol: float, at: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cuts violated at (y, theta) by more than ``tol``: rows, their D, and CSR (starts,
        columns, coefficients) of the y part. The cuts are made at the point ``at`` (default
        ``y``): a point between the LP's answer and the incumbent gives deeper cuts and far
        fewer rounds (in-out stabilisation); only those violated at (y, theta) are kept."""
        ys = (y if at is None else at)[self.order]
        cum = np.cumsum(ys, axis=1)
        # the first candidate at which the open mass reaches 1 (the last one if it never does)
        first = np.minimum((cum < 1.0 - 1e-9).sum(axis=1), self.m - 1)
        ar = np.arange(self.n)
        dstar = self.sorted[ar, first]
        keep = self.sorted < dstar[:, None]
        # value of each cut at y: D - sum_j (D - wc_ij)^+ y_j
        yv = y[self.order]
        value = dstar - ((dstar[:, None] - self.sorted) * yv * keep).sum(axis=1)
        viol = np.flatnonzero(value > theta + tol)
        if viol.size == 0:
            e = np.zeros(0, dtype=np.intp)
            return e, np.zeros(0), np.zeros(1, dtype=np.intp), e, np.zeros(0)
        # coefficients on every candidate strictly nearer than D (not only those with y > 0,
        # so the cut stays useful when y changes)
        d = dstar[viol]
        kv = keep[viol]
        starts = np.r_[0, np.cumsum(kv.sum(axis=1))]
        cols = self.order[viol][kv]
        coef = (d[:, None] - self.sorted[viol])[kv]
        return viol, d, starts, cols, coef


def _run(h: Any, seconds: float) -> Any:
    """Run HiGHS for at most ``seconds`` more. Its time limit counts the object's whole run time
    (every earlier ``run`` included), not this run's: the limit moves on with it."""
    h.setOptionValue("time_limit", float(h.getRunTime()) + max(seconds, 0.01))
    h.run()
    return h.getModelStatus()


def solve_benders(
    wc: np.ndarray,
    kt: int,
    fixed: np.ndarray,
    ub_sites: np.ndarray,
    clock: _Clock,
    *,
    closed: np.ndarray | None = None,
    opened: np.ndarray | None = None,
    lp_only: bool = False,
) -> RadiusResult:
    """Exact p-median on weighted costs ``wc``: cutting planes on the LP, reduced-cost fixing,
    then MILPs on the cuts found, with cuts added at each integer answer until its cost
    matches (Benders on the radius formulation, as in Duran-Mateos et al. 2023)."""
    import highspy

    n, m = wc.shape
    is_closed = np.zeros(m, dtype=bool) if closed is None else closed.copy()
    ub_sites = np.asarray(ub_sites, dtype=np.intp)
    is_closed[ub_sites] = False
    cols = np.flatnonzero(~is_closed)
    mc = cols.size
    sub = np.ascontiguousarray(wc[:, cols])
    cuts = _Cuts(sub)
    slot = np.full(m, -1)
    slot[cols] = np.arange(mc)
    best_sites = ub_sites.copy()
    best = float(wc[:, best_sites].min(axis=1).sum())
    tol = 1e-7 * max(best / max(n, 1), 1e-9)
    # With whole costs (people x minutes or metres on graphs usually are) every plan's cost is
    # whole too, so a bound of 8528.2 proves 8529: whole-number rounding prunes many nodes.
    whole = bool(np.all(sub == np.round(sub))) and best < 2**52

    def firm(v: float) -> float:
        return float(math.ceil(v - 1e-6 * max(1.0, abs(v) * 1e-9))) if whole else v

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    # every solve after the first starts from the last basis: presolve would only discard it
    h.setOptionValue("presolve", "off")
    ylo = np.zeros(mc)
    ylo[slot[fixed]] = 1.0
    if opened is not None:
        ylo[slot[np.flatnonzero(opened & ~is_closed)]] = 1.0
    tlo = sub.min(axis=1)  # a row costs at least its nearest candidate
    h.addVars(mc + n, np.r_[ylo, tlo], np.r_[np.ones(mc), np.full(n, np.inf)])
    h.changeColsCost(mc + n, np.arange(mc + n, dtype=np.int32), np.r_[np.zeros(mc), np.ones(n)])
    idx = np.arange(mc, dtype=np.int32)
    h.addRows(
        1,
        np.array([float(kt)]),
        np.array([float(kt)]),
        mc,
        np.array([0], np.int32),
        idx,
        np.ones(mc),
    )

    def add(y: np.ndarray, theta: np.ndarray, at: np.ndarray | None = None) -> int:
        rows, d, starts, cc, coef = cuts.separate(y, theta, tol, at)
        if rows.size == 0:
            return 0
        nnz = np.diff(starts)
        # insert the theta_i coefficient at the front of each cut
        st2 = starts + np.arange(rows.size + 1)
        ind = np.empty(st2[-1], dtype=np.int32)
        val = np.empty(st2[-1])
        head = st2[:-1]
        ind[head] = mc + rows
        val[head] = 1.0
        body = np.ones(st2[-1], dtype=bool)
        body[head] = False
        ind[body] = cc
        val[body] = coef
        del nnz
        h.addRows(
            rows.size, d, np.full(rows.size, np.inf), ind.size, st2[:-1].astype(np.int32), ind, val
        )
        return int(rows.size)

    # cuts of the incumbent: the master starts knowing the best plan's cost exactly
    y0 = np.zeros(mc)
    y0[slot[best_sites]] = 1.0
    add(y0, np.full(n, -np.inf))
    lo = -math.inf
    # 1. Cutting planes on the LP relaxation (Kelley), warm-started dual simplex each round,
    #    cuts made between the LP's answer and a core point (the incumbent, then the average
    #    of the answers). Every round's LP value is a valid bound (fewer cuts: a relaxation).
    core = y0.copy()
    converged, raw = False, -math.inf
    while clock.left() > 0:
        if _run(h, clock.left()) != highspy.HighsModelStatus.kOptimal:
            break
        x = np.asarray(h.getSolution().col_value)
        val = float(h.getInfo().objective_function_value)
        lo, raw = max(lo, firm(val)), val
        y, theta = x[:mc], x[mc:]
        if add(y, theta, 0.5 * (y + core)) == 0 and add(y, theta) == 0:
            converged = True  # no violated cut: the LP bound of the radius formulation
            break
        core = 0.5 * (core + y)
    if lo >= best * (1 - 1e-9):
        return RadiusResult(best_sites, best, best, True, 0)
    if lp_only:  # the LP bound only (heuristic mode: no branching)
        return RadiusResult(best_sites, best, min(best, lo), False, 0)
    # 2. Reduced-cost fixing: a site whose reduced cost lifts the LP bound past the best plan
    #    cannot be in a better plan (only with the duals of the last LP, solved to optimality
    #    with no row added since).
    if converged:
        rc = np.asarray(h.getSolution().col_dual)[:mc]
        x = np.asarray(h.getSolution().col_value)[:mc]
        out = (x < 1e-9) & (raw + rc > best * (1 + 1e-9))
        inn = (x > 1 - 1e-9) & (raw - rc > best * (1 + 1e-9))
        if out.any():
            fx_ = np.flatnonzero(out).astype(np.int32)
            h.changeColsBounds(fx_.size, fx_, np.zeros(fx_.size), np.zeros(fx_.size))
        if inn.any():
            fx_ = np.flatnonzero(inn).astype(np.int32)
            h.changeColsBounds(fx_.size, fx_, np.ones(fx_.size), np.ones(fx_.size))
    # 3. Branch and cut: best-first over the LP bound, branching on the most fractional site,
    #    cuts separated at every node (they hold everywhere). The LP gap is small, so the tree
    #    is too; HiGHS' own MIP on the master re-solves from scratch after each round of cuts.
    ylo_root = np.asarray(h.getLp().col_lower_)[:mc].copy()
    yhi_root = np.asarray(h.getLp().col_upper_)[:mc].copy()
    heap: list[tuple[float, int, np.ndarray, np.ndarray]] = [(lo, 0, ylo_root, yhi_root)]
    count = 0
    rounds = 0
    while heap and clock.left() > 0:
        node_lo, cnt, nlo, nhi = heapq.heappop(heap)
        if node_lo >= best * (1 - 1e-9):
            continue
        rounds += 1
        h.changeColsBounds(mc, idx, nlo, nhi)
        val = -math.inf
        xn: np.ndarray | None = None
        state = "open"  # "pruned" (infeasible or no better), "solved" (cuts hold), or "open"
        while clock.left() > 0:
            status = _run(h, clock.left())
            if status == highspy.HighsModelStatus.kInfeasible:
                state = "pruned"
                break
            if status != highspy.HighsModelStatus.kOptimal:
                break  # out of time (or numerics): the node stays open
            xn = np.asarray(h.getSolution().col_value)
            val = firm(float(h.getInfo().objective_function_value))
            if val >= best * (1 - 1e-9):
                state = "pruned"
                break
            if add(xn[:mc], xn[mc:]) == 0:
                state = "solved"
                break
        if state == "pruned":
            continue
        if state == "open" or xn is None:
            # unfinished: it keeps its bound (the best of its parent's and its own LPs)
            heapq.heappush(heap, (max(node_lo, val), cnt, nlo, nhi))
            break
        y = xn[:mc]
        j = int(np.argmax(np.minimum(y, 1 - y)))  # the most fractional site
        if min(y[j], 1 - y[j]) <= 1e-6:  # integral, cuts satisfied: the LP value is its cost
            sites = cols[np.flatnonzero(y > 0.5)]
            cost = float(wc[:, sites].min(axis=1).sum())
            if len(sites) == kt and cost < best:
                best, best_sites = cost, sites
            continue
        # Reduced-cost fixing in this subtree: sites whose reduced cost lifts this node's LP
        # past the best plan keep their value below it.
        rc = np.asarray(h.getSolution().col_dual)[:mc]
        raw_node = float(h.getInfo().objective_function_value)
        if rc.size == mc:
            nhi = np.where((y < 1e-9) & (raw_node + rc > best * (1 + 1e-9)), 0.0, nhi)
            nlo = np.where((y > 1 - 1e-9) & (raw_node - rc > best * (1 + 1e-9)), 1.0, nlo)
        for v in (1.0, 0.0):
            clo, chi = nlo.copy(), nhi.copy()
            clo[j] = chi[j] = v
            count += 1
            heapq.heappush(heap, (val, count, clo, chi))
    # The proven bound: the weakest open node, or the best plan when the tree is closed.
    lo = max(lo, min(item[0] for item in heap)) if heap else best
    return RadiusResult(best_sites, best, min(best, lo), lo >= best * (1 - 1e-9), rounds)
