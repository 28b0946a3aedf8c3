"""Names on the map: the places a commander points at (venues, stations and hubs, hospitals,
testing sites when close enough, major roads along the road), in priority order.

The browser shows them at their zoom and hides a label that would overlap one of higher
priority (see :class:`geo.mapview.Labels`); this module only says what to write where.

Examples
--------
>>> from geo import scenario
>>> found = labels(scenario.demo())
>>> [(lab.text, lab.kind) for lab in found][:2]  # doctest: +NORMALIZE_WHITESPACE
[('Shanghai Disney Resort', 'venue'),
 ('Fudan-affiliated Pudong Hospital (location approximate)', 'hospital')]
>>> any(lab.kind == "road" and lab.angle != 0 for lab in found)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from geo.constants import WGS84

if TYPE_CHECKING:
    from geo.scenario import Scenario

__all__ = ["HUB_KINDS", "MAJOR_ROADS", "Label", "labels"]

#: Facility kinds named on the map: how people arrive and leave, and where the sick go.
HUB_KINDS = ("hospital", "metro_station", "railway_station", "bus_terminal", "transport_hub")
#: Road classes whose names are written along them.
MAJOR_ROADS = ("motorway", "trunk", "primary")
#: At most this many labels of one kind (a city's hundred thousand sites stay in tooltips).
MAX_PER_KIND = 400


@dataclass(frozen=True)
class Label:
    """One name on the map: where, at which angle (degrees, counter-clockwise from east, for
    roads), from which zoom, and how important (lower wins an overlap)."""

    text: str
    lon: float
    lat: float
    kind: str
    priority: int
    min_zoom: float = 0.0
    angle: float = 0.0


def labels(sc: Scenario) -> list[Label]:
    """The labels of ``sc``, most important first."""
    out: list[Label] = []
    out += _venues(sc)
    out += _hubs(sc)
    out += _sites(sc)
    out += _roads(sc)
    return sorted(out, key=lambda lab: lab.priority)


def _point(geom: shapely.Geometry) -> tuple[float, float]:
    p = geom.representative_point()
    return float(p.x), float(p.y)


def _venues(sc: Scenario) -> list[Label]:
    zones = sc.layer("crowd_zones")
    if len(zones) == 0 or "venue" not in zones.columns:
        return []
    named = zones[zones["venue"].notna()]
    out = []
    for venue, group in list(named.groupby("venue"))[:MAX_PER_KIND]:
        lon, lat = _point(shapely.union_all(np.asarray(group.geometry.array, dtype=object)))
        out.append(Label(str(venue), lon, lat, "venue", 0))
    return out


def _hubs(sc: Scenario) -> list[Label]:
    fac = sc.layer("facilities")
    if len(fac) == 0:
        return []
    hubs = fac[fac["kind"].isin(HUB_KINDS) & fac["name"].notna()].head(MAX_PER_KIND)
    rank = {k: i for i, k in enumerate(HUB_KINDS)}
    return [
        Label(str(r["name"]), *_point(r.geometry), str(r["kind"]), 1 + rank[r["kind"]] // 2)
        for _, r in hubs.iterrows()
    ]


def _sites(sc: Scenario) -> list[Label]:
    sites = sc.layer("testing_sites")
    if len(sites) == 0 or len(sites) > MAX_PER_KIND:
        return []  # a city's sites are too many to name: their tooltips say it
    return [
        Label(str(r["name"]), *_point(r.geometry), "testing_site", 4, min_zoom=14.0)
        for _, r in sites.iterrows()
        if isinstance(r["name"], str)
    ]


def _roads(sc: Scenario) -> list[Label]:
    roads = sc.layer("roads")
    if len(roads) == 0 or "name" not in roads.columns:
        return []
    major = roads[roads["road_class"].isin(MAJOR_ROADS) & roads["name"].notna()]
    if len(major) == 0:
        return []
    metric = major.to_crs(sc.metric_crs())
    out = []
    for name, group in metric.groupby("name"):
        merged = shapely.line_merge(shapely.union_all(np.asarray(group.geometry.array)))
        parts = list(getattr(merged, "geoms", [merged]))
        line = max(parts, key=lambda g: g.length)
        if line.length < 300:  # too short to write along
            continue
        mid = line.interpolate(0.5, normalized=True)
        a = line.interpolate(max(line.length / 2 - 50, 0))
        b = line.interpolate(min(line.length / 2 + 50, line.length))
        angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
        if angle > 90:  # text reads left to right, never upside down
            angle -= 180
        elif angle < -90:
            angle += 180
        lonlat = gpd.GeoSeries([mid], crs=metric.crs).to_crs(WGS84).iloc[0]
        out.append(Label(str(name), lonlat.x, lonlat.y, "road", 5, min_zoom=13.0, angle=angle))
        if len(out) >= MAX_PER_KIND:
            break
    return out
