"""p-median: k sites that minimise total people x cost."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.staging.capacity import assign_with_capacity, solve_capacitated
from geo.staging.common import (
    _EPS,
    _VNS_FAILS,
    _assign,
    _Clock,
    _cost_matrix,
    _fixed,
    _gap,
    _k,
    _people,
    _require_reachable,
    _stats,
    _time_limit,
    _weights,
)
from geo.staging.plan import Flows, Plan, SiteReason, build_plan
from geo.staging.radius import fix_by_lagrangian, solve_benders

__all__ = [
    "RADIUS_MAX_PAIRS",
    "p_median",
]


def _penalise(c: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Replace +inf by a penalty so large that reaching one more person beats any travel saving."""
    inf = ~np.isfinite(c)
    if not inf.any():
        return c, None
    finite = c[~inf]
    top = float(finite.max()) if finite.size else 1.0
    pen = (top + 1.0) * (float(w.sum()) / float(w.min()) + 1.0)
    return np.where(inf, pen, c), pen


def _two_nearest(sub: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row of ``sub`` (rows x open slots): nearest slot, second slot, their costs."""
    ar = np.arange(sub.shape[0])
    p1 = sub.argmin(axis=1)
    d1 = sub[ar, p1]
    if sub.shape[1] == 1:
        return p1, np.full_like(p1, -1), d1, np.full_like(d1, np.inf)
    sub = sub.copy()
    sub[ar, p1] = np.inf
    p2 = sub.argmin(axis=1)
    return p1, p2, d1, sub[ar, p2]


def _short_list(m: int, k: int) -> int:
    """Candidates kept per row: enough to reach the second-nearest open site for most rows."""
    return min(m, max(32, 3 * m // max(k, 1) + 8))


def _neighbours(wc: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's ``size`` cheapest candidates, sorted: (columns, costs); None if size >= m."""
    m = wc.shape[1]
    if size >= m:
        return None
    idx = np.argpartition(wc, size - 1, axis=1)[:, :size]
    cst = np.take_along_axis(wc, idx, axis=1)
    order = np.argsort(cst, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(cst, order, axis=1)


class _PMedianSwap:
    """Vertex substitution state with the Resende-Werneck swap matrices.

    On weighted costs ``wc`` (people x cost, rows with people only) and an open set ``sites``
    whose first ``nf`` slots are fixed, keeps for every candidate ``j`` and slot ``s``:
    ``gain[j]`` (saving of opening j), ``loss[s]`` (cost of closing s) and ``extra[j, s]``
    (correction when both happen), so that the change of a swap is
    ``gain[j] - loss[s] + extra[j, s]`` for all pairs at once. After a swap only the rows whose
    nearest or second-nearest site changed are recomputed, and a row only contributes through
    candidates cheaper than its second-nearest site: with ``nbrs`` (each row's cheapest
    candidates, sorted) those are read from the short list whenever it reaches that far.
    """

    def __init__(
        self,
        wc: np.ndarray,
        sites: np.ndarray,
        nf: int,
        nbrs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.wc = wc
        self.sites = np.array(sites, dtype=np.intp)
        self.nf = nf
        self.n, self.m = wc.shape
        self.k = len(self.sites)
        self.nbrs = nbrs
        self.full()

    def full(self) -> None:
        self.p1, self.p2, self.d1, self.d2 = _two_nearest(self.wc[:, self.sites])
        self.gain, self.loss, self.extra = self._contrib(None, self.p1, self.d1, self.d2)

    @property
    def objective(self) -> float:
        return float(self.d1.sum())

    def _contrib(
        self,
        rows: np.ndarray | None,
        p1: np.ndarray,
        d1: np.ndarray,
        d2: np.ndarray,
        sign: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sum of the rows' contributions to gain, loss and extra (each row times ``sign``)."""
        m, k = self.m, self.k
        every = rows is None
        rows = np.arange(self.n) if rows is None else rows
        sg = np.ones(rows.size) if sign is None else sign
        loss = np.bincount(p1, weights=(d2 - d1) * sg, minlength=k)
        gain = np.zeros(m)
        extra = np.zeros((m, k))
        dense = np.ones(rows.size, dtype=bool)
        if self.nbrs is not None:
            idx, cst = self.nbrs
            dense = d2 > cst[rows, -1]  # the short list stops before the second-nearest
            sh = ~dense
            if sh.any():
                nb, nc = idx[rows[sh]], cst[rows[sh]]
                a1, a2 = d1[sh, None], d2[sh, None]
                live = nc < a2
                cols = nb[live]
                wt = np.broadcast_to(sg[sh, None], nb.shape)[live]
                gain += np.bincount(cols, np.maximum(a1 - nc, 0.0)[live] * wt, minlength=m)
                slot = np.broadcast_to(p1[sh, None], nb.shape)[live]
                e = np.maximum(a2 - np.maximum(nc, a1), 0.0)[live] * wt
                extra += np.bincount(cols * k + slot, e, minlength=m * k).reshape(m, k)
        if dense.any():
            p1d, d1d, d2d = p1[dense], d1[dense], d2[dense]
            wr = self.wc if every and dense.all() else self.wc[rows[dense]]
            gain += sg[dense] @ np.maximum(d1d[:, None] - wr, 0.0)
            e = np.maximum(d2d[:, None] - np.maximum(wr, d1d[:, None]), 0.0)
            e *= sg[dense, None]
            order = np.argsort(p1d, kind="stable")
            ps = p1d[order]
            starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
            extra[:, ps[starts]] += np.add.reduceat(e[order], starts, axis=0).T
        return gain, loss, extra

    def profit(self) -> np.ndarray:
        """Objective decrease of swapping candidate j (row) in for slot s (column)."""
        pr = self.gain[:, None] - self.loss[None, :] + self.extra
        pr[self.sites, :] = -np.inf
        pr[:, : self.nf] = -np.inf
        return pr

    def swap(self, j: int, s: int) -> None:
        p1, p2, d1, d2 = self.p1, self.p2, self.d1, self.d2
        self.sites[s] = j
        c = self.wc[:, j]
        hit = (p1 == s) | (p2 == s)  # lost their nearest or second: recompute
        q1, q2, e1, e2 = p1.copy(), p2.copy(), d1.copy(), d2.copy()
        first = ~hit & (c < d1)
        second = ~hit & ~first & (c < d2)
        q2[first], e2[first] = p1[first], d1[first]
        q1[first], e1[first] = s, c[first]
        q2[second], e2[second] = s, c[second]
        t = np.flatnonzero(hit)
        if t.size:
            q1[t], q2[t], e1[t], e2[t] = _two_nearest(self.wc[np.ix_(t, self.sites)])
        rows = np.flatnonzero((q1 != p1) | (e1 != d1) | (e2 != d2))
        if rows.size:  # take the rows' old contributions out and put the new ones in
            both = np.r_[rows, rows]
            sign = np.r_[-np.ones(rows.size), np.ones(rows.size)]
            g, ls, x = self._contrib(
                both,
                np.r_[p1[rows], q1[rows]],
                np.r_[d1[rows], e1[rows]],
                np.r_[d2[rows], e2[rows]],
                sign,
            )
            self.gain += g
            self.loss += ls
            self.extra += x
        self.p1, self.p2, self.d1, self.d2 = q1, q2, e1, e2

    _STATE = ("sites", "p1", "p2", "d1", "d2", "gain", "loss", "extra")

    def snapshot(self) -> dict[str, np.ndarray]:
        return {a: getattr(self, a).copy() for a in self._STATE}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        for a, v in snap.items():
            setattr(self, a, v)

    def search(
        self, clock: _Clock | None = None, max_swaps: int = 100_000, verify: bool = True
    ) -> int:
        """Best-improvement swaps until none improves; returns the number of swaps.

        With ``verify`` the swap matrices are recomputed from scratch before stopping (the
        incremental updates accumulate rounding error)."""
        swaps, verified = 0, True
        while swaps < max_swaps:
            pr = self.profit()
            j, s = np.unravel_index(int(np.argmax(pr)), pr.shape)
            if pr[j, s] <= _EPS * max(self.objective, 1e-300):
                if verified or not verify:
                    break
                self.full()  # clear rounding drift of the incremental updates, then re-check
                verified = True
                continue
            self.swap(int(j), int(s))
            swaps += 1
            verified = False
            if clock is not None and clock.left() <= 0:
                if verify:
                    self.full()
                break
        return swaps


def _pm_greedy(wc: np.ndarray, kt: int, fixed: np.ndarray) -> np.ndarray:
    """Greedy add: open the site that lowers the total most, k times (incremental gains)."""
    sites = [int(j) for j in fixed]
    if sites:
        d1 = wc[:, sites].min(axis=1)
    else:
        j = int(np.argmin(wc.sum(axis=0)))
        sites, d1 = [j], wc[:, j].copy()
    gain = np.maximum(d1[:, None] - wc, 0.0).sum(axis=0)
    while len(sites) < kt:
        gain[sites] = -np.inf
        j = int(np.argmax(gain))
        rows = np.flatnonzero(wc[:, j] < d1)
        if rows.size:
            wr = wc[rows]
            gain -= np.maximum(d1[rows, None] - wr, 0.0).sum(axis=0)
            d1[rows] = wr[:, j]
            gain += np.maximum(d1[rows, None] - wr, 0.0).sum(axis=0)
        sites.append(j)
    return np.array(sites, dtype=np.intp)


def _shake_targets(
    rng: np.random.Generator, sites: np.ndarray, nf: int, m: int
) -> tuple[np.ndarray, np.ndarray]:
    free = np.arange(nf, len(sites))
    r = int(rng.integers(1, min(3, len(free)) + 1))
    slots = rng.choice(free, size=r, replace=False)
    closed = np.setdiff1d(np.arange(m), sites)
    new = rng.choice(closed, size=min(r, closed.size), replace=False)
    return slots[: new.size], new


def _shake_near(rng: np.random.Generator, state: _PMedianSwap) -> tuple[np.ndarray, np.ndarray]:
    """Move 1-2 free sites to candidates near them: among the candidates cheapest for the
    people the site serves now. On big maps random moves mostly land far away and fail;
    these keep the plan's shape and try another site for the same people."""
    nf, k = state.nf, state.k
    free = np.arange(nf, k)
    r = int(rng.integers(1, min(2, len(free)) + 1))
    slots = rng.choice(free, size=r, replace=False)
    new: list[int] = []
    for s_ in slots:
        rows = np.flatnonzero(state.p1 == s_)
        if rows.size == 0:
            continue
        score = state.wc[rows].sum(axis=0)
        score[state.sites] = np.inf
        score[new] = np.inf
        top = np.argpartition(score, min(8, score.size - 1))[:8]
        top = top[np.isfinite(score[top])]
        if top.size:
            new.append(int(rng.choice(top)))
    return slots[: len(new)], np.array(new, dtype=np.intp)


def _pm_local(
    wc: np.ndarray,
    kt: int,
    fixed: np.ndarray,
    clock: _Clock,
    nbrs: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[_PMedianSwap | None, np.ndarray, float, dict[str, Any]]:
    """Greedy + vertex substitution to a local optimum (exhaustive when k = 1)."""
    if kt == 1:
        tot = wc.sum(axis=0)
        j = int(np.argmin(tot))
        return None, np.array([j], dtype=np.intp), float(tot[j]), {"exhaustive": True}
    state = _PMedianSwap(wc, _pm_greedy(wc, kt, fixed), len(fixed), nbrs)
    greedy_obj = state.objective
    swaps = state.search(clock)
    info = {"greedy": greedy_obj, "swaps": swaps}
    return state, state.sites.copy(), state.objective, info


def _vns(
    state: Any,
    clock: _Clock,
    seed: int,
    budget: int,
    better: Callable[[float, float], bool],
    stop: Callable[[float], bool],
) -> int:
    """Variable neighbourhood search on a swap state at a local optimum.

    Swaps 1-3 random free sites for random closed candidates (incremental updates), searches
    again, and keeps the result if it is better, else restores the saved state. Stops on
    ``stop(best)`` (e.g. proven optimal), the clock, or ``budget`` failures in a row. Leaves the
    state at the best solution, re-verified from scratch.
    """
    nf, m = state.nf, state.m
    if state.k - nf < 1 or m - state.k < 1:
        return 0
    # small problems have few distinct perturbations: do not retry them hundreds of times
    budget = min(budget, max(30, (state.k - nf) * (m - state.k) // 2))
    rng = np.random.default_rng(seed)
    fails = shakes = 0
    value = state.objective
    while fails < budget and clock.left() > 0 and not stop(value):
        snap = state.snapshot()
        if isinstance(state, _PMedianSwap) and rng.random() < 0.5:
            slots, new = _shake_near(rng, state)
        else:
            slots, new = _shake_targets(rng, state.sites, nf, m)
        for s_, j in zip(slots, new, strict=True):
            state.swap(int(j), int(s_))
        state.search(clock, verify=False)
        shakes += 1
        if better(state.objective, value):
            value, fails = state.objective, 0
        else:
            state.restore(snap)
            fails += 1
    state.full()
    state.search(clock)
    return shakes


# subgradient steps without improvement before the step size halves: slow decay pays off on
# big instances (the bound keeps rising for longer)
_LAG_STALL = 50
_LAG_WIDTH = 2  # short list per row: x m / k candidates (wider lists converge no higher)


class _PMedianBound:
    """Lagrangian lower bound for p-median (relaxing "each row is assigned once").

    L(lam) = sum_i lam_i + (sum of the k smallest rho_j, fixed sites always in), with
    rho_j = sum_i min(0, wc_ij - lam_i), is a lower bound for any lam; subgradient ascent with
    Polyak steps towards the best known plan raises it. Only each row's ``r`` cheapest entries
    are kept and lam_i is capped at the r-th cheapest, so the dropped entries never contribute:
    every value evaluated is a valid bound. ``run`` can be called again (e.g. with a better
    plan) and continues where it stopped.
    """

    def __init__(
        self,
        wc: np.ndarray,
        kt: int,
        fixed: np.ndarray,
        d1: np.ndarray,
        nbrs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        n, m = wc.shape
        self.m, self.kt = m, kt
        r = min(m, max(24, _LAG_WIDTH * m // max(kt, 1) + 8))
        if nbrs is not None and r <= nbrs[0].shape[1]:  # sorted short lists: take a prefix
            cols = np.ascontiguousarray(nbrs[0][:, :r])
            self.vals = np.ascontiguousarray(nbrs[1][:, :r])
            self.cap = self.vals[:, -1].copy()
        elif r < m:
            cols = np.argpartition(wc, r - 1, axis=1)[:, :r]
            self.vals = np.take_along_axis(wc, cols, axis=1)
            self.cap = self.vals.max(axis=1)
        else:
            cols = np.broadcast_to(np.arange(m), (n, m))
            self.vals, self.cap = wc, np.full(n, np.inf)
        self.cols = cols
        self.flat = np.ascontiguousarray(cols).ravel()
        self.buf = np.empty(self.vals.shape)
        self.fixed = fixed
        self.free = np.setdiff1d(np.arange(m), fixed)
        self.lam = np.minimum(d1, self.cap).astype(float)
        self.best, self.theta, self.stall = -math.inf, 2.0, 0
        self.best_lam_sum = 0.0  # at the best bound: for fixing
        self.best_rho: np.ndarray = np.zeros(m)

    def run(self, ub: float, seconds: float, max_iter: int = 100_000) -> float:
        t0 = time.perf_counter()
        kf = self.kt - len(self.fixed)
        for _ in range(max_iter):
            buf = self.buf
            np.subtract(self.vals, self.lam[:, None], out=buf)
            np.minimum(buf, 0.0, out=buf)
            rho = np.bincount(self.flat, weights=buf.ravel(), minlength=self.m)
            free = self.free
            pick = free[np.argpartition(rho[free], kf - 1)[:kf]] if kf < free.size else free
            val = float(self.lam.sum() + rho[self.fixed].sum() + rho[pick].sum())
            if val > self.best + 1e-12 * abs(ub):
                self.best, self.stall = val, 0
                self.best_lam_sum, self.best_rho = float(self.lam.sum()), rho
            else:
                self.stall += 1
                if self.stall >= _LAG_STALL:
                    self.theta, self.stall = self.theta / 2, 0
            if (
                ub - self.best <= 1e-9 * abs(ub)
                or self.theta < 1e-6
                or time.perf_counter() - t0 > seconds
            ):
                break
            opened = np.zeros(self.m, dtype=bool)
            opened[self.fixed] = True
            opened[pick] = True
            g = 1.0 - ((buf < 0) & opened[self.cols]).sum(axis=1)
            norm = float(g @ g)
            if norm == 0:  # the relaxed solution is a plan: the bound is optimal
                break
            step = self.theta * max(ub - val, 1e-9 * abs(ub)) / norm
            self.lam = np.clip(self.lam + step * g, 0.0, self.cap)
        return self.best


def _pm_explain(
    wc: np.ndarray,
    sites: np.ndarray,
    nf: int,
    w_rows: np.ndarray,
    pen: float | None,
    nbrs: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple[int, float, int, float]]:
    """Per free slot: (site, drop, best alternative, its delta) in objective units; inf when
    the change would leave people with no reachable site (costs past the +inf penalty)."""
    m = wc.shape[1]
    out = []
    if len(sites) == 1:
        tot = wc.sum(axis=0)
        j = int(sites[0])
        alt_tot = tot.copy()
        alt_tot[j] = np.inf
        alt = int(np.argmin(alt_tot)) if m > 1 else -1
        delta = float(alt_tot[alt] - tot[j]) if alt >= 0 else math.nan
        return [(j, math.inf, alt, delta)]
    state = _PMedianSwap(wc, sites, nf, nbrs)
    pr = state.profit()
    big = None if pen is None else 0.5 * pen * float(w_rows.min())
    for s in range(nf, len(sites)):
        col = pr[:, s]
        alt = int(np.argmax(col)) if np.isfinite(col).any() else -1
        drop = float(state.loss[s])
        delta = float(-col[alt]) if alt >= 0 else math.nan
        if big is not None:
            drop = math.inf if drop >= big else drop
            delta = math.inf if delta >= big else delta
        out.append((int(sites[s]), drop, alt, delta))
    return out


# exact=None: the exact search only up to this many (rows with people) x candidates (bigger ones
# rarely finish and the heuristic's time is better spent searching); exact=True has no limit.
RADIUS_MAX_PAIRS = 4_000_000


def p_median(
    cost: Any,
    k: int,
    weights: Any = None,
    *,
    fixed: Sequence[int] | np.ndarray | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    unit: str = "min",
    capacity: Any = None,
) -> Plan:
    """k sites that minimise total people x cost to the nearest open site.

    Parameters
    ----------
    cost : (n, m) cost from demand i to candidate j; +inf = unreachable.
    k : number of new sites, 1 <= k <= m - len(fixed).
    weights : (n,) people per demand point (default 1 each).
    fixed : candidate columns that are open already (existing sites); not counted in k.
    exact : None (default) = greedy + swaps, certified by a Lagrangian bound; if a gap is left
        and rows x candidates <= ``RADIUS_MAX_PAIRS``, the exact search (Benders cuts of the
        radius formulation, branch and cut on HiGHS); True = the exact search at any size;
        False = heuristics and the LP bound only.
    time_limit : seconds for the whole call. The search stops early only when the gap is
        closed; otherwise it goes on (perturbations and bound, in turns) until the time is up.
    seed : random seed of the heuristic's perturbations (results are deterministic per seed).
    unit : unit of ``cost`` for the texts.

    capacity : people each candidate column can serve (one number for all, or one per
        column; +inf = no limit), e.g. how many it can test by the deadline. People at a demand
        point may then be split between sites (``flows``); a MILP on small instances, the
        uncapacitated optimum's bound with a restricted MILP on large ones.

    Returns
    -------
    Plan
        ``objective`` = sum of people x cost; ``inf`` if some people cannot reach any chosen
        site, or cannot be served within the capacities (``uncovered`` says how many).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> cost = np.abs(x[:, None] - x[None, :])  # 10 points on a line, each a candidate
    >>> plan = p_median(cost, 2)
    >>> sorted(plan.sites.tolist()), plan.objective, plan.optimal
    ([2, 7], 12.0, True)
    >>> p_median(cost, 2, capacity=4.0).objective  # 4 people per site at most: 2 sites fail
    inf
    """
    clock = _Clock(_time_limit(time_limit))
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _weights(weights, n)
    fx = _fixed(fixed, m)
    k = _k(k, m, len(fx))
    kt = k + len(fx)
    rows = np.flatnonzero(w > 0)
    cr, wr = c[rows], w[rows]
    _require_reachable(cr, rows)
    if capacity is not None:
        return _capacitated(c, w, _capacity(capacity, m), k, fx, exact, clock, seed, unit)
    cp, pen = _penalise(cr, wr)
    wc = wr[:, None] * cp
    notes: list[str] = []
    # Heuristic first (greedy + swaps): cheap, and the fallback if the MILP runs out of time.
    # Its gap is certified by the Lagrangian bound before any time goes into more search.
    nbrs = _neighbours(wc, _short_list(m, kt))
    state, sites, obj, info = _pm_local(wc, kt, fx, clock, nbrs)
    method, optimal = "heuristic", bool(info.get("exhaustive"))
    bound = obj if optimal else -math.inf
    # whole costs: every plan's cost is whole, so the bound rounds up (a bound of 8528.2 is 8529)
    whole = bool(np.all(wc == np.round(wc))) and float(wc.sum()) < 2**52
    firm = (lambda v: float(math.ceil(v - 1e-6))) if whole else (lambda v: v)
    closed_gap = lambda val: _gap(val, firm(bound)) <= 1e-9  # noqa: E731
    better = lambda new, old: new < old * (1 - 1e-12)  # noqa: E731
    if not optimal and state is not None:
        lag = _PMedianBound(wc, kt, fx, state.d1, nbrs)
        bound = lag.run(obj, max(0.1, min(1.0, 0.1 * clock.left())))
        go_exact = exact is True or (exact is None and wc.size <= RADIUS_MAX_PAIRS)
        if not closed_gap(obj) and not go_exact:
            # heuristics only: perturbations, then the bound aimed at the better plan
            _vns(state, _Clock(clock.left() * 0.2), seed, _VNS_FAILS, better, closed_gap)
            sites, obj = state.sites.copy(), state.objective
            if not closed_gap(obj):
                bound = max(bound, lag.run(obj, max(0.1, 0.2 * clock.left())))
        if not closed_gap(obj) and (go_exact or exact is False) and wc.size <= RADIUS_MAX_PAIRS:
            # The radius formulation, shrunk by Lagrangian fixing, proves the optimum (and
            # improves the plan on the way) on instances of a district's size within seconds;
            # with exact=False only its LP bound is used (cutting planes, no branching).
            closed, opened = fix_by_lagrangian(lag.best_rho, lag.best_lam_sum, fx, k, obj)
            res = solve_benders(
                wc,
                kt,
                fx,
                np.r_[fx, np.setdiff1d(sites, fx)].astype(np.intp),
                _Clock(0.9 * clock.left()),
                closed=closed,
                opened=opened,
                lp_only=exact is False,
            )
            if res.objective < obj * (1 - 1e-12):
                sites, obj, method = res.sites, res.objective, "milp"
                state = _PMedianSwap(wc, np.r_[fx, np.setdiff1d(sites, fx)], len(fx), nbrs)
            bound = max(bound, res.bound)
            if res.optimal and exact is not False:
                method = "milp"
        # Never stop early while a gap is left: more perturbations and bound iterations, in
        # turns, until the time is up (keeping a little for the explanations).
        rounds = 0
        while not closed_gap(obj) and clock.left() > 0.1 * clock.limit:
            rounds += 1
            _vns(state, _Clock(0.3 * clock.left()), seed + rounds, _VNS_FAILS, better, closed_gap)
            if state.objective < obj:
                sites, obj = state.sites.copy(), state.objective
            lag.theta = max(lag.theta, 0.1)  # restart the step size from where it shrank
            bound = max(bound, lag.run(obj, 0.3 * clock.left()))
        optimal = closed_gap(obj)
        bound = firm(bound) if math.isfinite(bound) else bound
        if not optimal:
            notes.append(f"stopped at the time limit ({clock.limit:g} s) with a gap")
    # Report in the user's terms: fixed sites first in the open set, new sites ranked by drop.
    new = np.setdiff1d(sites, fx, assume_unique=False)
    open_ = np.r_[fx, new].astype(np.intp)
    expl = _pm_explain(wc, open_, len(fx), wr, pen, nbrs)
    a, d = _assign(c, open_)
    unc, mean, mx = _stats(w, a, d)
    objective = obj if unc == 0 else math.inf
    bnd = min(bound, obj)
    if unc > 0:
        notes.append(
            f"{_people(unc)} people cannot reach any of the {len(open_)} sites "
            "(their cost is +inf); objective is inf"
        )
    reasons = [SiteReason(site, 0, 0.0, drop, alt, delta) for site, drop, alt, delta in expl]
    return build_plan(
        "p_median",
        weights=w,
        assignment=a,
        assigned_cost=np.where(a >= 0, d, np.inf),
        objective=objective,
        bound=bnd if unc == 0 else math.nan,
        sense="min",
        method=method,
        optimal=optimal and unc == 0,
        reasons=reasons,
        clock=clock,
        k=k,
        n_candidates=m,
        fixed=fx,
        unit=unit,
        notes=notes,
    )


def _capacity(capacity: Any, m: int) -> np.ndarray:
    """Capacity per candidate column (a number for all, or one per column; +inf = none)."""
    expected = f"people >= 0 per site: one number, or {m} (one per candidate); inf = no limit"
    try:
        cap = np.asarray(capacity, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"capacity is {capacity!r}", field="capacity", expected=expected) from None
    if cap.ndim == 0:
        cap = np.full(m, float(cap))
    if cap.shape != (m,) or np.isnan(cap).any() or (cap < 0).any():
        raise InputError(
            f"capacity has shape {cap.shape} or values out of range",
            field="capacity",
            expected=expected,
        )
    return cap


def _capacitated(
    c: np.ndarray,
    w: np.ndarray,
    cap: np.ndarray,
    k: int,
    fx: np.ndarray,
    exact: bool | None,
    clock: _Clock,
    seed: int,
    unit: str,
) -> Plan:
    """p-median where each site serves at most its capacity (people may be split)."""
    rows = np.flatnonzero(w > 0)
    cr, wr = c[rows], w[rows]
    kt = k + len(fx)
    # The uncapacitated optimum: a start, and its lower bound is valid here too.
    free = p_median(
        c, k, w, fixed=fx, exact=exact, time_limit=max(0.2, 0.3 * clock.left()), seed=seed
    )
    start = np.r_[fx, np.setdiff1d(free.sites, fx)].astype(np.intp)
    res = solve_capacitated(cr, wr, cap, kt, fx, start, _Clock(0.85 * clock.left()), exact=exact)
    notes: list[str] = []
    unserved = float(res.unserved.sum())
    bound = max(res.bound, free.lower_bound if math.isfinite(free.lower_bound) else -math.inf)
    # Main site per demand row: the one taking most of its people.
    n = len(w)
    order = np.lexsort((-res.people, res.rows))
    first = np.r_[True, res.rows[order][1:] != res.rows[order][:-1]] if order.size else order
    assignment = np.full(n, -1, dtype=np.intp)
    assigned_cost = np.full(n, np.inf)
    top = order[first.astype(bool)] if order.size else order
    assignment[rows[res.rows[top]]] = res.cols[top]
    assigned_cost[rows[res.rows[top]]] = cr[res.rows[top], res.cols[top]]
    pair_cost = cr[res.rows, res.cols]
    if unserved > 1e-6 * max(float(wr.sum()), 1.0):
        notes.append(
            f"{_people(unserved)} people cannot be served: the {kt} sites' capacity (or "
            "reach) is short; objective is inf"
        )
        objective, bound = math.inf, math.nan
    else:
        objective, unserved = res.cost, 0.0
    # Without a site: the same sites less that one, assigned again (one LP each, while time
    # is left); the best swap is not searched (each would be a MILP).
    reasons = []
    new = [int(j) for j in res.sites if j not in set(fx.tolist())]
    for j in new:
        drop = math.nan
        if clock.left() > 0.1 * clock.limit and kt > 1:
            rest = np.setdiff1d(res.sites, [j])
            alt = assign_with_capacity(cr, wr, cap, rest, _Clock(max(clock.left() / 4, 0.5)))
            drop = math.inf if alt.unserved.sum() > unserved + 1e-6 else alt.cost - res.cost
        reasons.append(SiteReason(j, 0, 0.0, drop, -1, math.nan))
    flows = pd.DataFrame(
        {
            "demand": rows[res.rows],
            "kind": "new",
            "site": res.cols,
            "people": res.people,
            "cost": pair_cost,
        }
    )
    return build_plan(
        "p_median",
        weights=w,
        assignment=assignment,
        assigned_cost=assigned_cost,
        objective=objective,
        bound=bound,
        sense="min",
        method="milp" if res.exact_model else "heuristic",
        optimal=res.optimal and math.isfinite(objective) and _gap(objective, bound) <= 1e-6,
        reasons=reasons,
        clock=clock,
        k=k,
        n_candidates=c.shape[1],
        fixed=fx,
        unit=unit,
        notes=notes,
        flows=Flows(rows[res.rows], res.cols, res.people, pair_cost),
        flows_table=flows,
        uncovered=unserved,
        mean_cost=float(res.people @ pair_cost / res.people.sum()) if res.people.size else math.nan,
        max_cost=float(pair_cost[res.people > 1e-9].max()) if res.people.size else math.nan,
    )
