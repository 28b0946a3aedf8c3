"""People per given polygon (zones, catchments): each point to at most one polygon."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.constants import WGS84
from geo.crowd.clean import PointChunk, _Tally
from geo.crowd.grid import DEFAULT_TZ, _observed, _times
from geo.crowd.read import PointsInput, Progress, read_points
from geo.errors import InputError

__all__ = [
    "ZoneIndex",
    "aggregate_zones",
    "assign_to_catchments",
    "grid_points",
    "is_polygon_layer",
    "prepare_zones",
    "zones_frame",
]


# Longitude bins of the zone assignment (int16 keys: at most 32767).
_ZONE_BINS = 4096
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


class ZoneIndex:
    """Polygons (EPSG:4326) to assign lon/lat points to, each point to at most one polygon.

    Points are tested in lon/lat, the coordinates the layers' straight edges are defined in
    (no projection per point). A point inside or on the boundary of several polygons (a shared
    edge, or overlapping zones) goes to the first of them in the given order, so every point
    counts once. Each polygon is tested only against the points in its bounding box (found
    through longitude bins), with prepared geometries: a loop over zones, never over points.
    """

    def __init__(self, geoms: np.ndarray) -> None:
        # Own copies: GEOS builds parts of a prepared geometry lazily, so two indexes used by
        # two threads (dask workers) must not share geometry objects.
        self.geoms = shapely.from_wkb(shapely.to_wkb(np.asarray(geoms, dtype=object)))
        shapely.prepare(self.geoms)
        self.bounds = shapely.bounds(self.geoms)

    def __len__(self) -> int:
        return len(self.geoms)

    def assign(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Position of each point's zone, or -1."""
        n = len(lon)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0 or len(self.geoms) == 0:
            return out
        # Group the points into narrow longitude bins with a radix sort (int16 keys sort in
        # linear time; a float argsort of two million points costs ten times more), so that
        # each zone looks only at the bins its bounding box spans.
        lo, hi = float(lon.min()), float(lon.max())
        scale = (_ZONE_BINS - 1) / (hi - lo) if hi > lo else 0.0
        bins = ((lon - lo) * scale).astype(np.int16)
        order = np.argsort(bins, kind="stable")
        starts = np.zeros(_ZONE_BINS + 1, dtype=np.int64)
        np.cumsum(np.bincount(bins, minlength=_ZONE_BINS), out=starts[1:])
        xs, ys = lon[order], lat[order]
        hit = np.full(n, -1, dtype=np.int64)
        for k, g in enumerate(self.geoms):
            xmin, ymin, xmax, ymax = self.bounds[k]
            if not (xmax >= lo and xmin <= hi):  # also skips empty zones (NaN bounds)
                continue
            # The same rounding as the points' bins: a point inside [xmin, xmax] is in a bin
            # between these two (subtracting and scaling are monotonic in floating point).
            b0 = max(int((xmin - lo) * scale), 0) if xmin > lo else 0
            b1 = min(int((xmax - lo) * scale), _ZONE_BINS - 1)
            a, e = int(starts[b0]), int(starts[b1 + 1])
            if a >= e:
                continue
            xx, yy = xs[a:e], ys[a:e]
            near = (xx >= xmin) & (xx <= xmax) & (yy >= ymin) & (yy <= ymax) & (hit[a:e] < 0)
            cand = np.flatnonzero(near) + a
            if len(cand) == 0:
                continue
            inside = shapely.intersects_xy(g, xs[cand], ys[cand])
            hit[cand[inside]] = k
        out[order] = hit
        return out

    def partial(
        self, lon: np.ndarray, lat: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float, int]:
        """(people per zone, points per zone, people outside all, points outside all)."""
        pos = self.assign(lon, lat)
        inside = pos >= 0
        m = len(self.geoms)
        people = np.bincount(pos[inside], weights=weight[inside], minlength=m)
        pts = np.bincount(pos[inside], minlength=m).astype(np.int64)
        return people, pts, float(weight[~inside].sum()), int((~inside).sum())


def prepare_zones(zones: gpd.GeoDataFrame, id_col: str, what: str = "zones") -> gpd.GeoDataFrame:
    """``zones`` in EPSG:4326 after checking the id column and the polygons."""
    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame", expected="polygons with an id column")
    if id_col not in zones.columns:
        raise InputError(
            f"{what} have no '{id_col}' column",
            field=id_col,
            expected=f"an id column; columns found: {', '.join(map(str, zones.columns))}",
        )
    if zones.crs is None:
        raise InputError(
            f"{what} declare no coordinate reference system",
            field="geometry",
            expected="a GeoDataFrame with a CRS",
        )
    z = (
        zones.to_crs(WGS84)
        if not CRS.from_user_input(zones.crs).equals(CRS.from_epsg(4326))
        else zones
    )
    types = shapely.get_type_id(np.asarray(z.geometry.values))
    polygonal = np.isin(types, _POLYGONAL)
    bad = np.flatnonzero(~polygonal)
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"{len(bad)} of the {what} are not polygons",
            feature=str(z[id_col].iloc[i]),
            field="geometry",
            expected="Polygon or MultiPolygon geometries",
        )
    return z


def _zone_sums(
    chunks: Iterable[PointChunk], index: ZoneIndex, tally: _Tally
) -> tuple[np.ndarray, np.ndarray, float, int]:
    people = np.zeros(len(index))
    pts = np.zeros(len(index), dtype=np.int64)
    out_people, out_points = 0.0, 0
    for chunk in chunks:
        tally.add(chunk)
        p, c, op, oc = index.partial(chunk.lon, chunk.lat, chunk.weight)
        people += p
        pts += c
        out_people += op
        out_points += oc
    return people, pts, out_people, out_points


def zones_frame(
    zones: gpd.GeoDataFrame,
    people: np.ndarray,
    points: np.ndarray,
    observed_at: Any = None,
    tz: str = DEFAULT_TZ,
) -> gpd.GeoDataFrame:
    """``zones`` with its ``people`` and ``points`` columns set (observed_at if given)."""
    out = zones.copy()
    out["people"] = np.asarray(people, dtype=float)
    out["points"] = np.asarray(points, dtype=np.int64)
    if observed_at is not None:
        out["observed_at"] = _times(_observed(observed_at, tz), len(out), tz, index=out.index)
    return out


def aggregate_zones(
    points: PointsInput,
    zones: gpd.GeoDataFrame,
    *,
    id_col: str = "id",
    observed_at: Any = None,
    tz: str = DEFAULT_TZ,
    progress: Progress | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """People per given polygon.

    Every point counts at most once: a point on a shared boundary, or in overlapping zones,
    goes to the first zone (in ``zones`` order) that contains or touches it (see
    :class:`ZoneIndex`). Points outside every zone are counted in ``attrs["crowd"]``.

    Parameters
    ----------
    points : as for :func:`aggregate_grid`.
    zones : polygons (any CRS) with an id column.
    id_col : the id column of ``zones``.
    observed_at : if given, set as the ``observed_at`` column (to make a crowd_zones layer).
    progress, **options : as for :func:`aggregate_grid`.

    Returns
    -------
    ``zones`` in EPSG:4326, same rows and order, with ``people`` (float, replaced if present)
    and ``points`` (int) columns. ``attrs["crowd"]``: rows_read, points_used, skipped_rows,
    people, people_outside, points_outside.
    """
    z = prepare_zones(zones, id_col)
    index = ZoneIndex(z.geometry.values)
    tally = _Tally()
    people, pts, out_people, out_points = _zone_sums(
        read_points(points, progress=progress, **options), index, tally
    )
    out = zones_frame(z, people, pts, observed_at, tz)
    out.attrs["crowd"] = tally.stats(people_outside=out_people, points_outside=out_points)
    return out


def grid_points(grid: gpd.GeoDataFrame, weight: str = "people") -> PointChunk:
    """The cells of a grid (or any crowd zones) as weighted points at their centres.

    Centroids are taken in lon/lat: for cells of a few hundred metres they are within
    millimetres of the metric centroid.
    """
    if weight not in grid.columns:
        raise InputError(
            f"the grid has no '{weight}' column",
            field=weight,
            expected="a crowd_zones layer (people per polygon)",
        )
    g = grid.to_crs(WGS84) if grid.crs is not None else grid
    c = shapely.centroid(np.asarray(g.geometry.values))
    w = pd.to_numeric(g[weight], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0) | shapely.is_empty(c))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"{len(bad)} cells have no usable {weight} value or geometry",
            feature=f"#{i}",
            field=weight,
            expected="a number of people >= 0 and a polygon",
        )
    return PointChunk(shapely.get_x(c), shapely.get_y(c), w, 0, len(g), 0)


def assign_to_catchments(
    points_or_grid: PointsInput,
    catchments: gpd.GeoDataFrame,
    *,
    id_col: str = "site_id",
    progress: Progress | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """People per catchment: the load of each site.

    Parameters
    ----------
    points_or_grid : crowd points (anything :func:`read_points` reads), or a grid / crowd
        zones GeoDataFrame of polygons with a ``people`` column, whose cells are assigned by
        their centre (a cell straddling two catchments goes wholly to the one holding its
        centre: at most half a cell width of error along each boundary).
    catchments : polygons with ``id_col`` (from :mod:`geo.catchment`).
    id_col : the site id column.
    progress, **options : as for :func:`aggregate_grid`.

    Returns
    -------
    ``catchments`` in EPSG:4326 with ``people`` and ``points`` columns; shared boundaries and
    overlaps as in :func:`aggregate_zones`.
    """
    source: PointsInput = points_or_grid
    if is_polygon_layer(points_or_grid):
        source = [grid_points(points_or_grid)]
    return aggregate_zones(source, catchments, id_col=id_col, progress=progress, **options)


def is_polygon_layer(data: object) -> bool:
    """Whether ``data`` is a non-empty GeoDataFrame of (multi)polygons only: a grid or crowd
    zones, whose cells :func:`assign_to_catchments` assigns by their centre."""
    if not isinstance(data, gpd.GeoDataFrame) or len(data) == 0:
        return False
    types = shapely.get_type_id(np.asarray(data.geometry.values))
    return bool(np.all(np.isin(types, _POLYGONAL)))
