"""Deadline plans: the fewest mobile teams so that everyone is tested by a deadline."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.staging.common import (
    DEADLINE_EXACT_MAX_PAIRS,
    _Clock,
    _clock,
    _gap,
    _number,
    _people,
    _time_limit,
    _whole,
)
from geo.staging.deadline_model import _dl_model, _DLModel, _LPResult
from geo.staging.plan import DeadlinePlan, Flows, InfeasibleError, SiteReason, build_plan

__all__ = [
    "deadline_plan",
    "earliest_finish",
]


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
    used = np.bincount(nd.pj, weights=x, minlength=model.n_sites)[:m]
    y[np.bincount(nd.pj, minlength=model.n_sites)[:m] == 0] = 0  # cannot be reached in time
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
        used = np.bincount(nd.pj, weights=x, minlength=model.n_sites)[:m]
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
        if not res.ok:
            return None
        return np.round(res.y).astype(np.intp), res.status == 0
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
    firsts = nd.first & (nd.nsite < m)
    per_team[nd.nsite[firsts]] = nd.cap[firsts]
    best = float(per_team.max(initial=0.0))
    bound = float(math.ceil(rest / best - 1e-9)) if best > 0 and rest > 1e-6 else 0.0
    if nd.pi.size <= DEADLINE_EXACT_MAX_PAIRS and clock.left() > 0:
        full = np.full(m, float(model.max_per_site))
        res = model.solve(h, step, "teams", np.zeros(m), full, False, clock.left(), down=True)
        if res.ok and res.status == 0 and res.fun is not None:
            bound = max(bound, float(math.ceil(res.fun - 1e-6)))
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
    grid: float | None,
    *,
    bound: float,
    method: str,
    notes: list[str],
) -> DeadlinePlan:
    """The plan for teams ``y``: assignment (least travel), finish times and explanations.

    ``grid``: arrival rounding the teams were chosen with (max-flow checks use it too);
    ``bound``: the proven lower bound on the objective (teams, or the finish for
    ``earliest_finish``)."""
    m, ns = model.m, model.n_sites
    yf = y.astype(float)
    total = float(model.w.sum())
    # Least person-minutes among the open sites (each row's 10 nearest open ones when big).
    mask = np.r_[y > 0, np.ones(ns - m, dtype=bool)]
    big = len(model.w) * int(mask.sum()) > 50_000
    res: _LPResult | None = None
    for near in [10, None] if big else [None]:
        sub = dataclasses.replace(model, site_mask=mask, nearest=near)
        res = sub.solve(h, step, "travel", yf, yf, False, max(clock.left(), 5.0))
        if res.ok and res.status == 0 and res.flow >= total - 1e-6 * max(total, 1):
            break
        res = None
    if res is not None:
        pi, pj, x = res.pi, res.pj, res.x
    else:  # the LP gave up (time, numerics): any feasible assignment, from the max-flow
        _, nd, x = model.maxflow(h, grid, y)
        pi, pj = nd.pi, nd.pj
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
    objective = finish if problem == "earliest_finish" else float(y.sum())
    bound = min(bound, objective)
    plan = build_plan(
        problem,
        weights=w_all,
        assignment=assign,
        assigned_cost=acost,
        objective=objective,
        bound=bound,
        sense="min",
        method=method,
        optimal=_gap(objective, bound) == 0,
        reasons=reasons,
        clock=clock,
        k=int((y > 0).sum()),
        n_candidates=m,
        unit="min",
        notes=notes,
        flows=Flows(pi, pj, x, model.cost[pi, pj]),
        uncovered=float(total - x.sum()) if total - x.sum() > 1e-6 * total else 0.0,
        mean_cost=mean_all,
        max_cost=max_all if ok_rows.size else math.nan,
        cls=DeadlinePlan,
        n_teams=int(y.sum()),
        deadline_min=float(h),
        finish_min=finish,
        time_step_min=step or 0.0,
        existing_people=load[m:],
        existing_finish_min=fin[m:],
        assignment_existing=assign_e,
        n_existing=ns - m,
        flows_table=flows,
        start=start,
    )
    assert isinstance(plan, DeadlinePlan)
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

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[5.0, 30.0], [30.0, 5.0]])  # two groups, a candidate near each
    >>> plan = deadline_plan(cost, [100, 100], 70, lanes=1, per_lane_per_h=120)
    >>> plan.n_teams, plan.optimal, plan.finish_min <= 70  # 100 people need 50 min per team
    (2, True, True)

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
    notes = []
    if grid != step:
        notes.append("teams chosen with arrival times rounded up to whole minutes")
    if use_exact and not proven:
        notes.append("the MILP stopped at the time limit")
    method = "milp" if use_exact else "heuristic"
    return _dl_plan(
        model,
        rows,
        w_all,
        y,
        h,
        step,
        clock,
        "deadline",
        start,
        grid,
        bound=bound,
        method=method,
        notes=notes,
    )


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

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[5.0, 30.0], [30.0, 5.0]])
    >>> plan = earliest_finish(cost, [100, 100], 1, lanes=1, per_lane_per_h=120)
    >>> plan.n_teams, round(plan.finish_min)  # one team, 200 people at 2 a minute
    (1, 105)

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
    return _dl_plan(
        model,
        rows,
        w_all,
        y,
        hi,
        step,
        clock,
        "earliest_finish",
        start,
        grid,
        bound=lo_bound,
        method="milp" if use_exact else "heuristic",
        notes=[f"deadline searched to {res:g} min"],
    )


# --------------------------------------------------------------------------------------------
# Texts and export
# --------------------------------------------------------------------------------------------
