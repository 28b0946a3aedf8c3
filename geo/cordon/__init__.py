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

Layout: :mod:`~geo.cordon.common` (band names, columns, input checks, segment crossings),
:mod:`~.zones` (by distance, drawn by hand), :mod:`~.network_zones` (over the roads),
:mod:`~.people`, :mod:`~.posts` (checkpoints) and :mod:`~.summary` (the figures, the result tuple).
"""

from __future__ import annotations

from geo._settable import forward_settings
from geo.cordon import network_zones, posts
from geo.cordon.common import (
    BAND_COLUMNS,
    BAND_ZH,
    BANDS,
    CHECKPOINT_COLUMNS,
    MAX_RING,
    VENUE_EXIT,
    By,
    Unit,
    check_rings,
)
from geo.cordon.common import _incident_geoms as _incident_geoms  # for the benchmarks
from geo.cordon.network_zones import _length_view as _length_view  # for tests, benchmarks
from geo.cordon.network_zones import _reach as _reach  # for tests, benchmarks
from geo.cordon.network_zones import _sources as _sources  # for tests, benchmarks
from geo.cordon.network_zones import zones_by_network
from geo.cordon.people import people_in_zones
from geo.cordon.posts import CLASS_ORDER, DEFAULT_STAFF_UNKNOWN, checkpoints
from geo.cordon.summary import CordonResult, CordonSummary, select_incidents, summarize
from geo.cordon.zones import zones_by_distance, zones_from_outlines

__all__ = [
    "BANDS",
    "BAND_COLUMNS",
    "BAND_ZH",
    "CHECKPOINT_COLUMNS",
    "CLASS_ORDER",
    "MAX_RING",
    "DEFAULT_STAFF_UNKNOWN",
    "VENUE_EXIT",
    "By",
    "CordonResult",
    "CordonSummary",
    "Unit",
    "check_rings",
    "checkpoints",
    "people_in_zones",
    "select_incidents",
    "summarize",
    "zones_by_distance",
    "zones_by_network",
    "zones_from_outlines",
]

# The constants the code reads at run time, settable here as before the split.
forward_settings(
    __name__,
    {
        "DEFAULT_STAFF_UNKNOWN": posts,
        "_BOUNDARY_TOL_M": posts,
        "_GRID_MM": posts,
        "_MAX_GRID_CELLS": network_zones,
    },
)
