"""The capacity-balanced assignment: a transportation LP solved by column generation
(see :mod:`geo.catchment`)."""

from __future__ import annotations

import time
from typing import Any, TypedDict

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import dijkstra

from geo.network import SiteTimes, Snap

__all__ = [
    "CANDIDATE_WINDOW_MIN",
    "COVER",
    "COVER_RANK",
    "PENALTY_STAGES_MIN",
    "UNSERVED_MIN",
    "USE_HIGHS_WARM_START",
]


class TransportInfo(TypedDict, total=False):
    """What :func:`_solve_transport` reports (the solver's keys of ``CatchmentSummary``)."""

    optimal: bool
    iterations: int
    dijkstra_pricing: int
    pool_pairs: int
    pool_seconds: float
    warm_start: bool
    lower_bound: float
    pairs: int
    simplex_iterations: int
    lp_seconds: float
    objective_person_min: float
    gap_min_per_person: float | None


#: Cost (minutes per person) of leaving a person untested; larger than any travel time, so the
#: assignment tests as many people as capacity allows, then minimises travel.
UNSERVED_MIN = 10_000.0


# Balanced assignment tuning (speed only: the result is optimal whatever they are).
CANDIDATE_WINDOW_MIN = 15.0  # cell side: sites within this many minutes of the nearest
COVER = 3.0  # site side: nearest cells up to this many times the site's capacity ...
COVER_RANK = 20.0  # ... and at most this many times the mean number of cells per site
PENALTY_STAGES_MIN = (5.0, 20.0, 80.0, 320.0)  # soft capacities first (see _solve_transport)
USE_HIGHS_WARM_START = True
_DEBUG = False


def _candidates(
    st: SiteTimes,
    sub: Snap,
    people: np.ndarray,
    t_best: np.ndarray,
    avail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pool of likely (cell, site) pairs with exact times (seconds), sorted by cell.

    One Dijkstra per site with capacity, limited to the time most cells could need. A pair
    is in the pool when the site is within ``CANDIDATE_WINDOW_MIN`` of the cell's nearest (cell
    side), or when the cell is among the nearest cells that would fill ``COVER`` times the
    site's capacity (site side: when capacity is short, a site fills up with the people nearest
    to it, wherever their own nearest site is). The pool only makes pricing cheap: pairs
    missing from it are still found by the Dijkstra pricing.
    """
    net = st.network
    s_all = st.site_snap
    m = len(t_best)
    sites = np.flatnonzero(avail > 0)
    window = CANDIDATE_WINDOW_MIN * 60.0
    # Far-out cells (the last 2 %) would make every search city-wide; pricing finds theirs.
    limit = float(np.quantile(t_best, 0.98)) + window if m else 0.0
    cap_rank = max(50, int(COVER_RANK * m / max(len(sites), 1)))
    u, v, cu, cv = net._ends(st.mode, st.direction, sub)
    cu = cu + sub.access_s
    cv = cv + sub.access_s
    reach_t = t_best + window
    out_c, out_s, out_t = [], [], []
    chunk = max(1, min(64, int(2e7 // max(net.n_nodes + m, 1))))
    for c0 in range(0, len(sites), chunk):
        sidx = sites[c0 : c0 + chunk]
        src = _take_snap(s_all, sidx)
        g, n = net._augmented(st.mode, st.direction, src, src.access_s)
        dist = dijkstra(g, directed=True, indices=np.arange(n, n + len(sidx)), limit=limit)
        t = np.minimum(dist[:, u] + cu, dist[:, v] + cv)  # (chunk, m)
        for k, site in enumerate(sidx):
            row = t[k]
            fin = np.flatnonzero(row < np.inf)
            if not len(fin):
                continue
            tf = row[fin]
            # site side: the nearest cells until COVER x capacity (at most cap_rank of them)
            if len(fin) > cap_rank:
                part = np.argpartition(tf, cap_rank - 1)[:cap_rank]
            else:
                part = np.arange(len(fin))
            part = part[np.argsort(tf[part], kind="stable")]
            cum = np.cumsum(people[fin[part]])
            near = part[(cum - people[fin[part]]) < COVER * avail[site]]
            # cell side: within the window of the cell's own nearest site
            close = np.flatnonzero(tf <= reach_t[fin])
            sel = np.union1d(near, close)
            out_c.append(fin[sel])
            out_s.append(np.full(len(sel), site))
            out_t.append(tf[sel])
    pc = np.concatenate(out_c).astype(np.int64) if out_c else np.zeros(0, np.int64)
    ps = np.concatenate(out_s).astype(np.int64) if out_s else np.zeros(0, np.int64)
    pt = np.concatenate(out_t) if out_t else np.zeros(0)
    # Same edge: the direct way may be shorter than through the edge's ends.
    ia, jb = net._same_edge_pairs(sub, s_all)
    keep = avail[jb] > 0
    ia, jb = ia[keep], jb[keep]
    if len(ia):
        if st.direction == "to_site":
            along = net._along(st.mode, sub.edge[ia], sub.frac[ia], s_all.frac[jb])
        else:
            along = net._along(st.mode, sub.edge[ia], s_all.frac[jb], sub.frac[ia])
        direct = along + sub.access_s[ia] + s_all.access_s[jb]
        pc, ps, pt = np.r_[pc, ia], np.r_[ps, jb], np.r_[pt, direct]
    # One pair per (cell, site), the fastest.
    order = np.lexsort((pt, ps, pc))
    pc, ps, pt = pc[order], ps[order], pt[order]
    first = np.r_[True, (pc[1:] != pc[:-1]) | (ps[1:] != ps[:-1])] if len(pc) else np.zeros(0, bool)
    pc, ps, pt = pc[first], ps[first], pt[first]
    order = np.lexsort((pt, pc))
    return pc[order], ps[order], pt[order]


class _RestrictedLP:
    """The assignment LP over a growing set of (cell, site) columns.

    Columns ``x_ij`` cost ``t_ij - UNSERVED_MIN`` (so serving beats leaving untested). Rows: a
    capacity row per limited site (``<= available``) and, only for cells with two or more
    columns, a row ``sum_i x_ij <= people_j``; a cell with a single column is just the bound
    ``x <= people_j``. The untested people of a cell are the slack. Most cells keep one column,
    so the LP has few rows and its solutions start from the bounds, not from pivots.

    With the HiGHS binding (``highspy``, or the copy inside scipy), columns and rows are added to
    the live model and each solve starts from the previous basis; without it every solve starts
    afresh through :func:`scipy.optimize.linprog`.
    """

    def __init__(self, avail_rows: np.ndarray, cell_people: np.ndarray) -> None:
        self.n_site_rows = len(avail_rows)
        self.people = cell_people
        m = len(cell_people)
        self.row_upper = list(avail_rows)
        self.cell_row = np.full(m, -1, dtype=np.int64)
        self.ncol = np.zeros(m, dtype=np.int64)
        self.first_col = np.full(m, -1, dtype=np.int64)
        self.col_site_row = np.zeros(0, np.int64)
        self.col_cell = np.zeros(0, np.int64)
        self.col_cost = np.zeros(0)
        self.col_upper = np.zeros(0)
        self.simplex_iterations = 0
        self.seconds = 0.0
        self._h = _new_highs() if USE_HIGHS_WARM_START else None
        # One overflow column per capacity row (-1 in its row): with a finite penalty the
        # capacities are soft, which keeps the site prices (duals) below the penalty.
        self.n_over = self.n_site_rows
        self.penalty: float | None = None
        if self._h is not None and self.n_site_rows:
            n = self.n_site_rows
            self._h.addRows(
                n,
                np.full(n, -np.inf),
                np.asarray(avail_rows, dtype=float),
                0,
                np.zeros(n, np.int32),
                np.zeros(0, np.int32),
                np.zeros(0),
            )
            self._h.addCols(
                n,
                np.zeros(n),
                np.zeros(n),
                np.zeros(n),
                n,
                np.arange(n, dtype=np.int32),
                np.arange(n, dtype=np.int32),
                -np.ones(n),
            )

    def set_penalty(self, penalty: float | None) -> None:
        """Cost per person over capacity; None = capacities are hard."""
        self.penalty = penalty
        if self._h is not None and self.n_over:
            n = self.n_over
            idx = np.arange(n, dtype=np.int32)
            if penalty is None:
                self._h.changeColsBounds(n, idx, np.zeros(n), np.zeros(n))
            else:
                self._h.changeColsCost(n, idx, np.full(n, float(penalty)))
                self._h.changeColsBounds(n, idx, np.zeros(n), np.full(n, np.inf))

    @property
    def n_cols(self) -> int:
        return len(self.col_cell)

    def add(self, site_row: np.ndarray, cell: np.ndarray, cost: np.ndarray) -> None:
        k = len(cell)
        if k == 0:
            return
        base = self.n_cols
        new_idx = base + np.arange(k)
        before = self.ncol.copy()
        np.add.at(self.ncol, cell, 1)
        multi_after = self.ncol[cell] >= 2
        upper = np.where(multi_after, np.inf, self.people[cell])
        row = self.cell_row[cell]
        self.col_site_row = np.r_[self.col_site_row, site_row]
        self.col_cell = np.r_[self.col_cell, cell]
        self.col_cost = np.r_[self.col_cost, cost]
        self.col_upper = np.r_[self.col_upper, upper]
        fresh = before[cell] == 0
        self.first_col[cell[fresh]] = new_idx[fresh]
        # Cells that now have two or more columns but no row yet get one.
        need = np.unique(cell[(self.cell_row[cell] < 0) & multi_after])
        old_single = need[before[need] == 1]
        if self._h is not None:
            has_s, has_c = site_row >= 0, row >= 0
            cnt = has_s.astype(np.int64) + has_c
            starts = np.r_[0, np.cumsum(cnt)[:-1]]
            idx = np.empty(int(cnt.sum()), np.int64)
            idx[starts[has_s]] = site_row[has_s]
            idx[(starts + has_s)[has_c]] = row[has_c]
            self._h.addCols(
                k,
                cost - UNSERVED_MIN,
                np.zeros(k),
                upper,
                len(idx),
                starts.astype(np.int32),
                idx.astype(np.int32),
                np.ones(len(idx)),
            )
        if len(need):
            first_rows = len(self.row_upper)
            self.cell_row[need] = first_rows + np.arange(len(need))
            self.row_upper.extend(self.people[need].tolist())
            if len(old_single):
                oc = self.first_col[old_single]
                self.col_upper[oc] = np.inf
            # members of the new rows: the old single column and the new columns of the cell
            in_need = np.isin(cell, need)
            r_cells = np.r_[old_single, cell[in_need]]
            r_cols = np.r_[self.first_col[old_single], new_idx[in_need]]
            order = np.argsort(self.cell_row[r_cells], kind="stable")
            r_cells, r_cols = r_cells[order], r_cols[order]
            if self._h is not None:
                if len(old_single):
                    oc = self.first_col[old_single] + self.n_over
                    self._h.changeColsBounds(
                        len(oc), oc.astype(np.int32), np.zeros(len(oc)), np.full(len(oc), np.inf)
                    )
                counts = np.bincount(self.cell_row[r_cells] - first_rows, minlength=len(need))
                starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int32)
                self._h.addRows(
                    len(need),
                    np.full(len(need), -np.inf),
                    self.people[need],
                    len(r_cols),
                    starts,
                    (r_cols + self.n_over).astype(np.int32),
                    np.ones(len(r_cols)),
                )
            # columns of these cells added in this batch were written without the row entry
            # (HiGHS got it through addRows); the fallback reads memberships from col arrays.

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x per pair column, overflow per capacity row, row duals (<= 0): capacity rows,
        then the cell rows)."""
        t0 = time.perf_counter()
        try:
            return self._solve()
        finally:
            self.seconds += time.perf_counter() - t0

    def _solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._h is not None:
            self._h.run()
            status = self._h.modelStatusToString(self._h.getModelStatus())
            if "Optimal" not in status:  # pragma: no cover - x = 0 is feasible, costs bounded
                raise RuntimeError(f"the assignment LP failed: {status}")
            self.simplex_iterations += int(self._h.getInfo().simplex_iteration_count)
            sol = self._h.getSolution()
            xv = np.asarray(sol.col_value)
            return xv[self.n_over :], xv[: self.n_over], np.asarray(sol.row_dual)
        n, k = self.n_cols, self.n_over
        has_s = self.col_site_row >= 0
        crow = self.cell_row[self.col_cell]
        has_c = crow >= 0
        rows = np.r_[np.arange(k), self.col_site_row[has_s], crow[has_c]]
        cols = np.r_[np.arange(k), k + np.flatnonzero(has_s), k + np.flatnonzero(has_c)]
        vals = np.r_[-np.ones(k), np.ones(len(rows) - k)]
        nrow = len(self.row_upper)
        a_ub = sp.csr_array((vals, (rows, cols)), shape=(nrow, n + k))
        over_up = np.inf if self.penalty is not None else 0.0
        res = linprog(
            np.r_[np.full(k, self.penalty or 0.0), self.col_cost - UNSERVED_MIN],
            A_ub=a_ub if nrow else None,
            b_ub=np.asarray(self.row_upper, dtype=float) if nrow else None,
            bounds=np.r_[
                np.column_stack([np.zeros(k), np.full(k, over_up)]),
                np.column_stack([np.zeros(n), self.col_upper]),
            ],
            method="highs-ds",
        )
        if res.status != 0:  # pragma: no cover
            raise RuntimeError(f"the assignment LP failed: {res.message}")
        self.simplex_iterations += int(res.nit)
        duals = res.ineqlin.marginals if nrow else np.zeros(0)
        return res.x[k:], res.x[:k], duals


def _new_highs() -> Any:
    """A HiGHS model object (``highspy`` if installed, else the binding inside scipy)."""
    try:
        import highspy

        h = highspy.Highs()
    except ImportError:
        try:
            from scipy.optimize._highspy import _core  # private: checked, with a fallback

            h = _core._Highs()
        except (ImportError, AttributeError):
            return None
    try:
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("threads", 1)
    except Exception:  # pragma: no cover - an unexpected binding: use linprog instead
        return None
    return h


def _solve_transport(
    st: SiteTimes,
    pts: Snap,
    cj: np.ndarray,
    people: np.ndarray,
    site0: np.ndarray,
    t0s: np.ndarray,
    avail: np.ndarray,
    max_iterations: int,
    gap_min: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, TransportInfo]:
    """Capacity-limited assignment by column generation (see the module docstring).

    Starts from each cell's nearest site; prices new columns first from the candidate pool
    (:func:`_candidates`), and when the pool has nothing left, with one Dijkstra over all sites
    using the LP's site prices as offsets: no violation there proves the assignment optimal for
    every (cell, site) pair. That Dijkstra also gives a Lagrangian lower bound; with
    ``gap_min > 0`` the search stops once the solution is within ``gap_min`` minutes per person
    of the optimum.

    Returns (pair cell, pair site, x, minutes, untested per LP cell, info).
    """
    t_start = time.perf_counter()
    n_sites = len(st.site_ids)
    m = len(cj)
    limited = np.flatnonzero(np.isfinite(avail))
    row_of_site = np.full(n_sites, -1)
    row_of_site[limited] = np.arange(len(limited))
    pl = people[cj]
    sub = _take_snap(pts, cj)
    info: TransportInfo = {"optimal": False, "iterations": 0, "dijkstra_pricing": 0}
    cc, cs, ct = _candidates(st, sub, pl, t0s[cj], avail)
    ct = ct / 60.0
    info["pool_pairs"] = int(len(cc))
    info["pool_seconds"] = time.perf_counter() - t_start
    lp = _RestrictedLP(avail[limited], pl)
    info["warm_start"] = lp._h is not None
    ps0 = site0[cj]
    lp.add(row_of_site[ps0], np.arange(m), t0s[cj] / 60.0)
    pc, ps = np.arange(m), ps0.copy()
    seen = set((pc * n_sites + ps).tolist())
    pool_key = cc * n_sites + cs
    in_lp = np.isin(pool_key, pc * n_sites + ps)
    x = np.zeros(0)
    # Capacities start soft (a penalty per person over capacity caps the site prices), then
    # harden stage by stage: columns enter as the prices they need are reached, instead of
    # every cell of an overloaded site getting alternatives at once.
    stages: list[float | None] = [*PENALTY_STAGES_MIN, None]
    stage = 0
    lp.set_penalty(stages[stage])
    for it in range(1, max_iterations + 1):
        info["iterations"] = it
        x, over, y = lp.solve()
        if m == 0 or not len(limited):
            info["optimal"] = True
            break
        price = np.zeros(n_sites)
        price[limited] = np.maximum(-y[: len(limited)], 0.0)
        # u: what one more person of each cell would cost at the margin (minutes).
        fc = lp.first_col
        u = np.minimum(UNSERVED_MIN, lp.col_cost[fc] + price[ps[fc]])
        multi = lp.cell_row >= 0
        u[multi] = UNSERVED_MIN + np.minimum(y[lp.cell_row[multi]], 0.0)
        tol = 1e-7 + 1e-9 * np.abs(u)
        rc = ct + price[cs] - u[cc]
        neg = np.flatnonzero((rc < -tol[cc]) & ~in_lp)
        if len(neg):
            o = np.lexsort((rc[neg], cc[neg]))
            neg = neg[o]
            neg = neg[np.r_[True, cc[neg][1:] != cc[neg][:-1]]]
            in_lp[neg] = True
            new_c, new_s, new_t = cc[neg], cs[neg], ct[neg]
        elif lp.penalty is not None:
            # nothing left in the pool at this penalty: harden (at once if nothing overflows)
            stage = stage + 1 if over.sum() > 1e-9 * max(float(pl.sum()), 1.0) else len(stages) - 1
            lp.set_penalty(stages[stage])
            continue
        else:
            info["dijkstra_pricing"] += 1
            priced = st.network._nearest(
                st.site_ids, st.site_snap, st.mode, st.direction, price * 60.0
            )
            bst, tb = priced.assign_snapped(sub)
            val = tb / 60.0
            # Lagrangian bound: valid for any prices, tight at the optimum.
            lower = float(pl @ np.minimum(UNSERVED_MIN, np.where(bst >= 0, val, np.inf)))
            lower -= float(avail[limited] @ price[limited])
            upper = float(x @ lp.col_cost[: len(x)]) + UNSERVED_MIN * float(
                np.maximum(pl - np.bincount(lp.col_cell[: len(x)], weights=x, minlength=m), 0).sum()
            )
            info["lower_bound"] = max(info.get("lower_bound", -np.inf), lower)
            if upper - info["lower_bound"] <= gap_min * max(float(pl.sum()), 1.0):
                info["optimal"] = gap_min == 0 or upper - info["lower_bound"] <= 1e-9 * abs(upper)
                break
            viol = np.flatnonzero((bst >= 0) & (val < u - tol))
            key = viol * n_sites + bst[viol]
            fresh = np.array([k not in seen for k in key.tolist()], dtype=bool)
            if not fresh.any():
                info["optimal"] = True
                break
            new_c = viol[fresh]
            new_s = bst[new_c]
            new_t = val[new_c] - price[new_s]
        if _DEBUG:
            print(
                f"it {it} add {len(new_c)} simplex {lp.simplex_iterations} lp {lp.seconds:.2f}s "
                f"rows {len(lp.row_upper)} cols {lp.n_cols} "
                f"total {time.perf_counter() - t_start:.2f}s"
            )
        seen.update((new_c * n_sites + new_s).tolist())
        lp.add(row_of_site[new_s], new_c, new_t)
        pc, ps = np.r_[pc, new_c], np.r_[ps, new_s]
    npairs = len(x)
    pc, ps, pt = pc[:npairs], ps[:npairs], lp.col_cost[:npairs]
    untested = np.maximum(pl - np.bincount(pc, weights=x, minlength=m), 0.0)
    info["pairs"] = int(npairs)
    info["simplex_iterations"] = lp.simplex_iterations
    info["lp_seconds"] = lp.seconds
    info["objective_person_min"] = float(x @ pt) + UNSERVED_MIN * float(untested.sum())
    if info["optimal"] and "lower_bound" not in info:  # no capacity limit: nothing to price
        info["lower_bound"] = info["objective_person_min"]
    lb = info.get("lower_bound", -np.inf)
    info["gap_min_per_person"] = (
        (info["objective_person_min"] - lb) / max(float(pl.sum()), 1.0) if np.isfinite(lb) else None
    )
    return cj[pc], ps, x, pt, untested, info


def _take_snap(s: Snap, idx: np.ndarray) -> Snap:
    return Snap(
        s.edge[idx],
        s.frac[idx],
        s.dist_m[idx],
        s.access_s[idx],
        s.off_network[idx],
        s.island[idx],
        s.xy[idx],
    )
