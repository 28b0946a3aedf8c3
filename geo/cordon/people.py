"""People in each band, by areal-weighted interpolation from crowd zones or demand cells."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.cordon.common import _ids, _need_crs
from geo.crs import local_crs
from geo.errors import InputError, Problem

__all__ = ["people_in_zones"]


def people_in_zones(
    bands: gpd.GeoDataFrame,
    crowd_zones: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame | None = None,
    *,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """People in each band by areal-weighted interpolation.

    Parameters
    ----------
    bands : disjoint polygons (e.g. from :func:`zones_by_distance`).
    crowd_zones : polygons with ``id`` and ``people``; each zone's people are spread evenly over
        its area.
    cells : finer demand units with ``people`` (e.g. :func:`geo.catchment.demand_cells` or a
        telecom grid); used instead of ``crowd_zones`` when given.
    crs : metric CRS for the areas; default the UTM zone of the bands.

    Returns
    -------
    A copy of ``bands`` with ``people`` (float). A zone covered by a band counts fully there;
    the bands add up to the people in their union.

    Raises
    ------
    InputError : missing ``people``, negative or non-numeric people, a missing CRS.

    Examples
    --------
    10,000 people spread over a 1 km square around the incident, 0.01 per m² (the buffers are
    polygons, a hair inside their circles):

    >>> import geopandas as gpd, shapely
    >>> from geo.cordon import people_in_zones, zones_by_distance
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> incident = layer([shapely.Point(380_000, 3_440_000)], id=["inc-1"])
    >>> bands = zones_by_distance(incident, [100, 200, 300])
    >>> square = shapely.box(379_500, 3_439_500, 380_500, 3_440_500)
    >>> crowd = layer([square], id=["z1"], people=[10_000])
    >>> people_in_zones(bands, crowd)["people"].round().tolist()
    [314.0, 942.0, 1570.0]
    """
    source, what = (cells, "cells") if cells is not None else (crowd_zones, "crowd_zones")
    out = bands.copy()
    out["people"] = 0.0
    if len(bands) == 0 or source is None or len(source) == 0:
        return out
    if "people" not in source.columns:
        raise InputError(
            "required column is missing", file=what, field="people", expected="a number >= 0"
        )
    _need_crs(source, what)
    _need_crs(bands, "bands")
    people = pd.to_numeric(source["people"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(people) | (people < 0)
    if bad.any():
        zid = _ids(source)
        raise InputError(
            problems=[
                Problem("people is missing or negative", what, zid[i], "people", "a number >= 0")
                for i in np.flatnonzero(bad)
            ]
        )
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(bands)
    bg = np.asarray(bands.geometry.to_crs(crs).array, dtype=object)
    zg = np.asarray(source.geometry.to_crs(crs).array, dtype=object)
    live = ~(shapely.is_missing(zg) | shapely.is_empty(zg)) & (people > 0)
    zi_all = np.flatnonzero(live)
    zg, people = zg[zi_all], people[zi_all]
    bg = np.where(shapely.is_missing(bg), shapely.Polygon(), bg)
    area = shapely.area(zg)
    tree = shapely.STRtree(zg)
    bi, zi = tree.query(bg, predicate="intersects")
    shapely.prepare(bg)
    share = np.zeros(len(bi))
    covered = shapely.covers(bg[bi], zg[zi])
    share[covered] = 1.0
    part = ~covered & (area[zi] > 0)
    if part.any():
        inter = shapely.intersection(bg[bi[part]], zg[zi[part]])
        share[part] = shapely.area(inter) / area[zi[part]]
    # Zones without area (points, slivers) count where a point of them lies.
    flat = ~covered & (area[zi] <= 0)
    if flat.any():
        share[flat] = shapely.covers(bg[bi[flat]], shapely.point_on_surface(zg[zi[flat]]))
    out["people"] = np.bincount(bi, weights=people[zi] * share, minlength=len(bands))
    return out
