"""Catchments of testing sites: who goes where, how long it takes, when each site finishes.

Three kinds, all returning a :class:`Catchments` (``sites``: one polygon per site; ``cells``:
where each demand cell's people go; ``summary``):

* :func:`voronoi` - Euclidean nearest site, clipped to the boundary.
* :func:`by_travel_time` - each demand cell to the site it reaches soonest on the road network.
* :func:`balanced` - people assigned (splitting cells where needed) to minimise total travel time
  so that no site receives more people than it can test before it closes or the deadline.

Demand comes from :func:`demand_cells`: a grid inside each crowd zone carrying its areal share of
the zone's people, so a large zone is not one centroid.

Capacity of a site (``site_capacity``): ``lanes * per_lane_per_h`` people per hour from
``max(now, opens_at)`` to ``min(closes_at, deadline)``; the people already queueing there
(``queue``) are served first. ``finish_at`` = window start + load / throughput. Travel time to
the site is not subtracted from the window (hours of testing against minutes of travel).

The balanced assignment is the transportation problem (minutes, people)

    min  sum t_ij x_ij + UNSERVED_MIN * sum y_j
    s.t. sum_i x_ij + y_j = people_j          (every cell's people go somewhere or are untested)
         sum_j x_ij      <= capacity_i        (no site takes more than it can test)

over *every* (cell, site) pair, solved exactly by column generation without ever building the
cells x sites matrix (:func:`_solve_transport`):

* the LP starts with each cell's nearest site only; a cell with one column is a bounded
  variable, not a row, so the LP has a row per site plus one per cell that has alternatives;
* new columns come first from a pool of likely pairs (one limited Dijkstra per site), then,
  when the pool has nothing left, from one multi-source Dijkstra with the LP's site prices as
  offsets: it finds every cell's cheapest site at those prices over all sites, and when no cell
  beats its dual the assignment is proven optimal. The same Dijkstra gives a Lagrangian lower
  bound, so a run can also stop at a known gap (``gap_min``);
* capacities start soft (a penalty per person over capacity, raised stage by stage) so that site
  prices, and with them the columns brought in, grow gradually;
* with HiGHS' own binding (``highspy`` or the copy scipy ships) the LP is kept alive and each
  solve starts from the last basis; otherwise each solve goes through ``scipy.optimize.linprog``.


Layout: :mod:`~geo.catchment.demand` (:func:`demand_cells`), :mod:`~.capacity`
(:func:`site_capacity`), :mod:`~.euclidean` (:func:`voronoi`), :mod:`~.travel`
(:func:`by_travel_time`, :func:`balanced`), :mod:`~.transport` (the LP and its column
generation) and :mod:`~.result` (:class:`Catchments`, its summary).
"""

from __future__ import annotations

from geo._settable import forward_settings
from geo.catchment import demand, transport
from geo.catchment.capacity import site_capacity
from geo.catchment.demand import MAX_CELLS, demand_cells
from geo.catchment.euclidean import voronoi
from geo.catchment.result import Catchments, CatchmentSummary
from geo.catchment.transport import (
    CANDIDATE_WINDOW_MIN,
    COVER,
    COVER_RANK,
    PENALTY_STAGES_MIN,
    UNSERVED_MIN,
    USE_HIGHS_WARM_START,
)
from geo.catchment.travel import balanced, by_travel_time

__all__ = [
    "CANDIDATE_WINDOW_MIN",
    "COVER",
    "COVER_RANK",
    "MAX_CELLS",
    "PENALTY_STAGES_MIN",
    "UNSERVED_MIN",
    "USE_HIGHS_WARM_START",
    "CatchmentSummary",
    "Catchments",
    "balanced",
    "by_travel_time",
    "demand_cells",
    "site_capacity",
    "voronoi",
]

# The constants the code reads at run time, settable here as before the split (the tuning of
# the balanced assignment is meant to be set: ``geo.catchment.COVER = 2``).
forward_settings(
    __name__,
    {
        "CANDIDATE_WINDOW_MIN": transport,
        "COVER": transport,
        "COVER_RANK": transport,
        "PENALTY_STAGES_MIN": transport,
        "UNSERVED_MIN": transport,
        "USE_HIGHS_WARM_START": transport,
        "_DEBUG": transport,
        "MAX_CELLS": demand,
    },
)
