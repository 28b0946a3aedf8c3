"""Plan, DeadlinePlan, SiteReason, InfeasibleError, and the plan builder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.staging.common import _Clock, _clock, _gap, _labeller
from geo.staging.texts import reason_text as _reason_text

__all__ = [
    "build_plan",
    "DeadlinePlan",
    "Flows",
    "InfeasibleError",
    "Plan",
    "site_figures",
    "SiteReason",
]


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
    problem : the objective's registry name (:data:`geo.staging.OBJECTIVES`): "coverage",
        "p_median", "p_center", "set_cover", "deadline"; or "earliest_finish".
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
    assignment_existing : per demand row, the existing site serving it (the most of its people)
        when that is an existing site, else -1 (plans made through the registry or deadline
        plans; ``assignment`` then holds -1 for that row).
    n_existing : existing sites that were open and took part in the assignment.
    capacitated : True when sites had capacities (people may then be split between sites:
        ``flows`` says how, ``assignment`` gives each row's main site).
    flows : one row per (demand, site) pair used when people are split: demand, kind
        ("new"/"existing"), site, people, and the cost of the pair.
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
    assignment_existing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    n_existing: int = 0
    capacitated: bool = False
    flows: pd.DataFrame = field(default_factory=pd.DataFrame)

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
    start: datetime | None = None

    def clock(self, minutes: float) -> str:
        """A time ``minutes`` after the start, as a clock time when ``start`` is known."""
        return _clock(minutes, self.start)


# --------------------------------------------------------------------------------------------
# The one builder of plans
# --------------------------------------------------------------------------------------------


@dataclass
class Flows:
    """People split between sites: per used (demand row, site column) pair, people and cost."""

    rows: np.ndarray
    cols: np.ndarray
    people: np.ndarray
    cost: np.ndarray


def site_figures(
    site: int,
    w: np.ndarray,
    assignment: np.ndarray,
    assigned_cost: np.ndarray,
    flows: Flows | None = None,
) -> tuple[float, float, float]:
    """(people, people-weighted mean cost, max cost) of one site in the final assignment."""
    if flows is not None:
        mine = (flows.cols == site) & (flows.people > 1e-9)
        people = float(flows.people[mine].sum())
        if people <= 0:
            return 0.0, math.nan, math.nan
        mean = float(flows.people[mine] @ flows.cost[mine]) / people
        return people, mean, float(flows.cost[mine].max())
    mine = (assignment == site) & (w > 0)
    people = float(w[mine].sum())
    if people <= 0:
        return 0.0, math.nan, math.nan
    d = assigned_cost[mine]
    return people, float(np.average(d, weights=w[mine])), float(d.max())


def build_plan(
    problem: str,
    *,
    weights: np.ndarray,
    assignment: np.ndarray,
    assigned_cost: np.ndarray,
    objective: float,
    bound: float,
    sense: str,
    method: str,
    optimal: bool,
    reasons: list[SiteReason],
    clock: _Clock,
    k: int,
    n_candidates: int,
    fixed: np.ndarray | None = None,
    unit: str = "min",
    within: float | None = None,
    notes: list[str] | None = None,
    flows: Flows | None = None,
    uncovered: float | None = None,
    mean_cost: float | None = None,
    max_cost: float | None = None,
    site_stats: bool = True,
    cls: type[Plan] = Plan,
    flows_table: pd.DataFrame | None = None,
    **extra: Any,
) -> Plan:
    """Make a :class:`Plan` (or ``cls``) once, complete: figures, gap, ranks, texts, time.

    The overall figures (uncovered people, mean and max cost) and, with ``site_stats``, each
    site's people / mean / max come from the same final assignment (``assignment`` and
    ``assigned_cost``, or ``flows`` when people are split), so the table and the totals agree.
    Sites are ranked by how much the objective suffers without them. ``extra`` goes to ``cls``.
    """
    w = weights
    pos = w > 0
    served = pos & np.isfinite(assigned_cost) & (assignment >= 0)
    if "assignment_existing" in extra:
        served |= pos & (extra["assignment_existing"] >= 0) & np.isfinite(assigned_cost)
    if uncovered is None:
        uncovered = float(w[pos & ~served].sum())
    if mean_cost is None:
        mean_cost = (
            float(np.average(assigned_cost[served], weights=w[served]))
            if served.any()
            else math.nan
        )
    if max_cost is None:
        max_cost = float(assigned_cost[pos].max()) if uncovered == 0 and pos.any() else math.inf
    if site_stats:
        for r in reasons:
            r.people, r.mean_cost, r.max_cost = site_figures(
                r.site, w, assignment, assigned_cost, flows
            )
    order = sorted(
        range(len(reasons)),
        key=lambda i: (-np.nan_to_num(reasons[i].drop, nan=-1.0, posinf=1e300), reasons[i].site),
    )
    ranked = [reasons[i] for i in order]
    for rank, sr in enumerate(ranked, 1):
        sr.rank = rank
    if issubclass(cls, DeadlinePlan):
        extra["teams"] = np.array([sr.teams for sr in ranked], dtype=np.intp)
    if math.isfinite(objective) and math.isfinite(bound):
        bound = min(bound, objective) if sense == "min" else max(bound, objective)
    if optimal and math.isfinite(objective):
        bound = objective  # proven within the solvers' tolerance (1e-9 relative): gap 0
    plan = cls(
        problem=problem,
        sites=np.array([sr.site for sr in ranked], dtype=np.intp),
        assignment=np.asarray(assignment, dtype=np.intp),
        objective=float(objective),
        bound=float(bound),
        sense=sense,
        gap=_gap(objective, bound),
        method=method,
        optimal=bool(optimal),
        explanations=ranked,
        fixed=np.zeros(0, dtype=np.intp) if fixed is None else np.asarray(fixed, dtype=np.intp),
        k=int(k),
        within=within,
        people=float(w.sum()),
        uncovered=float(uncovered),
        mean_cost=float(mean_cost),
        max_cost=float(max_cost),
        unit=unit,
        n_candidates=int(n_candidates),
        assigned_cost=np.asarray(assigned_cost, dtype=float),
        notes=list(notes or []),
        capacitated=flows is not None and problem == "p_median",
        flows=flows_table if flows_table is not None else pd.DataFrame(),
        **extra,
    )
    for sr in ranked:
        sr.reason = _reason_text(plan, sr, _labeller(None))
    plan.solve_time_s = clock.elapsed()
    return plan
