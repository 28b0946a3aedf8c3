"""The staging objectives: one registry, one name per goal, one typed problem for all.

``OBJECTIVES[name].solve(StagingProblem(...))`` is how the app and the CLI place resources:

- the existing testing sites are open for every goal, are not counted in ``k`` and take part
  in the assignment (their columns are put first and passed as ``fixed``; the plan is then
  written back in candidate columns, with ``assignment_existing`` for the rows they serve);
- demand points with fewer than ``min_people`` people (slivers of cells cut by an area) count
  as empty: they never make a goal infeasible;
- the plan's ``problem`` is the registry name, which also keys the reason texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from geo.errors import InputError
from geo.staging.common import _cost_matrix, _labeller
from geo.staging.coverage import max_coverage
from geo.staging.deadline import deadline_plan
from geo.staging.p_center import p_center
from geo.staging.p_median import p_median
from geo.staging.plan import Plan
from geo.staging.set_cover import set_cover
from geo.staging.texts import reason_text

PARAMS = frozenset({"k", "within", "lanes", "deadline", "capacity"})


@dataclass(frozen=True)
class StagingProblem:
    """Everything a staging goal may need; each goal reads the fields it uses.

    Attributes
    ----------
    cost : (n, m) minutes from demand point i to candidate j (+inf = cannot get there).
    weights : (n,) people per demand point (None = 1 each).
    existing_cost : (n, e) minutes to the existing testing sites (e may be 0; None = none).
    k : new sites (coverage, p-median, p-center).
    within : the time threshold T in minutes (coverage, set cover).
    lanes, per_lane_per_h : one mobile team's lanes and people per lane per hour (deadline).
    existing_per_h, existing_queue : (e,) throughput and people queuing at the existing sites
        (deadline).
    deadline_min : minutes from ``start`` to the deadline (deadline).
    start : the clock time of minute 0 (texts).
    capacity : (m,) people each candidate can serve, e.g. test by the deadline (p-median;
        None = unlimited); ``existing_capacity`` (e,) the same for the existing sites.
    exact, time_limit : passed to the solver (None = automatic; seconds).
    min_people : demand points with fewer people count as empty.
    unit : unit of the costs in texts.
    """

    cost: Any
    weights: Any = None
    existing_cost: Any = None
    k: int = 3
    within: float = 15.0
    lanes: int = 10
    per_lane_per_h: float = 150.0
    existing_per_h: Any = None
    existing_queue: Any = None
    deadline_min: float | None = None
    start: datetime | None = None
    capacity: Any = None
    existing_capacity: Any = None
    exact: bool | None = None
    time_limit: float = 10.0
    min_people: float = 0.5
    unit: str = "min"
    _c: np.ndarray = field(init=False, repr=False, compare=False)
    _e: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        c = _cost_matrix(self.cost)
        n = c.shape[0]
        if self.existing_cost is None or np.size(self.existing_cost) == 0:
            e = np.zeros((n, 0))
        else:
            e = _cost_matrix(self.existing_cost, "existing_cost")
        if e.shape[0] != n:
            raise InputError(
                f"existing_cost has {e.shape[0]} rows but cost has {n}",
                field="existing_cost",
                expected=f"({n}, e): one row per demand point, one column per existing site",
            )
        object.__setattr__(self, "_c", c)
        object.__setattr__(self, "_e", e)

    @property
    def n_existing(self) -> int:
        """Number of existing sites (columns of ``existing_cost``)."""
        return int(self._e.shape[1])

    def people(self) -> np.ndarray | None:
        """Weights with demand points under ``min_people`` set to 0 (None = 1 each)."""
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        if w.shape == (self._c.shape[0],):
            w = np.where(w < self.min_people, 0.0, w)
        return w  # validated (and named in errors) by the solver

    def full_cost(self) -> np.ndarray:
        """Existing columns first, then the candidates: what the solvers see."""
        return np.hstack([self._e, self._c])


@dataclass(frozen=True)
class Objective:
    """One staging goal: its name, a short label for the UI, the parameters it reads
    (among ``PARAMS``), and ``solve(problem) -> Plan``."""

    name: str
    label: str
    params: frozenset[str]
    solve: Callable[[StagingProblem], Plan]


def _to_candidates(plan: Plan, e: int, m: int) -> Plan:
    """A plan solved on [existing | candidates] columns, in candidate columns again."""
    a = np.asarray(plan.assignment)
    existing = np.where((a >= 0) & (a < e), a, -1)
    cand = np.where(a >= e, a - e, -1)
    reasons = []
    for r in plan.explanations:
        alt = r.alternative - e if r.alternative >= e else -1
        reasons.append(dataclasses.replace(r, site=r.site - e, alternative=alt))
    flows = plan.flows
    if len(flows) and "site" in flows:
        flows = flows.copy()
        old = flows["site"].to_numpy() < e
        flows["kind"] = np.where(old, "existing", "new")
        flows["site"] = np.where(old, flows["site"], flows["site"] - e)
    out = dataclasses.replace(
        plan,
        sites=np.asarray(plan.sites) - e,
        assignment=cand.astype(np.intp),
        assignment_existing=existing.astype(np.intp),
        fixed=np.zeros(0, dtype=np.intp),
        n_existing=e,
        n_candidates=m,
        explanations=reasons,
        flows=flows,
    )
    label = _labeller(None)
    for r in out.explanations:  # texts name candidate columns, not the solver's columns
        r.reason = reason_text(out, r, label)
    return out


def _k_sites(problem: StagingProblem, run: Callable[..., Plan]) -> Plan:
    e = problem.n_existing
    plan = run(
        problem.full_cost(),
        problem.people(),
        fixed=np.arange(e),
        exact=problem.exact,
        time_limit=problem.time_limit,
        unit=problem.unit,
    )
    return _to_candidates(plan, e, problem._c.shape[1])


def _coverage(p: StagingProblem) -> Plan:
    return _k_sites(p, lambda c, w, **kw: max_coverage(c, p.k, p.within, w, **kw))


def _p_median(p: StagingProblem) -> Plan:
    cap = None
    if p.capacity is not None:
        e, m = p.n_existing, p._c.shape[1]
        old = (
            np.full(e, np.inf)
            if p.existing_capacity is None
            else np.broadcast_to(np.asarray(p.existing_capacity, dtype=float), (e,))
        )
        cap = np.r_[old, np.broadcast_to(np.asarray(p.capacity, dtype=float), (m,))]
    return _k_sites(p, lambda c, w, **kw: p_median(c, p.k, w, capacity=cap, **kw))


def _p_center(p: StagingProblem) -> Plan:
    return _k_sites(p, lambda c, w, **kw: p_center(c, p.k, w, **kw))


def _set_cover(p: StagingProblem) -> Plan:
    return _k_sites(p, lambda c, w, **kw: set_cover(c, p.within, w, **kw))


def _deadline(p: StagingProblem) -> Plan:
    if p.deadline_min is None:
        raise InputError(
            "a deadline plan needs deadline_min",
            field="deadline",
            expected="minutes from the start to the deadline",
        )
    e = p.n_existing
    return deadline_plan(
        p._c,
        p.people(),
        p.deadline_min,
        lanes=p.lanes,
        per_lane_per_h=p.per_lane_per_h,
        existing_cost=p._e if e else None,
        existing_per_h=p.existing_per_h if e else None,
        existing_queue=p.existing_queue if e else None,
        start=p.start,
        exact=p.exact,
        time_limit=max(p.time_limit, 30.0),
    )


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective(
            "deadline",
            "Everyone tested by the deadline (fewest teams)",
            frozenset({"lanes", "deadline"}),
            _deadline,
        ),
        Objective(
            "coverage",
            "Most people within T minutes (k sites)",
            frozenset({"k", "within"}),
            _coverage,
        ),
        Objective(
            "p_median",
            "Least average travel (k sites)",
            frozenset({"k", "capacity"}),
            _p_median,
        ),
        Objective(
            "p_center",
            "Least worst-case travel (k sites)",
            frozenset({"k"}),
            _p_center,
        ),
        Objective(
            "set_cover",
            "Everyone within T minutes (fewest sites)",
            frozenset({"within"}),
            _set_cover,
        ),
    )
}


def solve(name: str, problem: StagingProblem) -> Plan:
    """``OBJECTIVES[name].solve(problem)``, with an :class:`InputError` for an unknown name."""
    if name not in OBJECTIVES:
        raise InputError(
            f"unknown objective '{name}'", field="objective", expected=", ".join(OBJECTIVES)
        )
    return OBJECTIVES[name].solve(problem)


__all__ = ["OBJECTIVES", "PARAMS", "Objective", "StagingProblem", "solve"]
