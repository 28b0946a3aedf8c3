"""Analyses on a whole scenario: the one place the app and the CLI ask for results.

Each function takes a :class:`geo.scenario.Scenario` plus parameters and returns plain results
(GeoDataFrames in EPSG:4326); the network is built once per roads layer and cached.
"""

from __future__ import annotations

from typing import Literal

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


def demand(sc: Scenario, cell_m: float = 250.0) -> gpd.GeoDataFrame:
    """Demand cells from the scenario's crowd zones (people shared by area)."""
    return catchment.demand_cells(sc.layer("crowd_zones"), cell_m, crs=sc.metric_crs())


def catchments(
    sc: Scenario,
    kind: CatchmentKind = "travel_time",
    mode: Mode = "walk",
    *,
    cell_m: float = 250.0,
) -> catchment.Catchments:
    """Catchments of the scenario's testing sites over its crowd zones.

    ``voronoi`` is straight-line; ``travel_time`` sends each cell to the site it reaches soonest;
    ``balanced`` respects each site's throughput until the scenario's deadline.
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
    cells = demand(sc, cell_m)
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
