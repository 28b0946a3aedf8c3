"""p-center: k sites that minimise the worst cost."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from geo.staging.common import (
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
    highs_mip,
)
from geo.staging.coverage import _csr, _merge_rows, max_coverage
from geo.staging.p_median import _penalise, _pm_greedy
from geo.staging.plan import Plan, SiteReason, build_plan
from geo.staging.set_cover import _sc_bound, _sc_greedy, _sc_milp, _sc_packing, _sc_swap

__all__ = [
    "p_center",
]


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


def _pc_rowgen(
    reach: np.ndarray,
    need: np.ndarray,
    kf: int,
    pool: np.ndarray,
    clock: _Clock,
) -> tuple[np.ndarray | None, str, np.ndarray]:
    """Exact decision by row generation: can ``kf`` sites cover every ``need`` row?

    ``reach`` is the (rows x candidates) "within the radius" matrix. The set cover MILP is solved
    on a small pool of rows only (a relaxation: "no" on the pool is "no" for all); a "yes" is
    extended greedily with the sites left over and checked on every row; rows still uncovered
    join the pool and the MILP runs again (Contardo, Iori & Kramer 2019 use the same idea: few
    demand points decide a p-center). Returns (sites or None, "feasible" / "infeasible" /
    "unknown", the grown pool).
    """
    rows_need = np.flatnonzero(need)
    full = reach[rows_need]
    if not full.any(axis=1).all():
        return None, "infeasible", pool
    ones = np.ones(full.shape[0])
    merged, _, _ = _merge_rows(full, ones)
    got = _sc_greedy(merged, np.ones(merged.shape[0]), limit=kf + 1)
    if got is not None and len(got) <= kf:
        return got, "feasible", pool
    while clock.left() > 0:
        sub = reach[np.flatnonzero(pool & need)]
        if sub.shape[0]:
            a, _, _ = _merge_rows(sub, np.ones(sub.shape[0]))
            if _sc_packing(a, stop=kf) > kf:
                return None, "infeasible", pool
            x = _sc_greedy(a, np.ones(a.shape[0]), limit=kf + 1)
            if x is None or len(x) > kf:
                x, status = _sc_decide_milp(a, kf, clock.left())
                if x is None:
                    return None, status, pool
        else:
            x = np.zeros(0, dtype=np.intp)
        # Spare sites cover what the pool did not ask for, greedily.
        unc = need & ~reach[:, x].any(axis=1) if x.size else need.copy()
        picked = [int(j) for j in x]
        while unc.any() and len(picked) < kf:
            gain = reach[unc].sum(axis=0)
            gain[picked] = -1
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                break
            picked.append(j)
            unc &= ~reach[:, j]
        if not unc.any():
            return np.array(picked, dtype=np.intp), "feasible", pool
        # Add the uncovered rows with the fewest candidates first, pairwise without a common
        # candidate where possible: they are the ones that force new sites.
        cand = np.flatnonzero(unc)
        cnt = reach[cand].sum(axis=1)
        order = cand[np.argsort(cnt, kind="stable")]
        cap = max(64, 2 * kf)
        taken: list[int] = []
        used = np.zeros(reach.shape[1], dtype=bool)
        for i in order:
            if len(taken) >= cap:
                break
            if not (reach[i] & used).any():
                taken.append(int(i))
                used |= reach[i]
        rest = [int(i) for i in order if int(i) not in set(taken)]
        taken += rest[: max(0, cap - len(taken))]
        pool = pool.copy()
        pool[taken] = True
    return None, "unknown", pool


def _sc_decide_milp(a: np.ndarray, kf: int, seconds: float) -> tuple[np.ndarray | None, str]:
    """Set cover with at most ``kf`` sites (HiGHS, stops at the first cover found)."""
    n, m = a.shape
    acsr = _csr(a)
    card = sp.csr_matrix(np.ones((1, m)))
    res = highs_mip(
        np.ones(m),
        sp.vstack([acsr, card], format="csr"),
        np.r_[np.ones(n), 0.0],
        np.r_[np.full(n, np.inf), float(kf)],
        np.zeros(m),
        np.ones(m),
        np.ones(m, dtype=bool),
        seconds,
        rel_gap=1.0,  # any cover with <= kf sites answers the question
    )
    if res.x is not None:
        sites = np.flatnonzero(res.x > 0.5).astype(np.intp)
        if len(sites) <= kf and a[:, sites].any(axis=1).all():
            return sites, "feasible"
    proven = res.status == "infeasible" or res.bound > kf + 1e-6
    return None, "infeasible" if proven else "unknown"


def _pc_exact_search(
    cr: np.ndarray,
    base: np.ndarray,
    vals: np.ndarray,
    k: int,
    lb_i: int,
    hi_i: int,
    chosen: np.ndarray,
    clock: _Clock,
) -> tuple[np.ndarray, int, int]:
    """Binary search over ``vals[lb_i..hi_i]`` with exact row-generation decisions.

    ``vals[hi_i]`` is feasible with ``chosen``; returns (sites, index of the best radius found,
    index of the proven lower bound). The pool of rows carries over between radii: rows that
    decide one radius usually decide its neighbours."""
    n = cr.shape[0]
    pool = np.zeros(n, dtype=bool)
    pool[np.argsort(-np.minimum(cr.min(axis=1), base))[: max(k + 1, 8)]] = True
    # ``up`` is where the search for proofs stops: a decision that runs out of its time box
    # says nothing, so the search goes on below it (where "no" is easier to prove).
    up = hi_i
    while lb_i < hi_i and clock.left() > 0:
        if lb_i >= up:
            # Everything below the radius that ran out of time is settled: go back to it with
            # all the time left (the pool has grown meanwhile, which usually makes it quick).
            r = float(vals[up])
            got, status, pool = _pc_rowgen(cr <= r, base > r, k, pool, clock)
            if got is not None:
                hi_i, chosen = up, got
            elif status == "infeasible":
                lb_i = up + 1
            else:
                break
            up = hi_i
            continue
        # bisect on the radius, not on the index: costs are dense at large radii
        half = 0.5 * (float(vals[lb_i]) + float(vals[up - 1]))
        mid = min(max(int(np.searchsorted(vals, half)), lb_i), up - 1)
        r = float(vals[mid])
        box = _Clock(min(clock.left(), max(1.0, 0.5 * clock.left())))
        got, status, pool = _pc_rowgen(cr <= r, base > r, k, pool, box)
        if got is not None:
            hi_i, chosen, up = mid, got, mid
        elif status == "infeasible":
            lb_i = mid + 1
        else:
            up = mid
    return chosen, hi_i, lb_i


def p_center(
    cost: Any,
    k: int,
    weights: Any = None,
    *,
    fixed: Sequence[int] | np.ndarray | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    unit: str = "min",
) -> Plan:
    """k sites that minimise the worst cost from any demand point with people to its nearest site.

    Parameters
    ----------
    cost : (n, m) cost from demand i to candidate j; +inf = unreachable.
    k : number of new sites, 1 <= k <= m - len(fixed).
    weights : (n,) people per demand point (default 1 each). Only whether a row has people
        matters: rows with weight 0 are ignored.
    fixed : candidate columns that are open already (existing sites); not counted in k.
    exact : True or None (default) = proven optimal radius, within ``time_limit``: a binary
        search over the distinct costs whose decisions ("can k sites reach every row within
        r?") are set cover MILPs (HiGHS) on a growing pool of rows (row generation: an
        infeasible pool proves the radius too small, a cover of the pool is checked on every
        row); False = greedy set cover decisions and packing / LP proofs only.
    time_limit : seconds for the whole call; when it runs out, the plan keeps the best radius
        found and the proven bound (``gap`` > 0).
    unit : unit of ``cost`` for the texts.

    Returns
    -------
    Plan
        ``objective`` = the worst cost from a demand point with people to its nearest open site;
        sites left over once everyone is within the radius are placed to lower total travel.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> plan = p_center(np.abs(x[:, None] - x[None, :]), 2)
    >>> plan.objective, plan.optimal
    (2.0, True)
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
    # Every row is at least as far as its nearest site of any kind: the radius is one of the
    # costs (or a fixed site's cost) from there up.
    lo = float(np.minimum(cr.min(axis=1), base).max())
    finite = cr[np.isfinite(cr) & (cr >= lo)]
    vals = np.unique(np.r_[finite, base[np.isfinite(base) & (base >= lo)]])
    notes: list[str] = []
    search = _Clock(0.9 * clock.left())  # the rest is for the explanations
    top, status = _pc_decide(cr, wr, base, float(vals[-1]), k, search.left())
    method = "heuristic" if exact is False else "milp"
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
        while lo_i < hi_i and quick.left() > 0:
            mid = (lo_i + hi_i) // 2
            got, status = _pc_decide(cr, wr, base, float(vals[mid]), k, None)
            if got is not None:
                hi_i, chosen = mid, got
            else:
                lo_i = mid + 1
                if status == "infeasible":
                    lb_i = max(lb_i, mid + 1)
        if exact is False:
            chosen, hi_i, lb_i = _pc_heuristic_search(
                cr, wr, base, vals, k, lb_i, hi_i, chosen, search, notes
            )
        else:
            chosen, hi_i, lb_i = _pc_exact_search(
                cr, base, vals, k, lb_i, hi_i, chosen, _Clock(0.8 * search.left())
            )
            if lb_i < hi_i:  # not proven: spend what is left on better radii (heuristic)
                chosen, hi_i, _ = _pc_heuristic_search(
                    cr, wr, base, vals, k, lb_i, hi_i, chosen, search, notes, prove=False
                )
                notes.append(
                    "the radius search stopped at the time limit: the optimum lies between the "
                    "bound and the objective"
                )
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
    objective = _stats(w, a, d)[2]
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


def _pc_heuristic_search(
    cr: np.ndarray,
    wr: np.ndarray,
    base: np.ndarray,
    vals: np.ndarray,
    k: int,
    lb_i: int,
    hi_i: int,
    chosen: np.ndarray,
    search: _Clock,
    notes: list[str],
    prove: bool = True,
) -> tuple[np.ndarray, int, int]:
    """``exact=False``: close the gap with the maximal covering search (or time-boxed set cover
    MILPs on small matrices), then LP / packing proofs for the bound."""
    a_top = int((cr[base > float(vals[hi_i])] <= float(vals[hi_i])).sum())
    milp_ok = a_top <= LP_BOUND_MAX_NNZ
    s_lo = lb_i
    while s_lo < hi_i and search.left() > 0:
        mid = (s_lo + hi_i) // 2
        secs = max(0.5, search.left() / 4)
        got, status = _pc_decide(cr, wr, base, float(vals[mid]), k, secs, swap=True)
        if got is not None:
            hi_i, chosen = mid, got
        else:
            s_lo = mid + 1
            if status == "infeasible":
                lb_i = max(lb_i, mid + 1)
    lo_i, top_i = lb_i, hi_i - 1
    while lo_i <= top_i and search.left() > 0 and milp_ok and prove:
        mid = (lo_i + top_i + 1) // 2
        if _pc_proof(cr, base, float(vals[mid]), k, search):
            lb_i, lo_i = mid + 1, mid + 1
        else:
            top_i = mid - 1
    if lb_i < hi_i and search.left() <= 0 and prove:
        notes.append("the radius search stopped at the time limit")
    return chosen, hi_i, lb_i


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
