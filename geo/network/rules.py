"""Road classes and what each mode may do on them; checks of the roads layer and of requests."""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.constants import DRIVE_KMH, UNKNOWN_DRIVE_KMH
from geo.errors import InputError, Problem

__all__ = [
    "NOT_ROUTABLE",
    "NO_WALK",
    "ONEWAY_BY_DEFAULT",
    "POINT_SNAP_M",
    "SITE_SNAP_M",
    "WALK_ONLY",
    "Direction",
]

Direction = Literal["to_site", "from_site"]


#: Classes people may walk on but not drive.
WALK_ONLY = frozenset(
    {
        "footway",
        "pedestrian",
        "steps",
        "path",
        "cycleway",
        "bridleway",
        "corridor",
        "elevator",
        "platform",
        "trail",
        "sidewalk",
        "crossing",
    }
)
#: Classes nobody may walk on.
NO_WALK = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
#: Classes that are not usable roads at all.
NOT_ROUTABLE = frozenset(
    {
        "construction",
        "proposed",
        "abandoned",
        "disused",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
        "emergency_bay",
        "no",
    }
)
#: Classes that are one-way unless ``oneway`` says otherwise (OSM implies it for motorways).
ONEWAY_BY_DEFAULT = frozenset({"motorway"})
#: Default snapping thresholds (m): sites further away are an error; points are flagged.
SITE_SNAP_M = 500.0
POINT_SNAP_M = 300.0


_MODE_WORDS = {"walk": "on foot", "drive": "by car"}


def _check_direction(direction: str) -> None:
    if direction not in ("to_site", "from_site"):
        raise InputError(
            f"unknown direction '{direction}'", field="direction", expected="to_site or from_site"
        )


def _ids(points: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame) and "id" in points.columns:
        return points["id"].astype(str).to_numpy(dtype=object)
    return np.asarray([str(i) for i in points.index], dtype=object)


def _check_roads(roads: gpd.GeoDataFrame, source: str) -> None:
    if not isinstance(roads, gpd.GeoDataFrame):
        raise InputError("roads must be a GeoDataFrame", file=source)
    if len(roads) == 0:
        raise InputError(
            "the roads layer has no features",
            file=source,
            expected="at least one road line to build a network",
        )
    missing = [c for c in ("id", "road_class") if c not in roads.columns]
    if missing:
        raise InputError(
            problems=[
                Problem("required column is missing", source, field=c, expected="a roads layer")
                for c in missing
            ]
        )
    if roads.crs is None:
        raise InputError(
            "the data declares no coordinate reference system",
            file=source,
            field="geometry",
            expected="EPSG:4326",
        )
    g = np.asarray(roads.geometry.array, dtype=object)
    types = shapely.get_type_id(g)
    bad = ~(shapely.is_missing(g) | shapely.is_empty(g)) & ~np.isin(types, [1, 5])
    if bad.any():
        ids = roads["id"].astype(str).to_numpy()
        raise InputError(
            problems=[
                Problem(
                    "geometry is not a line",
                    source,
                    ids[i],
                    "geometry",
                    "LineString or MultiLineString",
                )
                for i in np.flatnonzero(bad)
            ]
        )


def _road_rules(
    roads: gpd.GeoDataFrame, speeds: dict[str, float] | None, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per road: class, one-way flag, walkable flag, driving speed (0 = not drivable)."""
    n = len(roads)
    cls = roads["road_class"].map(lambda v: str(v).strip().lower() if pd.notna(v) else "")
    cls = cls.to_numpy(dtype=object)
    speeds = {str(k).strip().lower(): float(v) for k, v in (speeds or {}).items()}
    table = {**DRIVE_KMH, **speeds}
    known = set(DRIVE_KMH) | WALK_ONLY | NOT_ROUTABLE | set(speeds)
    unknown = sorted({c for c in cls if c not in known})
    if unknown:
        notes.append(
            "unknown road class(es) "
            + ", ".join(repr(c) for c in unknown[:8])
            + ("..." if len(unknown) > 8 else "")
            + f": driven at {UNKNOWN_DRIVE_KMH:g} km/h and walkable"
        )
    kmh = np.array([table.get(c, UNKNOWN_DRIVE_KMH) for c in cls], dtype=float)
    not_car = np.array([(c in WALK_ONLY or c in NOT_ROUTABLE) and c not in speeds for c in cls])
    kmh[not_car] = 0.0
    if "speed_kmh" in roads.columns:
        given = pd.to_numeric(roads["speed_kmh"], errors="coerce").to_numpy(dtype=float)
        use = np.isfinite(given) & ~not_car
        kmh[use] = np.maximum(given[use], 0.0)
    walk = np.array([c not in NO_WALK and c not in NOT_ROUTABLE for c in cls], dtype=bool)
    if "oneway" in roads.columns:
        ow = roads["oneway"].astype("boolean")
        default = pd.Series([c in ONEWAY_BY_DEFAULT for c in cls], index=roads.index)
        oneway = ow.fillna(default).to_numpy(dtype=bool)
    else:
        oneway = np.array([c in ONEWAY_BY_DEFAULT for c in cls], dtype=bool)
    assert len(kmh) == n
    return cls, oneway, walk, kmh
