"""Road network: a routable graph built from the roads layer, snapping, nearest-site travel times,
travel-time matrices and isochrones.

How the graph is built (:meth:`RoadNetwork.from_roads`)
-------------------------------------------------------
* Lines are measured in a local metric CRS (:func:`geo.crs.local_crs` unless one is given).
* Vertices are keyed on a grid of ``tolerance_m`` (0.5 m): vertices in the same cell are the same
  point. A vertex is a *node* when it ends a line or is used more than once (OpenStreetMap ways
  share nodes in their middle), so lines are split wherever they meet.
* A line end that touches nothing (a dangling end) but lies within ``join_m`` (1 m) of another
  line is joined to it, inserting a vertex there: hand-drawn T-junctions connect. Lines that merely
  cross without a shared vertex stay apart, as bridges and tunnels must.
* Each piece of line between two nodes is an *edge* with its length in metres and a travel time
  per mode: ``walk`` at ``walk_kmh`` in both directions on walkable classes, ``drive`` at
  ``speed_kmh`` or the class default (:data:`DRIVE_KMH`) honouring ``oneway``.
* Per mode, a CSR matrix of arc times (scipy.sparse) and component labels (connected for walking,
  strongly connected for driving) are built once. Build the network once per scenario and keep
  it (:func:`network_for` caches on the roads' content).

Points meet the network at the nearest point of a usable edge (exact point-to-segment distance),
plus an access leg at walking speed. Points on small disconnected pieces ("islands") are moved to
the nearest edge of a major component when that is within the snapping threshold, else they stay
and are flagged; points further than the threshold are flagged ``off_network``, never dropped.

Sources in the middle of an edge are *virtual nodes* with arcs to both ends of their edge carrying
the partial edge time (plus the access leg, plus an optional offset); a point on the same edge as a
source also gets the direct time along that edge. One multi-source Dijkstra
(``scipy.sparse.csgraph.dijkstra(min_only=True)``) then gives, for every node, the time to the
nearest source and which source it is; times are exact, not rounded to nodes.

Direction: ``"to_site"`` (default) times the trip from a point *to* the site, as people travelling
to a testing site make it (one-way streets matter when driving); ``"from_site"`` the other way.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.ndimage import minimum_filter
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo.constants import DRIVE_KMH, MODES, UNKNOWN_DRIVE_KMH, WALK_KMH, WGS84, Mode
from geo.crs import local_crs
from geo.errors import InputError, Problem

Direction = Literal["to_site", "from_site"]

#: Classes people may walk on but not drive.
WALK_ONLY = frozenset(
    {
        "footway",
        "pedestrian",
        "steps",
        "path",
        "cycleway",
        "bridleway",
        "corridor",
        "elevator",
        "platform",
        "trail",
        "sidewalk",
        "crossing",
    }
)
#: Classes nobody may walk on.
NO_WALK = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
#: Classes that are not usable roads at all.
NOT_ROUTABLE = frozenset(
    {
        "construction",
        "proposed",
        "abandoned",
        "disused",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
        "emergency_bay",
        "no",
    }
)
#: Classes that are one-way unless ``oneway`` says otherwise (OSM implies it for motorways).
ONEWAY_BY_DEFAULT = frozenset({"motorway"})
#: Default snapping thresholds (m): sites further away are an error; points are flagged.
SITE_SNAP_M = 500.0
POINT_SNAP_M = 300.0
#: A component with fewer nodes than this (and not the largest) is an island.
ISLAND_NODES = 200

_SAMPLE_M = 30.0  # spacing of the snapping samples along segments
_K = 8  # candidates per point in the first snapping pass


# --- small results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    """Where points meet the network in one mode: arrays with one entry per point.

    ``edge``/``frac``: the edge and the position along it (0 at ``u``, 1 at ``v``); ``dist_m``:
    distance from the point to the network; ``access_s``: that distance at walking speed;
    ``off_network``: further than the threshold; ``island``: on a small disconnected piece;
    ``xy``: the snapped point in the network's metric CRS.
    """

    edge: np.ndarray
    frac: np.ndarray
    dist_m: np.ndarray
    access_s: np.ndarray
    off_network: np.ndarray
    island: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)


@dataclass
class _ModeGraph:
    """The graph of one mode: arc times per edge, CSR matrices, components."""

    t_fwd: np.ndarray  # seconds u->v per edge, inf when not allowed
    t_back: np.ndarray  # seconds v->u per edge
    csr: sp.csr_array
    comp: np.ndarray  # component label per node
    major: np.ndarray  # per component label: True unless an island
    edge_ok: np.ndarray  # edge usable in this mode
    edge_major: np.ndarray  # usable and on a major component
    _rev: sp.csr_array | None = None
    _index_all: _SegmentIndex | None = None
    _index_major: _SegmentIndex | None = None

    @property
    def rev(self) -> sp.csr_array:
        if self._rev is None:
            self._rev = sp.csr_array(self.csr.T)
            self._rev.sort_indices()
        return self._rev


# --- the network --------------------------------------------------------------------------------


class RoadNetwork:
    """A routable road network in a metric CRS. Build it with :meth:`from_roads`.

    Attributes
    ----------
    crs : the metric CRS all internal coordinates are in.
    walk_kmh : walking speed, also for access legs.
    notes : what the builder did that the user should know (unknown classes, joined ends, ...).
    node_xy : (n_nodes, 2) node coordinates in ``crs``.
    """

    def __init__(
        self,
        *,
        crs: CRS,
        walk_kmh: float,
        node_xy: np.ndarray,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        edge_road: np.ndarray,
        edge_len: np.ndarray,
        edge_vstart: np.ndarray,
        edge_vend: np.ndarray,
        vert_xy: np.ndarray,
        seg_edge: np.ndarray,
        seg_start: np.ndarray,
        seg_off: np.ndarray,
        road_ids: np.ndarray,
        road_class: np.ndarray,
        road_oneway: np.ndarray,
        road_walk: np.ndarray,
        road_drive_kmh: np.ndarray,
        notes: list[str],
    ) -> None:
        self.crs = crs
        self.walk_kmh = float(walk_kmh)
        self.walk_ms = self.walk_kmh / 3.6
        self.node_xy = node_xy
        self.edge_u = edge_u
        self.edge_v = edge_v
        self.edge_road = edge_road
        self.edge_len = edge_len
        self._edge_vstart = edge_vstart  # first and last vertex of each edge in vert_xy
        self._edge_vend = edge_vend
        self._vert_xy = vert_xy
        self._seg_edge = seg_edge
        self._seg_start = seg_start  # vertex index of each segment's start
        self._seg_off = seg_off  # metres along the edge at the segment's start
        self._road_ids = road_ids
        self._road_class = road_class
        self._road_oneway = road_oneway
        self._road_walk = road_walk
        self._road_drive_kmh = road_drive_kmh
        self.notes = notes
        self._graphs: dict[str, _ModeGraph] = {}
        self._to_wgs84 = Transformer.from_crs(crs, WGS84, always_xy=True)
        self._from_wgs84 = Transformer.from_crs(WGS84, crs, always_xy=True)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        crs: CRS | str | int | None = None,
        speeds: dict[str, float] | None = None,
        walk_kmh: float = WALK_KMH,
        tolerance_m: float = 0.5,
        join_m: float = 1.0,
        source: str = "roads",
    ) -> RoadNetwork:
        """Build the network from a roads layer (see :mod:`geo.layers`).

        Parameters
        ----------
        roads : LineString/MultiLineString features with ``id`` and ``road_class`` (OSM
            ``highway`` values); optional ``oneway`` (nullable bool) and ``speed_kmh`` (a driving
            speed; 0 closes the road to cars).
        crs : metric CRS to work in; default the UTM zone of the roads.
        speeds : driving speed (km/h) per road class, overriding :data:`DRIVE_KMH`; naming a
            walk-only or non-routable class here makes it drivable.
        walk_kmh : walking speed.
        tolerance_m : vertices closer than this (same grid cell) are one node.
        join_m : a dangling line end this close to another line is joined to it; 0 disables.
        source : name of the layer/file, for error messages.

        Raises
        ------
        InputError : no roads, missing columns, or no line with usable geometry.
        """
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

        return cls(
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

    # --- basic views --------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def __repr__(self) -> str:
        return (
            f"RoadNetwork({self.n_nodes} nodes, {self.n_edges} edges, crs={self.crs.to_string()})"
        )

    @cached_property
    def nodes(self) -> gpd.GeoDataFrame:
        """Nodes (EPSG:4326): ``node``, ``walk_component``, ``drive_component``, ``degree``."""
        lon, lat = self._to_wgs84.transform(self.node_xy[:, 0], self.node_xy[:, 1])
        deg = np.bincount(self.edge_u, minlength=self.n_nodes) + np.bincount(
            self.edge_v, minlength=self.n_nodes
        )
        return gpd.GeoDataFrame(
            {
                "node": np.arange(self.n_nodes),
                "walk_component": self._graph("walk").comp,
                "drive_component": self._graph("drive").comp,
                "degree": deg,
            },
            geometry=shapely.points(lon, lat),
            crs=WGS84,
        )

    @cached_property
    def edges(self) -> gpd.GeoDataFrame:
        """Edges (EPSG:4326): ``edge``, ``road_id``, ``road_class``, ``u``, ``v``, ``length_m``,
        ``walk_s`` and ``drive_s`` (u to v; NaN when the mode may not use it), ``drive_back_s``
        (v to u; NaN when one-way) and ``oneway``."""
        walk, drive = self._graph("walk"), self._graph("drive")

        def nan(t: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(t), t, np.nan)

        lon, lat = self._to_wgs84.transform(self._vert_xy[:, 0], self._vert_xy[:, 1])
        return gpd.GeoDataFrame(
            {
                "edge": np.arange(self.n_edges),
                "road_id": self._road_ids[self.edge_road],
                "road_class": self._road_class[self.edge_road],
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_len,
                "walk_s": nan(walk.t_fwd),
                "drive_s": nan(drive.t_fwd),
                "drive_back_s": nan(drive.t_back),
                "oneway": np.isfinite(drive.t_fwd) & ~np.isfinite(drive.t_back),
            },
            geometry=self._edge_lines(np.arange(self.n_edges), lon, lat),
            crs=WGS84,
        )

    def _edge_lines(self, edges: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = self._edge_vstart[edges]
        n = self._edge_vend[edges] - a + 1
        idx = np.repeat(a - np.cumsum(n) + n, n) + np.arange(n.sum())
        return shapely.linestrings(
            np.column_stack([x[idx], y[idx]]), indices=np.repeat(np.arange(len(edges)), n)
        )

    def components(self, mode: Mode) -> np.ndarray:
        """Component label per node in ``mode`` (strongly connected for driving)."""
        return self._graph(mode).comp

    def summary(self) -> dict[str, object]:
        """Counts for a status line: nodes, edges, usable edges and islands per mode, notes."""
        out: dict[str, object] = {"nodes": self.n_nodes, "edges": self.n_edges}
        for m in MODES:
            g = self._graph(m)
            out[f"{m}_edges"] = int(g.edge_ok.sum())
            out[f"{m}_island_edges"] = int((g.edge_ok & ~g.edge_major).sum())
        out["notes"] = list(self.notes)
        return out

    # --- per-mode graphs ----------------------------------------------------------------------

    def _graph(self, mode: str) -> _ModeGraph:
        if mode not in MODES:
            raise InputError(
                f"unknown travel mode '{mode}'", field="mode", expected="walk or drive"
            )
        if mode not in self._graphs:
            self._graphs[mode] = self._build_graph(mode)
        return self._graphs[mode]

    def _build_graph(self, mode: str) -> _ModeGraph:
        n = self.n_nodes
        inf = np.inf
        if mode == "walk":
            ok = self._road_walk[self.edge_road]
            t = np.where(ok, self.edge_len / self.walk_ms, inf)
            t_fwd, t_back = t, t.copy()
        else:
            kmh = self._road_drive_kmh[self.edge_road]
            ok = kmh > 0
            with np.errstate(divide="ignore"):
                t = np.where(ok, self.edge_len / (kmh / 3.6), inf)
            t_fwd = t
            t_back = np.where(self._road_oneway[self.edge_road], inf, t)
        loop = self.edge_u == self.edge_v
        rows = np.r_[self.edge_u, self.edge_v]
        cols = np.r_[self.edge_v, self.edge_u]
        w = np.r_[t_fwd, t_back]
        keep = np.isfinite(w) & ~np.r_[loop, loop]
        rows, cols, w = rows[keep], cols[keep], w[keep]
        # Parallel edges: keep the fastest (a COO->CSR conversion would add them up).
        order = np.lexsort((w, cols, rows))
        rows, cols, w = rows[order], cols[order], w[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, w = rows[first], cols[first], w[first]
        csr = sp.csr_array((w, (rows, cols)), shape=(n, n))
        csr.sort_indices()
        if n:
            _, comp = connected_components(
                csr, directed=(mode == "drive"), connection="strong", return_labels=True
            )
        else:
            comp = np.zeros(0, dtype=np.int32)
        # Components made only of nodes no usable edge touches are not candidates anyway.
        used = np.zeros(n, dtype=bool)
        used[self.edge_u[ok]] = True
        used[self.edge_v[ok]] = True
        size = np.bincount(comp[used], minlength=int(comp.max(initial=-1)) + 1)
        major = size >= ISLAND_NODES
        if size.size:
            major[int(np.argmax(size))] = True
        edge_major = ok & (comp[self.edge_u] == comp[self.edge_v]) & major[comp[self.edge_u]]
        return _ModeGraph(t_fwd, t_back, csr, comp, major, ok, edge_major)

    def _index(self, mode: str, major_only: bool) -> _SegmentIndex:
        g = self._graph(mode)
        attr = "_index_major" if major_only else "_index_all"
        if getattr(g, attr) is None:
            ok = g.edge_major if major_only else g.edge_ok
            segs = np.flatnonzero(ok[self._seg_edge])
            setattr(g, attr, _SegmentIndex(self._vert_xy, self._seg_start[segs], segs))
        return getattr(g, attr)

    # --- snapping -----------------------------------------------------------------------------

    def _points_xy(self, points: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> np.ndarray:
        """Metric coordinates of points (polygons give a point on their surface)."""
        if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
            raise InputError(f"{what} must be a GeoDataFrame", file=what)
        geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if geo.crs is None:
            raise InputError(
                "the data declares no coordinate reference system",
                file=what,
                field="geometry",
                expected="EPSG:4326 layers",
            )
        g = np.asarray(geo.to_crs(self.crs).array, dtype=object)
        bad = shapely.is_missing(g) | shapely.is_empty(g)
        if bad.any():
            ids = _ids(points)
            raise InputError(
                problems=[
                    Problem("geometry is empty or missing", what, ids[i], "geometry", "a point")
                    for i in np.flatnonzero(bad)
                ]
            )
        not_pt = shapely.get_type_id(g) != 0
        if not_pt.any():
            g = g.copy()
            g[not_pt] = shapely.point_on_surface(g[not_pt])
        return shapely.get_coordinates(g)

    def snap_xy(self, xy: np.ndarray, mode: Mode, *, max_snap_m: float = POINT_SNAP_M) -> Snap:
        """Snap metric coordinates (n, 2) to the edges usable in ``mode``."""
        g = self._graph(mode)
        if not g.edge_ok.any():
            raise InputError(
                f"the road network has no road usable {_MODE_WORDS[mode]}",
                file="roads",
                field="road_class",
                expected="walkable classes (footway, residential, ...)"
                if mode == "walk"
                else "drivable classes (primary, residential, ...) with speed_kmh > 0",
            )
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        seg, u, dist = self._index(mode, False).nearest(xy)
        edge = self._seg_edge[seg]
        island = ~g.edge_major[edge]
        if island.any() and g.edge_major.any():
            idx = np.flatnonzero(island)
            seg2, u2, dist2 = self._index(mode, True).nearest(xy[idx])
            better = dist2 <= max_snap_m
            j = idx[better]
            seg[j], u[j], dist[j] = seg2[better], u2[better], dist2[better]
            edge = self._seg_edge[seg]
            island = ~g.edge_major[edge]
        a = self._vert_xy[self._seg_start[seg]]
        b = self._vert_xy[self._seg_start[seg] + 1]
        sxy = a + (b - a) * u[:, None]
        seg_len = np.hypot(*(b - a).T)
        elen = self.edge_len[edge]
        frac = np.clip((self._seg_off[seg] + u * seg_len) / np.maximum(elen, 1e-12), 0.0, 1.0)
        return Snap(
            edge=edge,
            frac=frac,
            dist_m=dist,
            access_s=dist / self.walk_ms,
            off_network=dist > max_snap_m,
            island=island,
            xy=sxy,
        )

    def snap(
        self, points: gpd.GeoDataFrame, mode: Mode, *, max_snap_m: float = POINT_SNAP_M
    ) -> gpd.GeoDataFrame:
        """Snap points to the nearest edge usable in ``mode``.

        Points may be any geometry (a polygon snaps from a point on its surface).

        Returns
        -------
        GeoDataFrame (EPSG:4326), one row per input point in input order: ``id``, ``edge``,
        ``frac`` (0..1 along the edge), ``snap_m``, ``access_s``, ``off_network`` (further than
        ``max_snap_m``), ``island`` (on a small disconnected piece); geometry = the snapped point.
        """
        s = self.snap_xy(self._points_xy(points, "points"), mode, max_snap_m=max_snap_m)
        return self._snap_frame(_ids(points), s)

    def _snap_frame(self, ids: np.ndarray, s: Snap) -> gpd.GeoDataFrame:
        lon, lat = self._to_wgs84.transform(s.xy[:, 0], s.xy[:, 1])
        return gpd.GeoDataFrame(
            {
                "id": ids,
                "edge": s.edge,
                "frac": s.frac,
                "snap_m": s.dist_m,
                "access_s": s.access_s,
                "off_network": s.off_network,
                "island": s.island,
            },
            geometry=shapely.points(lon, lat),
            crs=WGS84,
        )

    def _snap_sites(
        self, sites: gpd.GeoDataFrame, mode: Mode, max_snap_m: float, what: str = "testing_sites"
    ) -> tuple[np.ndarray, Snap]:
        if len(sites) == 0:
            raise InputError("there are no sites", file=what, expected="at least one site")
        ids = _ids(sites)
        s = self.snap_xy(self._points_xy(sites, what), mode, max_snap_m=max_snap_m)
        if s.off_network.any():
            raise InputError(
                problems=[
                    Problem(
                        f"the site is {s.dist_m[i]:.0f} m from the nearest road usable "
                        f"{_MODE_WORDS[mode]}",
                        what,
                        ids[i],
                        "geometry",
                        f"a site within {max_snap_m:g} m of such a road (or roads near it)",
                    )
                    for i in np.flatnonzero(s.off_network)
                ]
            )
        return ids, s

    # --- shortest paths -----------------------------------------------------------------------

    def _part(self, frac: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``frac * t`` where no distance costs nothing, even against a one-way street."""
        with np.errstate(invalid="ignore"):
            return np.where(frac <= 0, 0.0, frac * t)

    def _augmented(
        self, mode: str, direction: str, src: Snap, cost0: np.ndarray
    ) -> tuple[sp.csr_array, int]:
        """The mode's graph (reversed for ``to_site``) plus one virtual node per source."""
        g = self._graph(mode)
        base = g.rev if direction == "to_site" else g.csr
        e, f = src.edge, src.frac
        u, v = self.edge_u[e], self.edge_v[e]
        if direction == "to_site":  # arcs = time from the edge end to the source point
            wu = self._part(f, g.t_fwd[e]) + cost0
            wv = self._part(1 - f, g.t_back[e]) + cost0
        else:  # time from the source point to the edge end
            wu = self._part(f, g.t_back[e]) + cost0
            wv = self._part(1 - f, g.t_fwd[e]) + cost0
        n, k = self.n_nodes, len(e)
        rows = np.r_[np.arange(k), np.arange(k)]
        cols = np.r_[u, v]
        w = np.r_[wu, wv]
        keep = np.isfinite(w)
        rows, cols, w = rows[keep], cols[keep], w[keep]
        order = np.lexsort((w, cols, rows))
        rows, cols, w = rows[order], cols[order], w[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, w = rows[first], cols[first], w[first]
        indptr = np.r_[base.indptr, base.indptr[-1] + np.cumsum(np.bincount(rows, minlength=k))]
        m = sp.csr_array(
            (np.r_[base.data, w], np.r_[base.indices, cols].astype(base.indices.dtype), indptr),
            shape=(n + k, n + k),
        )
        return m, n

    def _ends(
        self, mode: str, direction: str, pts: Snap
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For points on edges: the edge ends (u, v) and the time between point and each end."""
        g = self._graph(mode)
        e, f = pts.edge, pts.frac
        if direction == "to_site":  # point -> end of edge -> ... -> site
            cu = self._part(f, g.t_back[e])
            cv = self._part(1 - f, g.t_fwd[e])
        else:  # site -> ... -> end of edge -> point
            cu = self._part(f, g.t_fwd[e])
            cv = self._part(1 - f, g.t_back[e])
        return self.edge_u[e], self.edge_v[e], cu, cv

    def _point_times(
        self,
        mode: str,
        direction: str,
        pts: Snap,
        node_s: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Times of points through the nodes at the ends of their edge.

        ``node_s`` is (n_nodes,) or (k, n_nodes); returns the best time and which end (0 = u,
        1 = v) with the same leading shape as ``node_s`` minus its last axis, plus points.
        """
        u, v, cu, cv = self._ends(mode, direction, pts)
        tu = node_s[..., u] + cu
        tv = node_s[..., v] + cv
        via_v = tv < tu
        return np.where(via_v, tv, tu) + pts.access_s, via_v

    def _same_edge_pairs(self, a: Snap, b: Snap) -> tuple[np.ndarray, np.ndarray]:
        """All pairs (i in a, j in b) on the same edge."""
        mark = np.zeros(self.n_edges, dtype=bool)
        mark[b.edge] = True
        ia0 = np.flatnonzero(mark[a.edge])  # usually few: skip the search for the rest
        order = np.argsort(b.edge, kind="stable")
        be = b.edge[order]
        ae = a.edge[ia0]
        lo = np.searchsorted(be, ae, "left")
        hi = np.searchsorted(be, ae, "right")
        cnt = hi - lo
        ia = np.repeat(ia0, cnt)
        jb = order[np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())]
        return ia, jb

    def _along(self, mode: str, e: np.ndarray, f_from: np.ndarray, f_to: np.ndarray) -> np.ndarray:
        """Travel time along edge ``e`` from position ``f_from`` to ``f_to``."""
        g = self._graph(mode)
        fwd = f_to >= f_from
        return np.where(
            fwd, self._part(f_to - f_from, g.t_fwd[e]), self._part(f_from - f_to, g.t_back[e])
        )

    def nearest_site(
        self,
        sites: gpd.GeoDataFrame,
        mode: Mode,
        *,
        direction: Direction = "to_site",
        max_snap_m: float = SITE_SNAP_M,
        offsets_s: np.ndarray | None = None,
    ) -> SiteTimes:
        """Time from every node to its nearest site (and which site), one multi-source Dijkstra.

        Parameters
        ----------
        sites : points with an ``id`` (a ``testing_sites`` layer or any point layer).
        mode : ``"walk"`` or ``"drive"``.
        direction : ``"to_site"`` (trips to the site) or ``"from_site"``.
        max_snap_m : a site further than this from a usable road is an error.
        offsets_s : optional extra seconds per site (e.g. expected wait), >= 0; the nearest
            site is then the one minimising travel time + offset.

        Raises
        ------
        InputError : no sites, a site off the network, an unknown mode.
        """
        _check_direction(direction)
        ids, s = self._snap_sites(sites, mode, max_snap_m)
        return self._nearest(ids, s, mode, direction, offsets_s)

    def _nearest(
        self,
        ids: np.ndarray,
        s: Snap,
        mode: str,
        direction: str,
        offsets_s: np.ndarray | None = None,
    ) -> SiteTimes:
        off = np.zeros(len(s)) if offsets_s is None else np.asarray(offsets_s, dtype=float)
        if off.shape != (len(s),) or (off < 0).any() or not np.isfinite(off).all():
            raise InputError(
                "site offsets must be one finite, non-negative number of seconds per site",
                field="offsets_s",
            )
        m, n = self._augmented(mode, direction, s, s.access_s + off)
        dist, _, src = dijkstra(
            m,
            directed=True,
            indices=np.arange(n, n + len(s)),
            min_only=True,
            return_predecessors=True,
        )
        site = np.where(src[:n] >= 0, src[:n] - n, -1)
        return SiteTimes(self, mode, direction, ids, s, off, dist[:n], site)  # type: ignore[arg-type]

    def travel_time_matrix(
        self,
        origins: gpd.GeoDataFrame,
        destinations: gpd.GeoDataFrame,
        mode: Mode,
        *,
        max_snap_m: float = POINT_SNAP_M,
    ) -> pd.DataFrame:
        """Seconds from each origin to each destination (access legs included; inf = no path).

        Runs one Dijkstra per point on the smaller side. Points off the network are not an error
        here (see :meth:`snap` for the flags).

        Returns
        -------
        DataFrame indexed by origin ``id``, one column per destination ``id``.
        """
        oxy = self._points_xy(origins, "origins")
        dxy = self._points_xy(destinations, "destinations")
        o = self.snap_xy(oxy, mode, max_snap_m=max_snap_m)
        d = self.snap_xy(dxy, mode, max_snap_m=max_snap_m)
        out = self._matrix(o, d, mode)
        return pd.DataFrame(out, index=_ids(origins), columns=_ids(destinations))

    def _matrix(
        self,
        o: Snap,
        d: Snap,
        mode: str,
        *,
        extra_d: np.ndarray | None = None,
        limit: float = np.inf,
    ) -> np.ndarray:
        """(n_origins, n_destinations) seconds; ``extra_d`` adds per-destination seconds."""
        extra = np.zeros(len(d)) if extra_d is None else extra_d
        out = np.empty((len(o), len(d)))
        if len(d) <= len(o):
            src, pts, direction = d, o, "to_site"
        else:
            src, pts, direction = o, d, "from_site"
        cost0 = src.access_s + (extra if direction == "to_site" else 0.0)
        chunk = max(1, int(2e7 // max(self.n_nodes, 1)))
        for c in range(0, len(src), chunk):
            sl = slice(c, min(c + chunk, len(src)))
            sub = _take(src, sl)
            m, n = self._augmented(mode, direction, sub, cost0[sl])
            dist = dijkstra(m, directed=True, indices=np.arange(n, n + len(sub.edge)), limit=limit)
            t, _ = self._point_times(mode, direction, pts, dist[:, :n])
            if direction == "to_site":
                out[:, sl] = t.T
            else:
                out[sl, :] = t + extra[None, :]
        # Same edge: the direct trip along the edge may beat going round through its ends.
        ia, jb = self._same_edge_pairs(o, d)
        if len(ia):
            direct = (
                self._along(mode, o.edge[ia], o.frac[ia], d.frac[jb])
                + o.access_s[ia]
                + d.access_s[jb]
                + extra[jb]
            )
            out[ia, jb] = np.minimum(out[ia, jb], direct)
        return out

    # --- isochrones ---------------------------------------------------------------------------

    def isochrones(
        self,
        sites: gpd.GeoDataFrame,
        mode: Mode,
        minutes: tuple[float, ...] | list[float] = (5, 10, 15, 30),
        *,
        direction: Direction = "to_site",
        cell_m: float | None = None,
        cumulative: bool = False,
        max_snap_m: float = SITE_SNAP_M,
    ) -> gpd.GeoDataFrame:
        """Areas within each travel-time band of each site.

        The roads reachable within a band (exact partial edges) are sampled every ``cell_m / 2``
        metres; the area is the cells of a ``cell_m`` grid holding a sample, grown by one cell
        (so it covers ``cell_m`` to ``2 * cell_m`` on each side of a road). Bands are disjoint
        rings (5-10 min excludes the area within 5) unless ``cumulative``.

        Parameters
        ----------
        minutes : increasing band limits.
        cell_m : grid size; default 40 m walking, 100 m driving.

        Returns
        -------
        GeoDataFrame (EPSG:4326): ``site_id``, ``min_from``, ``min_to``, ``area_km2``; one row per
        site and non-empty band, ordered by site then band.
        """
        _check_direction(direction)
        mins = np.asarray(sorted({float(x) for x in minutes}), dtype=float)
        if mins.size == 0 or mins[0] <= 0:
            raise InputError(
                "isochrone bands must be positive minutes",
                field="minutes",
                expected="e.g. 5, 10, 15, 30",
            )
        cell = float(cell_m or (40.0 if mode == "walk" else 100.0))
        ids, s = self._snap_sites(sites, mode, max_snap_m)
        g = self._graph(mode)
        tmax = mins[-1] * 60.0
        rows: list[dict[str, object]] = []
        chunk = max(1, int(2e7 // max(self.n_nodes, 1)))
        for c in range(0, len(s), chunk):
            sl = slice(c, min(c + chunk, len(s)))
            sub = _take(s, sl)
            m, n = self._augmented(mode, direction, sub, sub.access_s)
            dist = dijkstra(m, directed=True, indices=np.arange(n, n + len(sub.edge)), limit=tmax)
            for k in range(len(sub.edge)):
                rows += self._isochrone_one(
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
            crs=self.crs,
        )
        return gdf.to_crs(WGS84)

    def _isochrone_one(
        self,
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
        eu, ev = self.edge_u, self.edge_v
        du, dv = dist[eu], dist[ev]
        se = int(site.edge[0])
        cand = g.edge_ok & ((du <= tmax) | (dv <= tmax))
        cand[se] = True
        segs = np.flatnonzero(cand[self._seg_edge])
        e = self._seg_edge[segs]
        a = self._vert_xy[self._seg_start[segs]]
        b = self._vert_xy[self._seg_start[segs] + 1]
        seg_len = np.hypot(*(b - a).T)
        # Samples every cell/2 along each segment, with their exact times.
        k = np.maximum(np.ceil(seg_len / (cell / 2)).astype(np.int64), 1) + 1
        sid = np.repeat(np.arange(len(segs)), k)
        pos = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)) / (k[sid] - 1)
        xy = a[sid] + (b - a)[sid] * pos[:, None]
        es = e[sid]
        f = np.clip(
            (self._seg_off[segs][sid] + pos * seg_len[sid]) / np.maximum(self.edge_len[es], 1e-12),
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
        t, _ = self._point_times(mode, direction, pts, dist)
        on_site_edge = es == se
        if on_site_edge.any():
            fs = np.full(int(on_site_edge.sum()), site.frac[0])
            fp = f[on_site_edge]
            direct = (
                self._along(mode, es[on_site_edge], fp, fs)
                if direction == "to_site"
                else self._along(mode, es[on_site_edge], fs, fp)
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


# --- nearest-site results -----------------------------------------------------------------------


@dataclass
class SiteTimes:
    """Result of :meth:`RoadNetwork.nearest_site`: per node, the time to the nearest site.

    Attributes
    ----------
    site_ids : site ids in input order.
    site_snap : how the sites met the network.
    offsets_s : per-site offsets that were added.
    node_s : (n_nodes,) seconds from each node to its nearest site (inf = unreachable).
    node_site : (n_nodes,) index into ``site_ids`` of that site (-1 = none).
    """

    network: RoadNetwork
    mode: str
    direction: str
    site_ids: np.ndarray
    site_snap: Snap
    offsets_s: np.ndarray
    node_s: np.ndarray
    node_site: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """The sites as snapped: ``id``, ``edge``, ``frac``, ``snap_m``, ``island``, ... ."""
        return self.network._snap_frame(self.site_ids, self.site_snap)

    def assign_snapped(self, pts: Snap) -> tuple[np.ndarray, np.ndarray]:
        """(site index or -1, seconds incl. access legs and offsets) for already snapped points."""
        net = self.network
        t, via_v = net._point_times(self.mode, self.direction, pts, self.node_s)
        end = np.where(via_v, net.edge_v[pts.edge], net.edge_u[pts.edge])
        site = self.node_site[end]
        ia, jb = net._same_edge_pairs(pts, self.site_snap)
        if len(ia):
            s = self.site_snap
            if self.direction == "to_site":
                along = net._along(self.mode, pts.edge[ia], pts.frac[ia], s.frac[jb])
            else:
                along = net._along(self.mode, pts.edge[ia], s.frac[jb], pts.frac[ia])
            direct = along + pts.access_s[ia] + s.access_s[jb] + self.offsets_s[jb]
            # Best direct candidate per point (lexsort: point, then time).
            order = np.lexsort((direct, ia))
            ia, jb, direct = ia[order], jb[order], direct[order]
            first = np.r_[True, ia[1:] != ia[:-1]]
            ia, jb, direct = ia[first], jb[first], direct[first]
            better = direct < t[ia]
            t[ia[better]] = direct[better]
            site[ia[better]] = jb[better]
        site = np.where(np.isfinite(t), site, -1)
        return site, t

    def assign_xy(
        self, xy: np.ndarray, *, max_snap_m: float = POINT_SNAP_M
    ) -> tuple[np.ndarray, np.ndarray, Snap]:
        """Snap metric points and assign each its nearest site: (site index, seconds, snap)."""
        pts = self.network.snap_xy(xy, self.mode, max_snap_m=max_snap_m)  # type: ignore[arg-type]
        site, t = self.assign_snapped(pts)
        return site, t, pts

    def assign(
        self, points: gpd.GeoDataFrame, *, max_snap_m: float = POINT_SNAP_M
    ) -> gpd.GeoDataFrame:
        """Each point's nearest site and travel time.

        Returns
        -------
        GeoDataFrame (EPSG:4326, the input points' geometry) with ``id``, ``site_id`` (missing
        when no site can be reached), ``time_s``, ``time_min`` (NaN when unreachable), ``snap_m``,
        ``off_network``, ``island``, ``reachable``.
        """
        xy = self.network._points_xy(points, "points")
        site, t, s = self.assign_xy(xy, max_snap_m=max_snap_m)
        ok = site >= 0
        t = np.where(ok, t - self.offsets_s[np.maximum(site, 0)], np.nan)
        geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        return gpd.GeoDataFrame(
            {
                "id": _ids(points),
                "site_id": np.where(ok, self.site_ids[np.maximum(site, 0)], None),
                "time_s": t,
                "time_min": t / 60.0,
                "snap_m": s.dist_m,
                "off_network": s.off_network,
                "island": s.island,
                "reachable": ok,
            },
            geometry=geo.to_crs(WGS84).to_numpy(),
            crs=WGS84,
        )

    def node_frame(self) -> gpd.GeoDataFrame:
        """Nodes (EPSG:4326) with ``site_id`` and ``time_min`` to the nearest site."""
        nodes = self.network.nodes[["node", "geometry"]].copy()
        ok = self.node_site >= 0
        nodes["site_id"] = np.where(ok, self.site_ids[np.maximum(self.node_site, 0)], None)
        nodes["time_min"] = np.where(np.isfinite(self.node_s), self.node_s / 60.0, np.nan)
        return nodes


# --- snapping index -----------------------------------------------------------------------------


class _SegmentIndex:
    """Exact nearest segment for many points, through a KD-tree of samples along the segments.

    Each segment is covered by samples at most ``_SAMPLE_M`` apart, so any point of a segment is
    within ``_SAMPLE_M / 2`` of one of its samples. For a query point whose best exact distance
    among the candidate segments is ``d``, every segment at distance <= ``d`` has a sample within
    ``d + _SAMPLE_M / 2``; when the ``k``-th nearest sample is further than that, the candidates
    hold the true nearest segment. Points for which that is not proven are re-queried with
    ``4 k`` samples, and so on.
    """

    def __init__(self, vert_xy: np.ndarray, seg_start: np.ndarray, seg_ids: np.ndarray) -> None:
        self.seg_ids = seg_ids
        a = vert_xy[seg_start]
        b = vert_xy[seg_start + 1]
        self.origin = a.mean(axis=0) if len(a) else np.zeros(2)
        self.a = a - self.origin
        self.d = b - a
        self.l2 = np.maximum((self.d**2).sum(1), 1e-18)
        length = np.sqrt(self.l2)
        k = np.maximum(np.ceil(length / _SAMPLE_M).astype(np.int64), 1)
        self.sample_seg = np.repeat(np.arange(len(a)), k)
        pos = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 0.5) / k[self.sample_seg]
        samples = self.a[self.sample_seg] + self.d[self.sample_seg] * pos[:, None]
        self.tree = cKDTree(samples, balanced_tree=False, compact_nodes=False)
        self.n = len(samples)

    def _exact(self, p: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = p[:, :1] - self.a[cand, 0]
        y = p[:, 1:] - self.a[cand, 1]
        dx, dy = self.d[cand, 0], self.d[cand, 1]
        u = (x * dx + y * dy) / self.l2[cand]
        np.clip(u, 0.0, 1.0, out=u)
        x -= u * dx
        y -= u * dy
        d2 = x * x + y * y
        j = d2.argmin(axis=1)
        r = np.arange(len(p))
        return cand[r, j], u[r, j], np.sqrt(d2[r, j])

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(segment id, position 0..1 on it, distance) of the nearest segment to each point."""
        p_all = xy - self.origin
        n = len(p_all)
        seg = np.empty(n, dtype=np.int64)
        u = np.empty(n)
        dist = np.empty(n)
        if n == 0:
            return seg, u, dist
        # Query in a spatial order: neighbouring queries touch the same tree nodes (1.3x faster).
        cellx = np.floor(p_all[:, 0] / 2000.0).astype(np.int64)
        celly = np.floor(p_all[:, 1] / 200.0).astype(np.int64)
        todo = np.lexsort((celly, cellx))
        k = _K
        while todo.size:
            kk = min(k, self.n)
            again = []
            for c in range(0, todo.size, 1 << 16):
                sl = todo[c : c + (1 << 16)]
                p = p_all[sl]
                dd, ii = self.tree.query(p, k=kk, workers=-1)
                if kk == 1:
                    dd, ii = dd[:, None], ii[:, None]
                s, uu, d = self._exact(p, self.sample_seg[ii])
                seg[sl], u[sl], dist[sl] = s, uu, d
                if kk < self.n:
                    again.append(sl[dd[:, -1] <= d + _SAMPLE_M / 2])
            todo = np.concatenate(again) if again else np.zeros(0, dtype=np.int64)
            k *= 4
        return self.seg_ids[seg], u, dist


# --- caching ------------------------------------------------------------------------------------

_CACHE: OrderedDict[str, RoadNetwork] = OrderedDict()
_CACHE_SIZE = 4


def roads_fingerprint(roads: gpd.GeoDataFrame, **params: object) -> str:
    """A content hash of a roads layer (geometry, routing attributes) and build parameters."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(sorted(params.items())).encode())
    h.update(str(roads.crs).encode())
    geoms = np.asarray(roads.geometry.array, dtype=object)
    for wkb in shapely.to_wkb(geoms):
        h.update(wkb if wkb is not None else b"-")
    for col in ("id", "road_class", "oneway", "speed_kmh"):
        if col in roads.columns:
            h.update(col.encode())
            h.update(pd.util.hash_pandas_object(roads[col].astype(str), index=False).to_numpy())
    return h.hexdigest()


def network_for(roads: gpd.GeoDataFrame, **kwargs: object) -> RoadNetwork:
    """:meth:`RoadNetwork.from_roads`, cached on the roads' content (the last few networks)."""
    key = roads_fingerprint(roads, **kwargs)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    net = RoadNetwork.from_roads(roads, **kwargs)  # type: ignore[arg-type]
    _CACHE[key] = net
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return net


def clear_cache() -> None:
    """Forget cached networks."""
    _CACHE.clear()


# --- helpers ------------------------------------------------------------------------------------

_MODE_WORDS = {"walk": "on foot", "drive": "by car"}


def _check_direction(direction: str) -> None:
    if direction not in ("to_site", "from_site"):
        raise InputError(
            f"unknown direction '{direction}'", field="direction", expected="to_site or from_site"
        )


def _ids(points: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame) and "id" in points.columns:
        return points["id"].astype(str).to_numpy(dtype=object)
    return np.asarray([str(i) for i in points.index], dtype=object)


def _take(s: Snap, sl: slice) -> Snap:
    return Snap(
        s.edge[sl],
        s.frac[sl],
        s.dist_m[sl],
        s.access_s[sl],
        s.off_network[sl],
        s.island[sl],
        s.xy[sl],
    )


def _check_roads(roads: gpd.GeoDataFrame, source: str) -> None:
    if not isinstance(roads, gpd.GeoDataFrame):
        raise InputError("roads must be a GeoDataFrame", file=source)
    if len(roads) == 0:
        raise InputError(
            "the roads layer has no features",
            file=source,
            expected="at least one road line to build a network",
        )
    missing = [c for c in ("id", "road_class") if c not in roads.columns]
    if missing:
        raise InputError(
            problems=[
                Problem("required column is missing", source, field=c, expected="a roads layer")
                for c in missing
            ]
        )
    if roads.crs is None:
        raise InputError(
            "the data declares no coordinate reference system",
            file=source,
            field="geometry",
            expected="EPSG:4326",
        )
    g = np.asarray(roads.geometry.array, dtype=object)
    types = shapely.get_type_id(g)
    bad = ~(shapely.is_missing(g) | shapely.is_empty(g)) & ~np.isin(types, [1, 5])
    if bad.any():
        ids = roads["id"].astype(str).to_numpy()
        raise InputError(
            problems=[
                Problem(
                    "geometry is not a line",
                    source,
                    ids[i],
                    "geometry",
                    "LineString or MultiLineString",
                )
                for i in np.flatnonzero(bad)
            ]
        )


def _road_rules(
    roads: gpd.GeoDataFrame, speeds: dict[str, float] | None, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per road: class, one-way flag, walkable flag, driving speed (0 = not drivable)."""
    n = len(roads)
    cls = roads["road_class"].map(lambda v: str(v).strip().lower() if pd.notna(v) else "")
    cls = cls.to_numpy(dtype=object)
    speeds = {str(k).strip().lower(): float(v) for k, v in (speeds or {}).items()}
    table = {**DRIVE_KMH, **speeds}
    known = set(DRIVE_KMH) | WALK_ONLY | NOT_ROUTABLE | set(speeds)
    unknown = sorted({c for c in cls if c not in known})
    if unknown:
        notes.append(
            "unknown road class(es) "
            + ", ".join(repr(c) for c in unknown[:8])
            + ("..." if len(unknown) > 8 else "")
            + f": driven at {UNKNOWN_DRIVE_KMH:g} km/h and walkable"
        )
    kmh = np.array([table.get(c, UNKNOWN_DRIVE_KMH) for c in cls], dtype=float)
    not_car = np.array([(c in WALK_ONLY or c in NOT_ROUTABLE) and c not in speeds for c in cls])
    kmh[not_car] = 0.0
    if "speed_kmh" in roads.columns:
        given = pd.to_numeric(roads["speed_kmh"], errors="coerce").to_numpy(dtype=float)
        use = np.isfinite(given) & ~not_car
        kmh[use] = np.maximum(given[use], 0.0)
    walk = np.array([c not in NO_WALK and c not in NOT_ROUTABLE for c in cls], dtype=bool)
    if "oneway" in roads.columns:
        ow = roads["oneway"].astype("boolean")
        default = pd.Series([c in ONEWAY_BY_DEFAULT for c in cls], index=roads.index)
        oneway = ow.fillna(default).to_numpy(dtype=bool)
    else:
        oneway = np.array([c in ONEWAY_BY_DEFAULT for c in cls], dtype=bool)
    assert len(kmh) == n
    return cls, oneway, walk, kmh


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
