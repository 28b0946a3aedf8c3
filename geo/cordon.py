"""Cordon: three nested zones around incidents, the people inside them, the checkpoints to staff.

Shanghai's outbreak practice draws three nested zones around an incident: lockdown (封控区),
control (管控区) and prevention (防范区). Here they are returned as *disjoint bands*: the control
band is the control zone minus the lockdown zone, and so on. Rank 1 is the lockdown band.

Zones
-----
* :func:`zones_by_distance` - buffers of the incident geometries in the local metric CRS.
* :func:`zones_by_network` - the area reachable over the roads within a distance (metres along
  the roads) or a travel time (minutes), from the incident: a point incident starts where it
  meets the network (plus its access leg); a polygon incident starts at every road node inside it
  and at every point where a road crosses its outline, and the polygon itself is always in the
  lockdown zone. One multi-source Dijkstra (scipy csgraph, ``min_only=True``) gives every node's
  distance to the nearest incident; the area is drawn like :meth:`RoadNetwork.isochrones` (roads
  sampled every ``cell_m / 2`` with exact times, a ``cell_m`` grid grown by one cell), so it
  extends ``cell_m`` to ``2 cell_m`` either side of the reached roads. Areas a zone encloses
  but no road reaches are filled into it (``fill_holes``). In metres the graph is weighed by
  length (a view of the network, built once per network and mode and cached).

With several incidents every tier is the union over the incidents and each band excludes the
inner tiers, so a point in the lockdown zone of one incident is never in another band.

People
------
:func:`people_in_zones`: areal-weighted interpolation. Each crowd zone's people are spread evenly
over its area (or over finer demand cells when given); a band gets ``people * area(zone & band) /
area(zone)`` of each zone, and exactly all of a zone it covers. Bands are disjoint, so the bands
add up to the people in their union. Overlapping crowd zones are counted as given (their overlaps
twice): that is the data's statement, not something this module can resolve.

Checkpoints
-----------
:func:`checkpoints`: every place where a road crosses the outer boundary of a zone (the boundary
of the union of the bands up to that rank, holes included), computed exactly on the road and
boundary segments in the metric CRS. Each crossing knows its direction: a one-way road (the
``oneway`` flag, or a motorway) whose line enters the zone is ``"in"``, one leaving it ``"out"``;
a two-way road is ``"both"``. Every road class counts (a motorway crossing a walking cordon
too), except classes that are not roads (:data:`geo.network.NOT_ROUTABLE`); footways, paths and
the like only with ``include_footpaths``. A crossing at a shared vertex counts once; a road
running along the boundary does not cross it. For polygon incidents (``incidents=``) the
crossings of the incident's outline are the innermost checkpoints, band ``"venue_exit"`` (rank 0;
``"out"`` = leaving the venue).

Crossings of the same boundary closer than ``merge_m`` merge into one checkpoint (dual
carriageways, junctions): greedily, the crossing of the highest road class takes every unmerged
crossing within ``merge_m`` of it, and so on; the checkpoint stands on that highest-class crossing
and carries its road, name and class, the union of the directions (``"both"`` when they differ)
and every merged road id. **Staff**: ``staff`` is the highest per-class figure among the merged
crossings (one post controls them all, and the table's figure is per post);
``staff_if_separate`` is the sum (what separate posts would need). Totals use ``staff``.
The staffing table is ``Settings.checkpoint_staff``; a ``*_link`` class without an entry takes its
parent's figure, any other class without one takes :data:`DEFAULT_STAFF_UNKNOWN`.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.ndimage import minimum_filter
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.constants import DEFAULT_RINGS_M, DEFAULT_RINGS_MIN, DEFAULT_STAFF, WGS84, Mode
from geo.crs import local_crs
from geo.errors import InputError, Problem
from geo.network import (
    NOT_ROUTABLE,
    ONEWAY_BY_DEFAULT,
    SITE_SNAP_M,
    WALK_ONLY,
    RoadNetwork,
    Snap,
    _ModeGraph,
    cells_union,
)

By = Literal["distance", "network", "drawn"]
Unit = Literal["m", "min"]

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
#: Staff at a checkpoint on a road class the table does not name (and that is not a ``_link``).
DEFAULT_STAFF_UNKNOWN = 1
#: Road classes from the most to the least important (for "the highest class" of a merge).
CLASS_ORDER: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "road",
    "living_street",
    "service",
    "track",
    "pedestrian",
    "footway",
    "cycleway",
    "path",
    "bridleway",
    "steps",
)
_CLASS_RANK = {c: i for i, c in enumerate(CLASS_ORDER)}
_MODE_WORDS = {"walk": "on foot", "drive": "by car"}
_MAX_GRID_CELLS = 60_000_000  # ~0.5 GB of float64: ask for a larger cell beyond this
_BOUNDARY_TOL_M = 0.5  # slack when picking roads near a boundary in the roads' own CRS
_GRID_MM = 0.001  # precision (m) of the zone unions the checkpoints are computed on


class CordonResult(NamedTuple):
    """What :func:`cordon` returns (unpacks as ``bands, checkpoints, summary``)."""

    bands: gpd.GeoDataFrame
    checkpoints: gpd.GeoDataFrame
    summary: dict[str, Any]


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
    """
    lim = _check_limits(distances_m, "distances_m", "m")
    crs = _metric_crs(incidents, crs)
    ids, geoms = _incident_geoms(incidents, crs)
    zones, tiers = [], []
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


def _bands_from_zones(zones: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """Disjoint bands from nested cumulative zones."""
    out = [zones[0]]
    for inner, outer in zip(zones[:-1], zones[1:]):
        out.append(_polygonal(shapely.difference(outer, inner)))
    return out


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
    geoms = shapely.make_valid(geoms)
    zones, owners = [], []
    for b in BANDS:
        mine = bands_of == b
        zone = _polygonal(shapely.union_all(geoms[mine])) if mine.any() else shapely.Polygon()
        zones.append(zone if not zones else _polygonal(shapely.union(zone, zones[-1])))
        owners.append(",".join(ids[mine]))
    bands = _bands_from_zones(zones)
    nan = np.full(len(BANDS), np.nan)
    return _band_frame(bands, crs, nan, "m", "drawn", None, owners)


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
    mode: str,
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
        s = net.snap_xy(shapely.get_coordinates(parts), mode, max_snap_m=max_snap_m)  # type: ignore[arg-type]
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
            s = net.snap_xy(shapely.get_coordinates(ring), mode, max_snap_m=max_snap_m)  # type: ignore[arg-type]
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
    pos = np.searchsorted(inside, ends)
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


# --- people -------------------------------------------------------------------------------------


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


# --- checkpoints --------------------------------------------------------------------------------


def checkpoints(
    bands: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    staff: Mapping[str, int] | None = None,
    merge_m: float = 30.0,
    include_footpaths: bool = True,
    incidents: gpd.GeoDataFrame | None = None,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Checkpoints where roads cross the zones' outer boundaries (and leave polygon incidents).

    Parameters
    ----------
    bands : disjoint bands with ``band`` and ``rank`` (from :func:`zones_by_distance` or
        :func:`zones_by_network`); the zone of rank k is the union of the bands of rank <= k.
    roads : a roads layer (``id``, ``road_class``; optional ``name``, ``oneway``).
    staff : people per checkpoint by road class; default ``Settings.checkpoint_staff``
        (:data:`geo.scenario.DEFAULT_STAFF`).
    merge_m : crossings of the same boundary closer than this merge into one checkpoint
        (0 = never merge).
    include_footpaths : also post staff where footways, paths, steps, cycleways ... cross.
    incidents : the incidents; the outlines of polygon incidents give ``venue_exit`` checkpoints.
    crs : metric CRS; default the UTM zone of the bands.

    Returns
    -------
    GeoDataFrame (EPSG:4326) of points, ordered by rank then position: ``id`` ("cp-1", ...),
    ``band`` (the zone whose boundary it is on, or "venue_exit"), ``band_zh``, ``rank`` (0 for
    venue exits), ``road_id`` / ``name`` / ``road_class`` (of the highest-class merged road),
    ``road_ids`` (all merged, comma-separated), ``direction`` ("in" / "out" / "both"),
    ``staff``, ``staff_if_separate``, ``crossings`` (how many crossings merged).

    Raises
    ------
    InputError : bands or roads without the needed columns, a bad staff table or ``merge_m``.
    """
    if not (np.isfinite(merge_m) and merge_m >= 0):
        raise InputError(
            "the merge distance must be zero or more metres", field="merge_m", expected=">= 0"
        )
    table = _staff_table(staff)
    for c in ("band", "rank"):
        if c not in bands.columns:
            raise InputError(
                "required column is missing",
                file="bands",
                field=c,
                expected="bands from zones_by_distance or zones_by_network",
            )
    _need_crs(bands, "bands")
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(bands)
    # The boundaries to watch: each zone (union of the bands up to its rank), then the venues.
    rings: list[tuple[str, int, shapely.Geometry]] = []
    bg = np.asarray(bands.geometry.to_crs(crs).array, dtype=object)
    rank = pd.to_numeric(bands["rank"], errors="coerce").to_numpy(dtype=float)
    names = bands["band"].astype(str).to_numpy()
    live = ~(shapely.is_missing(bg) | shapely.is_empty(bg))
    zone = None
    for r in np.unique(rank[np.isfinite(rank)]):
        at = np.flatnonzero((rank == r) & live)
        if len(at) == 0:
            continue
        # At 1 mm precision: bands that went through EPSG:4326 and back may meet along edges
        # that are no longer exactly collinear; slivers thinner than that must not become holes.
        piece = shapely.union_all(bg[at], grid_size=_GRID_MM)
        zone = piece if zone is None else shapely.union(zone, piece, grid_size=_GRID_MM)
        rings.append((str(names[at[0]]), int(r), zone))
    if incidents is not None and len(incidents):
        _need_crs(incidents, "incidents")
        ig = np.asarray(incidents.geometry.to_crs(crs).array, dtype=object)
        ig = ig[~(shapely.is_missing(ig) | shapely.is_empty(ig))]
        polys = ig[np.isin(shapely.get_type_id(ig), (3, 6))]
        if len(polys):
            rings.insert(0, (VENUE_EXIT, 0, shapely.union_all(polys)))
    empty = _empty_checkpoints()
    if not rings or roads is None or len(roads) == 0:
        return empty
    for c in ("id", "road_class"):
        if c not in roads.columns:
            raise InputError(
                "required column is missing", file="roads", field=c, expected="a roads layer"
            )
    _need_crs(roads, "roads")

    rgeo = np.asarray(roads.geometry.array, dtype=object)
    rb = shapely.bounds(rgeo)  # NaN for empty geometries: never a candidate
    to_road = Transformer.from_crs(crs, roads.crs, always_xy=True)
    to_metric = Transformer.from_crs(roads.crs, crs, always_xy=True)

    # Pass 1: the roads touching each boundary (bounding boxes, then a prepared intersection
    # with the boundary widened by a hair, in the roads' own CRS so that only these few roads
    # are projected and looked at).
    hits = []
    for _, _, zone in rings:
        bx = to_road.transform_bounds(*shapely.bounds(zone), densify_pts=21)
        cand = np.flatnonzero(
            (rb[:, 0] <= bx[2]) & (rb[:, 2] >= bx[0]) & (rb[:, 1] <= bx[3]) & (rb[:, 3] >= bx[1])
        )
        if len(cand):
            edge = shapely.buffer(shapely.boundary(zone), _BOUNDARY_TOL_M, quad_segs=1)
            edge = shapely.transform(edge, lambda c: np.column_stack(to_road.transform(*c.T)))
            shapely.prepare(edge)
            cand = cand[shapely.intersects(edge, rgeo[cand])]
        hits.append(cand)
    near = np.unique(np.concatenate(hits)) if hits else np.zeros(0, dtype=np.int64)
    attrs = _road_attrs(roads, near, table)
    keep = ~np.isin(attrs["class"], list(NOT_ROUTABLE))
    if not include_footpaths:
        keep &= ~np.isin(attrs["class"], list(WALK_ONLY))
    usable = np.zeros(len(roads), dtype=bool)
    usable[near[keep]] = True

    # Pass 2: exact crossings in the metric CRS, then merging.
    frames = []
    for (label, r, zone), cand in zip(rings, hits):
        cand = cand[usable[cand]]
        zone = shapely.orient_polygons(zone, exterior_cw=False)  # inside on each ring's left
        q0, q1 = _ring_segments(zone)
        if len(cand) == 0 or len(q0) == 0:
            continue
        parts, pidx = shapely.get_parts(rgeo[cand], return_index=True)
        xy, vpart = shapely.get_coordinates(parts, return_index=True)
        xy = np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1]))
        s = np.flatnonzero(vpart[1:] == vpart[:-1])
        si, _, _, pxy, entering = _crossings(xy[s], xy[s + 1], q0, q1)
        if len(si) == 0:
            continue
        ri = cand[pidx[vpart[s[si]]]]
        k = np.searchsorted(near, ri)
        direction = np.where(attrs["oneway"][k], np.where(entering, "in", "out"), "both")
        frames.append(
            _merge(label, r, pxy, k, direction, attrs["class_rank"], attrs["staff"], merge_m)
        )
    if not frames:
        return empty
    cp = pd.concat(frames, ignore_index=True)
    cp = cp.sort_values(["rank", "x", "y"], kind="stable").reset_index(drop=True)
    ri = cp["road"].to_numpy()
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(
        cp["x"].to_numpy(), cp["y"].to_numpy()
    )
    out = gpd.GeoDataFrame(
        {
            "id": [f"cp-{i + 1}" for i in range(len(cp))],
            "band": cp["band"].to_numpy(dtype=object),
            "band_zh": [BAND_ZH.get(b, "") for b in cp["band"]],
            "rank": cp["rank"].to_numpy(dtype=np.int64),
            "road_id": attrs["id"][ri],
            "road_ids": [",".join(attrs["id"][m]) for m in cp["members"]],
            "name": attrs["name"][ri],
            "road_class": attrs["class"][ri],
            "direction": cp["direction"].to_numpy(dtype=object),
            "staff": cp["staff"].to_numpy(dtype=np.int64),
            "staff_if_separate": cp["staff_sum"].to_numpy(dtype=np.int64),
            "crossings": cp["n"].to_numpy(dtype=np.int64),
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
    return out


def _merge(
    label: str,
    rank: int,
    pxy: np.ndarray,
    road: np.ndarray,
    direction: np.ndarray,
    class_rank: np.ndarray,
    road_staff: np.ndarray,
    merge_m: float,
) -> pd.DataFrame:
    """Merge the crossings of one boundary lying within ``merge_m`` of a higher-class one."""
    n = len(pxy)
    # Highest class first, then most staff, then position (deterministic).
    order = np.lexsort((pxy[:, 1], pxy[:, 0], -road_staff[road], class_rank[road]))
    group = np.full(n, -1, dtype=np.int64)
    if merge_m > 0 and n > 1:
        near = cKDTree(pxy).query_ball_point(pxy[order], r=merge_m)
        for i, nb in zip(order.tolist(), near):
            if group[i] < 0:
                nb = np.asarray(nb, dtype=np.int64)
                group[nb[group[nb] < 0]] = i
    else:
        group[:] = np.arange(n)
    # Members of each group, anchor first (sort by group, then priority).
    prio = np.empty(n, dtype=np.int64)
    prio[order] = np.arange(n)
    by = np.lexsort((prio, prio[group]))
    g = group[by]
    first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    anchors = by[first]
    members = np.split(by, first[1:])
    cnt = np.diff(np.r_[first, n])
    st = road_staff[road[by]]
    code = np.select([direction[by] == "in", direction[by] == "out"], [1, 2], 4)
    dirs = np.bitwise_or.reduceat(code, first)
    return pd.DataFrame(
        {
            "band": label,
            "rank": rank,
            "x": pxy[anchors, 0],
            "y": pxy[anchors, 1],
            "road": road[anchors],
            "members": [list(dict.fromkeys(road[m].tolist())) for m in members],
            "direction": np.select([dirs == 1, dirs == 2], ["in", "out"], "both"),
            "staff": np.maximum.reduceat(st, first),
            "staff_sum": np.add.reduceat(st, first),
            "n": cnt,
        }
    )


def _road_attrs(roads: gpd.GeoDataFrame, idx: np.ndarray, table: Mapping[str, int]) -> dict:
    """Id, name, class, one-way flag, class rank and staff of the roads at positions ``idx``."""
    sub = roads.iloc[idx]
    cls = np.array(
        [str(v).strip().lower() if pd.notna(v) else "" for v in sub["road_class"]], dtype=object
    )
    default_ow = np.isin(cls, list(ONEWAY_BY_DEFAULT))
    if "oneway" in sub.columns:
        ow = sub["oneway"].astype("boolean")
        oneway = ow.fillna(pd.Series(default_ow, index=sub.index)).to_numpy(dtype=bool)
    else:
        oneway = default_ow
    if "name" in sub.columns:
        names = np.array([v if pd.notna(v) else None for v in sub["name"]], dtype=object)
    else:
        names = np.full(len(sub), None, dtype=object)
    return {
        "id": sub["id"].astype(str).to_numpy(dtype=object),
        "name": names,
        "class": cls,
        "oneway": oneway,
        "class_rank": np.array([_CLASS_RANK.get(c, len(CLASS_ORDER)) for c in cls], dtype=int),
        "staff": np.array([_staff_of(c, table) for c in cls], dtype=np.int64),
    }


def _empty_checkpoints() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in CHECKPOINT_COLUMNS},
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )


def _staff_table(staff: Mapping[str, int] | None) -> dict[str, int]:
    table = dict(DEFAULT_STAFF if staff is None else staff)
    out = {}
    for k, v in table.items():
        try:
            val = float(v)
        except (TypeError, ValueError):
            val = float("nan")
        if not (np.isfinite(val) and val >= 0 and val == int(val)):
            raise InputError(
                f"staff for road class '{k}' is {v!r}",
                field="checkpoint_staff",
                expected="a whole number of people >= 0 per road class",
            )
        out[str(k).strip().lower()] = int(val)
    return out


def _staff_of(road_class: str, table: Mapping[str, int]) -> int:
    if road_class in table:
        return table[road_class]
    if road_class.endswith("_link") and road_class[:-5] in table:
        return table[road_class[:-5]]
    return DEFAULT_STAFF_UNKNOWN


# --- scenario level -----------------------------------------------------------------------------


def summarize(bands: gpd.GeoDataFrame, cps: gpd.GeoDataFrame) -> dict[str, Any]:
    """Counts for a panel: people and area per band, checkpoints by class and band, staff.

    Returns
    -------
    dict: ``people`` {band: people} (when ``bands`` has ``people``), ``people_total``,
    ``area_km2`` {band: km²}, ``checkpoints`` (count), ``checkpoints_by_class``,
    ``checkpoints_by_band``, ``staff_total``, ``staff_by_band``, ``staff_if_separate``.
    """
    out: dict[str, Any] = {}
    if "people" in bands.columns:
        out["people"] = {str(b): float(p) for b, p in zip(bands["band"], bands["people"])}
        out["people_total"] = float(bands["people"].sum())
    out["area_km2"] = {str(b): float(a) for b, a in zip(bands["band"], bands["area_km2"])}
    out["checkpoints"] = int(len(cps))
    by_class = cps.groupby("road_class").size() if len(cps) else pd.Series(dtype=int)
    order = sorted(by_class.index, key=lambda c: (_CLASS_RANK.get(c, len(CLASS_ORDER)), c))
    out["checkpoints_by_class"] = {str(c): int(by_class[c]) for c in order}
    out["checkpoints_by_band"] = {
        str(b): int(n) for b, n in cps.groupby("band", sort=False).size().items()
    }
    out["staff_total"] = int(cps["staff"].sum()) if len(cps) else 0
    out["staff_by_band"] = {
        str(b): int(n) for b, n in cps.groupby("band", sort=False)["staff"].sum().items()
    }
    out["staff_if_separate"] = int(cps["staff_if_separate"].sum()) if len(cps) else 0
    return out


def select_incidents(
    incidents: gpd.GeoDataFrame, wanted: Iterable[str] | None, source: str | None
) -> gpd.GeoDataFrame:
    """The incidents with ids in ``wanted`` (all when None), or an InputError naming the
    unknown ids (``source`` is the file named in the message)."""
    if incidents is None or len(incidents) == 0:
        raise InputError(
            "there are no incidents to cordon",
            file=source,
            field="incidents",
            expected="at least one incident (a point or a polygon)",
        )
    ids = _ids(incidents)
    if wanted is None:
        return incidents
    wanted = [wanted] if isinstance(wanted, str) else [str(w) for w in wanted]
    if not wanted:
        raise InputError(
            "no incident chosen", field="incident_ids", expected="one or more incident ids"
        )
    known = set(ids.tolist())
    unknown = [w for w in wanted if w not in known]
    if unknown:
        shown = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
        raise InputError(
            problems=[
                Problem("unknown incident id", "incidents", w, "incident_ids", f"one of {shown}")
                for w in unknown
            ]
        )
    keep = np.isin(ids, wanted)
    return incidents[keep]


# --- helpers ------------------------------------------------------------------------------------


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
    if (np.diff(lim) <= 0).any():
        raise InputError(
            f"the rings must increase outwards, got {', '.join(f'{v:g}' for v in lim)}",
            field=name,
            expected=f"increasing {words}, lockdown first, such as {example}",
        )
    return lim


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
