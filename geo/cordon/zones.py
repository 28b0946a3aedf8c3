"""Zones by straight distance from the incidents, and zones drawn by hand."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.constants import DEFAULT_RINGS_M
from geo.cordon.common import (
    BANDS,
    _band_frame,
    _bands_from_zones,
    _check_limits,
    _ids,
    _incident_geoms,
    _metric_crs,
    _need_crs,
    _polygonal,
)
from geo.errors import InputError, Problem

__all__ = ["zones_by_distance", "zones_from_outlines"]


# --- zones by straight distance -----------------------------------------------------------------


def zones_by_distance(
    incidents: gpd.GeoDataFrame,
    distances_m: Sequence[float] | float = DEFAULT_RINGS_M,
    *,
    crs: CRS | str | int | None = None,
    quad_segs: int = 32,
) -> gpd.GeoDataFrame:
    """Nested zones at straight-line distances from the incidents, as disjoint bands.

    Parameters
    ----------
    incidents : points or polygons (an ``incidents`` layer; ``id`` names them).
    distances_m : one to three increasing positive distances in metres (lockdown, control,
        prevention). A polygon incident's zones are measured from its outline outwards.
    crs : metric CRS; default the UTM zone of the incidents.
    quad_segs : segments per quarter circle (32: a 5 km circle is off by at most 1.5 m).

    Returns
    -------
    GeoDataFrame (EPSG:4326), one row per band in rank order (empty geometry when a band is
    empty): ``band``, ``band_zh``, ``rank`` (1 = lockdown), ``inner_m``, ``outer_m``,
    ``inner_min`` / ``outer_min`` (NaN here), ``area_km2``, ``incident_ids`` (comma-separated ids
    of the incidents whose own zone of that tier reaches into the band), ``by`` ("distance"),
    ``mode`` (None).

    Raises
    ------
    InputError : no incidents, an empty geometry, distances not positive and increasing.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from geo.cordon import zones_by_distance
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> incident = layer([shapely.Point(380_000, 3_440_000)], id=["inc-1"])
    >>> bands = zones_by_distance(incident, [100, 200, 300])
    >>> bands[["band", "inner_m", "outer_m"]].values.tolist()
    [['lockdown', 0.0, 100.0], ['control', 100.0, 200.0], ['prevention', 200.0, 300.0]]
    >>> bands["area_km2"].round(4).tolist()  # a disc of pi 100^2 m^2, then two rings
    [0.0314, 0.0942, 0.157]
    """
    lim = _check_limits(distances_m, "distances_m", "m")
    crs = _metric_crs(incidents, crs)
    ids, geoms = _incident_geoms(incidents, crs)
    zones: list[shapely.Geometry] = []
    tiers: list[np.ndarray] = []
    for r in lim:
        bufs = shapely.buffer(geoms, float(r), quad_segs=quad_segs)
        tiers.append(bufs)
        zone = shapely.union_all(bufs)
        # Force nesting (buffer polygons of close radii could otherwise poke out by a hair).
        zones.append(zone if not zones else shapely.union(zone, zones[-1]))
    bands = _bands_from_zones(zones)
    owners = []
    for bufs, band in zip(tiers, bands):
        if shapely.is_empty(band):
            owners.append("")
            continue
        hit = shapely.area(shapely.intersection(bufs, band)) > 0
        owners.append(",".join(ids[hit]))
    return _band_frame(bands, crs, lim, "m", "distance", None, owners)


# --- zones drawn by hand -------------------------------------------------------------------------


def zones_from_outlines(
    cordons: gpd.GeoDataFrame, *, crs: CRS | str | int | None = None
) -> gpd.GeoDataFrame:
    """Bands from outlines drawn by hand (a ``cordons`` layer: polygons with ``band``).

    The zone of a tier is the union of its outlines and of every inner tier's zone (a control
    outline drawn inside the lockdown zone does not shrink it); each band is its zone minus the
    inner zone, so the bands are disjoint as for computed cordons. A tier nobody drew is an empty
    band.

    Returns
    -------
    GeoDataFrame (EPSG:4326) as :func:`zones_by_distance`, with ``by`` = "drawn", NaN limits
    and ``incident_ids`` holding the ids of the outlines of each tier.

    Raises
    ------
    InputError : no outlines, an outline that is not a polygon, a band that is not one of
        lockdown, control, prevention.
    """
    if cordons is None or len(cordons) == 0:
        raise InputError(
            "no cordon has been drawn",
            field="cordons",
            expected="at least one outline drawn on the map (or a cordons layer)",
        )
    _need_crs(cordons, "cordons")
    crs = _metric_crs(cordons, crs)
    ids = _ids(cordons)
    bands_of = cordons["band"].astype(str).to_numpy() if "band" in cordons else None
    problems = []
    if bands_of is None:
        problems.append(Problem("required column is missing", "cordons", None, "band", "a band"))
    else:
        for fid, b in zip(ids, bands_of):
            if b not in BANDS:
                problems.append(
                    Problem(f"unknown band '{b}'", "cordons", fid, "band", ", ".join(BANDS))
                )
    geoms = np.asarray(cordons.geometry.to_crs(crs).array, dtype=object)
    for fid, g in zip(ids, geoms):
        if g is None or shapely.is_empty(g) or shapely.get_type_id(g) not in (3, 6):
            problems.append(Problem("not a polygon", "cordons", fid, "geometry", "a polygon"))
    if problems:
        raise InputError(problems=problems)
    assert bands_of is not None  # a missing column was raised above
    geoms = shapely.make_valid(geoms)
    zones: list[shapely.Geometry] = []
    owners: list[str] = []
    for b in BANDS:
        mine = bands_of == b
        zone = _polygonal(shapely.union_all(geoms[mine])) if mine.any() else shapely.Polygon()
        zones.append(zone if not zones else _polygonal(shapely.union(zone, zones[-1])))
        owners.append(",".join(ids[mine]))
    bands = _bands_from_zones(zones)
    nan = np.full(len(BANDS), np.nan)
    return _band_frame(bands, crs, nan, "m", "drawn", None, owners)
