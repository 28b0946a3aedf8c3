"""Maximal coverage: k sites that put the most people within a threshold."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from geo.staging.common import (
    _VNS_FAILS,
    EXACT_MAX_COVER_NNZ,
    LP_BOUND_MAX_NNZ,
    _assign,
    _Clock,
    _cost_matrix,
    _fixed,
    _gap,
    _k,
    _mip,
    _number,
    _people,
    _stats,
    _time_limit,
    _weights,
)
from geo.staging.p_median import _vns
from geo.staging.plan import Plan, SiteReason, build_plan

__all__ = [
    "max_coverage",
]


def _merge_rows(a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge demand rows that the same candidates cover (their people add up).

    Returns the distinct rows, their people, and for every input row the index of its merged row.
    """
    packed = np.ascontiguousarray(np.packbits(a, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    inv = inv.ravel()
    return a[first], np.bincount(inv, weights=w, minlength=len(first)), inv


def _csr(a: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix(a, dtype=float)


class _CoverSwap:
    """Swap search state for coverage: the same gain/loss/extra scheme as :class:`_PMedianSwap`.

    ``gain[j]`` = people newly covered by opening j, ``loss[s]`` = people covered only by slot s,
    ``extra[j, s]`` = people covered only by slot s that j also covers. A swap changes coverage
    by ``gain[j] - loss[s] + extra[j, s]``.
    """

    def __init__(
        self, a: np.ndarray, acsr: sp.csr_matrix, w: np.ndarray, sites: np.ndarray, nf: int
    ) -> None:
        self.a, self.acsr, self.w = a, acsr, w
        self.sites = np.array(sites, dtype=np.intp)
        self.nf = nf
        self.n, self.m = a.shape
        self.k = len(self.sites)
        self.full()

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        sub = self.a[:, self.sites]
        return sub.sum(axis=1), sub.argmax(axis=1)

    def full(self) -> None:
        self.cnt, self.only = self._counts()
        self.gain, self.loss, self.extra = self._contrib(None, self.cnt, self.only)

    @property
    def objective(self) -> float:
        return float(self.w[self.cnt > 0].sum())

    def _contrib(
        self, rows: np.ndarray | None, cnt: np.ndarray, only: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ac = self.acsr if rows is None else self.acsr[rows]
        w = self.w if rows is None else self.w[rows]
        gain = ac.T @ (w * (cnt == 0))
        one = np.flatnonzero(cnt == 1)
        loss = np.bincount(only[one], weights=w[one], minlength=self.k)
        oh = sp.csr_matrix((w[one], (one, only[one])), shape=(len(w), self.k))
        extra = (ac.T @ oh).toarray()
        return np.asarray(gain).ravel(), loss, extra

    def profit(self) -> np.ndarray:
        pr = self.gain[:, None] - self.loss[None, :] + self.extra
        pr[self.sites, :] = -np.inf
        pr[:, : self.nf] = -np.inf
        return pr

    def swap(self, j: int, s: int) -> None:
        rows = np.flatnonzero(self.a[:, j] | self.a[:, self.sites[s]])
        g0, l0, e0 = self._contrib(rows, self.cnt[rows], self.only[rows])
        self.sites[s] = j
        self.cnt, self.only = self._counts()
        g1, l1, e1 = self._contrib(rows, self.cnt[rows], self.only[rows])
        self.gain += g1 - g0
        self.loss += l1 - l0
        self.extra += e1 - e0

    _STATE = ("sites", "cnt", "only", "gain", "loss", "extra")

    def snapshot(self) -> dict[str, np.ndarray]:
        return {a: getattr(self, a).copy() for a in self._STATE}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        for a, v in snap.items():
            setattr(self, a, v)

    def search(
        self, clock: _Clock | None = None, max_swaps: int = 100_000, verify: bool = True
    ) -> int:
        swaps, verified = 0, True
        tol = 1e-9 * max(float(self.w.sum()), 1e-300)
        while swaps < max_swaps:
            pr = self.profit()
            j, s = np.unravel_index(int(np.argmax(pr)), pr.shape)
            if pr[j, s] <= tol:
                if verified or not verify:
                    break
                self.full()
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


def _cov_greedy(
    a: np.ndarray, acsr: sp.csr_matrix, w: np.ndarray, kt: int, fixed: np.ndarray
) -> np.ndarray:
    """Greedy: open the site covering the most still-uncovered people; fill with backup cover."""
    sites = [int(j) for j in fixed]
    unc = np.ones(a.shape[0], dtype=bool)
    if fixed.size:
        unc &= ~a[:, fixed].any(axis=1)
    gain = np.asarray(acsr.T @ (w * unc)).ravel()
    while len(sites) < kt:
        g = gain.copy()
        g[sites] = -np.inf
        j = int(np.argmax(g))
        if g[j] <= 0:
            break
        new = np.flatnonzero(unc & a[:, j])
        gain -= np.asarray(acsr[new].T @ w[new]).ravel()
        unc[new] = False
        sites.append(j)
    if len(sites) < kt:  # everyone coverable is covered: add the sites that cover the most
        tot = np.asarray(acsr.T @ w).ravel()
        tot[sites] = -np.inf
        sites += [int(j) for j in np.argsort(-tot, kind="stable")[: kt - len(sites)]]
    return np.array(sites, dtype=np.intp)


def _cov_milp(
    a: np.ndarray, w: np.ndarray, kt: int, fixed: np.ndarray, time_limit: float, relax: bool
) -> tuple[np.ndarray | None, float, bool]:
    """Maximal covering MILP (or its LP relaxation): returns (sites, upper bound, optimal)."""
    n, m = a.shape
    nv = m + n
    ac = sp.csr_matrix(a, dtype=float)
    link = sp.hstack([-ac, sp.identity(n, format="csr")], format="csr")  # z_i <= sum_j a_ij y_j
    card = sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv))
    scale = max(float(w.max()), 1e-12)
    obj = np.r_[np.zeros(m), -w / scale]
    lb, ub = np.zeros(nv), np.ones(nv)
    lb[fixed] = 1
    integ = np.r_[np.zeros(m) if relax else np.ones(m), np.zeros(n)]
    res = _mip(obj, [(link, -np.inf, 0), (card, kt, kt)], integ, lb, ub, time_limit)
    if relax:
        val = -float(res.fun) * scale if res.status == 0 else math.inf
        return None, val, res.status == 0
    bound = getattr(res, "mip_dual_bound", None)
    bound = -float(bound) * scale if bound is not None and np.isfinite(bound) else math.inf
    if res.x is None:
        return None, bound, False
    y = res.x[:m]
    sites = np.flatnonzero(y > 0.5)
    if len(sites) != kt:
        sites = np.argsort(-y)[:kt]
    return sites.astype(np.intp), bound, res.status == 0


def _cov_lagrangian(
    acsr: sp.csr_matrix, w: np.ndarray, kt: int, fixed: np.ndarray, lb: float, seconds: float
) -> float:
    """Upper bound for maximal covering, relaxing "covered only if a chosen site reaches it".

    L(mu) = sum_i max(0, w_i - mu_i) + (sum of the k best columns of A^T mu), for any mu >= 0.
    """
    t0 = time.perf_counter()
    m = acsr.shape[1]
    free = np.setdiff1d(np.arange(m), fixed)
    kf = kt - len(fixed)
    act = acsr.T.tocsr()
    mu = w.copy()
    best, theta, stall = math.inf, 1.0, 0
    for _ in range(1000):
        col = act @ mu
        pick = free[np.argpartition(-col[free], kf - 1)[:kf]] if kf < free.size else free
        y = np.zeros(m)
        y[fixed] = 1
        y[pick] = 1
        val = float(np.maximum(w - mu, 0).sum() + col[fixed].sum() + col[pick].sum())
        if val < best - 1e-12 * abs(best if math.isfinite(best) else 1):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if (
            best - lb <= 1e-9 * max(abs(lb), 1)
            or theta < 1e-5
            or time.perf_counter() - t0 > seconds
        ):
            break
        g = (acsr @ y) - (w > mu)
        norm = float(g @ g)
        if norm == 0:
            break
        mu = np.clip(mu - theta * max(val - lb, 1e-9) / norm * g, 0.0, w)
    return best


def _cov_explain(
    a: np.ndarray, w: np.ndarray, sites: np.ndarray, nf: int
) -> list[tuple[int, float, float, int, float]]:
    """Per free slot: (site, covered people, people only it covers, best swap, people lost)."""
    state = _CoverSwap(a, _csr(a), w, sites, nf)
    pr = state.profit()
    tot = np.asarray(state.acsr.T @ w).ravel()
    out = []
    for s in range(nf, len(sites)):
        col = pr[:, s]
        alt = int(np.argmax(col)) if np.isfinite(col).any() else -1
        delta = float(-col[alt]) + 0.0 if alt >= 0 else math.nan
        j = int(sites[s])
        out.append((j, float(tot[j]), float(state.loss[s]), alt, delta))
    return out


def max_coverage(
    cost: Any,
    k: int,
    within: float,
    weights: Any = None,
    *,
    fixed: Sequence[int] | np.ndarray | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    unit: str = "min",
) -> Plan:
    """k sites that put the most people within ``within`` (cost <= within counts as covered).

    Parameters are as for :func:`p_median`; ``within`` is in the cost's unit. Demand rows that
    the same candidates cover are merged first (exact). Then greedy + swap search with
    perturbations, certified by the LP relaxation (or a Lagrangian bound when big); with
    ``exact=None`` the MILP follows only if a gap is left and the merged matrix has at most
    ``EXACT_MAX_COVER_NNZ`` non-zeros; ``exact=True`` goes to the MILP straight away.

    Returns
    -------
    Plan
        ``objective`` = people covered (maximised; ``bound`` is an upper bound), ``uncovered``
        = people beyond ``within`` of every chosen and fixed site; ``assignment`` = nearest chosen
        site within reach, else -1.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> plan = max_coverage(np.abs(x[:, None] - x[None, :]), 2, 1.0)
    >>> plan.objective, plan.optimal, plan.problem  # each site covers itself and 2 neighbours
    (6.0, True, 'coverage')
    """
    clock = _Clock(_time_limit(time_limit))
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _weights(weights, n)
    within = _number(within, "within", unit=f" ({unit})")
    fx = _fixed(fixed, m)
    k = _k(k, m, len(fx))
    kt = k + len(fx)
    rows = np.flatnonzero(w > 0)
    reach = c[rows] <= within
    hit = reach.any(axis=1)  # people no candidate reaches are uncovered whatever we do
    a, wa, _ = _merge_rows(reach[hit], w[rows][hit])
    notes: list[str] = []
    never = float(w[rows][~hit].sum())
    if never > 0:
        notes.append(f"{_people(never)} people have no candidate within {within:g} {unit}")
    sites, obj, bound, method, optimal = _cov_solve(a, wa, kt, fx, exact, clock, seed, notes)
    new = np.setdiff1d(sites, fx)
    open_ = np.r_[fx, new].astype(np.intp)
    expl = _cov_explain(a, wa, open_, len(fx)) if a.shape[0] else []
    a_all, d = _assign(c, open_, within)
    nearest, dn = _assign(c, open_)
    ok = (w > 0) & (a_all >= 0)
    reasons = [
        SiteReason(site, 0, 0.0, sole, alt, delta, covered=cov, sole=sole)
        for site, cov, sole, alt, delta in expl
    ]
    return build_plan(
        "coverage",
        weights=w,
        assignment=a_all,
        assigned_cost=np.where(a_all >= 0, d, np.inf),
        objective=float(w[ok].sum()),
        bound=bound,
        sense="max",
        method=method,
        optimal=optimal,
        reasons=reasons,
        clock=clock,
        k=k,
        n_candidates=m,
        fixed=fx,
        unit=unit,
        within=within,
        notes=notes,
        max_cost=_stats(w, nearest, dn)[2],
    )


def _cov_solve(
    a: np.ndarray,
    wa: np.ndarray,
    kt: int,
    fx: np.ndarray,
    exact: bool | None,
    clock: _Clock,
    seed: int,
    notes: list[str],
) -> tuple[np.ndarray, float, float, str, bool]:
    """Solve maximal covering on merged rows: (sites, covered, upper bound, method, optimal)."""
    m = a.shape[1]
    if a.shape[0] == 0:  # nobody can be covered: any sites will do
        return (
            np.r_[fx, np.setdiff1d(np.arange(m), fx)[: kt - len(fx)]],
            0.0,
            0.0,
            "heuristic",
            True,
        )
    nnz = int(a.sum())
    acsr = _csr(a)
    state = _CoverSwap(a, acsr, wa, _cov_greedy(a, acsr, wa, kt, fx), len(fx))
    state.search(clock)
    sites, obj = state.sites.copy(), state.objective
    total = float(wa.sum())
    bound = total
    if exact is not True:
        # Heuristic first, certified by a bound; the MILP only if a gap is left (exact=None
        # on small instances): it is often slower than proving the heuristic optimal.
        if nnz <= LP_BOUND_MAX_NNZ:
            _, lp, ok = _cov_milp(a, wa, kt, fx, max(0.5, 0.3 * clock.left()), relax=True)
            bound = min(bound, lp) if ok else bound
        if _gap(obj, bound) > 1e-9:
            lag = _cov_lagrangian(acsr, wa, kt, fx, obj, max(0.2, min(1.0, 0.2 * clock.left())))
            bound = min(bound, lag)
        _vns(
            state,
            _Clock(clock.left() * 0.6),
            seed,
            _VNS_FAILS,
            lambda new, old: new > old + 1e-9 * total,
            lambda val: _gap(val, bound) <= 1e-9,
        )
        sites, obj = state.sites.copy(), state.objective
        if _gap(obj, bound) <= 1e-9 or exact is False or nnz > EXACT_MAX_COVER_NNZ:
            return sites, obj, max(bound, obj), "heuristic", _gap(obj, bound) <= 1e-9
    ms, mb, mopt = _cov_milp(a, wa, kt, fx, clock.left(), relax=False)
    method = "heuristic"
    if ms is not None:
        mobj = float(wa[a[:, ms].any(axis=1)].sum())
        if mobj >= obj - 1e-9 * total:
            sites, obj, method = ms, mobj, "milp"
    if not mopt:
        notes.append(f"the MILP stopped at the time limit ({clock.limit:g} s)")
    bound = min(bound, mb)
    return sites, obj, max(bound, obj) if not mopt else obj, method, mopt
