"""Analyses on a whole scenario: the one place the app and the CLI ask for results.

Each function takes a :class:`geo.scenario.Scenario` plus parameters and returns plain results
(GeoDataFrames in EPSG:4326); the network is built once per roads layer and cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import catchment, network, staging, timeline
from geo import cordon as cordon_mod
from geo.constants import DEFAULT_RINGS_M, Mode
from geo.errors import InputError
from geo.fingerprint import scenario_hash
from geo.scenario import Scenario

__all__ = [
    "CATCHMENT_KINDS",
    "DEMAND_SCOPES",
    "OBJECTIVES",
    "PLAN_FIGURES",
    "PLAN_INPUTS",
    "RESOURCES",
    "SEVERE",
    "candidates",
    "CatchmentKind",
    "catchments",
    "closed_venues",
    "compare_plans",
    "cordon",
    "demand",
    "demand_area",
    "held_area",
    "isochrones",
    "night",
    "parse_rings",
    "plan_figures",
    "road_network",
    "scope_key",
    "severe_open_incidents",
    "stage",
    "Staging",
    "standing_cordon",
    "standing_plan",
    "StandingPlan",
    "with_deadline",
]

T = TypeVar("T")
CatchmentKind = Literal["voronoi", "travel_time", "balanced"]
CATCHMENT_KINDS: tuple[str, ...] = ("voronoi", "travel_time", "balanced")


def _require(sc: Scenario, kind: str, expected: str) -> gpd.GeoDataFrame:
    """The layer ``kind``, or an InputError saying the scenario has none."""
    gdf = sc.layer(kind)
    if len(gdf) == 0:
        raise InputError(
            f"the scenario has no {kind.replace('_', ' ')}",
            file=sc.source,
            field=kind,
            expected=expected,
        )
    return gdf


def road_network(sc: Scenario) -> network.RoadNetwork:
    """The scenario's road network (built once per roads layer and speeds, then cached)."""
    roads = _require(sc, "roads", "a roads layer (GeoJSON, GeoPackage, Shapefile or OSM .osm.pbf)")
    return network.network_for(
        roads, speeds=dict(sc.settings.drive_speeds_kmh), walk_kmh=float(sc.settings.walk_kmh)
    )


def demand(sc: Scenario, cell_m: float = 250.0, within: Any = None) -> gpd.GeoDataFrame:
    """Demand cells from the scenario's crowd zones (people shared by area).

    ``within`` (a polygon in EPSG:4326, e.g. a cordon's lockdown zone) keeps only the people
    inside it: each cell is cut to it and keeps the share of its people its area keeps.
    """
    cells = catchment.demand_cells(sc.layer("crowd_zones"), cell_m, crs=sc.metric_crs())
    if within is None or len(cells) == 0:
        return cells
    metric = cells.to_crs(sc.metric_crs())
    area = gpd.GeoSeries([within], crs="EPSG:4326").to_crs(sc.metric_crs()).iloc[0]
    cut = metric.geometry.intersection(area)
    share = (cut.area / metric.geometry.area.where(metric.geometry.area > 0)).fillna(0.0)
    keep = share.to_numpy() > 1e-9
    out = metric[keep].copy()
    out["people"] = out["people"] * share[keep]
    out["area_m2"] = cut[keep].area
    out = out.set_geometry(cut[keep]).to_crs("EPSG:4326")
    return out.reset_index(drop=True)


def catchments(
    sc: Scenario,
    kind: CatchmentKind = "travel_time",
    mode: Mode = "walk",
    *,
    cell_m: float = 250.0,
    within: Any = None,
) -> catchment.Catchments:
    """Catchments of the scenario's testing sites over its crowd zones.

    ``voronoi`` is straight-line; ``travel_time`` sends each cell to the site it reaches soonest;
    ``balanced`` respects each site's throughput until the scenario's deadline. ``within``
    limits the demand to an area (see :func:`demand`).
    """
    if kind not in CATCHMENT_KINDS:
        raise InputError(
            f"unknown catchment kind '{kind}'", field="kind", expected=", ".join(CATCHMENT_KINDS)
        )
    sites = _require(sc, "testing_sites", "at least one testing site")
    cells = _people_in(sc, cell_m, within)
    now, deadline = sc.settings.time("now"), sc.settings.time("deadline")
    if kind == "voronoi":
        return catchment.voronoi(
            sites, sc.layer("boundary"), cells, now=now, deadline=deadline, crs=sc.metric_crs()
        )
    net = road_network(sc)
    if kind == "travel_time":
        return catchment.by_travel_time(net, sites, cells, mode, now=now, deadline=deadline)
    if now is None:
        raise InputError(
            "balanced catchments need the scenario's 'now'",
            field="now",
            expected="an ISO 8601 time in scenario.json",
        )
    return catchment.balanced(net, sites, cells, mode, now, deadline)


def isochrones(
    sc: Scenario, mode: Mode = "walk", minutes: tuple[float, ...] = (5, 10, 15, 30)
) -> gpd.GeoDataFrame:
    """Travel-time bands around every testing site."""
    sites = _require(sc, "testing_sites", "at least one testing site")
    return road_network(sc).isochrones(sites, mode, tuple(minutes))


def cordon(
    sc: Scenario,
    incident_ids: Iterable[str] | None = None,
    rings: Sequence[float] | float = DEFAULT_RINGS_M,
    *,
    by: cordon_mod.By = "distance",
    unit: cordon_mod.Unit = "m",
    mode: Mode = "walk",
    incidents: gpd.GeoDataFrame | None = None,
    merge_m: float = 30.0,
    include_footpaths: bool = True,
    cell_m: float | None = None,
    demand_cell_m: float | None = None,
) -> cordon_mod.CordonResult:
    """Bands, people, checkpoints and a summary for incidents of a scenario.

    Parameters
    ----------
    sc : the scenario (roads, crowd zones, settings' ``checkpoint_staff``).
    incident_ids : ids of the incidents to cordon; None = all of them.
    rings : the three limits (metres, or minutes when ``unit="min"``), innermost first.
    by : ``"distance"`` (straight buffers), ``"network"`` (reachable over the roads) or
        ``"drawn"`` (the outlines of the scenario's ``cordons`` layer; ``rings`` is ignored and
        ``incident_ids`` only adds the venue exits of those incidents).
    unit : ``"m"`` or ``"min"`` (``"min"`` only with ``by="network"``).
    mode : ``"walk"`` or ``"drive"`` (network only).
    incidents : incidents to use instead of the scenario's layer (e.g. a point clicked on the
        map); ``incident_ids`` then selects among these.
    merge_m, include_footpaths : see :func:`geo.cordon.checkpoints`.
    cell_m : resolution of network zones (see :func:`geo.cordon.zones_by_network`).
    demand_cell_m : when given, people are interpolated from demand cells of this size
        (:func:`geo.catchment.demand_cells`) instead of whole crowd zones.

    Returns
    -------
    :class:`geo.cordon.CordonResult` ``(bands, checkpoints, summary)``; ``bands`` carries
    ``people``; ``summary`` is :func:`geo.cordon.summarize`'s dict plus the request.
    """
    if by not in ("distance", "network", "drawn"):
        raise InputError(
            f"unknown cordon method '{by}'", field="by", expected="distance, network or drawn"
        )
    if unit not in ("m", "min"):
        raise InputError(f"unknown unit '{unit}'", field="unit", expected="m or min")
    if by == "distance" and unit != "m":
        raise InputError(
            "straight-distance zones are measured in metres",
            field="unit",
            expected="m (or by='network' for minutes)",
        )
    source = sc.layer("incidents") if incidents is None else incidents
    crs = sc.metric_crs()
    if by == "drawn":
        # The outlines are the zones; chosen incidents only add their venue exits.
        sel = (
            cordon_mod.select_incidents(source, incident_ids, sc.source)
            if incident_ids
            else source[:0]
        )
        bands = cordon_mod.zones_from_outlines(sc.layer("cordons"), crs=crs)
    elif by == "distance":
        sel = cordon_mod.select_incidents(source, incident_ids, sc.source)
        bands = cordon_mod.zones_by_distance(sel, rings, crs=crs)
    else:
        sel = cordon_mod.select_incidents(source, incident_ids, sc.source)
        bands = cordon_mod.zones_by_network(
            road_network(sc), sel, rings, unit=unit, mode=mode, cell_m=cell_m
        )
    cells = None
    if demand_cell_m is not None:
        cells = catchment.demand_cells(sc.layer("crowd_zones"), demand_cell_m, crs=crs)
    bands = cordon_mod.people_in_zones(bands, sc.layer("crowd_zones"), cells, crs=crs)
    cps = cordon_mod.checkpoints(
        bands,
        sc.layer("roads"),
        staff=sc.settings.checkpoint_staff,
        merge_m=merge_m,
        include_footpaths=include_footpaths,
        incidents=sel,
        crs=crs,
    )
    summary: cordon_mod.CordonSummary = {
        "by": by,
        "unit": unit,
        "mode": mode if by == "network" else None,
        "rings": []
        if by == "drawn"
        else [float(x) for x in np.atleast_1d(np.asarray(rings, dtype=float))],
        "incident_ids": sel["id"].astype(str).tolist(),
        **cordon_mod.summarize(bands, cps),
    }
    return cordon_mod.CordonResult(bands, cps, summary)


def parse_rings(text: str) -> tuple[float, ...]:
    """``"500,2000,5000"`` -> (500.0, 2000.0, 5000.0), or an InputError saying what is wrong."""
    try:
        values = tuple(float(v) for v in str(text).replace(";", ",").split(",") if v.strip())
    except ValueError as exc:
        raise InputError(
            f"'{text}' is not a list of numbers",
            field="rings",
            expected="three increasing numbers such as 500,2000,5000",
        ) from exc
    if not values:
        raise InputError(
            "no rings given",
            field="rings",
            expected="three increasing numbers such as 500,2000,5000",
        )
    return values


#: An incident at least this severe gets the standing cordon (and closes its venues).
SEVERE = 4


def severe_open_incidents(sc: Scenario, min_severity: int = SEVERE) -> gpd.GeoDataFrame:
    """The open incidents of at least ``min_severity``: the ones the standing plan answers."""
    inc = sc.layer("incidents")
    if len(inc) == 0:
        return inc
    open_ = inc["status"].fillna("open") == "open"
    return inc[(open_ & (inc["severity"].astype(float) >= min_severity)).to_numpy(dtype=bool)]


def standing_cordon(sc: Scenario, min_severity: int = SEVERE) -> cordon_mod.CordonResult | None:
    """The cordon the wall screen shows without anyone running an analysis.

    A cordon drawn by hand (the scenario's ``cordons`` layer) wins: it is what the commander
    decided. Otherwise the rings (``settings.extra["cordon_rings_m"]``, straight distance) around
    the open incidents of at least ``min_severity``; None when there is neither.
    """
    ids = [str(i) for i in severe_open_incidents(sc, min_severity)["id"]]
    if len(sc.layer("cordons")):
        return cordon(sc, ids, by="drawn")
    if not ids:
        return None
    rings = tuple(sc.settings.extra.get("cordon_rings_m", DEFAULT_RINGS_M))
    return cordon(sc, ids, rings, by="distance")


def closed_venues(sc: Scenario, min_severity: int = SEVERE) -> tuple[str, ...]:
    """The venues the open severe incidents close (their ``closes`` column, ';'-separated)."""
    inc = severe_open_incidents(sc, min_severity)
    if "closes" not in inc.columns:
        return ()
    names = [v.strip() for text in inc["closes"].dropna() for v in str(text).split(";")]
    return tuple(dict.fromkeys(v for v in names if v))


@dataclass(frozen=True)
class StandingPlan:
    """The plan every screen shows without anyone running an analysis: one computation, read
    by the wall, the replay, the workbench and the CLI.

    Attributes
    ----------
    cordon : the standing cordon (:func:`standing_cordon`), or None.
    lockdown : its lockdown zone (a polygon, EPSG:4326), or None.
    venues : the venues closed by the severe incidents (:func:`closed_venues`).
    held : where people are held and must be tested: the lockdown zone plus every crowd zone of
        a closed venue (on 31 Oct 2021 everyone inside the resort was held, also outside the
        500 m ring); None without either.
    people : the people to test: in ``held`` (everyone in the crowd zones when ``held`` is
        None).
    people_lockdown, people_venues : of which in the lockdown zone, and in the closed venues
        outside it.
    catchments : the capacity-balanced catchments of those people (walking), or None.
    problem : why there are no catchments (no testing sites, no 'now', ...), to be shown; never
        swallowed.
    """

    cordon: cordon_mod.CordonResult | None
    lockdown: BaseGeometry | None
    venues: tuple[str, ...]
    held: BaseGeometry | None
    people: float
    people_lockdown: float
    people_venues: float
    catchments: catchment.Catchments | None
    problem: InputError | None = None

    @property
    def detail(self) -> str:
        """Where the people to test are, in a few words (the wall's first tile)."""
        if self.held is None:
            return "everyone in the crowd zones (no severe incident)"
        text = f"lockdown zone {self.people_lockdown:,.0f}"
        return text + (f" · closed venues {self.people_venues:,.0f}" if self.venues else "")


_PLANS: OrderedDict[tuple[str, str], Any] = OrderedDict()
_PLANS_KEPT = 8


def _cached(kind: str, key: str, make: Callable[[], T]) -> T:
    """``make()``, kept under ``(kind, key)`` among the last few results of any kind."""
    hit = _PLANS.get((kind, key))
    if hit is not None:
        _PLANS.move_to_end((kind, key))
        return hit
    value = make()
    _PLANS[(kind, key)] = value
    while len(_PLANS) > _PLANS_KEPT:
        _PLANS.popitem(last=False)
    return value


#: The layers the standing plan reads (its cache key is their content and the settings).
PLAN_INPUTS = ("incidents", "cordons", "crowd_zones", "roads", "testing_sites", "boundary")


def standing_plan(sc: Scenario, *, mode: Mode = "walk", cell_m: float = 250.0) -> StandingPlan:
    """The standing plan of ``sc`` (see :class:`StandingPlan`), computed once per content of its
    inputs (:data:`PLAN_INPUTS` and the settings) and cached, so every rerun of every screen
    shares it.

    Examples
    --------
    >>> from geo import scenario
    >>> plan = standing_plan(scenario.demo())
    >>> plan.venues, round(plan.people, -2)
    (('Shanghai Disney Resort',), 34300.0)
    >>> standing_plan(scenario.demo()) is plan  # cached on the content
    True
    """
    key = scenario_hash(sc, PLAN_INPUTS, extra=(mode, cell_m))
    return _cached("plan", key, lambda: _standing_plan(sc, mode, cell_m))


def night(sc: Scenario) -> timeline.Timeline:
    """The night simulated from the standing plan (:func:`geo.timeline.build`): everyone held
    walks to the site the plan's catchments send them to; cached like the plan.

    Raises
    ------
    InputError : the plan has no catchments (its ``problem`` says why).
    """
    plan = standing_plan(sc)
    if plan.catchments is None:
        raise plan.problem or InputError("there is nothing to replay", field="testing_sites")
    key = scenario_hash(sc, PLAN_INPUTS, extra="night")
    return _cached(
        "night", key, lambda: timeline.build(sc, plan.catchments, plan.cordon, detail=plan.detail)
    )


def _standing_plan(sc: Scenario, mode: Mode, cell_m: float) -> StandingPlan:
    cordon_result = standing_cordon(sc)
    lockdown = None
    if cordon_result is not None:
        lockdown = cordon_result.bands.set_index("band").geometry.get("lockdown")
        if lockdown is not None and lockdown.is_empty:
            lockdown = None
    venues = closed_venues(sc)
    zones = sc.layer("crowd_zones")
    in_venue = (
        zones["venue"].isin(venues).to_numpy(dtype=bool)
        if venues and "venue" in zones.columns
        else np.zeros(len(zones), dtype=bool)
    )
    parts = ([lockdown] if lockdown is not None else []) + list(zones.geometry[in_venue])
    held = shapely.union_all(parts) if parts else None
    cells = demand(sc, cell_m, held)
    people = float(cells["people"].sum()) if len(cells) else 0.0
    people_lockdown = (
        float(cordon_result.summary["people"].get("lockdown", 0.0)) if cordon_result else 0.0
    )
    catch, problem = None, None
    try:
        catch = catchments(sc, "balanced", mode, cell_m=cell_m, within=held)
    except InputError as exc:
        problem = exc
    return StandingPlan(
        cordon=cordon_result,
        lockdown=lockdown,
        venues=venues,
        held=held,
        people=people,
        people_lockdown=min(people_lockdown, people),
        people_venues=max(people - people_lockdown, 0.0),
        catchments=catch,
        problem=problem,
    )


#: Whose demand an analysis serves (catchments, staging): its key in URLs and the CLI, and label.
DEMAND_SCOPES: dict[str, str] = {
    "held": "People to test (lockdown zone and closed venues)",
    "all": "Everyone in the crowd zones",
}
#: Older names of the scopes, still read from links and scripts.
_SCOPE_ALIASES = {"lockdown": "held"}


def scope_key(text: str) -> str:
    """The scope named ``text`` (a key of :data:`DEMAND_SCOPES`, or an older name)."""
    key = _SCOPE_ALIASES.get(text, text)
    if key not in DEMAND_SCOPES:
        raise InputError(
            f"unknown demand '{text}'", field="demand", expected=", ".join(DEMAND_SCOPES)
        )
    return key


def demand_area(sc: Scenario, scope: str) -> tuple[BaseGeometry | None, str | None]:
    """The area whose people an analysis serves, and a note when it falls back to everyone.

    ``"held"``: the standing plan's held area (the lockdown zone and the closed venues);
    ``"all"``: None (everyone in the crowd zones).
    """
    if scope_key(scope) == "all":
        return None, None
    held = standing_plan(sc).held
    if held is None:
        return None, "No open incident of severity 4-5, so nobody is held: everyone is counted."
    return held, None


def held_area(sc: Scenario) -> BaseGeometry:
    """Where the people to test are (the standing plan's ``held`` area: the lockdown zone and
    the closed venues), or an InputError when no open incident is severe enough to have one."""
    held = standing_plan(sc).held
    if held is None:
        raise InputError(
            "no open incident of severity 4-5, so nobody is held",
            field="demand",
            expected="everyone in the crowd zones instead",
        )
    return held


# --- staging ----------------------------------------------------------------------------------

#: The staging goals: the keys of the registry (geo.staging.OBJECTIVES holds labels and solvers).
OBJECTIVES: tuple[str, ...] = tuple(staging.OBJECTIVES)
RESOURCES: dict[str, str] = {
    "testing_team": "Mobile testing team",
    "checkpoint": "Checkpoint team",
    "ambulance": "Ambulance",
}


@dataclass
class Staging:
    """A staging plan on a scenario: the solver's plan, the chosen sites as points, and the
    situation before (existing testing sites only) and after (plus the chosen sites)."""

    plan: Any
    sites: gpd.GeoDataFrame
    before: dict[str, float]
    after: dict[str, float]
    demand: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame


def candidates(sc: Scenario) -> gpd.GeoDataFrame:
    """Where resources may be staged: facilities of kind ``staging_candidate`` (else all)."""
    fac = sc.layer("facilities")
    cand = fac[fac["kind"] == "staging_candidate"]
    if len(cand) == 0:
        cand = fac
    if len(cand) == 0:
        raise InputError(
            "the scenario has no staging candidates",
            file=sc.source,
            field="facilities",
            expected="facilities of kind staging_candidate",
        )
    return cand.reset_index(drop=True)


def _coverage_stats(cost: np.ndarray, w: np.ndarray, within: float) -> dict[str, float]:
    if cost.shape[1] == 0:
        return {"covered_pct": 0.0, "mean_min": float("nan"), "max_min": float("nan")}
    best = cost.min(axis=1)
    ok = np.isfinite(best)
    total = float(w.sum()) or 1.0
    return {
        "covered_pct": 100.0 * float(w[best <= within].sum()) / total,
        "mean_min": float((best[ok] * w[ok]).sum() / max(float(w[ok].sum()), 1e-12)),
        "max_min": float(best[ok & (w > 0)].max()) if (ok & (w > 0)).any() else float("nan"),
    }


def _people_in(sc: Scenario, cell_m: float, within: Any) -> gpd.GeoDataFrame:
    """Demand cells in ``within`` (see :func:`demand`), or an InputError when there are none."""
    cells = demand(sc, cell_m, within)
    if len(cells) == 0:
        raise InputError(
            "no people to serve in the chosen area",
            field="crowd_zones",
            expected="crowd zones overlapping the area",
        )
    return cells


def _flow_stats(flows: pd.DataFrame, w: np.ndarray, within: float) -> dict[str, float]:
    """Coverage, mean and worst travel of people split between sites (``people``, ``cost``)."""
    cost = flows["cost"].to_numpy(dtype=float)
    people = flows["people"].to_numpy(dtype=float)
    total = float(w.sum()) or 1.0
    ok = np.isfinite(cost) & (people > 1e-9)
    return {
        "covered_pct": 100.0 * float(people[ok & (cost <= within)].sum()) / total,
        "mean_min": float((cost[ok] * people[ok]).sum() / max(people[ok].sum(), 1e-12)),
        "max_min": float(cost[ok].max()) if ok.any() else float("nan"),
    }


def _served_stats(plan: Any, w: np.ndarray, within: float) -> dict[str, float]:
    """Coverage, mean and worst travel of the plan's own final assignment (existing and new
    sites; split flows when a capacitated plan shares people out), so that the tiles and the
    sites' table read the same assignment."""
    flows = getattr(plan, "flows", None)
    if flows is not None and len(flows) and {"people", "cost"} <= set(flows.columns):
        return _flow_stats(flows, w, within)
    assigned = np.asarray(plan.assigned_cost, dtype=float)
    return _coverage_stats(assigned[:, None], w, within)


def stage(
    sc: Scenario,
    objective: str = "coverage",
    *,
    k: int = 3,
    within_min: float = 15.0,
    mode: Mode = "walk",
    lanes: int = 10,
    per_lane_per_h: float | None = None,
    cell_m: float = 250.0,
    within: Any = None,
    exact: bool | None = None,
    capacity: bool = False,
) -> Staging:
    """Where to stage ``k`` resources (or, for ``deadline`` and ``set_cover``, the fewest).

    Demand is the crowd zones' people in cells (optionally only ``within`` an area such as the
    standing plan's held area); candidates are the scenario's staging candidates; costs are
    road travel minutes by ``mode``. The existing testing sites are open for every goal (not
    counted in ``k``) and are the "before". With ``capacity`` (testing teams: sites have
    lanes), each site serves at most the people it can test by the scenario's deadline
    (p-median). The objective is a key of the registry :data:`geo.staging.OBJECTIVES`.
    """
    goal = staging.OBJECTIVES.get(objective)
    if goal is None:
        raise InputError(
            f"unknown objective '{objective}'",
            field="objective",
            expected=", ".join(staging.OBJECTIVES),
        )
    net = road_network(sc)
    cells = _people_in(sc, cell_m, within)
    pts = cells.copy()
    pts["geometry"] = cells.to_crs(sc.metric_crs()).representative_point().to_crs(4326)
    cand = candidates(sc)
    w = pts["people"].to_numpy(dtype=float)
    cost = net.travel_time_matrix(pts, cand, mode).to_numpy(dtype=float) / 60.0
    sites = sc.layer("testing_sites")
    existing = (
        net.travel_time_matrix(pts, sites, mode).to_numpy(dtype=float) / 60.0
        if len(sites)
        else np.zeros((len(pts), 0))
    )
    now, deadline = sc.settings.time("now"), sc.settings.time("deadline")
    if "deadline" in goal.params and (now is None or deadline is None):
        raise InputError(
            f"a {objective.replace('_', ' ')} plan needs the scenario's 'now' and 'deadline'",
            field="deadline",
            expected="ISO 8601 times in scenario.json",
        )
    deadline_min = (
        (deadline - now).total_seconds() / 60.0
        if now is not None and deadline is not None
        else None
    )
    per_lane = float(per_lane_per_h or sc.settings.per_lane_per_h)
    site_per_h = (sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)).to_numpy()
    queue = np.zeros(len(sites))
    if now is not None and len(sites):
        # A site that opens late is, for the deadline, a site with that much work queued already.
        late_s = (sites["opens_at"] - now).dt.total_seconds().fillna(0.0).clip(lower=0.0)
        queue = (sites["queue"].astype(float).fillna(0.0) + late_s / 3600.0 * site_per_h).to_numpy()
    cap = old_cap = None
    if capacity and "capacity" in goal.params and deadline_min is not None:
        hours = deadline_min / 60.0
        cap = np.full(len(cand), float(lanes) * per_lane * hours)  # one mobile team per site
        old_cap = np.maximum(site_per_h * hours - queue, 0.0)
    plan = goal.solve(
        staging.StagingProblem(
            cost=cost,
            weights=w,
            existing_cost=existing,
            k=int(k),
            within=float(within_min),
            lanes=int(lanes),
            per_lane_per_h=per_lane,
            existing_per_h=site_per_h,
            existing_queue=queue,
            deadline_min=deadline_min,
            start=now.to_pydatetime() if now is not None else None,
            capacity=cap,
            existing_capacity=old_cap,
            exact=exact,
        )
    )
    chosen_sites = staging.plan_to_geodataframe(plan, cand, pts)
    if "name" in cand.columns and "name" not in chosen_sites.columns:
        names = cand.set_index(cand["id"].astype(str))["name"]
        chosen_sites.insert(2, "name", chosen_sites["candidate_id"].astype(str).map(names))
    return Staging(
        plan=plan,
        sites=chosen_sites,
        # With capacities the "before" is capacity-bound too: the same rules as the "after".
        before=_flow_stats(staging.capacitated_assignment(existing, w, old_cap), w, within_min)
        if old_cap is not None
        else _coverage_stats(existing, w, within_min),
        after=_served_stats(plan, w, within_min),
        demand=pts,
        candidates=cand,
    )


def with_deadline(sc: Scenario, clock: str) -> Scenario:
    """``sc`` with its deadline set to ``clock`` ("23:00", or a full ISO 8601 time); a bare
    clock time is the next such time after the scenario's 'now'."""
    from dataclasses import replace

    import pandas as pd

    now = sc.settings.time("now") or pd.Timestamp.now(tz=sc.settings.timezone)
    try:
        if len(clock) <= 5 and ":" in clock:
            h, m = (int(x) for x in clock.split(":"))
            t = now.normalize() + pd.Timedelta(hours=h, minutes=m)
            if t <= now:
                t += pd.Timedelta(days=1)
        else:
            t = pd.Timestamp(clock)
            t = t.tz_localize(sc.settings.timezone) if t.tzinfo is None else t
    except ValueError as exc:
        raise InputError(
            f"'{clock}' is not a time",
            field="deadline",
            expected="HH:MM such as 23:00, or ISO 8601",
        ) from exc
    return replace(sc, settings=replace(sc.settings, deadline=t.isoformat()))


# --- comparing plans --------------------------------------------------------------------------

PLAN_FIGURES: dict[str, str] = {
    "new_sites": "New sites",
    "teams": "Mobile teams",
    "covered_pct": "People within T (%)",
    "mean_min": "Mean travel (min)",
    "max_min": "Worst travel (min)",
    "finish": "Everyone tested at",
    "gap_pct": "Gap to optimum (%)",
}


def plan_figures(plan: Staging) -> dict[str, Any]:
    """The figures two plans are compared on (``PLAN_FIGURES``); missing ones are None."""
    p = plan.plan
    finish = getattr(p, "finish_min", None)
    clock = getattr(p, "clock", None)
    gap = float(p.gap) if p.gap is not None and np.isfinite(p.gap) else None
    return {
        "new_sites": len(plan.sites),
        "teams": int(getattr(p, "n_teams", len(plan.sites))),
        "covered_pct": float(plan.after["covered_pct"]),
        "mean_min": float(plan.after["mean_min"]),
        "max_min": float(plan.after["max_min"]),
        "finish": clock(finish) if finish is not None and np.isfinite(finish) and clock else None,
        "gap_pct": None if gap is None else 100.0 * gap,
    }


def compare_plans(a: Staging, b: Staging) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Two plans side by side.

    Returns
    -------
    (table, sites): ``table`` has one row per figure (``PLAN_FIGURES``) with columns ``A``, ``B``
    and ``B - A`` (numbers only); ``sites`` lists candidate ids ``in_both``, ``only_a``,
    ``only_b`` (in rank order).
    """
    fa, fb = plan_figures(a), plan_figures(b)
    rows = []
    for key, label in PLAN_FIGURES.items():
        va, vb = fa[key], fb[key]
        numeric = isinstance(va, int | float) and isinstance(vb, int | float)
        rows.append(
            {
                "figure": label,
                "A": va,
                "B": vb,
                "B - A": (vb - va) if numeric and np.isfinite(va) and np.isfinite(vb) else None,
            }
        )
    ids_a = [str(x) for x in a.sites.get("candidate_id", pd.Series(dtype=str))]
    ids_b = [str(x) for x in b.sites.get("candidate_id", pd.Series(dtype=str))]
    sites = {
        "in_both": [i for i in ids_a if i in ids_b],
        "only_a": [i for i in ids_a if i not in ids_b],
        "only_b": [i for i in ids_b if i not in ids_a],
    }
    return pd.DataFrame(rows), sites
