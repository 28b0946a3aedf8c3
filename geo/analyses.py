"""Analyses on a whole scenario: the one place the app and the CLI ask for results.

Each function takes a :class:`geo.scenario.Scenario` plus parameters and returns plain results
(GeoDataFrames in EPSG:4326); the network is built once per roads layer and cached.
"""

from __future__ import annotations

from typing import Any, Literal

import geopandas as gpd

from geo import catchment, network
from geo.errors import InputError
from geo.scenario import Scenario

CatchmentKind = Literal["voronoi", "travel_time", "balanced"]
Mode = Literal["walk", "drive"]
CATCHMENT_KINDS: tuple[str, ...] = ("voronoi", "travel_time", "balanced")


def road_network(sc: Scenario) -> network.RoadNetwork:
    """The scenario's road network (built once per roads layer and speeds, then cached)."""
    roads = sc.layer("roads")
    if len(roads) == 0:
        raise InputError(
            "the scenario has no roads",
            file=sc.source,
            field="roads",
            expected="a roads layer (GeoJSON, GeoPackage, Shapefile or OSM .osm.pbf)",
        )
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
    sites = sc.layer("testing_sites")
    if len(sites) == 0:
        raise InputError(
            "the scenario has no testing sites",
            file=sc.source,
            field="testing_sites",
            expected="at least one testing site",
        )
    cells = demand(sc, cell_m, within)
    if len(cells) == 0:
        raise InputError(
            "no people to serve in the chosen area",
            field="crowd_zones",
            expected="crowd zones overlapping the area",
        )
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
    sites = sc.layer("testing_sites")
    if len(sites) == 0:
        raise InputError(
            "the scenario has no testing sites",
            file=sc.source,
            field="testing_sites",
            expected="at least one testing site",
        )
    return road_network(sc).isochrones(sites, mode, tuple(minutes))


def cordon(sc: Scenario, incident_ids=None, rings=(500.0, 2000.0, 5000.0), **kwargs):
    """Three-tier cordon: bands with people, checkpoints, summary (:func:`geo.cordon.cordon`)."""
    from geo import cordon as cordon_mod

    return cordon_mod.cordon(sc, incident_ids, rings, **kwargs)


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


DEFAULT_RINGS_M = (500.0, 2000.0, 5000.0)


def standing_cordon(sc: Scenario, min_severity: int = 4):
    """The cordon around the open incidents of at least ``min_severity`` (straight distance,
    rings from ``settings.extra["cordon_rings_m"]``), or None when there is no such incident.

    This is what the wall screen shows without anyone drawing a cordon.
    """
    inc = sc.layer("incidents")
    if len(inc) == 0:
        return None
    open_ = inc["status"].fillna("open") == "open"
    ids = list(inc.loc[open_ & (inc["severity"].astype(float) >= min_severity), "id"])
    if not ids:
        return None
    rings = tuple(sc.settings.extra.get("cordon_rings_m", DEFAULT_RINGS_M))
    return cordon(sc, ids, rings, by="distance")
