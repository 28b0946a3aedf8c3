"""Isochrones: the area within each travel-time band of a site, drawn from grid cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely
from scipy.ndimage import minimum_filter
from scipy.sparse.csgraph import dijkstra

from geo.constants import WGS84, Mode
from geo.errors import InputError
from geo.network.graph import _ModeGraph
from geo.network.rules import Direction, _check_direction
from geo.network.snap import Snap, _take

if TYPE_CHECKING:
    from geo.network.road_network import RoadNetwork

__all__ = ["cells_union"]


def _isochrones(
    net: RoadNetwork,
    sites: gpd.GeoDataFrame,
    mode: Mode,
    minutes: tuple[float, ...] | list[float],
    *,
    direction: Direction,
    cell_m: float | None,
    cumulative: bool,
    max_snap_m: float,
) -> gpd.GeoDataFrame:
    """:meth:`RoadNetwork.isochrones` (see there): one Dijkstra per site, limited to the last
    band, then each site's bands drawn by :func:`_isochrone_one`."""
    _check_direction(direction)
    mins = np.asarray(sorted({float(x) for x in minutes}), dtype=float)
    if mins.size == 0 or mins[0] <= 0:
        raise InputError(
            "isochrone bands must be positive minutes",
            field="minutes",
            expected="e.g. 5, 10, 15, 30",
        )
    cell = float(cell_m or (40.0 if mode == "walk" else 100.0))
    ids, s = net._snap_sites(sites, mode, max_snap_m)
    g = net._graph(mode)
    tmax = mins[-1] * 60.0
    rows: list[dict[str, object]] = []
    chunk = max(1, int(2e7 // max(net.n_nodes, 1)))
    for c in range(0, len(s), chunk):
        sl = slice(c, min(c + chunk, len(s)))
        sub = _take(s, sl)
        m, n = net._augmented(mode, direction, sub, sub.access_s)
        dist = dijkstra(m, directed=True, indices=np.arange(n, n + len(sub.edge)), limit=tmax)
        for k in range(len(sub.edge)):
            rows += _isochrone_one(
                net,
                ids[c + k],
                mode,
                g,
                direction,
                _take(sub, slice(k, k + 1)),
                dist[k, :n],
                mins,
                cell,
                cumulative,
            )
    gdf = gpd.GeoDataFrame(
        rows,
        columns=["site_id", "min_from", "min_to", "area_km2", "geometry"],
        geometry="geometry",
        crs=net.crs,
    )
    return gdf.to_crs(WGS84)


def _isochrone_one(
    net: RoadNetwork,
    site_id: str,
    mode: str,
    g: _ModeGraph,
    direction: str,
    site: Snap,
    dist: np.ndarray,
    mins: np.ndarray,
    cell: float,
    cumulative: bool,
) -> list[dict[str, object]]:
    tmax = mins[-1] * 60.0
    eu, ev = net.edge_u, net.edge_v
    du, dv = dist[eu], dist[ev]
    se = int(site.edge[0])
    cand = g.edge_ok & ((du <= tmax) | (dv <= tmax))
    cand[se] = True
    segs = np.flatnonzero(cand[net._seg_edge])
    e = net._seg_edge[segs]
    a = net._vert_xy[net._seg_start[segs]]
    b = net._vert_xy[net._seg_start[segs] + 1]
    seg_len = np.hypot(*(b - a).T)
    # Samples every cell/2 along each segment, with their exact times.
    k = np.maximum(np.ceil(seg_len / (cell / 2)).astype(np.int64), 1) + 1
    sid = np.repeat(np.arange(len(segs)), k)
    pos = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)) / (k[sid] - 1)
    xy = a[sid] + (b - a)[sid] * pos[:, None]
    es = e[sid]
    f = np.clip(
        (net._seg_off[segs][sid] + pos * seg_len[sid]) / np.maximum(net.edge_len[es], 1e-12),
        0,
        1,
    )
    pts = Snap(
        es,
        f,
        np.zeros(len(es)),
        np.zeros(len(es)),
        np.zeros(len(es), bool),
        np.zeros(len(es), bool),
        xy,
    )
    t, _ = net._point_times(mode, direction, pts, dist)
    on_site_edge = es == se
    if on_site_edge.any():
        fs = np.full(int(on_site_edge.sum()), site.frac[0])
        fp = f[on_site_edge]
        direct = (
            net._along(mode, es[on_site_edge], fp, fs)
            if direction == "to_site"
            else net._along(mode, es[on_site_edge], fs, fp)
        ) + site.access_s[0]
        t[on_site_edge] = np.minimum(t[on_site_edge], direct)
    ok = t <= tmax
    # The site itself is always in the first band.
    xy = np.r_[xy[ok], site.xy]
    t = np.r_[t[ok], site.access_s]
    # Grid cells: each takes the best time of the samples in it and its 8 neighbours.
    ij = np.floor(xy / cell).astype(np.int64)
    lo_ij = ij.min(axis=0) - 1
    ij -= lo_ij
    grid = np.full(tuple(ij.max(axis=0) + 2), np.inf)
    np.minimum.at(grid, (ij[:, 0], ij[:, 1]), t)
    grid = minimum_filter(grid, size=3, mode="constant", cval=np.inf)
    cells = np.argwhere(np.isfinite(grid))
    best = grid[cells[:, 0], cells[:, 1]]
    ukey = cells + lo_ij
    band = np.searchsorted(mins * 60.0, best, side="left")
    rows = []
    lo = 0.0
    for bi, hi in enumerate(mins):
        sel = band <= bi if cumulative else band == bi
        if sel.any():
            geom = cells_union(ukey[sel], cell)
            rows.append(
                {
                    "site_id": site_id,
                    "min_from": 0.0 if cumulative else lo,
                    "min_to": float(hi),
                    "area_km2": geom.area / 1e6,
                    "geometry": geom,
                }
            )
        lo = float(hi)
    return rows


def cells_union(ij: np.ndarray, cell: float) -> shapely.Geometry:
    """Union of grid cells (i, j) of size ``cell``, as a valid (multi)polygon.

    Cells are merged into runs along rows; each run is drawn with a vertex at every cell corner
    of its top and bottom edges, so runs of neighbouring rows share their vertices exactly (a
    valid coverage, no T-junctions) and GEOS's fast coverage union applies. Collinear vertices
    are then dropped. (Plain run boxes are not a valid coverage: their coverage union leaves
    touching pieces, an invalid MultiPolygon.)
    """
    order = np.lexsort((ij[:, 0], ij[:, 1]))
    i, j = ij[order, 0], ij[order, 1]
    brk = np.r_[True, (j[1:] != j[:-1]) | (i[1:] != i[:-1] + 1)]
    start = np.flatnonzero(brk)
    end = np.r_[start[1:], len(i)] - 1
    i0, i1, j = i[start], i[end], j[start]
    nv = i1 - i0 + 2  # vertices on the bottom (and on the top) edge of each run
    n = 2 * nv
    run = np.repeat(np.arange(len(i0)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    m = nv[run]
    bottom = k < m
    x = np.where(bottom, i0[run] + k, i0[run] + (2 * m - 1 - k))
    y = np.where(bottom, j[run], j[run] + 1)
    rings = shapely.linearrings(np.column_stack([x, y]).astype(float) * cell, indices=run)
    return shapely.simplify(shapely.coverage_union_all(shapely.polygons(rings)), 0.0)
