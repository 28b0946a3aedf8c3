"""The deadline plans' fluid model: sites, arrival nodes, max-flow checks and the LP/MILP."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from geo.errors import InputError
from geo.staging.common import (
    _cost_matrix,
    _mip,
    _number,
    _weights,
    _whole,
)

__all__: list[str] = []  # the deadline model is internal to geo.staging.deadline


@dataclass
class _Nodes:
    """The (demand, site) pairs that arrive in time and the (site, arrival time) nodes.

    ``pi``, ``pj``: demand row and site of each pair; ``node``: its node; per node ``nsite``
    (site), ``first`` (the site's earliest arrival node) and ``cap`` (people arriving then or
    later that one team, or the existing site, can test by the deadline)."""

    pi: np.ndarray
    pj: np.ndarray
    node: np.ndarray
    nsite: np.ndarray
    first: np.ndarray
    cap: np.ndarray


@dataclass
class _Graph:
    """The max-flow graph of one (deadline, step) in CSR order, without team counts."""

    nd: _Nodes
    n: int
    nx: int
    src: int
    sink: int
    order: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray


@dataclass
class _LPResult:
    """One LP/MILP of the deadline model: status, teams ``y``, people ``x`` per pair."""

    status: int
    ok: bool
    pi: np.ndarray
    pj: np.ndarray
    y: np.ndarray
    x: np.ndarray
    flow: float
    dual: float | None
    fun: float | None


@dataclass
class _DLModel:
    """Sites = m candidates (one team = ``rate[j]``) then e existing sites, all in minutes.

    The fluid model: people leave at minute 0, arrive at ``cost[i, j]`` and a site with rate mu
    that opens at o with q people queuing tests everyone by H iff for every time t,
    (people arriving at or after t) <= mu * (H - max(t, o)), plus q at t = 0 (one server with
    release dates and a common deadline). The inequality is only needed at the arrival times,
    which makes the model exact. Optionally arrivals are rounded to a grid of ``step`` minutes
    (fewer nodes): up for plans (conservative: a plan for rounded times holds for the exact
    ones), down for bounds (a relaxation: it keeps the exact inequalities at the grid times).
    """

    w: np.ndarray
    cost: np.ndarray
    m: int
    rate: np.ndarray
    queue: np.ndarray
    opens: np.ndarray
    max_per_site: int
    nearest: int | None = None
    site_mask: np.ndarray | None = None  # sites that may be used (None: all)

    @property
    def n_sites(self) -> int:
        return self.cost.shape[1]

    def pairs(self, h: float, step: float | None, down: bool = False) -> tuple[np.ndarray, ...]:
        """(demand, site, arrival) for every pair that arrives before h, arrival on the grid."""
        t = self.cost
        if step is not None:
            with np.errstate(invalid="ignore"):
                q = t / step
                t = (np.floor(q + 1e-9) if down else np.ceil(q - 1e-9)) * step
        ok = np.isfinite(t) & (t < h - 1e-9) & (self.opens < h)[None, :]
        if self.site_mask is not None:
            ok &= self.site_mask[None, :]
        if self.nearest is not None and self.m > self.nearest:
            cc = np.where(ok[:, : self.m], self.cost[:, : self.m], np.inf)
            idx = np.argpartition(cc, self.nearest - 1, axis=1)[:, : self.nearest]
            keep = np.zeros((len(self.w), self.m), dtype=bool)
            np.put_along_axis(keep, idx, True, axis=1)
            ok[:, : self.m] &= keep
        pi, pj = np.nonzero(ok)
        return pi, pj, t[pi, pj]

    def nodes(self, h: float, step: float | None, down: bool = False) -> _Nodes:
        """Pairs and (site, distinct arrival time) nodes, with each node's capacity per team
        (candidates) or per site (existing): the people arriving then or later must fit."""
        pi, pj, pt = self.pairs(h, step, down)
        nx = pi.size
        order = np.lexsort((pt, pj))
        ps, ts = pj[order], pt[order]
        new = np.r_[True, (ps[1:] != ps[:-1]) | (ts[1:] != ts[:-1])] if nx else np.zeros(0, bool)
        node = np.empty(nx, dtype=np.intp)
        node[order] = np.cumsum(new) - 1
        nsite, ntime = ps[new], ts[new]
        first = np.r_[True, nsite[1:] != nsite[:-1]] if nsite.size else np.zeros(0, bool)
        rate, opens = self.rate[nsite], self.opens[nsite]
        cap = rate * np.maximum(h - np.maximum(ntime, opens), 0.0)
        qcap = rate * (h - opens) - self.queue[nsite]  # the queue is there at minute 0
        cap = np.where(first, np.minimum(cap, qcap), cap)
        return _Nodes(pi, pj, node, nsite, first, np.maximum(cap, 0.0))

    def _skeleton(self, h: float, step: float | None, down: bool) -> _Graph:
        """The max-flow graph for (h, step), without team counts: built once, then reused."""
        mask = None if self.site_mask is None else self.site_mask.tobytes()
        key = (h, step, down, self.nearest, mask)
        cache: dict[tuple[Any, ...], _Graph] = self.__dict__.setdefault("_graphs", {})
        if key in cache:
            return cache[key]
        nd = self.nodes(h, step, down)
        n, nn, nx = len(self.w), nd.nsite.size, nd.pi.size
        src, sink = 0, n + nn + 1
        nxt = np.where(nd.first, sink, n + 1 + np.arange(nn) - 1)
        rows = np.r_[np.zeros(n, dtype=np.intp), 1 + nd.pi, n + 1 + np.arange(nn)]
        cols = np.r_[1 + np.arange(n), n + 1 + nd.node, nxt]
        # CSR order of the edges, so that only the capacities change from call to call
        order = np.lexsort((cols, rows))
        indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=sink + 1))]
        sk = _Graph(
            nd=nd,
            n=n,
            nx=nx,
            src=src,
            sink=sink,
            order=order,
            indices=cols[order].astype(np.int32),
            indptr=indptr.astype(np.int32),
        )
        if len(cache) > 64:
            cache.clear()
        cache[key] = sk
        return sk

    def maxflow(
        self, h: float, step: float | None, y: np.ndarray, down: bool = False, flows: bool = True
    ) -> tuple[float, _Nodes, np.ndarray]:
        """Most people testable by h with ``y`` teams per candidate: a max-flow problem
        (source -> demand -> (site, arrival) node -> earlier node of the site -> ... -> sink,
        a node's outgoing edge carrying everyone who arrives then or later). Max-flow needs
        integers: people are counted in thousandths (fewer for huge crowds)."""
        sk = self._skeleton(h, step, down)
        nd, n, nx = sk.nd, sk.n, sk.nx
        mult = np.r_[np.asarray(y, dtype=float), np.ones(self.n_sites - self.m)][nd.nsite]
        top = max(float((nd.cap * mult).max(initial=0.0)), float(self.w.max()), 1.0)
        scale = 10.0 ** min(3, math.floor(math.log10(2e9 / top)))
        if scale < 1:
            raise InputError(
                "too many people for the capacity model",
                field="weights",
                expected="fewer than 2 billion people per site",
            )
        dem = np.round(self.w * scale)
        caps = np.r_[dem, np.full(nx, float(dem.max(initial=0.0))), np.round(nd.cap * mult * scale)]
        size = sk.sink + 1
        g = sp.csr_array(
            (caps[sk.order].astype(np.int32), sk.indices, sk.indptr), shape=(size, size)
        )
        res = maximum_flow(g, sk.src, sk.sink)
        x = np.zeros(nx)
        if flows:  # flow on each demand -> node edge, looked up by (row, col) key
            fl = res.flow.tocoo()
            big = np.int64(size)
            keys = fl.row.astype(np.int64) * big + fl.col
            want = (1 + nd.pi).astype(np.int64) * big + (n + 1 + nd.node)
            order = np.argsort(keys)
            if keys.size:
                at = np.minimum(np.searchsorted(keys[order], want), keys.size - 1)
                x = np.where(keys[order][at] == want, fl.data[order][at], 0.0)
        x = x / scale
        # People tested = everyone minus the shortfall, so "everyone" compares exactly.
        short = max(float(dem.sum()) - float(res.flow_value), 0.0) / scale
        return float(self.w.sum()) - short, nd, np.maximum(x, 0.0)

    def solve(
        self,
        h: float,
        step: float | None,
        mode: str,
        y_lb: np.ndarray,
        y_ub: np.ndarray,
        integer: bool,
        time_limit: float,
        down: bool = False,
        max_total: int | None = None,
    ) -> _LPResult:
        """LP/MILP. mode: "teams" (fewest teams, everyone tested), "flow" (most people
        tested), "travel" (least person-minutes, everyone tested).

        Variables: teams y per candidate, people x per (demand, site) pair, and per node the
        people s arriving then or later (a suffix sum: the matrix stays linear in the pairs)."""
        m = self.m
        n = len(self.w)
        nd = self.nodes(h, step, down)
        pi, pj, node, nsite, first, cap = nd.pi, nd.pj, nd.node, nd.nsite, nd.first, nd.cap
        nx, nn = pi.size, nsite.size
        link = np.flatnonzero(~first[1:]) if nn else np.zeros(0, dtype=np.intp)  # q+1 -> q
        ix, is_ = m, m + nx
        nv = is_ + nn
        eq = sp.csr_matrix(
            (
                np.r_[np.ones(nn), -np.ones(link.size), -np.ones(nx)],
                (
                    np.r_[np.arange(nn), link, node],
                    np.r_[is_ + np.arange(nn), is_ + link + 1, ix + np.arange(nx)],
                ),
            ),
            shape=(nn, nv),
        )
        cand = np.flatnonzero(nsite < m)
        capm = sp.csr_matrix(
            (
                np.r_[np.ones(cand.size), -cap[cand]],
                (
                    np.r_[np.arange(cand.size), np.arange(cand.size)],
                    np.r_[is_ + cand, nsite[cand]],
                ),
            ),
            shape=(cand.size, nv),
        )
        dem = sp.csr_matrix((np.ones(nx), (pi, ix + np.arange(nx))), shape=(n, nv))
        cons: list[tuple[sp.spmatrix, Any, Any]] = [(eq, 0, 0), (capm, -np.inf, 0)]
        cons.append((dem, 0, self.w) if mode == "flow" else (dem, self.w, self.w))
        if max_total is not None:
            tot = sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv))
            cons.append((tot, 0, max_total))
        lb = np.zeros(nv)
        ub = np.full(nv, np.inf)
        lb[:m], ub[:m] = y_lb, y_ub
        ub[ix:is_] = self.w[pi]
        old = np.flatnonzero(nsite >= m)
        ub[is_ + old] = cap[old]
        obj = np.zeros(nv)
        if mode == "teams":
            obj[:m] = 1.0
        elif mode == "flow":
            obj[ix:is_] = -1.0 / max(float(self.w.max()), 1e-12)
        else:
            tt = self.cost[pi, pj]
            obj[ix:is_] = tt / max(float(tt.max(initial=1.0)), 1e-12)
        integ = np.r_[np.ones(m) if integer else np.zeros(m), np.zeros(nv - m)]
        res = _mip(obj, cons, integ, lb, ub, time_limit, gap=1e-6)
        dual = getattr(res, "mip_dual_bound", None)
        ok = res.x is not None
        x = np.maximum(res.x[ix:is_], 0) if ok else np.zeros(nx)
        return _LPResult(
            status=int(res.status),
            ok=ok,
            pi=pi,
            pj=pj,
            y=res.x[:m] if ok else np.zeros(m),
            x=x,
            flow=float(x.sum()),
            dual=float(dual) if dual is not None and np.isfinite(dual) else None,
            fun=float(res.fun) if ok else None,
        )

    def finish_times(
        self, pi: np.ndarray, pj: np.ndarray, x: np.ndarray, mult: np.ndarray
    ) -> np.ndarray:
        """Per site, when its last person is tested (exact arrival times); NaN if unused."""
        ns = self.n_sites
        fin = np.full(ns, np.nan)
        used = x > 1e-9
        pi, pj, x = pi[used], pj[used], x[used]
        t = self.cost[pi, pj]
        for j in np.unique(pj):  # a loop over sites, not demand points
            sel = pj == j
            mu = self.rate[j] * mult[j]
            order = np.argsort(-t[sel], kind="stable")
            ts, load = t[sel][order], np.cumsum(x[sel][order])
            o = self.opens[j]
            f = np.maximum(ts, o) + load / mu
            fin[j] = max(float(f.max()), o + (load[-1] + self.queue[j]) / mu)
        for j in range(self.m, ns):
            if np.isnan(fin[j]) and self.queue[j] > 0:
                fin[j] = self.opens[j] + self.queue[j] / self.rate[j]
        return fin


def _dl_model(
    cost: Any,
    weights: Any,
    lanes: Any,
    per_lane_per_h: Any,
    existing_cost: Any,
    existing_per_h: Any,
    existing_queue: Any,
    setup_min: Any,
    max_teams_per_site: Any,
) -> tuple[_DLModel, np.ndarray, np.ndarray]:
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _weights(weights, n)
    lanes = _whole(lanes, "lanes", 1, None, "lanes per team")
    per = _number(per_lane_per_h, "per_lane_per_h", strict=True, unit=" people per lane per hour")
    setup = _number(setup_min, "setup_min", unit=" minutes")
    u = _whole(max_teams_per_site, "max_teams_per_site", 1, None, "")
    if existing_cost is None:
        if existing_per_h is not None or existing_queue is not None:
            raise InputError(
                "existing_per_h or existing_queue given without existing_cost",
                field="existing_cost",
                expected=f"an ({n}, e) matrix of minutes from each demand point to each "
                "existing site",
            )
        ce = np.zeros((n, 0))
        re_ = np.zeros(0)
        qe = np.zeros(0)
    else:
        ce = np.asarray(existing_cost, dtype=float) if np.size(existing_cost) else np.zeros((n, 0))
        if ce.ndim == 2 and ce.shape[1] == 0 and ce.shape[0] == n:
            re_, qe = np.zeros(0), np.zeros(0)
        else:
            ce = _cost_matrix(existing_cost, "existing_cost")
            if ce.shape[0] != n:
                raise InputError(
                    f"existing_cost has {ce.shape[0]} rows",
                    field="existing_cost",
                    expected=f"{n} rows, one per demand point (as in cost)",
                )
            e = ce.shape[1]
            if existing_per_h is None:
                raise InputError(
                    "existing_per_h is missing",
                    field="existing_per_h",
                    expected=f"{e} throughputs (people per hour), one per existing site",
                )
            re_ = np.asarray(existing_per_h, dtype=float)
            if re_.shape != (e,) or not (np.isfinite(re_) & (re_ > 0)).all():
                raise InputError(
                    f"existing_per_h is {np.asarray(existing_per_h).tolist()}",
                    field="existing_per_h",
                    expected=f"{e} numbers > 0 (people per hour), one per existing site",
                )
            qe = np.zeros(e) if existing_queue is None else np.asarray(existing_queue, dtype=float)
            if qe.shape != (e,) or not (np.isfinite(qe) & (qe >= 0)).all():
                raise InputError(
                    f"existing_queue is {np.asarray(existing_queue).tolist()}",
                    field="existing_queue",
                    expected=f"{e} numbers >= 0 (people queuing now), one per existing site",
                )
    rows = np.flatnonzero(w > 0)
    model = _DLModel(
        w=w[rows],
        cost=np.hstack([c[rows], ce[rows]]),
        m=m,
        rate=np.r_[np.full(m, lanes * per / 60.0), re_ / 60.0],
        queue=np.r_[np.zeros(m), qe],
        opens=np.r_[np.full(m, setup), np.zeros(len(re_))],
        max_per_site=u,
    )
    return model, rows, w
