"""Where to stage k resources: p-median, maximal coverage, p-center, set cover, deadline plans.

Every solver works on a plain cost matrix, so standard benchmark instances run on it too:

- ``cost[i, j]`` is the cost (minutes or metres) from demand point ``i`` to candidate ``j``;
  ``+inf`` means unreachable, NaN and negative values are errors;
- ``weights[i]`` is the number of people at demand point ``i`` (default: 1 each). Rows with weight 0
  do not influence the choice; they still get an assignment in the result;
- ``fixed`` (optional) lists candidate columns that are open already (existing sites); ``k``
  counts the new sites only.

Each solver returns a :class:`Plan`: the chosen candidate columns, the assignment of every demand
point, the objective, a proven bound and the gap, the solve time, the method, and for each site why
it is there (what it serves, how much worse the objective gets without it, the best swap).

Small instances are solved exactly with a MILP (``scipy.optimize.milp``, HiGHS); larger ones with
heuristics, vectorised with numpy (no Python loop over demand points in the hot paths):

- p-median: greedy, then vertex substitution with the Resende-Werneck swap matrices (all
  k x (m - k) swaps priced at once, incremental updates, each row's short candidate list), then a
  variable neighbourhood search; the bound is Lagrangian (subgradient ascent);
- coverage: greedy + the same swap scheme for coverage, with perturbations; LP or Lagrangian bound;
- p-center: binary search over the distinct costs, each radius a set cover question (greedy,
  then a time-boxed MILP or the coverage search); LP / packing proofs bound it;
- set cover: greedy + redundancy removal + pair merging, then the MILP when affordable or the
  coverage search with one site fewer at a time; LP / packing bound.

``exact=True/False`` overrides the automatic choice; ``time_limit`` caps the wall time (seconds).

Deadline plans (:func:`deadline_plan`, :func:`earliest_finish`) place mobile testing teams so that
everyone can walk or drive to a site and be tested by a deadline, next to existing fixed sites:
a MILP on small instances, max-flow checks with a drop heuristic on large ones.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import maximum_flow

from geo.errors import InputError

__all__ = [
    "DeadlinePlan",
    "InfeasibleError",
    "Plan",
    "SiteReason",
    "deadline_plan",
    "earliest_finish",
    "evaluate_sites",
    "max_coverage",
    "p_center",
    "p_median",
    "plan_to_geodataframe",
    "set_cover",
]

# Automatic exact/heuristic choice. The MILP is always the better answer when it finishes, so
# these are "finishes in about a second on 2 cores" sizes, measured on random Euclidean instances.
EXACT_MAX_PAIRS = 12_000  # p-median, p-center: demand rows (weight > 0) x candidates
EXACT_MAX_COVER_NNZ = 40_000  # coverage, set cover: non-zeros after merging equal demand rows
LP_BOUND_MAX_NNZ = 400_000  # coverage / set cover: LP relaxation bound up to this many non-zeros
DEADLINE_EXACT_MAX_PAIRS = 4_000  # deadline plans: (demand, site) pairs reachable in time

_EPS = 1e-9
_VNS_FAILS = 300  # perturbations in a row without improvement before the search stops


class InfeasibleError(InputError):
    """No plan meets the request; the message says why and what would make it feasible.

    Attributes
    ----------
    shortage : people who cannot be tested by the deadline (0 when not applicable).
    unreachable : people who cannot reach any site before the deadline.
    min_deadline_min : the earliest deadline (minutes from the start) that would work with the
        current resources, when it could be computed (else None).
    teams_needed : the fewest teams that would work (a lower bound when marked so in the text),
        or None.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        expected: str | None = None,
        shortage: float = 0.0,
        unreachable: float = 0.0,
        min_deadline_min: float | None = None,
        teams_needed: int | None = None,
    ) -> None:
        super().__init__(message, field=field, expected=expected)
        self.shortage = float(shortage)
        self.unreachable = float(unreachable)
        self.min_deadline_min = min_deadline_min
        self.teams_needed = teams_needed


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass
class SiteReason:
    """Why one chosen site is in the plan.

    Attributes
    ----------
    site : candidate column index.
    rank : 1 = the site whose removal would hurt most.
    people : people assigned to it (nearest chosen site; for deadline plans, people it tests).
    drop : how much worse the objective gets without this site, in objective units (>= 0):
        objective without it minus with it for minimisation problems; people who lose coverage
        for ``max_coverage`` and ``set_cover``; people who would miss the deadline for deadline
        plans (NaN when not computed).
    alternative : the best candidate to swap it for (-1 if none).
    alternative_delta : how much worse the objective gets with that swap (>= 0 at a local
        optimum; for ``set_cover``: people the swap would leave uncovered).
    covered : people within ``within`` of it (coverage problems; NaN otherwise).
    sole : people for whom it is the only chosen site within ``within`` (NaN otherwise).
    mean_cost, max_cost : people-weighted mean and the maximum cost of its assigned people.
    teams : mobile teams placed there (deadline plans; 1 otherwise).
    finish_min : when its last person is tested, minutes from the start (deadline plans).
    reason : the above in one or two sentences.
    """

    site: int
    rank: int
    people: float
    drop: float
    alternative: int
    alternative_delta: float
    covered: float = math.nan
    sole: float = math.nan
    mean_cost: float = math.nan
    max_cost: float = math.nan
    teams: int = 1
    finish_min: float = math.nan
    reason: str = ""


@dataclass
class Plan:
    """A staging plan: chosen sites, assignment, objective, bound, and why each site is there.

    Attributes
    ----------
    problem : "p_median", "max_coverage", "p_center", "set_cover", "deadline" or
        "earliest_finish".
    sites : chosen candidate column indices (new sites only, most important first).
    assignment : per demand row, the candidate column of its site (nearest chosen or fixed site;
        within ``within`` for coverage problems), -1 for none.
    objective : the value reached: total people x cost (p-median), people covered
        (max coverage), worst cost (p-center), number of new sites (set cover), number of teams
        (deadline), finish time in minutes (earliest finish). ``inf`` when some people cannot
        reach any chosen site (see ``uncovered``).
    bound : the best proven bound on the optimum (lower for minimisation, upper for
        maximisation): MILP dual bound, LP relaxation or Lagrangian bound.
    sense : "min" or "max".
    gap : ``|objective - bound| / |objective|`` (0 = proven optimal).
    solve_time_s : wall time of the call.
    method : "milp" or "heuristic".
    optimal : True when the optimum is proven (within 1e-7 relative).
    explanations : one :class:`SiteReason` per site in ``sites`` (same order).
    fixed : candidate columns that were forced open (not counted in ``k``).
    k : number of new sites requested (set cover / deadline: number chosen).
    within : coverage threshold, in the cost's unit (coverage problems), else None.
    people : total people (sum of weights).
    uncovered : people with no chosen site (beyond ``within``, or unreachable).
    mean_cost, max_cost : people-weighted mean and maximum cost to the assigned site, over people
        that have one.
    unit : unit of the cost, used in texts ("min" or "m").
    n_candidates : number of candidate columns.
    assigned_cost : per demand row, the cost to its site in ``assignment`` (inf for none).
    notes : anything the reader should know (time limit hit, unreachable people, ...).
    """

    problem: str
    sites: np.ndarray
    assignment: np.ndarray
    objective: float
    bound: float
    sense: str = "min"
    gap: float = math.nan
    solve_time_s: float = 0.0
    method: str = "heuristic"
    optimal: bool = False
    explanations: list[SiteReason] = field(default_factory=list)
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    k: int = 0
    within: float | None = None
    people: float = 0.0
    uncovered: float = 0.0
    mean_cost: float = math.nan
    max_cost: float = math.nan
    unit: str = "min"
    n_candidates: int = 0
    assigned_cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    notes: list[str] = field(default_factory=list)

    @property
    def lower_bound(self) -> float:
        """A proven lower bound on the optimal objective."""
        return self.bound if self.sense == "min" else self.objective

    @property
    def upper_bound(self) -> float:
        """A proven upper bound on the optimal objective."""
        return self.objective if self.sense == "min" else self.bound

    def to_frame(self, labels: Sequence[Any] | None = None) -> pd.DataFrame:
        """One row per chosen site: rank, candidate, people, drop, best swap, reason.

        ``labels`` (one per candidate column, e.g. the candidates' ids) replace column indices
        in the ``candidate`` and ``alternative`` columns and in the reason texts.
        """
        label = _labeller(labels)
        rows = []
        for r in self.explanations:
            rows.append(
                {
                    "rank": r.rank,
                    "candidate": label(r.site),
                    "people": r.people,
                    "covered": r.covered,
                    "sole": r.sole,
                    "drop": r.drop,
                    "alternative": label(r.alternative) if r.alternative >= 0 else None,
                    "alternative_delta": r.alternative_delta,
                    "mean_cost": r.mean_cost,
                    "max_cost": r.max_cost,
                    "teams": r.teams,
                    "finish_min": r.finish_min,
                    "reason": _reason_text(self, r, label) if labels is not None else r.reason,
                }
            )
        return pd.DataFrame(rows, columns=list(_FRAME_COLUMNS))

    def summary(self) -> str:
        """One line: problem, objective, bound, gap, method and time."""
        gap = "optimal" if self.optimal else f"gap {self.gap:.3%}"
        return (
            f"{self.problem}: {len(self.sites)} site(s), objective {self.objective:,.6g}, "
            f"bound {self.bound:,.6g} ({gap}), {self.method}, {self.solve_time_s:.2f} s"
        )


_FRAME_COLUMNS = (
    "rank",
    "candidate",
    "people",
    "covered",
    "sole",
    "drop",
    "alternative",
    "alternative_delta",
    "mean_cost",
    "max_cost",
    "teams",
    "finish_min",
    "reason",
)


@dataclass
class DeadlinePlan(Plan):
    """A deadline plan: where mobile teams go, who tests where, and when everything finishes.

    Attributes (in addition to :class:`Plan`)
    ----------
    teams : teams per site in ``sites``.
    n_teams : total mobile teams.
    deadline_min : the deadline, minutes from the start.
    finish_min : when the last person is tested (all sites), minutes from the start, computed
        from the actual arrival times (never later than the deadline).
    time_step_min : 0 when exact arrival times were used (the default), else the grid they were
        rounded up to in the optimisation (conservative: the plan holds for the exact times).
    existing_people, existing_finish_min : per existing site, people it tests and its finish.
    assignment_existing : per demand row, the existing site index testing most of its people
        when that is an existing site, else -1 (``assignment`` holds the candidate column).
    flows : one row per (demand, site) pair used: demand, kind ("new"/"existing"), site,
        people, arrival_min.
    start : the clock time of minute 0, when given (used in texts).
    """

    teams: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    n_teams: int = 0
    deadline_min: float = math.nan
    finish_min: float = math.nan
    time_step_min: float = math.nan
    existing_people: np.ndarray = field(default_factory=lambda: np.zeros(0))
    existing_finish_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    assignment_existing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    flows: pd.DataFrame = field(default_factory=pd.DataFrame)
    start: datetime | None = None

    def clock(self, minutes: float) -> str:
        """A time ``minutes`` after the start, as a clock time when ``start`` is known."""
        return _clock(minutes, self.start)


# --------------------------------------------------------------------------------------------
# Validation
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
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-6 or abs(x) >= 100 else f"{x:,.1f}"


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


def _pm_milp(
    wc: np.ndarray, kt: int, fixed: np.ndarray, time_limit: float
) -> tuple[np.ndarray | None, float, bool]:
    """Strong p-median MILP; returns (sites or None, dual bound, proven optimal)."""
    n, m = wc.shape
    keep = m - kt + 1  # a row's nearest open site is always among its m - k + 1 nearest
    if keep < m:
        cols = np.argpartition(wc, keep - 1, axis=1)[:, :keep]
    else:
        cols = np.broadcast_to(np.arange(m), (n, m))
    rows = np.repeat(np.arange(n), cols.shape[1])
    cols = cols.ravel()
    nx = cols.size
    nv = m + nx
    scale = max(float(wc.max()), 1e-12)
    obj = np.concatenate([np.zeros(m), wc[rows, cols] / scale])
    px = m + np.arange(nx)
    ones = np.ones(nx)
    a_assign = sp.csr_matrix((ones, (rows, px)), shape=(n, nv))
    a_link = sp.csr_matrix(
        (np.r_[ones, -ones], (np.r_[np.arange(nx), np.arange(nx)], np.r_[px, cols])),
        shape=(nx, nv),
    )
    a_card = sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv))
    lb, ub = np.zeros(nv), np.ones(nv)
    lb[fixed] = 1
    integ = np.r_[np.ones(m), np.zeros(nx)]
    res = _mip(
        obj, [(a_assign, 1, 1), (a_link, -np.inf, 0), (a_card, kt, kt)], integ, lb, ub, time_limit
    )
    bound = getattr(res, "mip_dual_bound", None)
    bound = float(bound) * scale if bound is not None and np.isfinite(bound) else -math.inf
    if res.x is None:
        return None, bound, False
    y = res.x[:m]
    sites = np.flatnonzero(y > 0.5)
    if len(sites) != kt:
        sites = np.argsort(-y)[:kt]
    return sites.astype(np.intp), bound, res.status == 0


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
        r = min(m, max(24, 2 * m // max(kt, 1) + 8))
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
            else:
                self.stall += 1
                if self.stall >= 20:
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


def p_median(
    cost: Any,
    k: int,
    weights: Any = None,
    *,
    fixed: Sequence[int] | None = None,
    exact: bool | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    unit: str = "min",
) -> Plan:
    """k sites that minimise total people x cost to the nearest open site.

    Parameters
    ----------
    cost : (n, m) cost from demand i to candidate j; +inf = unreachable.
    k : number of new sites, 1 <= k <= m - len(fixed).
    weights : (n,) people per demand point (default 1 each).
    fixed : candidate columns that are open already (existing sites); not counted in k.
    exact : True = MILP (HiGHS), False = heuristic, None = the heuristic and, if its bound
        leaves a gap and rows x candidates <= ``EXACT_MAX_PAIRS``, the MILP. The heuristic
        always runs first (the fallback if the MILP times out).
    time_limit : seconds for the whole call (the heuristic stops searching earlier when its
        Lagrangian bound proves optimality or further perturbations stop paying off).
    seed : random seed of the heuristic's perturbations (results are deterministic per seed).
    unit : unit of ``cost`` for the texts.

    Returns
    -------
    Plan
        ``objective`` = sum of people x cost; ``inf`` if some people cannot reach any chosen
        site (``uncovered`` says how many).
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
    cp, pen = _penalise(cr, wr)
    wc = wr[:, None] * cp
    # exact=None: the heuristic with its bound, then the MILP if a gap is left on a small
    # instance (proving the heuristic optimal is usually much faster than the MILP).
    use_exact = exact is True
    notes: list[str] = []

    # Heuristic first: cheap, and the fallback if the MILP runs out of time. Its gap is
    # certified by the Lagrangian bound before any time goes into perturbations.
    nbrs = _neighbours(wc, _short_list(m, kt))
    state, sites, obj, info = _pm_local(wc, kt, fx, clock, nbrs)
    method, optimal = "heuristic", bool(info.get("exhaustive"))
    bound = obj if optimal else -math.inf
    if not optimal and not use_exact and state is not None:
        # Bound first (a proven optimum ends the search), then perturbations, then more bound
        # iterations from where they stopped, aimed at the better plan.
        lag = _PMedianBound(wc, kt, fx, state.d1, nbrs)
        bound = lag.run(obj, max(0.1, 0.1 * clock.left()))
        _vns(
            state,
            _Clock(clock.left() * 0.6),
            seed,
            _VNS_FAILS,
            lambda new, old: new < old * (1 - 1e-12),
            lambda val: _gap(val, bound) <= 1e-9,
        )
        sites, obj = state.sites.copy(), state.objective
        if _gap(obj, bound) > 1e-9:
            bound = max(bound, lag.run(obj, max(0.1, 0.5 * clock.left())))
        optimal = _gap(obj, bound) <= 1e-9
        use_exact = not optimal and exact is None and wc.size <= EXACT_MAX_PAIRS
    if use_exact and not optimal:
        ms, mb, mopt = _pm_milp(wc, kt, fx, clock.left())
        if ms is not None:
            mobj = float(wc[:, ms].min(axis=1).sum())
            if mobj <= obj * (1 + 1e-12):
                sites, obj, method = ms, mobj, "milp"
        bound = max(bound, min(obj, mb) if mopt else mb)
        optimal = mopt
        if not mopt:
            notes.append(f"the MILP stopped at the time limit ({clock.limit:g} s)")
            if not math.isfinite(bound):
                lag = _PMedianBound(wc, kt, fx, wc[:, sites].min(axis=1), nbrs)
                bound = lag.run(obj, max(0.2, 0.1 * clock.limit))
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
    reasons = []
    for site, drop, alt, delta in expl:
        people, smean, smax = _site_stats(w, a, d, site)
        reasons.append(
            SiteReason(site, 0, people, drop, alt, delta, mean_cost=smean, max_cost=smax)
        )
    plan = Plan(
        "p_median",
        np.zeros(0, dtype=np.intp),
        a,
        objective,
        bnd if unc == 0 else math.nan,
        "min",
        _gap(objective, bnd) if unc == 0 else math.nan,
        method=method,
        optimal=optimal and unc == 0,
        fixed=fx,
        k=k,
        people=float(w.sum()),
        uncovered=unc,
        mean_cost=mean,
        max_cost=mx,
        unit=unit,
        n_candidates=m,
        assigned_cost=np.where(a >= 0, d, np.inf),
        notes=notes,
    )
    return _finish(plan, reasons, clock)


def _finish(plan: Plan, reasons: list[SiteReason], clock: _Clock) -> Plan:
    """Rank sites by how much the objective suffers without them, write texts, stop the clock."""
    order = sorted(
        range(len(reasons)),
        key=lambda i: (-np.nan_to_num(reasons[i].drop, nan=-1.0, posinf=1e300), reasons[i].site),
    )
    reasons = [reasons[i] for i in order]
    for r, sr in enumerate(reasons, 1):
        sr.rank = r
        sr.reason = _reason_text(plan, sr, _labeller(None))
    plan.explanations = reasons
    plan.sites = np.array([sr.site for sr in reasons], dtype=np.intp)
    plan.solve_time_s = clock.elapsed()
    return plan


# --------------------------------------------------------------------------------------------
# Coverage (maximal covering) and set cover
# --------------------------------------------------------------------------------------------


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
    unc = ~a[:, fixed].any(axis=1) if fixed.size else np.ones(a.shape[0], dtype=bool)
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
    fixed: Sequence[int] | None = None,
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
    unc = float(w[(w > 0) & (a_all < 0)].sum())
    ok = (w > 0) & (a_all >= 0)
    reasons = []
    for site, cov, sole, alt, delta in expl:
        people, smean, smax = _site_stats(w, a_all, d, site)
        reasons.append(
            SiteReason(
                site,
                0,
                people,
                sole,
                alt,
                delta,
                covered=cov,
                sole=sole,
                mean_cost=smean,
                max_cost=smax,
            )
        )
    plan = Plan(
        "max_coverage",
        np.zeros(0, dtype=np.intp),
        a_all,
        float(w[ok].sum()),
        bound,
        "max",
        _gap(float(w[ok].sum()), bound),
        method=method,
        optimal=optimal,
        fixed=fx,
        k=k,
        within=within,
        people=float(w.sum()),
        uncovered=unc,
        mean_cost=float(np.average(d[ok], weights=w[ok])) if ok.any() else math.nan,
        max_cost=_stats(w, nearest, dn)[2],
        unit=unit,
        n_candidates=m,
        assigned_cost=np.where(a_all >= 0, d, np.inf),
        notes=notes,
    )
    return _finish(plan, reasons, clock)


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


def _sc_prune(a: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Drop redundant sites, then replace pairs of sites by one where a single site suffices."""
    sites = list(sites)
    cnt = a[:, sites].sum(axis=1)
    for s in sorted(sites, key=lambda j: int(a[:, j].sum())):
        if (cnt[a[:, s]] >= 2).all():
            sites.remove(s)
            cnt -= a[:, s]
    improved = True
    while improved and len(sites) >= 2:
        improved = False
        for x in range(len(sites)):
            for y in range(x + 1, len(sites)):
                s1, s2 = sites[x], sites[y]
                need = cnt - a[:, s1] - a[:, s2] == 0
                ok = a[need].all(axis=0)
                if ok.any():
                    j = int(np.flatnonzero(ok)[0])
                    cnt += a[:, j].astype(cnt.dtype) - a[:, s1] - a[:, s2]
                    sites = [s for s in sites if s not in (s1, s2)] + [j]
                    improved = True
                    break
            if improved:
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
    fixed: Sequence[int] | None = None,
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
        ``objective`` = number of new sites; ``k`` = the same. Among equally small covers the
        solver does not optimise travel (run :func:`p_median` with that k and check coverage if
        that matters).
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
    reasons = []
    for site, cov, sole, alt, delta in expl:
        people, smean, smax = _site_stats(w, a_all, d, site)
        reasons.append(
            SiteReason(
                site,
                0,
                people,
                sole,
                alt,
                delta,
                covered=cov,
                sole=sole,
                mean_cost=smean,
                max_cost=smax,
            )
        )
    unc, mean, mx = _stats(w, a_all, d)
    obj = float(len(sites))
    plan = Plan(
        "set_cover",
        np.zeros(0, dtype=np.intp),
        a_all,
        obj,
        float(lb),
        "min",
        _gap(obj, float(lb)),
        method=method,
        optimal=optimal,
        fixed=fx,
        k=len(sites),
        within=within,
        people=float(w.sum()),
        uncovered=unc,
        mean_cost=mean,
        max_cost=mx,
        unit=unit,
        n_candidates=m,
        assigned_cost=np.where(a_all >= 0, d, np.inf),
        notes=notes,
    )
    return _finish(plan, reasons, clock)


# --------------------------------------------------------------------------------------------
# p-center
# --------------------------------------------------------------------------------------------


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
    reasons = []
    for site, drop, alt, delta in _pc_explain(cr, open_, len(fx), objective):
        people, smean, smax = _site_stats(w, a, d, site)
        reasons.append(
            SiteReason(site, 0, people, drop, alt, delta, mean_cost=smean, max_cost=smax)
        )
    optimal = math.isfinite(objective) and _gap(objective, bound) <= 1e-12
    plan = Plan(
        "p_center",
        np.zeros(0, dtype=np.intp),
        a,
        objective,
        min(bound, objective) if math.isfinite(objective) else math.nan,
        "min",
        _gap(objective, bound),
        method=method,
        optimal=optimal,
        fixed=fx,
        k=k,
        people=float(w.sum()),
        uncovered=unc,
        mean_cost=mean,
        max_cost=mx,
        unit=unit,
        n_candidates=m,
        assigned_cost=np.where(a >= 0, d, np.inf),
        notes=notes,
    )
    return _finish(plan, reasons, clock)


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

    def nodes(self, h: float, step: float | None, down: bool = False) -> dict[str, np.ndarray]:
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
        return {
            "pi": pi,
            "pj": pj,
            "node": node,
            "nsite": nsite,
            "first": first,
            "cap": np.maximum(cap, 0.0),
        }

    def _skeleton(self, h: float, step: float | None, down: bool) -> dict[str, Any]:
        """The max-flow graph for (h, step), without team counts: built once, then reused."""
        mask = None if self.site_mask is None else self.site_mask.tobytes()
        key = (h, step, down, self.nearest, mask)
        cache = self.__dict__.setdefault("_graphs", {})
        if key in cache:
            return cache[key]
        nd = self.nodes(h, step, down)
        n, nn, nx = len(self.w), nd["nsite"].size, nd["pi"].size
        src, sink = 0, n + nn + 1
        nxt = np.where(nd["first"], sink, n + 1 + np.arange(nn) - 1)
        rows = np.r_[np.zeros(n, dtype=np.intp), 1 + nd["pi"], n + 1 + np.arange(nn)]
        cols = np.r_[1 + np.arange(n), n + 1 + nd["node"], nxt]
        # CSR order of the edges, so that only the capacities change from call to call
        order = np.lexsort((cols, rows))
        indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=sink + 1))]
        pair_pos = np.empty(rows.size, dtype=np.intp)
        pair_pos[order] = np.arange(rows.size)
        sk = {
            "nd": nd,
            "n": n,
            "nn": nn,
            "nx": nx,
            "src": src,
            "sink": sink,
            "order": order,
            "indices": cols[order].astype(np.int32),
            "indptr": indptr.astype(np.int32),
            "pos": pair_pos[n : n + nx],
        }
        if len(cache) > 64:
            cache.clear()
        cache[key] = sk
        return sk

    def maxflow(
        self, h: float, step: float | None, y: np.ndarray, down: bool = False, flows: bool = True
    ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Most people testable by h with ``y`` teams per candidate: a max-flow problem
        (source -> demand -> (site, arrival) node -> earlier node of the site -> ... -> sink,
        a node's outgoing edge carrying everyone who arrives then or later). Max-flow needs
        integers: people are counted in thousandths (fewer for huge crowds)."""
        sk = self._skeleton(h, step, down)
        nd, n, nx = sk["nd"], sk["n"], sk["nx"]
        mult = np.r_[np.asarray(y, dtype=float), np.ones(self.n_sites - self.m)][nd["nsite"]]
        top = max(float((nd["cap"] * mult).max(initial=0.0)), float(self.w.max()), 1.0)
        scale = 10.0 ** min(3, math.floor(math.log10(2e9 / top)))
        if scale < 1:
            raise InputError(
                "too many people for the capacity model",
                field="weights",
                expected="fewer than 2 billion people per site",
            )
        dem = np.round(self.w * scale)
        caps = np.r_[
            dem, np.full(nx, float(dem.max(initial=0.0))), np.round(nd["cap"] * mult * scale)
        ]
        size = sk["sink"] + 1
        g = sp.csr_array(
            (caps[sk["order"]].astype(np.int32), sk["indices"], sk["indptr"]), shape=(size, size)
        )
        res = maximum_flow(g, sk["src"], sk["sink"])
        x = np.zeros(nx)
        if flows:  # flow on each demand -> node edge, looked up by (row, col) key
            fl = res.flow.tocoo()
            size = np.int64(size)
            keys = fl.row.astype(np.int64) * size + fl.col
            want = (1 + nd["pi"]).astype(np.int64) * size + (n + 1 + nd["node"])
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
    ) -> dict[str, Any]:
        """LP/MILP. mode: "teams" (fewest teams, everyone tested), "flow" (most people
        tested), "travel" (least person-minutes, everyone tested).

        Variables: teams y per candidate, people x per (demand, site) pair, and per node the
        people s arriving then or later (a suffix sum: the matrix stays linear in the pairs)."""
        m = self.m
        n = len(self.w)
        nd = self.nodes(h, step, down)
        pi, pj, node, nsite, first, cap = (
            nd[key] for key in ("pi", "pj", "node", "nsite", "first", "cap")
        )
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
        out: dict[str, Any] = {"status": res.status, "pi": pi, "pj": pj, "ok": res.x is not None}
        if res.x is not None:
            out["y"] = res.x[:m]
            out["x"] = np.maximum(res.x[ix:is_], 0)
            out["flow"] = float(out["x"].sum())
        dual = getattr(res, "mip_dual_bound", None)
        out["dual"] = float(dual) if dual is not None and np.isfinite(dual) else None
        out["fun"] = float(res.fun) if res.x is not None else None
        return out

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


def _dl_feasible_all(
    model: _DLModel, h: float, step: float | None, clock: _Clock, down: bool = False
) -> float:
    """People testable by h with every candidate staffed to the maximum (a max-flow)."""
    return model.maxflow(h, step, np.full(model.m, model.max_per_site), down, flows=False)[0]


def _dl_ok(model: _DLModel, h: float, step: float | None, y: np.ndarray) -> bool:
    """Can everyone be tested by h with ``y`` teams? (max-flow; rounding is conservative)."""
    return model.maxflow(h, step, y, flows=False)[0] >= float(model.w.sum()) - 1e-6


def _dl_min_deadline(
    model: _DLModel,
    h: float,
    step: float | None,
    clock: _Clock,
    teams: int | None = None,
    exact: bool = False,
    horizon: float = 14 * 24 * 60.0,
) -> float | None:
    """Earliest deadline (whole minutes) at which everyone can be tested: with every candidate
    staffed (teams=None), or with ``teams`` teams (MILP if ``exact``, else the drop heuristic)."""
    total = float(model.w.sum())

    def ok(hh: float) -> bool:
        if teams is None:
            return _dl_feasible_all(model, hh, step, clock) >= total - 1e-6
        got = _dl_min_teams(model, hh, step, exact, clock, max_total=teams)
        return got is not None and int(round(got[0].sum())) <= teams

    lo, hi = math.floor(h), math.ceil(max(h, 1.0)) * 2
    while not ok(hi):
        if hi > horizon or clock.left() <= 0:
            return None
        lo, hi = hi, hi * 2
    while hi - lo > 1 and clock.left() > 0:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return float(hi)


def _dl_drop(model: _DLModel, h: float, step: float | None, clock: _Clock) -> np.ndarray | None:
    """Drop heuristic: staff every candidate, then take teams away, least loaded first (a
    binary search on how many, then one at a time), while everyone still fits (max-flow)."""
    m = model.m
    y = np.full(m, model.max_per_site, dtype=np.intp)
    flow, nd, x = model.maxflow(h, step, y)
    total = float(model.w.sum())
    if flow < total - 1e-6:
        return None
    used = np.bincount(nd["pj"], weights=x, minlength=model.n_sites)[:m]
    y[np.bincount(nd["pj"], minlength=model.n_sites)[:m] == 0] = 0  # cannot be reached in time
    while clock.left() > 0:
        per_team = np.where(y > 0, used / np.maximum(y, 1), np.inf)
        order = np.argsort(per_team, kind="stable")
        items = np.repeat(order, y[order])  # one entry per team, least loaded first
        lo, hi = 0, len(items)
        while lo < hi and clock.left() > 0:
            mid = (lo + hi + 1) // 2
            trial = y - np.bincount(items[:mid], minlength=m)
            if _dl_ok(model, h, step, trial):
                lo = mid
            else:
                hi = mid - 1
        y = y - np.bincount(items[:lo], minlength=m)
        removed = lo
        for j in order:  # then one team at a time
            if y[j] > 0 and clock.left() > 0:
                trial = y.copy()
                trial[j] -= 1
                if _dl_ok(model, h, step, trial):
                    y, removed = trial, removed + 1
        if removed == 0:
            break
        _, nd, x = model.maxflow(h, step, y)
        used = np.bincount(nd["pj"], weights=x, minlength=model.n_sites)[:m]
    return y


def _dl_min_teams(
    model: _DLModel,
    h: float,
    step: float | None,
    exact: bool,
    clock: _Clock,
    max_total: int | None = None,
) -> tuple[np.ndarray, bool] | None:
    """Fewest teams per candidate so everyone is tested by h: (teams, proven optimal) or None."""
    m, u = model.m, model.max_per_site
    if exact:
        zero, full = np.zeros(m), np.full(m, float(u))
        res = model.solve(h, step, "teams", zero, full, True, clock.left(), max_total=max_total)
        if not res["ok"]:
            return None
        return np.round(res["y"]).astype(np.intp), res["status"] == 0
    y = _dl_drop(model, h, step, clock)
    if y is None or (max_total is not None and y.sum() > max_total):
        return None
    return y, False


def _dl_bound(model: _DLModel, h: float, step: float | None, clock: _Clock) -> float:
    """A proven lower bound on the teams.

    The people existing sites cannot take, over the most one team can test anywhere; on small
    models also the LP relaxation (arrivals rounded down when a grid is used: a relaxation).
    """
    m = model.m
    if m == 0:
        return 0.0
    rest = float(model.w.sum()) - model.maxflow(h, step, np.zeros(m), True, flows=False)[0]
    nd = model.nodes(h, step, down=True)
    per_team = np.zeros(m)
    firsts = nd["first"] & (nd["nsite"] < m)
    per_team[nd["nsite"][firsts]] = nd["cap"][firsts]
    best = float(per_team.max(initial=0.0))
    bound = float(math.ceil(rest / best - 1e-9)) if best > 0 and rest > 1e-6 else 0.0
    if nd["pi"].size <= DEADLINE_EXACT_MAX_PAIRS and clock.left() > 0:
        full = np.full(m, float(model.max_per_site))
        res = model.solve(h, step, "teams", np.zeros(m), full, False, clock.left(), down=True)
        if res["ok"] and res["status"] == 0:
            bound = max(bound, float(math.ceil(res["fun"] - 1e-6)))
    return bound


def _dl_diagnose(
    model: _DLModel,
    h: float,
    step: float | None,
    start: datetime | None,
    lanes: int,
    per: float,
    clock: _Clock,
) -> None:
    """Raise :class:`InfeasibleError` saying why nobody-left-behind is impossible by h."""
    m, u = model.m, model.max_per_site
    total = float(model.w.sum())
    team = f"{lanes} lane{'s' if lanes != 1 else ''} at {per:g}/h"
    # Existing sites whose own queue already overruns the deadline.
    over = model.queue[m:] > model.rate[m:] * h + 1e-9
    if over.any():
        e = int(np.flatnonzero(over)[0])
        need = model.queue[m + e] / model.rate[m + e]
        raise InfeasibleError(
            f"existing site {e} already has {_people(model.queue[m + e])} people queuing, more "
            f"than it can test by the deadline ({_people(model.rate[m + e] * h)}); "
            f"its queue alone lasts until {_clock(need, start)}",
            field="deadline",
            expected=f"a deadline of {_clock(need, start)} or later",
            shortage=float(model.queue[m + e] - model.rate[m + e] * h),
            min_deadline_min=float(math.ceil(need)),
        )
    pi, pj, _ = model.pairs(h, step)
    reach = np.bincount(pi, minlength=len(model.w)) > 0
    flow = _dl_feasible_all(model, h, step, clock)
    shortage = total - flow
    if shortage <= total * 1e-7:
        return
    best = _dl_min_deadline(model, h, step, clock)
    alt = f"a deadline of {_clock(best, start)}" if best is not None else None
    if not reach.all():
        far = model.cost[~reach].min(axis=1)
        ppl = float(model.w[~reach].sum())
        msg = (
            f"{_people(ppl)} people cannot reach any site before the deadline "
            f"({_clock(h, start)}): the farthest of them is {far.max():.0f} min from its nearest "
            f"site{'' if model.opens[:m].max(initial=0) < h else ' (or the teams start too late)'}"
        )
        raise InfeasibleError(
            msg + (f"; {alt} would work with every candidate staffed" if alt else ""),
            field="deadline",
            expected=alt or "candidate sites closer to the people",
            shortage=shortage,
            unreachable=ppl,
            min_deadline_min=best,
        )
    # Enough time to get there, not enough capacity: how many teams would do it?
    need_teams = None
    if m:
        big = int(math.ceil(total / (model.rate[0] * max(h - model.opens[0], 1.0)))) + 1
        roomy = dataclasses.replace(model, max_per_site=max(big, u))
        if _dl_feasible_all(roomy, h, step, clock) >= total - 1e-6:
            need_teams = max(int(_dl_bound(roomy, h, step, clock)), 1)
    parts, short = [], []
    if need_teams is not None:
        short.append(f"at least {need_teams} teams")
        parts.append(
            f"at least {need_teams} teams of {team} in total (allow more than {u} per site "
            "or add candidate sites)"
        )
    if alt:
        parts.append(alt)
        short.append(alt)
    raise InfeasibleError(
        f"capacity short by {_people(shortage)} people: even with every candidate staffed "
        f"({m * u} teams of {team}), only {_people(flow)} of {_people(total)} people can be "
        f"tested by {_clock(h, start)}"
        + (": feasible with " + ", or ".join(parts) if parts else ""),
        field="deadline",
        expected=" or ".join(short) if short else "more capacity or a later deadline",
        shortage=shortage,
        min_deadline_min=best,
        teams_needed=need_teams,
    )


def _dl_plan(
    model: _DLModel,
    rows: np.ndarray,
    w_all: np.ndarray,
    y: np.ndarray,
    h: float,
    step: float | None,
    clock: _Clock,
    problem: str,
    start: datetime | None,
    grid: float | None = None,
) -> DeadlinePlan:
    """Assignment (least travel for the chosen teams), finish times and explanations.

    ``grid``: arrival rounding the teams were chosen with (max-flow checks use it too)."""
    m, ns = model.m, model.n_sites
    yf = y.astype(float)
    total = float(model.w.sum())
    # Least person-minutes among the open sites (each row's 10 nearest open ones when big).
    mask = np.r_[y > 0, np.ones(ns - m, dtype=bool)]
    big = len(model.w) * int(mask.sum()) > 50_000
    res: dict[str, Any] = {"ok": False}
    for near in [10, None] if big else [None]:
        sub = dataclasses.replace(model, site_mask=mask, nearest=near)
        res = sub.solve(h, step, "travel", yf, yf, False, max(clock.left(), 5.0))
        if res["ok"] and res["status"] == 0 and res["flow"] >= total - 1e-6 * max(total, 1):
            break
        res["ok"] = False
    if res["ok"]:
        pi, pj, x = res["pi"], res["pj"], res["x"]
    else:  # the LP gave up (time, numerics): any feasible assignment, from the max-flow
        _, nd, x = model.maxflow(h, grid, y)
        pi, pj = nd["pi"], nd["pj"]
    mult = np.r_[y.astype(float), np.ones(ns - m)]
    fin = model.finish_times(pi, pj, x, mult)
    load = np.bincount(pj, weights=x, minlength=ns)
    n_all = len(w_all)
    # Main site per demand row: the one testing most of its people.
    used = x > 1e-9
    order = np.lexsort((-x[used], pi[used]))
    pu, ju = pi[used][order], pj[used][order]
    firsts = np.flatnonzero(np.r_[True, pu[1:] != pu[:-1]]) if pu.size else np.zeros(0, int)
    main = np.full(len(model.w), -1, dtype=np.intp)
    main[pu[firsts]] = ju[firsts]
    assign = np.full(n_all, -1, dtype=np.intp)
    assign_e = np.full(n_all, -1, dtype=np.intp)
    is_new = (main >= 0) & (main < m)
    assign[rows[is_new]] = main[is_new]
    is_old = main >= m
    assign_e[rows[is_old]] = main[is_old] - m
    acost = np.full(n_all, np.inf)
    has = main >= 0
    acost[rows[has]] = model.cost[np.flatnonzero(has), main[has]]
    flows = pd.DataFrame(
        {
            "demand": rows[pi[used]],
            "kind": np.where(pj[used] < m, "new", "existing"),
            "site": np.where(pj[used] < m, pj[used], pj[used] - m),
            "people": x[used],
            "arrival_min": model.cost[pi[used], pj[used]],
        }
    )
    chosen = np.flatnonzero(y > 0)
    travel = np.zeros(ns)
    np.add.at(travel, pj, x * model.cost[pi, pj])
    reasons = []
    # "Without it" checks: one max-flow per site, on the model the teams were chosen with
    # (each demand point's nearest candidates when big), while a quarter of the time is left.
    probe = dataclasses.replace(model, nearest=30 if big else None)
    for j in chosen:
        drop = math.nan
        if clock.left() > 0.25 * clock.limit:
            trial = y.copy()
            trial[j] = 0
            drop = max(0.0, total - probe.maxflow(h, grid, trial, flows=False)[0])
        # Nearest unused alternative for the same people (feasibility not re-checked).
        mine = (pj == j) & (x > 1e-9)
        alt, delta = -1, math.nan
        free = np.flatnonzero(y == 0)
        if free.size and mine.any():
            tt = x[mine] @ model.cost[pi[mine]][:, free]
            b = int(np.argmin(tt))
            alt, delta = int(free[b]), float(tt[b] - travel[j])
        mean = travel[j] / load[j] if load[j] > 0 else math.nan
        mx = float(model.cost[pi[mine], j].max()) if mine.any() else math.nan
        reasons.append(
            SiteReason(
                int(j),
                0,
                float(load[j]),
                drop,
                alt,
                delta,
                mean_cost=mean,
                max_cost=mx,
                teams=int(y[j]),
                finish_min=float(fin[j]),
            )
        )
    finish = float(np.nanmax(fin)) if np.isfinite(fin).any() else 0.0
    ok_rows = np.flatnonzero(main >= 0)
    arr = np.zeros(len(model.w))
    np.add.at(arr, pi, x * model.cost[pi, pj])
    mean_all = float(arr.sum() / total) if total else math.nan
    max_all = float(model.cost[pi[used], pj[used]].max()) if used.any() else math.nan
    plan = DeadlinePlan(
        problem,
        np.zeros(0, dtype=np.intp),
        assign,
        float(y.sum()),
        math.nan,
        "min",
        people=float(w_all.sum()),
        uncovered=float(total - x.sum()) if total - x.sum() > 1e-6 * total else 0.0,
        mean_cost=mean_all,
        max_cost=max_all if ok_rows.size else math.nan,
        unit="min",
        n_candidates=m,
        assigned_cost=acost,
        k=int((y > 0).sum()),
        teams=np.zeros(0, dtype=np.intp),
        n_teams=int(y.sum()),
        deadline_min=float(h),
        finish_min=finish,
        time_step_min=step or 0.0,
        existing_people=load[m:],
        existing_finish_min=fin[m:],
        assignment_existing=assign_e,
        flows=flows,
        start=start,
    )
    plan.explanations = reasons
    return plan


def _dl_args(deadline_min: Any, time_step_min: Any, start: Any) -> tuple[float, float | None]:
    h = _number(deadline_min, "deadline_min", strict=True, unit=" minutes from the start")
    step = None
    if time_step_min is not None:
        step = _number(time_step_min, "time_step_min", strict=True, unit=" minutes")
    if start is not None and not isinstance(start, datetime):
        raise InputError(
            f"start is {start!r}", field="start", expected="a datetime (the clock time of minute 0)"
        )
    return h, step


def deadline_plan(
    cost: Any,
    weights: Any,
    deadline_min: float,
    *,
    lanes: int,
    per_lane_per_h: float,
    existing_cost: Any = None,
    existing_per_h: Any = None,
    existing_queue: Any = None,
    setup_min: float = 0.0,
    max_teams_per_site: int = 1,
    max_teams: int | None = None,
    time_step_min: float | None = None,
    start: datetime | None = None,
    exact: bool | None = None,
    time_limit: float = 30.0,
    nearest: int = 30,
) -> DeadlinePlan:
    """The fewest mobile teams, and where, so that everyone can be tested by the deadline.

    Parameters
    ----------
    cost : (n, m) minutes from demand point i to candidate site j (walking or driving; +inf =
        cannot get there).
    weights : (n,) people at each demand point (None = 1 each).
    deadline_min : minutes from now (minute 0, when everyone sets off) to the deadline.
    lanes, per_lane_per_h : one team tests ``lanes * per_lane_per_h`` people per hour.
    existing_cost, existing_per_h, existing_queue : (n, e) minutes to the existing (fixed)
        sites, their throughput (people/h) and the people queuing there now.
    setup_min : minutes before a new team starts testing (driving there, setting up).
    max_teams_per_site : teams one candidate site can take.
    max_teams : teams available; more needed raises :class:`InfeasibleError`.
    time_step_min : None (default) uses the exact arrival times; a step rounds them up to that
        grid (a smaller model for big instances; the plan still holds for the exact times).
    start : clock time of minute 0 (used only to write times such as "23:40" in texts).
    exact : MILP (True), LP diving + clean-up heuristic (False), or by size (None: MILP when
        the reachable (demand, site) pairs <= ``DEADLINE_EXACT_MAX_PAIRS``).
    nearest : the heuristic considers each demand point's ``nearest`` candidates only.

    Model: people leave at minute 0 and may be split between sites; a site with throughput mu
    tests everyone assigned to it by the deadline H iff for every time t the people arriving at
    or after t fit into mu * (H - max(t, opening)) (plus its queue at t = 0). This is exact for
    a site serving people in arrival order; the plan's ``finish_min`` uses the exact times.

    Raises
    ------
    InfeasibleError
        Nobody-left-behind is impossible: people who cannot reach any site in time, existing
        queues longer than the time left, or too little capacity even with every candidate
        staffed, or more than ``max_teams`` needed. The message gives the shortage and what would
        work (a later deadline as a clock time, or how many teams).
    """
    clock = _Clock(_time_limit(time_limit))
    h, step = _dl_args(deadline_min, time_step_min, start)
    model, rows, w_all = _dl_model(
        cost,
        weights,
        lanes,
        per_lane_per_h,
        existing_cost,
        existing_per_h,
        existing_queue,
        setup_min,
        max_teams_per_site,
    )
    if max_teams is not None:
        max_teams = _whole(max_teams, "max_teams", 0, None, "")
    nearest = _whole(nearest, "nearest", 1, None, "")
    per = float(per_lane_per_h)
    total = float(model.w.sum())
    use_exact = (
        exact if exact is not None else model.pairs(h, step)[0].size <= DEADLINE_EXACT_MAX_PAIRS
    )
    # The heuristic searches on a 1-minute grid of arrival times (rounded up: conservative, and
    # max-flow is much faster on it) unless that alone makes the deadline impossible.
    grid = step if (use_exact or step is not None) else 1.0
    if grid != step and _dl_feasible_all(model, h, grid, clock) < total - 1e-6:
        if _dl_feasible_all(model, h, step, clock) >= total - 1e-6:
            grid = step
    _dl_diagnose(model, h, grid, start, int(lanes), per, clock)
    if not use_exact:
        model.nearest = nearest
    got = _dl_min_teams(model, h, grid, use_exact, clock)
    if got is None and not use_exact:  # pruning to the nearest candidates lost feasibility
        model.nearest = None
        got = _dl_min_teams(model, h, grid, False, clock)
    if got is None:
        raise InfeasibleError(
            "no plan found within the time limit", field="time_limit", expected="more time"
        )
    y, proven = got
    model.nearest = None
    bound = _dl_bound(model, h, grid, clock)
    n_teams = int(y.sum())
    if max_teams is not None and n_teams > max_teams:
        h_m = _dl_min_deadline(
            model, h, grid, _Clock(max(clock.left(), 5.0)), teams=max_teams, exact=use_exact
        )
        team = f"{int(lanes)} lane{'s' if int(lanes) != 1 else ''} at {per:g}/h"
        alt = f", or a deadline of {_clock(h_m, start)} with {max_teams} teams" if h_m else ""
        raise InfeasibleError(
            f"{n_teams} teams are needed to test everyone by {_clock(h, start)} "
            + (f"(at least {int(bound)}) " if bound < n_teams else "")
            + f"but max_teams is {max_teams}: "
            f"{n_teams - max_teams} more team{'s' if n_teams - max_teams != 1 else ''} of "
            f"{team}{alt}",
            field="max_teams",
            expected=f"max_teams >= {n_teams}"
            + (f" or a deadline of {_clock(h_m, start)}" if h_m else ""),
            min_deadline_min=h_m,
            teams_needed=n_teams,
        )
    plan = _dl_plan(model, rows, w_all, y, h, step, clock, "deadline", start, grid)
    if grid != step:
        plan.notes.append("teams chosen with arrival times rounded up to whole minutes")
    plan.bound = min(bound, plan.objective)
    plan.gap = _gap(plan.objective, plan.bound)
    plan.optimal = plan.gap == 0
    plan.method = "milp" if use_exact else "heuristic"
    if use_exact and not proven:
        plan.notes.append("the MILP stopped at the time limit")
    return _dl_finish(plan, clock)


def _dl_finish(plan: DeadlinePlan, clock: _Clock) -> DeadlinePlan:
    _finish(plan, plan.explanations or [], clock)
    plan.teams = np.array([r.teams for r in plan.explanations], dtype=np.intp)
    return plan


def earliest_finish(
    cost: Any,
    weights: Any,
    teams: int,
    *,
    lanes: int,
    per_lane_per_h: float,
    existing_cost: Any = None,
    existing_per_h: Any = None,
    existing_queue: Any = None,
    setup_min: float = 0.0,
    max_teams_per_site: int = 1,
    resolution_min: float = 1.0,
    horizon_min: float = 14 * 24 * 60.0,
    time_step_min: float | None = None,
    start: datetime | None = None,
    exact: bool | None = None,
    time_limit: float = 60.0,
) -> DeadlinePlan:
    """With ``teams`` mobile teams, the earliest time by which everyone can be tested, and where.

    Binary search on the deadline (to ``resolution_min``) over the feasibility of
    :func:`deadline_plan`'s model with at most ``teams`` teams. Parameters as there.

    Returns
    -------
    DeadlinePlan
        ``objective`` = ``finish_min`` (exact arrival times), ``deadline_min`` = the deadline
        found; ``bound`` = a proven lower bound on the finish (capacity and travel).

    Raises
    ------
    InfeasibleError
        Not even within ``horizon_min`` (e.g. people who cannot reach any site).
    """
    clock = _Clock(_time_limit(time_limit))
    _, step = _dl_args(1.0, time_step_min, start)
    model, rows, w_all = _dl_model(
        cost,
        weights,
        lanes,
        per_lane_per_h,
        existing_cost,
        existing_per_h,
        existing_queue,
        setup_min,
        max_teams_per_site,
    )
    m = model.m
    teams = _whole(
        teams,
        "teams",
        0,
        m * model.max_per_site,
        f"but the {m} candidate sites take at most {model.max_per_site} each",
    )
    res = _number(resolution_min, "resolution_min", strict=True, unit=" minutes")
    horizon = _number(horizon_min, "horizon_min", strict=True, unit=" minutes")
    total = float(model.w.sum())
    # Proven lower bounds: everyone must arrive somewhere, and total capacity must suffice.
    rate_e = float(model.rate[m:].sum())
    rate_t = float(model.rate[0]) * teams if m else 0.0
    setup = float(model.opens[0]) if m else 0.0
    reach = float(np.min(model.cost, axis=1).max())
    cap_lb = (total + model.queue.sum() + rate_t * setup) / max(rate_e + rate_t, 1e-12)
    if rate_e + rate_t <= 0 or not math.isfinite(reach):
        raise InfeasibleError(
            "no capacity can reach everyone: "
            + (
                "some people cannot reach any site"
                if not math.isfinite(reach)
                else "there are no existing sites and no teams"
            ),
            field="teams",
            expected="at least one team or existing site within reach of everyone",
        )
    lo_bound = max(reach, cap_lb)
    use_exact = exact
    if use_exact is None:
        use_exact = model.pairs(lo_bound * 2, step)[0].size <= DEADLINE_EXACT_MAX_PAIRS
    # as in deadline_plan: the heuristic works on a 1-minute grid of arrival times
    grid = step if (use_exact or step is not None) else 1.0
    if not use_exact:
        model.nearest = 30

    def feasible(hh: float) -> np.ndarray | None:
        if _dl_feasible_all(model, hh, grid, clock) < total - 1e-6:
            return None
        got = _dl_min_teams(model, hh, grid, use_exact, clock, max_total=teams)
        if got is None or got[0].sum() > teams:
            return None
        return got[0]

    lo = math.floor(lo_bound / res) * res
    hi = max(lo + res, math.ceil(lo_bound * 1.25 / res) * res)
    y = feasible(hi)
    while y is None:
        if hi > horizon or clock.left() <= 0:
            raise InfeasibleError(
                f"{teams} teams cannot test everyone within {_clock(horizon, start)}",
                field="teams",
                expected="more teams, more lanes, or more candidate sites",
            )
        lo, hi = hi, hi * 2
        y = feasible(hi)
    while hi - lo > res + 1e-9 and clock.left() > 0:
        mid = math.floor((lo + hi) / 2 / res) * res
        if mid <= lo:
            break
        got = feasible(mid)
        if got is None:
            lo = mid
        else:
            hi, y = mid, got
    model.nearest = None
    plan = _dl_plan(model, rows, w_all, y, hi, step, clock, "earliest_finish", start, grid)
    plan.objective = plan.finish_min
    plan.bound = min(lo_bound, plan.finish_min)
    plan.gap = _gap(plan.objective, plan.bound)
    plan.optimal = plan.gap == 0
    plan.method = "milp" if use_exact else "heuristic"
    plan.notes.append(f"deadline searched to {res:g} min")
    return _dl_finish(plan, clock)


# --------------------------------------------------------------------------------------------
# Texts and export
# --------------------------------------------------------------------------------------------


def _reason_text(plan: Plan, r: SiteReason, label: Callable[[int], Any]) -> str:
    u = plan.unit
    alt = f"candidate {label(r.alternative)}" if r.alternative >= 0 else None
    obj = plan.objective
    if plan.problem == "p_median":
        text = f"Nearest site for {_people(r.people)} people (mean {r.mean_cost:.1f} {u})."
        if math.isinf(r.drop):
            text += " Without it some people could not reach any site."
        elif obj and math.isfinite(obj):
            text += (
                f" Without it total travel rises by {r.drop:,.0f} person-{u} (+{r.drop / obj:.1%})."
            )
        if alt and math.isfinite(r.alternative_delta) and obj and math.isfinite(obj):
            text += (
                f" Best swap: {alt} (+{r.alternative_delta:,.0f} person-{u}, "
                f"+{r.alternative_delta / obj:.2%})."
            )
        return text
    if plan.problem in ("max_coverage", "set_cover"):
        text = (
            f"Puts {_people(r.covered)} people within {plan.within:g} {u}; for "
            f"{_people(r.sole)} of them it is the only site in reach."
        )
        if alt:
            if r.alternative_delta <= 1e-9:
                text += f" Best swap: {alt} (reaches as many)."
            else:
                lost = (
                    "fewer people covered" if plan.problem == "max_coverage" else "people left out"
                )
                text += f" Best swap: {alt} ({_people(r.alternative_delta)} {lost})."
        return text
    if plan.problem == "p_center":
        text = f"Nearest site for {_people(r.people)} people (farthest {r.max_cost:.1f} {u})."
        if math.isfinite(r.drop):
            text += f" Without it the worst travel becomes {obj + r.drop:.1f} {u}."
        if alt and math.isfinite(r.alternative_delta):
            text += f" Best swap: {alt} (worst travel {obj + r.alternative_delta:.1f} {u})."
        return text
    # deadline plans
    start = getattr(plan, "start", None)
    text = (
        f"{r.teams} team{'s' if r.teams != 1 else ''}; tests {_people(r.people)} people "
        f"(mean {r.mean_cost:.0f} min to get there), done by {_clock(r.finish_min, start)}."
    )
    if math.isfinite(r.drop):
        text += (
            f" Without it {_people(r.drop)} people would miss the deadline."
            if r.drop > 1e-6
            else " The others could absorb its people."
        )
    if alt and math.isfinite(r.alternative_delta) and r.people > 0:
        text += (
            f" Nearest alternative: {alt} ({r.alternative_delta / r.people:+.1f} min each, "
            "capacity not re-checked)."
        )
    return text


def plan_to_geodataframe(
    plan: Plan,
    candidates_gdf: Any,
    demand_gdf: Any = None,
    *,
    id_column: str = "id",
) -> Any:
    """The chosen sites as points (EPSG:4326) with rank, candidate id, reason and figures.

    Parameters
    ----------
    plan : a plan from any solver here; its candidate columns index ``candidates_gdf`` rows.
    candidates_gdf : the candidates (one row per cost column), any CRS; polygons are represented
        by an interior point.
    demand_gdf : the demand points (one row per cost row), optional: adds ``n_demand`` (demand
        points served) and ``farthest_demand_id``.
    id_column : the id column of both (row numbers as text when missing).

    Returns
    -------
    GeoDataFrame
        Columns: rank, candidate_id, problem, people, covered, sole, drop, alternative_id,
        alternative_delta, mean_cost, max_cost, teams, finish_min, reason, geometry.
    """
    import geopandas as gpd

    if not isinstance(candidates_gdf, gpd.GeoDataFrame):
        raise InputError(
            "candidates must be a GeoDataFrame",
            field="candidates_gdf",
            expected="a GeoDataFrame with one row per cost column",
        )
    if len(candidates_gdf) != plan.n_candidates:
        raise InputError(
            f"candidates has {len(candidates_gdf)} rows but the plan has {plan.n_candidates} "
            "candidate columns",
            field="candidates_gdf",
            expected="the same candidates, in the same order, as the cost matrix columns",
        )
    if candidates_gdf.crs is None:
        raise InputError(
            "candidates have no CRS",
            field="geometry",
            expected="a GeoDataFrame with a CRS (EPSG:4326 for layers)",
        )
    cand = candidates_gdf.to_crs(4326)
    ids = (
        cand[id_column].astype(str).tolist()
        if id_column in cand.columns
        else [str(i) for i in range(len(cand))]
    )
    label = _labeller(ids)
    frame = plan.to_frame(ids)
    geom = cand.geometry.iloc[plan.sites].reset_index(drop=True)
    not_point = ~geom.geom_type.isin(["Point"])
    if not_point.any():
        geom[not_point] = geom[not_point].representative_point()
    out = gpd.GeoDataFrame(
        {
            "rank": frame["rank"].astype(int),
            "candidate_id": frame["candidate"].astype(str),
            "problem": plan.problem,
            "people": frame["people"].astype(float),
            "covered": frame["covered"].astype(float),
            "sole": frame["sole"].astype(float),
            "drop": frame["drop"].astype(float),
            "alternative_id": [label(r.alternative) for r in plan.explanations],
            "alternative_delta": frame["alternative_delta"].astype(float),
            "mean_cost": frame["mean_cost"].astype(float),
            "max_cost": frame["max_cost"].astype(float),
            "teams": frame["teams"].astype(int),
            "finish_min": frame["finish_min"].astype(float),
            "reason": frame["reason"].astype(str),
        },
        geometry=geom.to_numpy(),
        crs="EPSG:4326",
    )
    if demand_gdf is not None:
        if len(demand_gdf) != len(plan.assignment):
            raise InputError(
                f"demand has {len(demand_gdf)} rows but the plan has {len(plan.assignment)} "
                "demand rows",
                field="demand_gdf",
                expected="the same demand points, in the same order, as the cost matrix rows",
            )
        dids = (
            demand_gdf[id_column].astype(str).to_numpy()
            if id_column in demand_gdf.columns
            else np.arange(len(demand_gdf)).astype(str)
        )
        n_dem, far = [], []
        for r in plan.explanations:  # per chosen site, not per demand point
            mine = np.flatnonzero(plan.assignment == r.site)
            n_dem.append(int(mine.size))
            if mine.size and plan.assigned_cost.size == len(plan.assignment):
                far.append(str(dids[mine[np.argmax(plan.assigned_cost[mine])]]))
            else:
                far.append(None)
        out["n_demand"] = n_dem
        out["farthest_demand_id"] = far
    return out
