"""What the cordon functions share: band names and columns, checks of their input, the band
frame, and exact segment crossings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.constants import DEFAULT_RINGS_M, DEFAULT_RINGS_MIN, WGS84
from geo.crs import local_crs
from geo.errors import InputError, Problem

__all__ = [
    "BANDS",
    "BAND_COLUMNS",
    "BAND_ZH",
    "CHECKPOINT_COLUMNS",
    "MAX_RING",
    "VENUE_EXIT",
    "By",
    "Unit",
    "check_rings",
]


By = Literal["distance", "network", "drawn"]
Unit = Literal["m", "min"]

#: The largest ring limit per unit. A cordon is city-scale: beyond 200 km a buffer leaves the
#: local metric CRS's area of use and its coordinates stop being finite (1e12 m gave inf). Travel
#: times are bounded by the network itself; a week is only a guard against absurd input.
MAX_RING: dict[str, float] = {"m": 200_000.0, "min": 7 * 24 * 60.0}

#: The three bands, innermost first, and their Chinese names.
BANDS: tuple[str, ...] = ("lockdown", "control", "prevention")
VENUE_EXIT = "venue_exit"
BAND_ZH: dict[str, str] = {
    "lockdown": "封控区",
    "control": "管控区",
    "prevention": "防范区",
    VENUE_EXIT: "场所出口",
}
BAND_COLUMNS = [
    "band",
    "band_zh",
    "rank",
    "inner_m",
    "outer_m",
    "inner_min",
    "outer_min",
    "area_km2",
    "incident_ids",
    "by",
    "mode",
]
CHECKPOINT_COLUMNS = [
    "id",
    "band",
    "band_zh",
    "rank",
    "road_id",
    "road_ids",
    "name",
    "road_class",
    "direction",
    "staff",
    "staff_if_separate",
    "crossings",
]


_MODE_WORDS = {"walk": "on foot", "drive": "by car"}


def _bands_from_zones(zones: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """Disjoint bands from nested cumulative zones."""
    out = [zones[0]]
    for inner, outer in zip(zones[:-1], zones[1:]):
        out.append(_polygonal(shapely.difference(outer, inner)))
    return out


def _check_limits(values: Sequence[float] | float, name: str, unit: str) -> np.ndarray:
    words = "metres" if unit == "m" else "minutes"
    example = ", ".join(f"{r:g}" for r in (DEFAULT_RINGS_M if unit == "m" else DEFAULT_RINGS_MIN))
    try:
        lim = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{values!r} are not numbers", field=name, expected=f"{words} such as {example}"
        ) from exc
    if lim.ndim != 1 or not 1 <= len(lim) <= len(BANDS):
        raise InputError(
            f"{lim.size} ring(s) given",
            field=name,
            expected=f"one to three {words} (lockdown, control, prevention) such as {example}",
        )
    if not np.isfinite(lim).all() or (lim <= 0).any():
        raise InputError(
            f"the rings must be positive {words}, got {', '.join(f'{v:g}' for v in lim)}",
            field=name,
            expected=f"positive {words} such as {example}",
        )
    top = MAX_RING[unit]
    if (lim > top).any():
        raise InputError(
            f"the rings must be at most {top:g} {words}, got {', '.join(f'{v:g}' for v in lim)}",
            field=name,
            expected=f"{words} up to {top:g} such as {example}",
        )
    if (np.diff(lim) <= 0).any():
        raise InputError(
            f"the rings must increase outwards, got {', '.join(f'{v:g}' for v in lim)}",
            field=name,
            expected=f"increasing {words}, lockdown first, such as {example}",
        )
    return lim


def check_rings(values: Sequence[float] | float, unit: Unit = "m") -> np.ndarray:
    """Ring limits as an array, or an InputError: one to three finite, positive, increasing
    numbers of ``unit`` up to :data:`MAX_RING`.

    >>> check_rings([500, 2000, 5000]).tolist()
    [500.0, 2000.0, 5000.0]
    >>> check_rings([1e12])
    Traceback (most recent call last):
    ...
    geo.errors.InputError: field 'rings': the rings must be at most 200000 metres, got 1e+12 ...
    """
    return _check_limits(values, "rings", unit)


def _metric_crs(gdf: gpd.GeoDataFrame, crs: CRS | str | int | None) -> CRS:
    _check_incidents(gdf)
    out = CRS.from_user_input(crs) if crs is not None else local_crs(gdf)
    if out.is_geographic:
        raise InputError(
            "zones need a metric CRS", field="crs", expected="a projected CRS in metres"
        )
    return out


def _check_incidents(incidents: gpd.GeoDataFrame) -> None:
    if not isinstance(incidents, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError("incidents must be a GeoDataFrame", file="incidents")
    if len(incidents) == 0:
        raise InputError(
            "there are no incidents to cordon",
            file="incidents",
            expected="at least one incident (a point or a polygon)",
        )
    _need_crs(incidents, "incidents")


def _incident_geoms(incidents: gpd.GeoDataFrame, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """(ids, metric geometries) of the incidents; empty geometries are an error."""
    _check_incidents(incidents)
    ids = _ids(incidents)
    geo = incidents.geometry if isinstance(incidents, gpd.GeoDataFrame) else incidents
    raw = np.asarray(geo.array, dtype=object)
    bad = shapely.is_missing(raw) | shapely.is_empty(raw)
    if bad.any():
        raise InputError(
            problems=[
                Problem(
                    "geometry is empty or missing",
                    "incidents",
                    ids[i],
                    "geometry",
                    "a point or a polygon",
                )
                for i in np.flatnonzero(bad)
            ]
        )
    return ids, np.asarray(geo.to_crs(crs).array, dtype=object)


def _need_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    if gdf.crs is None:
        raise InputError(
            "the data declares no coordinate reference system",
            file=what,
            field="geometry",
            expected="EPSG:4326 layers",
        )


def _ids(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    if isinstance(gdf, gpd.GeoDataFrame) and "id" in gdf.columns:
        return gdf["id"].astype(str).to_numpy(dtype=object)
    return np.asarray([str(i) for i in gdf.index], dtype=object)


def _fill_holes(geom: shapely.Geometry) -> shapely.Geometry:
    """The (multi)polygon without its holes."""
    parts = shapely.get_parts(geom)
    if len(parts) == 0 or not any(shapely.get_num_interior_rings(parts)):
        return geom
    return shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts)))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of an overlay result (differences may leave lines or points)."""
    t = shapely.get_type_id(geom)
    if t in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _band_frame(
    bands: list[shapely.Geometry],
    crs: CRS,
    lim: np.ndarray,
    unit: str,
    by: str,
    mode: str | None,
    owners: list[str],
) -> gpd.GeoDataFrame:
    k = len(lim)
    inner = np.r_[0.0, lim[:-1]]
    nan = np.full(k, np.nan)
    metres = unit == "m"
    gdf = gpd.GeoDataFrame(
        {
            "band": list(BANDS[:k]),
            "band_zh": [BAND_ZH[b] for b in BANDS[:k]],
            "rank": np.arange(1, k + 1),
            "inner_m": inner if metres else nan,
            "outer_m": lim if metres else nan,
            "inner_min": nan if metres else inner,
            "outer_min": nan if metres else lim,
            "area_km2": shapely.area(np.asarray(bands, dtype=object)) / 1e6,
            "incident_ids": owners,
            "by": by,
            "mode": mode,
        },
        geometry=list(bands),
        crs=crs,
    )
    return gdf.to_crs(WGS84)


def _ring_segments(geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (n, 2) of every segment of every ring of a (multi)polygon."""
    rings = shapely.get_rings(shapely.get_parts(geom))
    if len(rings) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    xy, ri = shapely.get_coordinates(rings, return_index=True)
    s = np.flatnonzero(ri[1:] == ri[:-1])
    return xy[s], xy[s + 1]


def _crossings(
    p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Proper crossings of segments p0->p1 with segments q0->q1 (both half-open: a crossing at a
    shared vertex counts once). Returns (p index, q index, position along p, point, entering),
    where *entering* means p crosses from the right of q to its left (into a polygon whose
    rings are oriented with the inside on the left). Collinear overlaps are not crossings."""
    empty = np.zeros(0, dtype=np.int64)
    if len(p0) == 0 or len(q0) == 0:
        return empty, empty, np.zeros(0), np.zeros((0, 2)), np.zeros(0, dtype=bool)
    # Candidate pairs by bounding box, through an STRtree of the (usually fewer) q segments.
    qtree = shapely.STRtree(shapely.box(*np.minimum(q0, q1).T, *np.maximum(q0, q1).T))
    i, j = qtree.query(shapely.box(*np.minimum(p0, p1).T, *np.maximum(p0, p1).T))
    r = p1[i] - p0[i]
    s = q1[j] - q0[j]
    qp = q0[j] - p0[i]
    den = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / den
        u = (qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) / den
    scale = np.hypot(*r.T) * np.hypot(*s.T)
    ok = (np.abs(den) > 1e-12 * scale) & (t >= 0) & (t < 1) & (u >= 0) & (u < 1)
    i, j, t, r, den = i[ok], j[ok], t[ok], r[ok], den[ok]
    # cross(s, r) = -den > 0: p points to the left of q, i.e. inwards.
    return i, j, t, p0[i] + r * t[:, None], den < 0
