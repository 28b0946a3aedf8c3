"""Demand: crowd zones split into grid cells carrying their areal share of the people."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.constants import WGS84
from geo.crs import local_crs
from geo.errors import InputError, Problem
from geo.network import RoadNetwork

__all__ = ["MAX_CELLS", "demand_cells"]


#: Most grid boxes :func:`demand_cells` will make before asking for a larger cell size.
MAX_CELLS = 5_000_000


# --- demand -------------------------------------------------------------------------------------


def demand_cells(
    crowd_zones: gpd.GeoDataFrame,
    cell_m: float = 250.0,
    *,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Split crowd zones into grid cells carrying their areal share of the zone's people.

    The grid is aligned on multiples of ``cell_m`` in the metric CRS, so cells of neighbouring
    zones line up. Each zone's people are shared by the area of its cells (clipped to the zone);
    the shares add up to the zone's people.

    Parameters
    ----------
    crowd_zones : polygons with ``id`` and ``people``.
    cell_m : grid size in metres.
    crs : metric CRS; default the UTM zone of the zones.

    Returns
    -------
    GeoDataFrame (EPSG:4326): ``id`` (``"<zone id>:<n>"``), ``zone_id``, ``people``,
    ``area_m2``; geometry = the cell clipped to its zone.

    Raises
    ------
    InputError : a cell size that is not positive or makes too many cells, missing or negative
        ``people``, an empty geometry.

    Examples
    --------
    A 300 m square zone of 1,000 people, cut by the 250 m grid lines into four equal pieces:

    >>> import geopandas as gpd, shapely
    >>> from geo.catchment import demand_cells
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> zone = layer([shapely.box(380_100, 3_440_100, 380_400, 3_440_400)], id=["z1"],
    ...              people=[1000])
    >>> cells = demand_cells(zone, 250)
    >>> cells["id"].tolist()
    ['z1:0', 'z1:1', 'z1:2', 'z1:3']
    >>> cells[["people", "area_m2"]].round().values.tolist()
    [[250.0, 22500.0], [250.0, 22500.0], [250.0, 22500.0], [250.0, 22500.0]]
    """
    if not cell_m > 0:
        raise InputError("the cell size must be positive", field="cell_m", expected="metres > 0")
    cols = ["id", "zone_id", "people", "area_m2"]
    if len(crowd_zones) == 0:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=WGS84)
    for c in ("id", "people"):
        if c not in crowd_zones.columns:
            raise InputError(
                "required column is missing", file="crowd_zones", field=c, expected="a number"
            )
    people = pd.to_numeric(crowd_zones["people"], errors="coerce").to_numpy(dtype=float)
    zone_ids = crowd_zones["id"].astype(str).to_numpy(dtype=object)
    bad = ~np.isfinite(people) | (people < 0)
    if bad.any():
        raise InputError(
            problems=[
                Problem(
                    "people is missing or negative",
                    "crowd_zones",
                    zone_ids[i],
                    "people",
                    "a number >= 0",
                )
                for i in np.flatnonzero(bad)
            ]
        )
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(crowd_zones)
    zones = np.asarray(crowd_zones.geometry.to_crs(crs).array, dtype=object)
    empty = shapely.is_missing(zones) | shapely.is_empty(zones)
    if empty.any():
        raise InputError(
            problems=[
                Problem(
                    "geometry is empty or missing",
                    "crowd_zones",
                    zone_ids[i],
                    "geometry",
                    "a polygon",
                )
                for i in np.flatnonzero(empty)
            ]
        )
    b = shapely.bounds(zones)
    i0 = np.floor(b[:, 0] / cell_m).astype(np.int64)
    j0 = np.floor(b[:, 1] / cell_m).astype(np.int64)
    ni = np.maximum(np.ceil(b[:, 2] / cell_m).astype(np.int64) - i0, 1)
    nj = np.maximum(np.ceil(b[:, 3] / cell_m).astype(np.int64) - j0, 1)
    n = ni * nj
    if n.sum() > MAX_CELLS:
        raise InputError(
            f"{int(n.sum()):,} grid cells of {cell_m:g} m are too many",
            field="cell_m",
            expected=f"a larger cell size (at most {MAX_CELLS:,} cells)",
        )
    zi = np.repeat(np.arange(len(zones)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    gi = i0[zi] + k // nj[zi]
    gj = j0[zi] + k % nj[zi]
    boxes = shapely.box(gi * cell_m, gj * cell_m, (gi + 1) * cell_m, (gj + 1) * cell_m)
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zi], boxes)
    pieces = boxes.copy()
    edge = ~inside
    pieces[edge] = shapely.intersection(boxes[edge], zones[zi[edge]])
    pieces[edge] = _polygonal(pieces[edge])
    area = shapely.area(pieces)
    keep = area > 0
    zi, pieces, area = zi[keep], pieces[keep], area[keep]
    total = np.bincount(zi, weights=area, minlength=len(zones))
    share = people[zi] * area / total[zi]
    # Zones too thin to hold any cell area (degenerate polygons): one cell at a point inside.
    lost = np.flatnonzero(total[np.arange(len(zones))] <= 0)
    if len(lost):
        zi = np.r_[zi, lost]
        pieces = np.r_[pieces, shapely.buffer(shapely.point_on_surface(zones[lost]), 0.5)]
        area = np.r_[area, np.zeros(len(lost))]
        share = np.r_[share, people[lost]]
        order = np.argsort(zi, kind="stable")
        zi, pieces, area, share = zi[order], pieces[order], area[order], share[order]
    first = np.r_[0, np.flatnonzero(zi[1:] != zi[:-1]) + 1]
    nth = np.arange(len(zi)) - np.repeat(first, np.diff(np.r_[first, len(zi)]))
    ids = [f"{zone_ids[z]}:{m}" for z, m in zip(zi.tolist(), nth.tolist())]
    out = gpd.GeoDataFrame(
        {"id": ids, "zone_id": zone_ids[zi], "people": share, "area_m2": area},
        geometry=pieces,
        crs=crs,
    )
    return out.to_crs(WGS84)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of intersection results (which may touch along lines)."""
    out = geoms.copy()
    mixed = shapely.get_type_id(out) == 7
    for i in np.flatnonzero(mixed):
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _people(cells: gpd.GeoDataFrame) -> np.ndarray:
    if "people" not in cells.columns:
        raise InputError(
            "required column is missing",
            file="demand cells",
            field="people",
            expected="people per cell (see demand_cells)",
        )
    p = pd.to_numeric(cells["people"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(p) | (p < 0)
    if bad.any():
        raise InputError(
            "people is missing or negative",
            file="demand cells",
            feature=int(np.flatnonzero(bad)[0]),
            field="people",
            expected="a number >= 0",
        )
    return p


def _cell_points(cells: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    g = np.asarray(cells.geometry.to_crs(crs).array, dtype=object)
    poly = shapely.get_type_id(g) != 0
    if poly.any():
        g = g.copy()
        g[poly] = shapely.point_on_surface(g[poly])
    return g


def _cell_xy(network: RoadNetwork, cells: gpd.GeoDataFrame) -> np.ndarray:
    if cells is None or len(cells) == 0:
        raise InputError(
            "there are no demand cells", file="crowd_zones", expected="crowd zones with people"
        )
    _people(cells)
    return shapely.get_coordinates(_cell_points(cells, network.crs))
