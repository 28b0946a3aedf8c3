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

Layout: :mod:`~geo.network.rules` (road classes, what each mode may use), :mod:`~.build` (the
arrays from the roads layer), :mod:`~.graph` (one mode's CSR graph and components),
:mod:`~.snap` (where points meet the network), :mod:`~.road_network` (:class:`RoadNetwork`:
snapping, shortest paths, matrices), :mod:`~.isochrones`, :mod:`~.site_times`
(:class:`SiteTimes`) and :mod:`~.cache` (:func:`network_for`).
"""

from __future__ import annotations

from geo._settable import forward_settings
from geo.constants import DRIVE_KMH, MODES, UNKNOWN_DRIVE_KMH, WALK_KMH, Mode
from geo.network import cache, graph, snap
from geo.network.cache import clear_cache, network_for, roads_fingerprint
from geo.network.graph import ISLAND_NODES
from geo.network.graph import _ModeGraph as _ModeGraph  # for geo.cordon
from geo.network.isochrones import cells_union
from geo.network.road_network import RoadNetwork
from geo.network.rules import (
    NO_WALK,
    NOT_ROUTABLE,
    ONEWAY_BY_DEFAULT,
    POINT_SNAP_M,
    SITE_SNAP_M,
    WALK_ONLY,
    Direction,
)
from geo.network.site_times import SiteTimes
from geo.network.snap import Snap

__all__ = [
    "DRIVE_KMH",
    "ISLAND_NODES",
    "MODES",
    "NOT_ROUTABLE",
    "NO_WALK",
    "ONEWAY_BY_DEFAULT",
    "POINT_SNAP_M",
    "SITE_SNAP_M",
    "UNKNOWN_DRIVE_KMH",
    "WALK_KMH",
    "WALK_ONLY",
    "Direction",
    "Mode",
    "RoadNetwork",
    "SiteTimes",
    "Snap",
    "cells_union",
    "clear_cache",
    "network_for",
    "roads_fingerprint",
]

# The constants the code reads at run time, settable here as before the split.
forward_settings(
    __name__,
    {
        "ISLAND_NODES": graph,
        "_CACHE_SIZE": cache,
        "_SAMPLE_M": snap,
        "_K": snap,
    },
)
