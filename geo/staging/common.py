"""Shared validation, small helpers and solver plumbing of the staging solvers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.errors import InputError

__all__ = [
    "DEADLINE_EXACT_MAX_PAIRS",
    "EXACT_MAX_COVER_NNZ",
    "LP_BOUND_MAX_NNZ",
    "evaluate_sites",
    "highs_mip",
    "MipResult",
]

# Automatic exact/heuristic choice. The MILP is always the better answer when it finishes, so
# these are "finishes in about a second on 2 cores" sizes, measured on random Euclidean instances.
EXACT_MAX_COVER_NNZ = 40_000  # coverage, set cover: non-zeros after merging equal demand rows
LP_BOUND_MAX_NNZ = 400_000  # coverage / set cover: LP relaxation bound up to this many non-zeros
DEADLINE_EXACT_MAX_PAIRS = 4_000  # deadline plans: (demand, site) pairs reachable in time

_EPS = 1e-9
_VNS_FAILS = 300  # perturbations in a row without improvement before the search stops


# --------------------------------------------------------------------------------------------


def _cost_matrix(cost: Any, name: str = "cost") -> np.ndarray:
    expected = (
        "a 2-D array of numbers >= 0 (rows: demand points, columns: candidates); +inf = unreachable"
    )
    try:
        c = np.asarray(cost, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not numeric ({exc})", field=name, expected=expected) from None
    if c.ndim != 2 or 0 in c.shape:
        raise InputError(f"{name} has shape {c.shape}", field=name, expected=expected)
    bad = np.isnan(c)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            f"{name}[{i}, {j}] is NaN ({int(bad.sum())} NaN value(s) in all); "
            "use +inf for a pair that cannot be reached",
            feature=i,
            field=name,
            expected="a number >= 0, or +inf for unreachable",
        )
    bad = c < 0
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            f"{name}[{i}, {j}] is negative ({c[i, j]:g}; {int(bad.sum())} negative value(s))",
            feature=i,
            field=name,
            expected="a cost >= 0 (minutes or metres)",
        )
    return c


def _weights(weights: Any, n: int, name: str = "weights") -> np.ndarray:
    if weights is None:
        return np.ones(n)
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} is not numeric ({exc})", field=name, expected="people per demand point"
        ) from None
    if w.shape != (n,):
        raise InputError(
            f"{name} has shape {w.shape}",
            field=name,
            expected=f"{n} values, one per demand point (row of the cost matrix)",
        )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name}[{i}] is {w[i]:g}", feature=i, field=name, expected="people >= 0 (finite)"
        )
    if w.sum() <= 0:
        raise InputError(
            "all weights are 0: there are no people to serve",
            field=name,
            expected="at least one demand point with people > 0",
        )
    return w


def _whole(value: Any, name: str, lo: int, hi: int | None, what: str) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    expected = f"a whole number from {lo} to {hi}" if hi is not None else f"a whole number >= {lo}"
    if not ok:
        raise InputError(f"{name} is {value!r}, not a whole number", field=name, expected=expected)
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        raise InputError(f"{name} = {value} {what}", field=name, expected=expected)
    return value


def _k(k: Any, m: int, n_fixed: int) -> int:
    fixed = f", {n_fixed} of them fixed" if n_fixed else ""
    return _whole(k, "k", 1, m - n_fixed, f"but there are {m} candidates{fixed}")


def _number(
    value: Any, name: str, *, lo: float = 0.0, strict: bool = False, unit: str = ""
) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < lo or (strict and v <= lo):
        op = ">" if strict else ">="
        raise InputError(
            f"{name} is {value!r}", field=name, expected=f"a number {op} {lo:g}{unit}".rstrip()
        )
    return v


def _fixed(fixed: Any, m: int) -> np.ndarray:
    if fixed is None:
        return np.zeros(0, dtype=np.intp)
    f = np.asarray(fixed)
    expected = f"candidate column indices from 0 to {m - 1}, each at most once"
    if f.size == 0:
        return np.zeros(0, dtype=np.intp)
    if f.ndim != 1 or not np.issubdtype(f.dtype, np.integer):
        raise InputError(f"fixed is {fixed!r}", field="fixed", expected=expected)
    if f.min() < 0 or f.max() >= m or len(np.unique(f)) != len(f):
        raise InputError(f"fixed is {f.tolist()}", field="fixed", expected=expected)
    return f.astype(np.intp)


def _require_reachable(c: np.ndarray, rows: np.ndarray, what: str = "any candidate") -> None:
    dead = ~np.isfinite(c).any(axis=1)
    if dead.any():
        i = int(rows[np.flatnonzero(dead)[0]])
        raise InputError(
            f"demand point {i} cannot reach {what} (every cost is +inf; "
            f"{int(dead.sum())} such demand point(s) with people)",
            feature=i,
            field="cost",
            expected="at least one finite cost per demand point with people, or weight 0",
        )


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _labeller(labels: Sequence[Any] | None) -> Callable[[int], Any]:
    if labels is None:
        return lambda j: int(j)
    labs = list(labels)
    return lambda j: labs[int(j)] if j >= 0 else None


def _people(x: float) -> str:
    # Whole people: demand cells carry shares of a person (people spread by area), which a
    # commander reads as noise; a share under one is "fewer than 1", never "0".
    return "fewer than 1" if 0 < abs(x) < 0.5 else f"{x:,.0f}"


def _clock(minutes: float, start: datetime | None) -> str:
    if not math.isfinite(minutes):
        return "never"
    if start is None:
        h, mnt = divmod(int(math.ceil(minutes - 1e-9)), 60)
        return f"+{h} h {mnt:02d} min" if h else f"+{mnt} min"
    t = start + timedelta(minutes=math.ceil(minutes - 1e-9))
    return t.strftime("%H:%M") if t.date() == start.date() else t.strftime("%d %b %H:%M")


def _gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    diff = abs(objective - bound)
    if diff <= 1e-12 * max(1.0, abs(objective)):
        return 0.0
    return diff / abs(objective) if objective != 0 else math.inf


def _mip(
    c: np.ndarray,
    rows: list[tuple[sp.spmatrix, Any, Any]],
    integrality: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    time_limit: float,
    gap: float = 1e-7,
) -> Any:
    """HiGHS through scipy; an all-continuous problem is solved as an LP."""
    cons = [LinearConstraint(a, lo, hi) for a, lo, hi in rows if a.shape[0]]
    opts: dict[str, Any] = {"time_limit": float(max(time_limit, 0.05)), "presolve": True}
    if np.any(integrality):
        opts["mip_rel_gap"] = gap
    return milp(c, constraints=cons, integrality=integrality, bounds=Bounds(lb, ub), options=opts)


def _nearest(c: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: slot of the nearest of ``cols``, its cost, and the second-nearest cost."""
    sub = c[:, cols]
    ar = np.arange(sub.shape[0])
    p1 = sub.argmin(axis=1)
    d1 = sub[ar, p1]
    if sub.shape[1] == 1:
        return p1, d1, np.full_like(d1, np.inf)
    sub[ar, p1] = np.inf
    return p1, d1, sub.min(axis=1)


def _assign(
    c: np.ndarray, cols: np.ndarray, within: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest open column per row (-1 if unreachable or beyond ``within``) and its cost."""
    cols = np.asarray(cols, dtype=np.intp)
    if cols.size == 0:
        return np.full(c.shape[0], -1, dtype=np.intp), np.full(c.shape[0], np.inf)
    p, d, _ = _nearest(c, cols)
    a = cols[p].astype(np.intp)
    bad = ~np.isfinite(d)
    if within is not None:
        bad |= d > within
    a[bad] = -1
    return a, d


def _stats(w: np.ndarray, a: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
    """(uncovered people, mean cost, max cost) over people with weight > 0."""
    pos = w > 0
    ok = pos & (a >= 0)
    unc = float(w[pos & (a < 0)].sum())
    mean = float(np.average(d[ok], weights=w[ok])) if ok.any() else math.nan
    mx = float(d[pos].max()) if unc == 0 else math.inf
    return unc, mean, mx


def _site_stats(
    w: np.ndarray, a: np.ndarray, d: np.ndarray, site: int
) -> tuple[float, float, float]:
    mine = (a == site) & (w > 0)
    people = float(w[mine].sum())
    if people <= 0:
        return 0.0, math.nan, math.nan
    return people, float(np.average(d[mine], weights=w[mine])), float(d[mine].max())


def evaluate_sites(
    cost: Any, sites: Sequence[int], weights: Any = None, within: float | None = None
) -> dict[str, float]:
    """Key figures of a given set of open sites (e.g. the situation before a plan).

    Returns people, covered (within ``within``; everyone reachable when None), coverage
    (fraction), mean_cost (people-weighted, over reachable people), max_cost (inf if someone
    cannot reach any site) and total_cost (people x cost over reachable people).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> fig = evaluate_sites(np.abs(x[:, None] - x[None, :]), [0], within=2)
    >>> fig["covered"], fig["max_cost"], fig["mean_cost"]
    (3.0, 9.0, 4.5)
    """
    c = _cost_matrix(cost)
    w = _weights(weights, c.shape[0])
    cols = _fixed(np.asarray(list(sites), dtype=np.intp), c.shape[1])
    if within is not None:
        within = _number(within, "within")
    a, d = _assign(c, cols, within)
    reach, _ = _assign(c, cols)
    unc, mean, mx = _stats(w, reach, d)
    covered = float(w[a >= 0].sum())
    ok = reach >= 0
    return {
        "people": float(w.sum()),
        "covered": covered,
        "coverage": covered / float(w.sum()),
        "mean_cost": mean,
        "max_cost": mx,
        "total_cost": float(w[ok] @ d[ok]) if ok.any() else 0.0,
        "unreachable": unc,
    }


class _Clock:
    def __init__(self, time_limit: float) -> None:
        self.t0 = time.perf_counter()
        self.limit = float(time_limit)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.limit - self.elapsed()


def _time_limit(value: Any) -> float:
    return _number(value, "time_limit", lo=0.0, strict=True, unit=" seconds")


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# HiGHS through its own binding (highspy): warm starts, cutoffs and first-solution stops,
# which scipy's milp does not expose
# --------------------------------------------------------------------------------------------


@dataclass
class MipResult:
    """One HiGHS run: ``status`` "optimal", "infeasible", "time_limit" or "other"; ``x`` the
    best solution (None if none); ``objective`` its value; ``bound`` the proven dual bound
    (a lower bound: every model here is a minimisation)."""

    status: str
    x: np.ndarray | None
    objective: float
    bound: float


def highs_mip(
    cost: np.ndarray,
    a: sp.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    integer: np.ndarray,
    time_limit: float,
    *,
    rel_gap: float = 1e-9,
    start: np.ndarray | None = None,
    cutoff: float | None = None,
) -> MipResult:
    """Minimise ``cost @ x`` s.t. ``row_lo <= a @ x <= row_hi``, bounds, integrality.

    ``start`` is a feasible solution to start from (HiGHS checks it); ``cutoff`` makes every
    solution worse than it uninteresting: "infeasible" then means "nothing better".
    """
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.05)))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    # one thread: the machine is shared, and HiGHS' MIP search is single-threaded anyway
    h.setOptionValue("threads", 1)
    if cutoff is not None:
        h.setOptionValue("objective_bound", float(cutoff))
    a = sp.csr_matrix(a)
    lp = highspy.HighsLp()
    lp.num_col_ = int(a.shape[1])
    lp.num_row_ = int(a.shape[0])
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lo, dtype=float)
    lp.col_upper_ = np.asarray(col_hi, dtype=float)
    lp.row_lower_ = np.broadcast_to(np.asarray(row_lo, dtype=float), (a.shape[0],)).copy()
    lp.row_upper_ = np.broadcast_to(np.asarray(row_hi, dtype=float), (a.shape[0],)).copy()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    if np.any(integer):
        kinds = [highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous]
        lp.integrality_ = [kinds[0] if v else kinds[1] for v in np.asarray(integer, dtype=bool)]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=float).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    st = highspy.HighsModelStatus
    status = {
        st.kOptimal: "optimal",
        st.kInfeasible: "infeasible",
        st.kObjectiveBound: "infeasible",
        st.kTimeLimit: "time_limit",
    }.get(ms, "other")
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has else None
    obj = float(info.objective_function_value) if has else math.inf
    if not np.any(integer):
        bound = obj if status == "optimal" else -math.inf
    else:
        bound = float(info.mip_dual_bound)
        if status == "optimal" and x is not None:
            bound = min(max(bound, obj - abs(obj) * rel_gap), obj)
        if status == "infeasible":
            bound = math.inf
        if not math.isfinite(bound) and status != "infeasible":
            bound = -math.inf
    return MipResult(status, x, obj, bound)
