"""The :class:`RoadNetwork`: its graph per mode, snapping, shortest paths and isochrones."""

from __future__ import annotations

from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import dijkstra

from geo.constants import MODES, WALK_KMH, WGS84, Mode
from geo.errors import InputError, Problem
from geo.network.build import _build
from geo.network.graph import _build_graph, _ModeGraph
from geo.network.isochrones import _isochrones
from geo.network.rules import (
    _MODE_WORDS,
    POINT_SNAP_M,
    SITE_SNAP_M,
    Direction,
    _check_direction,
    _ids,
)
from geo.network.site_times import SiteTimes
from geo.network.snap import Snap, _SegmentIndex, _take

__all__ = ["RoadNetwork"]


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

        Returns
        -------
        RoadNetwork : the graph of both modes (built on first use, then kept); ``notes`` says
            what the builder did (unknown classes, joined ends, ignored roads).

        Raises
        ------
        InputError : no roads, missing columns, or no line with usable geometry.

        Examples
        --------
        Two 1 km roads meeting at a corner (drawn in UTM 51N metres, stored in EPSG:4326); a
        footway is walked at 4.5 km/h and closed to cars:

        >>> import geopandas as gpd, shapely
        >>> from geo.network import RoadNetwork
        >>> roads = gpd.GeoDataFrame(
        ...     {"id": ["a", "b"], "road_class": ["residential", "footway"]},
        ...     geometry=[
        ...         shapely.LineString([(380_000, 3_440_000), (381_000, 3_440_000)]),
        ...         shapely.LineString([(381_000, 3_440_000), (381_000, 3_441_000)]),
        ...     ],
        ...     crs="EPSG:32651",
        ... ).to_crs("EPSG:4326")
        >>> net = RoadNetwork.from_roads(roads)
        >>> net
        RoadNetwork(3 nodes, 2 edges, crs=EPSG:32651)
        >>> net.edges[["road_id", "length_m", "walk_s", "drive_s"]].round().values.tolist()
        [['a', 1000.0, 800.0, 144.0], ['b', 1000.0, 800.0, nan]]
        """
        return cls(
            **_build(
                roads,
                crs=crs,
                speeds=speeds,
                walk_kmh=walk_kmh,
                tolerance_m=tolerance_m,
                join_m=join_m,
                source=source,
            )
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
            self._graphs[mode] = _build_graph(self, mode)
        return self._graphs[mode]

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

        Returns
        -------
        SiteTimes : per node, the seconds to the nearest site and which site; its
            :meth:`~SiteTimes.assign` gives any points their nearest site and travel time.

        Raises
        ------
        InputError : no sites, a site off the network, an unknown mode.

        Examples
        --------
        One 2 km road (east, then north) with a site at its start:

        >>> import geopandas as gpd, shapely
        >>> from geo.network import RoadNetwork
        >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
        ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
        >>> road = shapely.LineString(
        ...     [(380_000, 3_440_000), (381_000, 3_440_000), (381_000, 3_441_000)]
        ... )
        >>> net = RoadNetwork.from_roads(layer([road], id=["a"], road_class=["residential"]))
        >>> site = layer([shapely.Point(380_000, 3_440_000)], id=["s1"])
        >>> homes = layer([shapely.Point(381_000, 3_441_000), shapely.Point(380_500, 3_440_000)],
        ...               id=["far", "near"])
        >>> times = net.nearest_site(site, "walk")
        >>> times.assign(homes)[["id", "site_id", "time_min"]].round(1).values.tolist()
        [['far', 's1', 26.7], ['near', 's1', 6.7]]
        """
        _check_direction(direction)
        ids, s = self._snap_sites(sites, mode, max_snap_m)
        return self._nearest(ids, s, mode, direction, offsets_s)

    def _nearest(
        self,
        ids: np.ndarray,
        s: Snap,
        mode: Mode,
        direction: Direction,
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
        return SiteTimes(self, mode, direction, ids, s, off, dist[:n], site)

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

        Parameters
        ----------
        origins, destinations : points (any geometry: a polygon starts from a point on its
            surface) with an ``id``.
        mode : ``"walk"`` or ``"drive"``.
        max_snap_m : points further than this from a usable road are flagged by :meth:`snap`,
            and still timed from where they meet the network.

        Returns
        -------
        DataFrame indexed by origin ``id``, one column per destination ``id``.

        Examples
        --------
        One 2 km road (east, then north); 2 km on foot at 4.5 km/h is 26.7 minutes:

        >>> import geopandas as gpd, shapely
        >>> from geo.network import RoadNetwork
        >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
        ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
        >>> road = shapely.LineString(
        ...     [(380_000, 3_440_000), (381_000, 3_440_000), (381_000, 3_441_000)]
        ... )
        >>> net = RoadNetwork.from_roads(layer([road], id=["a"], road_class=["residential"]))
        >>> site = layer([shapely.Point(380_000, 3_440_000)], id=["s1"])
        >>> homes = layer([shapely.Point(381_000, 3_441_000), shapely.Point(380_500, 3_440_000)],
        ...               id=["far", "near"])
        >>> (net.travel_time_matrix(homes, site, "walk") / 60).round(1).to_dict()
        {'s1': {'far': 26.7, 'near': 6.7}}
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
        sites : points with an ``id``.
        mode : ``"walk"`` or ``"drive"``.
        minutes : increasing band limits.
        direction : ``"to_site"`` (trips to the site) or ``"from_site"``.
        cell_m : grid size; default 40 m walking, 100 m driving.
        cumulative : each band holds everything within its limit (0-10 min includes 0-5).
        max_snap_m : a site further than this from a usable road is an error.

        Returns
        -------
        GeoDataFrame (EPSG:4326): ``site_id``, ``min_from``, ``min_to``, ``area_km2``; one row per
        site and non-empty band, ordered by site then band.

        Raises
        ------
        InputError : bad bands, no sites, a site off the network, an unknown mode.

        Examples
        --------
        One 2 km road (east, then north) with a site at its start:

        >>> import geopandas as gpd, shapely
        >>> from geo.network import RoadNetwork
        >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
        ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
        >>> road = shapely.LineString(
        ...     [(380_000, 3_440_000), (381_000, 3_440_000), (381_000, 3_441_000)]
        ... )
        >>> net = RoadNetwork.from_roads(layer([road], id=["a"], road_class=["residential"]))
        >>> site = layer([shapely.Point(380_000, 3_440_000)], id=["s1"])
        >>> bands = net.isochrones(site, "walk", minutes=(5, 10))
        >>> bands[["site_id", "min_from", "min_to"]].values.tolist()
        [['s1', 0.0, 5.0], ['s1', 5.0, 10.0]]
        """
        return _isochrones(
            self,
            sites,
            mode,
            minutes,
            direction=direction,
            cell_m=cell_m,
            cumulative=cumulative,
            max_snap_m=max_snap_m,
        )
