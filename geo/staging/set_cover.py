"""Set cover: the fewest new sites that put everyone within a threshold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from geo.errors import InputError
from geo.staging.common import (
    _VNS_FAILS,
    LP_BOUND_MAX_NNZ,
    _assign,
    _Clock,
    _cost_matrix,
    _fixed,
    _mip,
    _number,
    _people,
    _time_limit,
    _weights,
)
from geo.staging.coverage import _cov_explain, _cov_greedy, _CoverSwap, _csr, _merge_rows
from geo.staging.p_median import _vns
from geo.staging.plan import Plan, SiteReason, build_plan

__all__ = [
    "set_cover",
]


def _sc_greedy(a: np.ndarray, w: np.ndarray, limit: int | None = None) -> np.ndarray | None:
    """Greedy set cover (most uncovered rows, ties by people). None if it needs > ``limit``."""
    n, m = a.shape
    unc = np.ones(n, dtype=bool)
    cnt = a.sum(axis=0).astype(float)
    ppl = w @ a
    tie = 0.5 / (float(w.sum()) + 1.0)
    sites: list[int] = []
    while unc.any():
        if limit is not None and len(sites) >= limit:
            return None
        score = cnt + tie * ppl
        score[sites] = -np.inf
        j = int(np.argmax(score))
        new = np.flatnonzero(unc & a[:, j])
        if new.size == 0:  # cannot happen when every row has a candidate
            return None
        cnt -= a[new].sum(axis=0)
        ppl -= w[new] @ a[new]
        unc[new] = False
        sites.append(j)
    return _sc_prune(a, np.array(sites, dtype=np.intp))


def _sc_prune(a: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Drop redundant sites, then replace pairs of sites by one where a single site suffices."""
    sites = [int(j) for j in chosen]
    cnt = a[:, sites].sum(axis=1)
    for s in sorted(sites, key=lambda j: int(a[:, j].sum())):
        if (cnt[a[:, s]] >= 2).all():
            sites.remove(s)
            cnt -= a[:, s]
    improved = True
    while improved and len(sites) >= 2:
        improved = False
        # A column can replace sites s1 and s2 only if it covers every row that only s1 (or
        # only s2) covers: those candidate pairs come from one matrix product, and only they
        # are checked exactly (the all-pairs loop was quadratic in the sites).
        sole = (a[:, sites] & (cnt == 1)[:, None]).astype(np.float32)
        fits = ((~a).T.astype(np.float32) @ sole) == 0  # (m, sites): j covers s's sole rows
        both = fits.T.astype(np.float32) @ fits.astype(np.float32)
        xs, ys = np.nonzero(np.triu(both > 0, k=1))
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
            s1, s2 = sites[x], sites[y]
            need = cnt - a[:, s1] - a[:, s2] == 0
            ok = a[need].all(axis=0)
            if ok.any():
                j = int(np.flatnonzero(ok)[0])
                cnt += a[:, j].astype(cnt.dtype) - a[:, s1] - a[:, s2]
                sites = [s for s in sites if s not in (s1, s2)] + [j]
                improved = True
                break
    return np.array(sites, dtype=np.intp)


def _sc_milp(
    a: np.ndarray, time_limit: float, relax: bool = False
) -> tuple[np.ndarray | None, float, bool]:
    """Minimum set cover MILP (or LP): (sites, lower bound on the count, optimal)."""
    n, m = a.shape
    integ = np.zeros(m) if relax else np.ones(m)
    res = _mip(np.ones(m), [(_csr(a), 1, np.inf)], integ, np.zeros(m), np.ones(m), time_limit)
    if relax:
        return None, (float(res.fun) if res.status == 0 else 0.0), res.status == 0
    bound = getattr(res, "mip_dual_bound", None)
    bound = float(bound) if bound is not None and np.isfinite(bound) else 0.0
    if res.x is None:
        return None, bound, False
    return np.flatnonzero(res.x > 0.5).astype(np.intp), bound, res.status == 0


def _sc_packing(a: np.ndarray, stop: int | None = None) -> int:
    """Rows no two of which share a candidate: each needs its own site (a lower bound)."""
    alive = np.ones(a.shape[0], dtype=bool)
    deg = a.sum(axis=1)
    count = 0
    while alive.any():
        idx = np.flatnonzero(alive)
        i = idx[np.argmin(deg[idx])]
        count += 1
        if stop is not None and count > stop:
            break
        alive &= ~a[:, a[i]].any(axis=1)
    return count


def _sc_swap(
    a: np.ndarray, w: np.ndarray, k: int, clock: _Clock, seed: int = 0
) -> np.ndarray | None:
    """k sites covering every row, found by the maximal covering search, or None."""
    if k < 1 or k > a.shape[1]:
        return None
    acsr = _csr(a)
    total = float(w.sum())
    state = _CoverSwap(a, acsr, w, _cov_greedy(a, acsr, w, k, np.zeros(0, dtype=np.intp)), 0)
    state.search(clock)
    done = lambda val: val >= total * (1 - 1e-12)  # noqa: E731
    if not done(state.objective):
        better = lambda new, old: new > old + 1e-9 * total  # noqa: E731
        _vns(state, clock, seed, _VNS_FAILS, better, done)
    return state.sites.copy() if done(state.objective) else None


def _sc_bound(a: np.ndarray, clock: _Clock, stop: int | None = None) -> int:
    lb = _sc_packing(a, stop)
    if a.sum() <= LP_BOUND_MAX_NNZ and clock.left() > 0:
        _, lp, ok = _sc_milp(a, max(0.2, 0.3 * clock.left()), relax=True)
        if ok:
            lb = max(lb, int(math.ceil(lp - 1e-6)))
    return lb


def _sc_solve(
    a: np.ndarray, w: np.ndarray, exact: bool | None, clock: _Clock, notes: list[str]
) -> tuple[np.ndarray, int, str, bool]:
    """Minimum set cover on merged rows: (sites, lower bound, method, optimal).

    Greedy + pruning first; then the MILP (HiGHS is usually quick on set cover): all the time
    left when ``exact``, else up to half of it when the matrix has <= ``LP_BOUND_MAX_NNZ``
    non-zeros; the bound is the MILP's, else the LP relaxation's or a packing bound.
    """
    if a.shape[0] == 0:
        return np.zeros(0, dtype=np.intp), 0, "heuristic", True
    sites = _sc_greedy(a, w)
    assert sites is not None
    nnz = int(a.sum())
    use_milp = exact if exact is not None else nnz <= LP_BOUND_MAX_NNZ
    lb = _sc_packing(a)
    if lb >= len(sites):
        return sites, lb, "heuristic", True
    if not use_milp:
        # One site fewer at a time, as long as the maximal covering search still covers all.
        while len(sites) - 1 >= max(lb, 1) and clock.left() > 0:
            fewer = _sc_swap(a, w, len(sites) - 1, _Clock(clock.left() * 0.5))
            if fewer is None:
                break
            sites = _sc_prune(a, fewer)
        if lb < len(sites):
            lb = max(lb, _sc_bound(a, clock))
        return sites, lb, "heuristic", lb >= len(sites)
    secs = clock.left() if exact else max(0.5, 0.5 * clock.left())
    ms, mb, mopt = _sc_milp(a, secs)
    method = "heuristic"
    if ms is not None and len(ms) <= len(sites):
        sites, method = _sc_prune(a, ms), "milp"
    lb = max(lb, int(math.ceil(mb - 1e-6)))
    if mopt:
        lb = len(sites)
    elif exact:
        notes.append(f"the MILP stopped at the time limit ({clock.limit:g} s)")
    return sites, lb, method, lb >= len(sites)


def set_cover(
    cost: Any,
    within: float,
    weights: Any = None,
    *,
    fixed: Sequence[int] | np.ndarray | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    unit: str = "min",
) -> Plan:
    """The fewest new sites that put every demand point with people within ``within``.

    Raises
    ------
    InputError
        When a demand point with people has no candidate within ``within``: the message names it,
        its nearest candidate and that cost, and the smallest ``within`` that is feasible.

    Returns
    -------
    Plan
        ``objective`` = number of new sites; ``k`` = the same (0 when the fixed sites already
        cover everyone). Among equally small covers the solver does not optimise travel (run
        :func:`p_median` with that k and check coverage if that matters).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> plan = set_cover(np.abs(x[:, None] - x[None, :]), 1.0)
    >>> plan.objective, plan.optimal  # ceil(10 / 3) sites reach everyone within 1
    (4.0, True)
    """
    clock = _Clock(_time_limit(time_limit))
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _weights(weights, n)
    within = _number(within, "within", unit=f" ({unit})")
    fx = _fixed(fixed, m)
    rows = np.flatnonzero(w > 0)
    cr = c[rows]
    reach = cr <= within
    dead = ~reach.any(axis=1)
    if dead.any():
        near = cr.min(axis=1)
        first = int(np.flatnonzero(dead)[0])
        i = int(rows[first])
        j = int(np.argmin(c[i]))
        need = float(near[dead].max())
        reach_txt = (
            f"the nearest is candidate {j} at {c[i, j]:.1f} {unit}"
            if math.isfinite(c[i, j])
            else "no candidate can reach it at all"
        )
        raise InputError(
            f"demand point {i} ({_people(w[i])} people) has no candidate within {within:g} {unit}: "
            f"{reach_txt} ({int(dead.sum())} demand point(s) with people are out of reach)",
            feature=i,
            field="within",
            expected=(
                f"within >= {math.ceil(need * 10) / 10:g} {unit}, or a candidate closer to "
                f"demand point {i}"
                if math.isfinite(need)
                else f"a candidate that can reach demand point {i}"
            ),
        )
    todo = ~reach[:, fx].any(axis=1) if fx.size else np.ones(len(rows), dtype=bool)
    notes: list[str] = []
    a, wa, _ = _merge_rows(reach[todo], w[rows][todo])
    sites, lb, method, optimal = _sc_solve(a, wa, exact, clock, notes)
    open_ = np.r_[fx, sites].astype(np.intp)
    a_all, d = _assign(c, open_, within)
    full = reach
    expl = _cov_explain(full, w[rows], np.r_[fx, sites].astype(np.intp), len(fx))
    reasons = [
        SiteReason(site, 0, 0.0, sole, alt, delta, covered=cov, sole=sole)
        for site, cov, sole, alt, delta in expl
    ]
    return build_plan(
        "set_cover",
        weights=w,
        assignment=a_all,
        assigned_cost=np.where(a_all >= 0, d, np.inf),
        objective=float(len(sites)),
        bound=float(lb),
        sense="min",
        method=method,
        optimal=optimal,
        reasons=reasons,
        clock=clock,
        k=len(sites),
        n_candidates=m,
        fixed=fx,
        unit=unit,
        within=within,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# p-center
# --------------------------------------------------------------------------------------------
