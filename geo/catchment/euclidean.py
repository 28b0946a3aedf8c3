"""Euclidean (Voronoi) catchments: the area nearer to each site than to any other."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from geo.catchment.capacity import _check_sites
from geo.catchment.demand import _cell_points
from geo.catchment.result import Catchments, _assemble
from geo.constants import WGS84
from geo.crs import local_crs
from geo.errors import InputError

__all__ = ["voronoi"]


def voronoi(
    sites: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | shapely.Geometry | None = None,
    cells: gpd.GeoDataFrame | None = None,
    *,
    now: Any = None,
    deadline: Any = None,
    crs: CRS | str | int | None = None,
) -> Catchments:
    """Euclidean catchments: the area nearer to each site than to any other, within the boundary.

    Parameters
    ----------
    sites : testing sites (points with ``id``; ``lanes``/``per_lane_per_h`` when ``now`` is given).
    boundary : polygons (a boundary layer or a shapely geometry in EPSG:4326); default the
        bounding box of sites and cells, grown by 10 %.
    cells : demand cells; their people are counted per site (at a point inside each cell).
    now, deadline : give them to get capacity, load and finish times.
    crs : metric CRS; default the UTM zone of the sites.

    Returns
    -------
    :class:`Catchments` (``mean_min``/``max_min`` are NaN: no travel times here). Two sites at
    the same place share one polygon: the first gets it, the others are ``status``
    "duplicate location".

    Raises
    ------
    InputError : no sites, sites without ``id``, an empty boundary.

    Examples
    --------
    Two sites 500 m apart in a 1.5 km x 0.5 km zone of 3,000 people split down the middle:

    >>> import geopandas as gpd, shapely
    >>> from geo.catchment import demand_cells, voronoi
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> sites = layer([shapely.Point(380_000, 3_440_250), shapely.Point(380_500, 3_440_250)],
    ...               id=["west", "east"])
    >>> crowd = layer([shapely.box(379_500, 3_440_000, 381_000, 3_440_500)], id=["z1"],
    ...               people=[3000])
    >>> cells = demand_cells(crowd, 250)
    >>> voronoi(sites, cells=cells).sites[["site_id", "people"]].round().values.tolist()
    [['west', 1500.0], ['east', 1500.0]]
    """
    _check_sites(sites)
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(sites)
    sxy = shapely.get_coordinates(np.asarray(sites.geometry.to_crs(crs).array, dtype=object))
    if boundary is None:
        pts = [sxy]
        if cells is not None and len(cells):
            pts.append(shapely.get_coordinates(_cell_points(cells, crs)))
        allp = np.concatenate(pts)
        lo, hi = allp.min(0), allp.max(0)
        pad = np.maximum((hi - lo) * 0.1, 500.0)
        area = shapely.box(*(lo - pad), *(hi + pad))
    elif isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if len(boundary) == 0:
            raise InputError(
                "the boundary has no polygon", file="boundary", expected="at least one polygon"
            )
        area = shapely.union_all(np.asarray(boundary.geometry.to_crs(crs).array, dtype=object))
    else:
        area = gpd.GeoSeries([boundary], crs=WGS84).to_crs(crs).iloc[0]
    uniq, first, inv = np.unique(sxy, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if len(uniq) == 1:
        polys = np.array([area], dtype=object)
    else:
        env = shapely.box(
            *np.minimum(shapely.bounds(area)[:2], uniq.min(0) - 1),
            *np.maximum(shapely.bounds(area)[2:], uniq.max(0) + 1),
        )
        vor = shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=env, ordered=True)
        polys = np.asarray(shapely.get_parts(vor), dtype=object)
        polys = shapely.intersection(polys, area)
    geom = np.array([shapely.Polygon()] * len(sites), dtype=object)
    geom[first] = polys
    dup = np.ones(len(sites), dtype=bool)
    dup[first] = False

    site_of_cell = None
    if cells is not None and len(cells):
        cxy = shapely.get_coordinates(_cell_points(cells, crs))
        _, nearest = cKDTree(uniq).query(cxy)
        site_of_cell = first[nearest]
    cat = _assemble(
        "voronoi", None, sites, cells, crs, site_of_cell, None, now, deadline, geom_override=geom
    )
    cat.sites.loc[dup, "status"] = "duplicate location"
    return cat
