"""Building the network's arrays from a roads layer (see :meth:`RoadNetwork.from_roads`)."""

from __future__ import annotations

from typing import TypedDict

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.crs import local_crs
from geo.errors import InputError
from geo.network.rules import _check_roads, _road_rules

__all__: list[str] = []


class _Arrays(TypedDict):
    """Everything :class:`RoadNetwork` is made of (its constructor's keyword arguments)."""

    crs: CRS
    walk_kmh: float
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_road: np.ndarray
    edge_len: np.ndarray
    edge_vstart: np.ndarray
    edge_vend: np.ndarray
    vert_xy: np.ndarray
    seg_edge: np.ndarray
    seg_start: np.ndarray
    seg_off: np.ndarray
    road_ids: np.ndarray
    road_class: np.ndarray
    road_oneway: np.ndarray
    road_walk: np.ndarray
    road_drive_kmh: np.ndarray
    notes: list[str]


def _build(
    roads: gpd.GeoDataFrame,
    *,
    crs: CRS | str | int | None,
    speeds: dict[str, float] | None,
    walk_kmh: float,
    tolerance_m: float,
    join_m: float,
    source: str,
) -> _Arrays:
    """The network's arrays; the parameters are :meth:`RoadNetwork.from_roads`'s."""
    if walk_kmh <= 0:
        raise InputError("walking speed must be positive", field="walk_kmh", expected="> 0")
    _check_roads(roads, source)
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(roads)
    if crs.is_geographic:
        raise InputError(
            "the network needs a metric CRS", field="crs", expected="a projected CRS in metres"
        )
    notes: list[str] = []
    road_class, oneway, walk_ok, drive_kmh = _road_rules(roads, speeds, notes)

    geoms = np.asarray(roads.geometry.to_crs(crs).array, dtype=object)
    parts, part_road = shapely.get_parts(geoms, return_index=True)
    xy, vpart = shapely.get_coordinates(parts, return_index=True)
    xy = xy.astype(np.float64)
    if join_m > 0 and len(xy):
        xy, vpart, joined = _join_dangling(xy, vpart, parts, tolerance_m, join_m)
        if joined:
            notes.append(f"{joined} dangling line end(s) joined to a line within {join_m:g} m")

    # Key vertices on the tolerance grid; drop repeats of the same key along a line.
    key = _grid_keys(xy, tolerance_m)
    rep = np.zeros(len(xy), dtype=bool)
    rep[1:] = (vpart[1:] == vpart[:-1]) & (key[1:] == key[:-1])
    xy, vpart, key = xy[~rep], vpart[~rep], key[~rep]
    # Lines left with a single vertex are degenerate (shorter than the tolerance).
    first = np.ones(len(xy), dtype=bool)
    first[1:] = vpart[1:] != vpart[:-1]
    last = np.ones(len(xy), dtype=bool)
    last[:-1] = vpart[1:] != vpart[:-1]
    single = first & last
    if single.any():
        bad_roads = np.unique(part_road[vpart[single]])
        # A road whose every part is degenerate is reported; drop single vertices.
        alive = np.unique(part_road[vpart[~single]])
        dead = np.setdiff1d(bad_roads, alive)
        if len(dead):
            ids = ", ".join(map(str, roads["id"].to_numpy()[dead[:5]]))
            notes.append(
                f"{len(dead)} road(s) shorter than {tolerance_m:g} m ignored (ids {ids}"
                + (", ..." if len(dead) > 5 else "")
                + ")"
            )
        keep = ~single
        xy, vpart, key, first, last = xy[keep], vpart[keep], key[keep], first[keep], last[keep]
    if len(xy) == 0:
        raise InputError(
            "no road has a usable line geometry",
            file=source,
            field="geometry",
            expected="lines longer than the node tolerance",
        )

    ukey, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    is_node = first | last | (counts[inv] >= 2)
    node_keys = np.unique(inv[is_node])  # sorted, deterministic
    node_of_key = np.full(len(ukey), -1, dtype=np.int64)
    node_of_key[node_keys] = np.arange(len(node_keys))
    # The node's coordinates: its first vertex in input order.
    first_vertex = np.full(len(ukey), len(xy), dtype=np.int64)
    np.minimum.at(first_vertex, inv, np.arange(len(xy)))
    node_xy = xy[first_vertex[node_keys]]
    vnode = np.where(is_node, node_of_key[inv], -1)

    # Segments i -> i+1 within a line; an edge starts at every node that is not a line's end.
    seg_start = np.flatnonzero(~last)
    starts_edge = is_node & ~last
    edge_of_vertex = np.cumsum(starts_edge) - 1
    seg_edge = edge_of_vertex[seg_start]
    d = xy[seg_start + 1] - xy[seg_start]
    seg_len = np.hypot(d[:, 0], d[:, 1])
    n_edges = int(starts_edge.sum())
    edge_len = np.bincount(seg_edge, weights=seg_len, minlength=n_edges)
    edge_first_seg = np.flatnonzero(np.r_[True, seg_edge[1:] != seg_edge[:-1]])
    edge_vstart = seg_start[edge_first_seg]
    edge_last_seg = np.r_[edge_first_seg[1:] - 1, len(seg_edge) - 1]
    edge_vend = seg_start[edge_last_seg] + 1
    edge_u = vnode[edge_vstart]
    edge_v = vnode[edge_vend]
    cum = np.cumsum(seg_len) - seg_len
    seg_off = cum - cum[edge_first_seg][seg_edge]
    edge_road = part_road[vpart[edge_vstart]]

    return _Arrays(
        crs=crs,
        walk_kmh=walk_kmh,
        node_xy=node_xy,
        edge_u=edge_u.astype(np.int64),
        edge_v=edge_v.astype(np.int64),
        edge_road=edge_road.astype(np.int64),
        edge_len=edge_len,
        edge_vstart=edge_vstart,
        edge_vend=edge_vend,
        vert_xy=xy,
        seg_edge=seg_edge,
        seg_start=seg_start,
        seg_off=seg_off,
        road_ids=roads["id"].astype(str).to_numpy(dtype=object),
        road_class=road_class,
        road_oneway=oneway,
        road_walk=walk_ok,
        road_drive_kmh=drive_kmh,
        notes=notes,
    )


def _grid_keys(xy: np.ndarray, tol: float) -> np.ndarray:
    g = np.floor(xy / tol + 0.5).astype(np.int64)
    gx = g[:, 0] - g[:, 0].min()
    gy = g[:, 1] - g[:, 1].min()
    return gx * (int(gy.max()) + 1) + gy


def _join_dangling(
    xy: np.ndarray, vpart: np.ndarray, parts: np.ndarray, tol: float, join_m: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Join line ends that touch no other vertex to a line passing within ``join_m``."""
    n = len(xy)
    first = np.ones(n, dtype=bool)
    first[1:] = vpart[1:] != vpart[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = vpart[1:] != vpart[:-1]
    key = _grid_keys(xy, tol)
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    dangling = np.flatnonzero((first | last) & (cnt[inv] == 1))
    if dangling.size == 0:
        return xy, vpart, 0
    tree = shapely.STRtree(parts)
    pi, pp = tree.query(shapely.points(xy[dangling]), predicate="dwithin", distance=join_m)
    if pi.size == 0:
        return xy, vpart, 0
    # Expand (end, part) pairs into (end, segment) pairs over the part's segments.
    pstart = np.searchsorted(vpart, np.arange(len(parts)), "left")
    pend = np.searchsorted(vpart, np.arange(len(parts)), "right") - 1  # last vertex
    nseg = pend[pp] - pstart[pp]
    ends = np.repeat(dangling[pi], nseg)
    segs = np.repeat(pstart[pp] - np.cumsum(nseg) + nseg, nseg) + np.arange(nseg.sum())
    # Never the segment the end itself belongs to.
    own = (segs == ends) | (segs + 1 == ends)
    ends, segs = ends[~own], segs[~own]
    if ends.size == 0:
        return xy, vpart, 0
    a, b, p = xy[segs], xy[segs + 1], xy[ends]
    d = b - a
    l2 = np.maximum((d**2).sum(1), 1e-18)
    u = np.clip(((p - a) * d).sum(1) / l2, 0, 1)
    q = a + d * u[:, None]
    dist = np.hypot(*(p - q).T)
    order = np.lexsort((dist, ends))
    ends, segs, u, q, dist = ends[order], segs[order], u[order], q[order], dist[order]
    best = np.r_[True, ends[1:] != ends[:-1]] & (dist <= join_m)
    ends, segs, u, q = ends[best], segs[best], u[best], q[best]
    seg_len = np.sqrt(((xy[segs + 1] - xy[segs]) ** 2).sum(1))
    at_a = u * seg_len <= tol
    at_b = (1 - u) * seg_len <= tol
    target_vertex = np.where(at_a, segs, np.where(at_b, segs + 1, -1))
    # Two dangling ends joining each other: only the first one moves.
    moving = set(ends.tolist())
    keep = np.array(
        [not (tv in moving and tv < e) for e, tv in zip(ends.tolist(), target_vertex.tolist())],
        dtype=bool,
    )
    ends, segs, u, q, target_vertex = (
        ends[keep],
        segs[keep],
        u[keep],
        q[keep],
        target_vertex[keep],
    )
    xy = xy.copy()
    snap_v = target_vertex >= 0
    xy[ends[snap_v]] = xy[target_vertex[snap_v]]
    ins = ~snap_v
    xy[ends[ins]] = q[ins]
    if ins.any():
        pos = segs[ins] + 1
        order = np.lexsort((u[ins], pos))
        xy = np.insert(xy, pos[order], q[ins][order], axis=0)
        vpart = np.insert(vpart, pos[order], vpart[segs[ins]][order])
    return xy, vpart, int(len(ends))
