"""p-center: k sites that minimise the worst cost."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from geo.staging.common import (
    EXACT_MAX_PAIRS,
    LP_BOUND_MAX_NNZ,
    _assign,
    _Clock,
    _cost_matrix,
    _fixed,
    _gap,
    _k,
    _nearest,
    _require_reachable,
    _stats,
    _time_limit,
    _weights,
)
from geo.staging.coverage import _merge_rows, max_coverage
from geo.staging.p_median import _penalise, _pm_greedy
from geo.staging.plan import Plan, SiteReason, build_plan
from geo.staging.set_cover import _sc_bound, _sc_greedy, _sc_milp, _sc_packing, _sc_swap


def _pc_decide(
    cr: np.ndarray,
    w: np.ndarray,
    base: np.ndarray,
    r: float,
    kf: int,
    milp_seconds: float | None,
    swap: bool = False,
) -> tuple[np.ndarray | None, str]:
    """Can kf new sites (plus the fixed ones, whose cost is ``base``) reach every row within r?

    Greedy set cover first; then, if ``milp_seconds`` is given, the set cover MILP (or with
    ``swap`` the maximal covering search) for up to that long. Returns (sites or None,
    "feasible" / "infeasible" (proven) / "unknown").
    """
    need = base > r
    if not need.any():
        return np.zeros(0, dtype=np.intp), "feasible"
    a = cr[need] <= r
    if not a.any(axis=1).all():
        return None, "infeasible"
    a, wa, _ = _merge_rows(a, w[need])
    sites = _sc_greedy(a, wa, limit=kf + 1)
    if sites is not None and len(sites) <= kf:
        return sites, "feasible"
    if _sc_packing(a, stop=kf) > kf:
        return None, "infeasible"
    if milp_seconds is None:
        return None, "unknown"
    if swap:
        got = _sc_swap(a, wa, kf, _Clock(milp_seconds))
        return (got, "feasible") if got is not None else (None, "unknown")
    ms, mb, mopt = _sc_milp(a, milp_seconds)
    if ms is not None and len(ms) <= kf:
        return ms, "feasible"
    return None, "infeasible" if (mopt or mb > kf + 1e-6) else "unknown"


def _pc_proof(cr: np.ndarray, base: np.ndarray, r: float, kf: int, clock: _Clock) -> bool:
    """True when no kf new sites can reach everyone within r (packing or LP bound)."""
    need = base > r
    if not need.any():
        return False
    a = cr[need] <= r
    if not a.any(axis=1).all():
        return True
    a, _, _ = _merge_rows(a, np.ones(a.shape[0]))
    return _sc_bound(a, clock, stop=kf) > kf


def p_center(
    cost: Any,
    k: int,
    weights: Any = None,
    *,
    fixed: Sequence[int] | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    unit: str = "min",
) -> Plan:
    """k sites that minimise the worst cost from any demand point with people to its nearest site.

    Binary search over the distinct costs: at radius r, "k sites reach everyone within r" is a
    set cover question, answered exactly by the MILP (small instances, ``exact=True``) or by
    greedy + redundancy removal; infeasibility proofs (LP relaxation or a packing of rows with no
    common candidate) give the lower bound. Sites left over once everyone is within the radius
    are placed to minimise total travel. Weights only matter for reporting: rows with weight 0 are
    ignored.
    """
    clock = _Clock(_time_limit(time_limit))
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _weights(weights, n)
    fx = _fixed(fixed, m)
    k = _k(k, m, len(fx))
    rows = np.flatnonzero(w > 0)
    cr, wr = c[rows], w[rows]
    _require_reachable(cr, rows)
    base = cr[:, fx].min(axis=1) if fx.size else np.full(len(rows), np.inf)
    lo = float(cr.min(axis=1).max())
    vals = np.unique(cr[np.isfinite(cr) & (cr >= lo)])
    use_exact = exact if exact is not None else cr.size <= EXACT_MAX_PAIRS
    notes: list[str] = []

    search = _Clock(0.9 * clock.left())  # the rest is for the explanations
    top, status = _pc_decide(cr, wr, base, float(vals[-1]), k, search.left())
    method = "milp" if use_exact else "heuristic"
    if top is None:
        notes.append(
            f"{k} new site(s) cannot reach every demand point: placed to reach the most people"
        )
        cov = max_coverage(
            c,
            k,
            float(vals[-1]),
            w,
            fixed=fx,
            exact=exact,
            unit=unit,
            time_limit=max(clock.left(), 0.5),
        )
        chosen, bound = cov.sites, math.nan
    else:
        # 1. Greedy set cover inside a binary search: a good radius fast.
        lb_i, lo_i, hi_i, chosen = 0, 0, len(vals) - 1, top
        quick = _Clock(0.3 * search.left())
        while lo_i < hi_i and quick.left() > 0 and vals[hi_i] - vals[lo_i] > 0.01 * vals[hi_i]:
            mid = (lo_i + hi_i) // 2
            got, status = _pc_decide(cr, wr, base, float(vals[mid]), k, None)
            if got is not None:
                hi_i, chosen = mid, got
            else:
                lo_i = mid + 1
                if status == "infeasible":
                    lb_i = max(lb_i, mid + 1)
        # 2. Close the gap with the set cover MILP (all of it when exact, else when the cover
        #    matrix is small enough, each decision time-boxed) or, on big instances, with the
        #    maximal covering search, plus LP / packing proofs for the bound.
        a_top = int((cr[base > float(vals[hi_i])] <= float(vals[hi_i])).sum())
        milp_ok = use_exact or a_top <= LP_BOUND_MAX_NNZ
        s_lo = lb_i  # lower end of the search (proven only up to lb_i)
        while s_lo < hi_i and search.left() > 0:
            mid = (s_lo + hi_i) // 2
            secs = search.left() if use_exact else max(0.5, search.left() / 4)
            got, status = _pc_decide(cr, wr, base, float(vals[mid]), k, secs, swap=not milp_ok)
            if got is None and status == "unknown" and milp_ok and not use_exact:
                got, status = _pc_decide(cr, wr, base, float(vals[mid]), k, secs, swap=True)
            if got is not None:
                hi_i, chosen = mid, got
            else:
                s_lo = mid + 1
                if status == "infeasible":
                    lb_i = max(lb_i, mid + 1)
        lo_i, top_i = lb_i, hi_i - 1
        while lo_i <= top_i and search.left() > 0:
            mid = (lo_i + top_i + 1) // 2
            if _pc_proof(cr, base, float(vals[mid]), k, search):
                lb_i, lo_i = mid + 1, mid + 1
            else:
                top_i = mid - 1
        if lb_i < hi_i and use_exact:
            notes.append("a set cover MILP hit the time limit: the radius may not be optimal")
        if lb_i < hi_i and search.left() <= 0:
            notes.append("the radius search stopped at the time limit")
        bound = float(vals[lb_i])
    # Fill to k new sites, lowering total travel without raising the worst cost.
    chosen = np.unique(np.asarray(chosen, dtype=np.intp))
    chosen = np.setdiff1d(chosen, fx)
    if len(chosen) < k:
        cp, _ = _penalise(cr, wr)
        wc = wr[:, None] * cp
        chosen = np.setdiff1d(_pm_greedy(wc, len(fx) + k, np.r_[fx, chosen].astype(np.intp)), fx)
    open_ = np.r_[fx, chosen].astype(np.intp)
    a, d = _assign(c, open_)
    unc, mean, mx = _stats(w, a, d)
    objective = mx
    reasons = [
        SiteReason(site, 0, 0.0, drop, alt, delta)
        for site, drop, alt, delta in _pc_explain(cr, open_, len(fx), objective)
    ]
    optimal = math.isfinite(objective) and _gap(objective, bound) <= 1e-12
    return build_plan(
        "p_center",
        weights=w,
        assignment=a,
        assigned_cost=np.where(a >= 0, d, np.inf),
        objective=objective,
        bound=min(bound, objective) if math.isfinite(objective) else math.nan,
        sense="min",
        method=method,
        optimal=optimal,
        reasons=reasons,
        clock=clock,
        k=k,
        n_candidates=m,
        fixed=fx,
        unit=unit,
        notes=notes,
    )


def _pc_explain(
    cr: np.ndarray, sites: np.ndarray, nf: int, obj: float
) -> list[tuple[int, float, int, float]]:
    """Per free slot: (site, worst-cost increase without it, best swap, its increase)."""
    n, m = cr.shape
    p1, d1, d2 = _nearest(cr, sites)
    others = np.setdiff1d(np.arange(m), sites)
    out = []
    exact_all = n * max(len(others), 1) * (len(sites) - nf) <= 2e8
    for s in range(nf, len(sites)):
        without = np.where(p1 == s, d2, d1)
        drop = float(without.max()) - obj if len(sites) > 1 else math.inf
        if others.size == 0:
            out.append((int(sites[s]), drop, -1, math.nan))
            continue
        if exact_all:
            vals = np.empty(others.size)
            for lo in range(0, others.size, 256):
                blk = others[lo : lo + 256]
                vals[lo : lo + 256] = np.minimum(without[:, None], cr[:, blk]).max(axis=0)
        else:  # rank by the rows that depended on this site, then check the best few exactly
            hot = without > obj
            part = (
                np.minimum(without[hot, None], cr[np.ix_(hot, others)]).max(axis=0)
                if hot.any()
                else cr[:, others].mean(axis=0)  # nothing depends on it: any nearby site will do
            )
            top = np.argsort(part)[:5]
            vals = np.full(others.size, np.inf)
            vals[top] = np.minimum(without[:, None], cr[:, others[top]]).max(axis=0)
        b = int(np.argmin(vals))
        out.append((int(sites[s]), drop, int(others[b]), float(vals[b]) - obj))
    return out


# --------------------------------------------------------------------------------------------
# Deadline plans
# --------------------------------------------------------------------------------------------
