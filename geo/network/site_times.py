"""Nearest-site travel times (:meth:`RoadNetwork.nearest_site`) and assigning points with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from geo.constants import WGS84, Mode
from geo.network.rules import POINT_SNAP_M, Direction, _ids
from geo.network.snap import Snap

if TYPE_CHECKING:
    from geo.network.road_network import RoadNetwork

__all__ = ["SiteTimes"]


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
    mode: Mode
    direction: Direction
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
        pts = self.network.snap_xy(xy, self.mode, max_snap_m=max_snap_m)
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
