"""Zones over the road network: the area reachable within a distance or a time of the incidents."""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.ndimage import minimum_filter
from scipy.sparse.csgraph import dijkstra

from geo.constants import DEFAULT_RINGS_M, Mode
from geo.cordon.common import (
    _MODE_WORDS,
    Unit,
    _band_frame,
    _bands_from_zones,
    _check_limits,
    _crossings,
    _fill_holes,
    _incident_geoms,
    _ring_segments,
)
from geo.errors import InputError, Problem
from geo.network import (
    SITE_SNAP_M,
    RoadNetwork,
    Snap,
    _ModeGraph,
    cells_union,
)

__all__ = ["zones_by_network"]


_MAX_GRID_CELLS = 60_000_000  # ~0.5 GB of float64: ask for a larger cell beyond this


# --- zones over the road network ----------------------------------------------------------------


def zones_by_network(
    network: RoadNetwork,
    incidents: gpd.GeoDataFrame,
    limits: Sequence[float] | float = DEFAULT_RINGS_M,
    *,
    unit: Unit = "m",
    mode: Mode = "walk",
    cell_m: float | None = None,
    max_snap_m: float = SITE_SNAP_M,
    fill_holes: bool = True,
) -> gpd.GeoDataFrame:
    """Nested zones reachable over the roads from the incidents, as disjoint bands.

    Parameters
    ----------
    network : the road network (:func:`geo.network.network_for`).
    incidents : points or polygons with ``id``.
    limits : one to three increasing positive limits: metres along the roads (``unit="m"``) or
        minutes of travel (``unit="min"``).
    unit : ``"m"`` or ``"min"``.
    mode : ``"walk"`` or ``"drive"`` (roads the mode may use; one-way streets honoured when
        driving, travelling away from the incident).
    cell_m : resolution of the drawn area; default 40 m walking, 100 m driving.
    max_snap_m : an incident further than this from a road usable in ``mode`` is an error.
    fill_holes : areas a zone encloses but no road reaches (large blocks, a lake, a walled
        compound, the far side of a motorway) belong to the zone: nobody gets in or out but
        through it. False keeps them out (the bare reachable area, with holes).

    Returns
    -------
    GeoDataFrame like :func:`zones_by_distance` (``by`` = "network", ``mode`` set; ``inner_m`` /
    ``outer_m`` or ``inner_min`` / ``outer_min`` filled by ``unit``). ``incident_ids`` lists the
    incidents nearest to a road node in the band (every incident is in the lockdown band).

    Raises
    ------
    InputError : bad limits, unit or mode; an empty geometry; an incident outside the roads'
        extent (further than ``max_snap_m`` from a usable road).
    """
    if unit not in ("m", "min"):
        raise InputError(f"unknown unit '{unit}'", field="unit", expected="m or min")
    lim = _check_limits(limits, "limits", unit)
    g = network._graph(mode)  # raises InputError for an unknown mode
    if not g.edge_ok.any():
        raise InputError(
            f"the road network has no road usable {_MODE_WORDS[mode]}",
            file="roads",
            field="road_class",
            expected="roads this mode may use",
        )
    cell = float(cell_m if cell_m is not None else (40.0 if mode == "walk" else 100.0))
    if not (np.isfinite(cell) and cell > 0):
        raise InputError("the cell size must be positive", field="cell_m", expected="metres > 0")
    ids, geoms = _incident_geoms(incidents, network.crs)
    # In metres the weights are lengths: a view of the network whose "times" are metres.
    view = _length_view(network, mode) if unit == "m" else network
    access_per_m = 1.0 if unit == "m" else 1.0 / network.walk_ms
    src, cost0, owner = _sources(network, mode, ids, geoms, access_per_m, max_snap_m)
    scale = 1.0 if unit == "m" else 60.0
    tl = lim * scale
    node_t, node_src = _reach(view, mode, src, cost0, tl[-1])
    xy, t = _samples(view, mode, src, cost0, node_t, tl[-1], cell / 2)

    # Grid cells: each takes the best time of the samples in it and its 8 neighbours (as in
    # RoadNetwork.isochrones), then falls in the first band whose limit it meets.
    ij = np.floor(xy / cell).astype(np.int64)
    lo = ij.min(axis=0) - 1
    ij -= lo
    shape = tuple(ij.max(axis=0) + 2)
    if shape[0] * shape[1] > _MAX_GRID_CELLS:
        raise InputError(
            f"the zones span {shape[0] * shape[1]:,} cells of {cell:g} m",
            field="cell_m",
            expected="a larger cell size, or incidents closer together",
        )
    grid = np.full(shape, np.inf)
    np.minimum.at(grid, (ij[:, 0], ij[:, 1]), t)
    grid = minimum_filter(grid, size=3, mode="constant", cval=np.inf)
    cells = np.argwhere(np.isfinite(grid))
    band_of = np.searchsorted(tl, grid[cells[:, 0], cells[:, 1]], side="left")
    cells += lo
    polys = [gm for gm in geoms if shapely.get_type_id(gm) in (3, 6)]
    venue = shapely.union_all(polys) if polys else shapely.Polygon()
    zones = []
    for k in range(len(tl)):
        sel = band_of <= k
        zone = cells_union(cells[sel], cell) if sel.any() else shapely.Polygon()
        if not shapely.is_empty(venue):
            zone = shapely.union(zone, venue)
        zones.append(_fill_holes(zone) if fill_holes else zone)
    bands = _bands_from_zones(zones)

    # Which incidents each band belongs to: the owners of the nodes whose time falls in it.
    reached = node_src >= 0
    node_band = np.searchsorted(tl, node_t[reached], side="left")
    node_owner = owner[node_src[reached]]
    owners = []
    for k in range(len(tl)):
        o = set(node_owner[node_band == k].tolist())
        if k == 0:
            o |= set(range(len(ids)))
        owners.append(",".join(ids[sorted(o)]) if not shapely.is_empty(bands[k]) else "")
    return _band_frame(bands, network.crs, lim, unit, "network", mode, owners)


_LENGTH_VIEWS: weakref.WeakKeyDictionary[RoadNetwork, dict[str, RoadNetwork]] = (
    weakref.WeakKeyDictionary()
)


def _length_view(net: RoadNetwork, mode: str) -> RoadNetwork:
    """A shallow copy of ``net`` whose ``mode`` graph weighs arcs in metres instead of seconds.

    Every network primitive (augmented graph, point times, along-edge times) then works in
    metres unchanged. The usable edges, components and one-way rules are the mode's own.
    """
    views = _LENGTH_VIEWS.setdefault(net, {})
    if mode in views:
        return views[mode]
    g = net._graph(mode)
    length = net.edge_len
    t_fwd = np.where(np.isfinite(g.t_fwd), length, np.inf)
    t_back = np.where(np.isfinite(g.t_back), length, np.inf)
    loop = net.edge_u == net.edge_v
    rows = np.r_[net.edge_u, net.edge_v]
    cols = np.r_[net.edge_v, net.edge_u]
    w = np.r_[t_fwd, t_back]
    keep = np.isfinite(w) & ~np.r_[loop, loop]
    rows, cols, w = rows[keep], cols[keep], w[keep]
    # Parallel edges: keep the shortest (COO -> CSR would add them up).
    n = net.n_nodes
    key = rows * n + cols
    order = np.argsort(key, kind="stable")
    key, w = key[order], w[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    w = np.minimum.reduceat(w, start) if len(w) else w
    rows, cols = np.divmod(key[start], n)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))]
    csr = sp.csr_array((w, cols, indptr), shape=(n, n))
    view = copy.copy(net)
    view._graphs = {mode: _ModeGraph(t_fwd, t_back, csr, g.comp, g.major, g.edge_ok, g.edge_major)}
    views[mode] = view
    return view


def _sources(
    net: RoadNetwork,
    mode: Mode,
    ids: np.ndarray,
    geoms: np.ndarray,
    access_per_m: float,
    max_snap_m: float,
) -> tuple[Snap, np.ndarray, np.ndarray]:
    """Where the incidents meet the network: (sources, start cost per source, incident index)."""
    g = net._graph(mode)
    edges, fracs, costs, owners, xys = [], [], [], [], []
    far: list[tuple[int, float]] = []
    types = shapely.get_type_id(geoms)
    pointy = np.flatnonzero(np.isin(types, (0, 4)))
    if len(pointy):
        parts, pidx = shapely.get_parts(geoms[pointy], return_index=True)
        s = net.snap_xy(shapely.get_coordinates(parts), mode, max_snap_m=max_snap_m)
        inc = pointy[pidx]
        for i in np.flatnonzero(s.off_network):
            far.append((int(inc[i]), float(s.dist_m[i])))
        edges.append(s.edge)
        fracs.append(s.frac)
        costs.append(s.dist_m * access_per_m)
        owners.append(inc)
        xys.append(s.xy)
    for i in np.flatnonzero(np.isin(types, (3, 6))):
        e, f, xy = _polygon_sources(net, g, geoms[i])
        if len(e):
            cost = np.zeros(len(e))
        else:
            # No road inside or across it: start from the nearest road to its outline.
            ring = shapely.segmentize(shapely.boundary(geoms[i]), 10.0)
            s = net.snap_xy(shapely.get_coordinates(ring), mode, max_snap_m=max_snap_m)
            j = int(np.argmin(s.dist_m))
            if s.dist_m[j] > max_snap_m:
                far.append((int(i), float(s.dist_m[j])))
            e, f, xy = s.edge[j : j + 1], s.frac[j : j + 1], s.xy[j : j + 1]
            cost = s.dist_m[j : j + 1] * access_per_m
        edges.append(e)
        fracs.append(f)
        costs.append(cost)
        owners.append(np.full(len(e), i))
        xys.append(xy)
    other = np.flatnonzero(~np.isin(types, (0, 3, 4, 6)))
    if len(other):
        raise InputError(
            problems=[
                Problem(
                    "a network cordon starts from a point or a polygon",
                    "incidents",
                    ids[i],
                    "geometry",
                    "Point or Polygon",
                )
                for i in other
            ]
        )
    if far:
        raise InputError(
            problems=[
                Problem(
                    f"the incident is {d:.0f} m from the nearest road usable {_MODE_WORDS[mode]}, "
                    "outside the roads' extent",
                    "incidents",
                    ids[i],
                    "geometry",
                    f"an incident within {max_snap_m:g} m of the road network",
                )
                for i, d in far
            ]
        )
    e = np.concatenate(edges).astype(np.int64)
    n = len(e)
    src = Snap(
        edge=e,
        frac=np.concatenate(fracs),
        dist_m=np.zeros(n),
        access_s=np.zeros(n),
        off_network=np.zeros(n, dtype=bool),
        island=~g.edge_major[e],
        xy=np.concatenate(xys).reshape(-1, 2),
    )
    return src, np.concatenate(costs), np.concatenate(owners).astype(np.int64)


def _polygon_sources(
    net: RoadNetwork, g: _ModeGraph, poly: shapely.Geometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sources of a polygon incident: its road nodes and the points where roads cross its
    outline, as (edge, fraction along it, metric xy)."""
    x0, y0, x1, y1 = shapely.bounds(poly)
    nxy = net.node_xy
    box = (nxy[:, 0] >= x0) & (nxy[:, 0] <= x1) & (nxy[:, 1] >= y0) & (nxy[:, 1] <= y1)
    cand = np.flatnonzero(box)
    shapely.prepare(poly)
    inside = cand[shapely.intersects_xy(poly, nxy[cand, 0], nxy[cand, 1])]
    # One usable edge at each inside node, entered at that end.
    ok = np.flatnonzero(g.edge_ok)
    ends = np.r_[net.edge_u[ok], net.edge_v[ok]]
    pos = np.asarray(np.searchsorted(inside, ends))
    pos[pos >= len(inside)] = 0
    hit = (inside[pos] == ends) if len(inside) else np.zeros(len(ends), dtype=bool)
    first = np.unique(ends[hit], return_index=True)[1]
    ne = np.r_[ok, ok][hit][first]
    nf = np.r_[np.zeros(len(ok)), np.ones(len(ok))][hit][first]
    node_xy = nxy[ends[hit][first]]
    # Crossings of usable segments with the outline.
    seg_ok = np.flatnonzero(g.edge_ok[net._seg_edge])
    a = net._vert_xy[net._seg_start[seg_ok]]
    b = net._vert_xy[net._seg_start[seg_ok] + 1]
    near = (
        (np.maximum(a[:, 0], b[:, 0]) >= x0)
        & (np.minimum(a[:, 0], b[:, 0]) <= x1)
        & (np.maximum(a[:, 1], b[:, 1]) >= y0)
        & (np.minimum(a[:, 1], b[:, 1]) <= y1)
    )
    seg_ok, a, b = seg_ok[near], a[near], b[near]
    q0, q1 = _ring_segments(poly)
    si, _, t, pxy, _ = _crossings(a, b, q0, q1)
    segs = seg_ok[si]
    ce = net._seg_edge[segs]
    seg_len = np.hypot(*(b[si] - a[si]).T)
    cf = np.clip((net._seg_off[segs] + t * seg_len) / np.maximum(net.edge_len[ce], 1e-12), 0, 1)
    return np.r_[ne, ce].astype(np.int64), np.r_[nf, cf], np.r_[node_xy, pxy].reshape(-1, 2)


def _reach(
    view: RoadNetwork, mode: str, src: Snap, cost0: np.ndarray, tmax: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra away from the sources: per node the cost to the nearest source and
    which source (-1 = beyond ``tmax``)."""
    m, n = view._augmented(mode, "from_site", src, cost0)
    dist, _, nearest = dijkstra(
        m,
        directed=True,
        indices=np.arange(n, n + len(src)),
        min_only=True,
        return_predecessors=True,
        limit=tmax,
    )
    node_src = np.where(nearest[:n] >= 0, nearest[:n] - n, -1)
    return dist[:n], node_src


def _samples(
    view: RoadNetwork,
    mode: str,
    src: Snap,
    cost0: np.ndarray,
    node_t: np.ndarray,
    tmax: float,
    spacing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the reached roads with their exact cost (the sampling of
    ``RoadNetwork._isochrone_one``, for many sources: every source's own edge gets the direct
    cost along it). Returns metric xy and cost of the samples within ``tmax``, plus the sources.
    """
    g = view._graph(mode)
    du, dv = node_t[view.edge_u], node_t[view.edge_v]
    cand = g.edge_ok & ((du <= tmax) | (dv <= tmax))
    cand[src.edge] = True
    segs = np.flatnonzero(cand[view._seg_edge])
    e = view._seg_edge[segs]
    a = view._vert_xy[view._seg_start[segs]]
    b = view._vert_xy[view._seg_start[segs] + 1]
    seg_len = np.hypot(*(b - a).T)
    k = np.maximum(np.ceil(seg_len / spacing).astype(np.int64), 1) + 1
    sid = np.repeat(np.arange(len(segs)), k)
    pos = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)) / (k[sid] - 1)
    xy = a[sid] + (b - a)[sid] * pos[:, None]
    es = e[sid]
    f = np.clip(
        (view._seg_off[segs][sid] + pos * seg_len[sid]) / np.maximum(view.edge_len[es], 1e-12),
        0,
        1,
    )
    zeros = np.zeros(len(es))
    pts = Snap(es, f, zeros, zeros, zeros.astype(bool), zeros.astype(bool), xy)
    t, _ = view._point_times(mode, "from_site", pts, node_t)
    ia, jb = view._same_edge_pairs(pts, src)
    if len(ia):
        direct = view._along(mode, es[ia], src.frac[jb], f[ia]) + cost0[jb]
        np.minimum.at(t, ia, direct)
    ok = t <= tmax
    return np.r_[xy[ok], src.xy], np.r_[t[ok], cost0]
