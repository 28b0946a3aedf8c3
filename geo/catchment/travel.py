"""Catchments over the road network: by travel time, and capacity-balanced."""

from __future__ import annotations

import time
from typing import Any

import geopandas as gpd
import numpy as np

from geo.catchment.capacity import _check_sites, site_capacity
from geo.catchment.demand import _cell_xy, _people
from geo.catchment.result import Catchments, CatchmentSummary, _assemble
from geo.catchment.transport import _solve_transport
from geo.network import POINT_SNAP_M, SITE_SNAP_M, Mode, RoadNetwork

__all__ = ["balanced", "by_travel_time"]


def by_travel_time(
    network: RoadNetwork,
    sites: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    mode: Mode,
    *,
    now: Any = None,
    deadline: Any = None,
    max_snap_m: float = POINT_SNAP_M,
    site_snap_m: float = SITE_SNAP_M,
) -> Catchments:
    """Each demand cell goes to the site it reaches soonest on the road network (no capacity).

    With ``now`` (and ``deadline``), the sites table shows capacity, ``untested`` (people beyond
    what the site can test in time) and finish times, which is what :func:`balanced` fixes.
    """
    _check_sites(sites)
    st = network.nearest_site(sites, mode, max_snap_m=site_snap_m)
    pts = network.snap_xy(_cell_xy(network, cells), mode, max_snap_m=max_snap_m)
    site, t = st.assign_snapped(pts)
    return _assemble(
        "travel_time",
        mode,
        sites,
        cells,
        network.crs,
        site,
        t / 60.0,
        now,
        deadline,
        snap=pts,
        site_times=st,
        reachable=site >= 0,
    )


def balanced(
    network: RoadNetwork,
    sites: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    mode: Mode,
    now: Any,
    deadline: Any = None,
    *,
    max_snap_m: float = POINT_SNAP_M,
    site_snap_m: float = SITE_SNAP_M,
    max_iterations: int = 200,
    gap_min: float = 0.0,
) -> Catchments:
    """Capacity-balanced catchments: minimum total travel time, no site over capacity.

    People of a cell may be split between sites. When capacity is short in total, the people
    left untested are those whose alternatives are worst (``summary["untested"]``; their cell rows
    have ``site_id`` None). Cells no site can reach are untested too (``unreachable``).

    Parameters
    ----------
    now : the time people set off (tz-aware).
    deadline : by when everybody should be tested; default each site's closing time.
    max_iterations : column-generation rounds before giving up (the result is then feasible
        but maybe not optimal; ``summary["optimal"]`` says which).
    gap_min : stop as soon as the assignment is proven within this many minutes per person of
        the optimum (``summary["gap_min_per_person"]``); 0 = solve to optimality.
    """
    _check_sites(sites)
    t0 = time.perf_counter()
    cap = site_capacity(sites, now, deadline)
    avail = np.maximum(cap["capacity"].to_numpy() - cap["queue_now"].to_numpy(), 0.0)
    st = network.nearest_site(sites, mode, max_snap_m=site_snap_m)
    pts = network.snap_xy(_cell_xy(network, cells), mode, max_snap_m=max_snap_m)
    people = _people(cells)
    site0, t0s = st.assign_snapped(pts)
    reach = (site0 >= 0) & (people > 0)
    cj = np.flatnonzero(reach)  # cells in the LP
    res = _solve_transport(st, pts, cj, people, site0, t0s, avail, max_iterations, gap_min)
    pair_cell, pair_site, x, cost, unserved, info = res
    # Rows: served shares, then untested shares of LP cells, then cells outside the LP.
    keep = x > 1e-9 * np.maximum(people[pair_cell], 1.0)
    rows_cell = np.r_[pair_cell[keep], cj[unserved > 1e-9 * np.maximum(people[cj], 1.0)]]
    rows_site = np.r_[pair_site[keep], np.full(len(rows_cell) - keep.sum(), -1)]
    rows_people = np.r_[x[keep], unserved[unserved > 1e-9 * np.maximum(people[cj], 1.0)]]
    rows_time = np.r_[cost[keep], np.full(len(rows_cell) - keep.sum(), np.nan)]
    out = np.flatnonzero(~reach)
    rows_cell = np.r_[rows_cell, out]
    rows_site = np.r_[rows_site, np.where(people[out] > 0, -1, site0[out])]
    rows_people = np.r_[rows_people, people[out]]
    rows_time = np.r_[rows_time, np.where(site0[out] >= 0, t0s[out] / 60.0, np.nan)]
    cat = _assemble(
        "balanced",
        mode,
        sites,
        cells,
        network.crs,
        None,
        None,
        now,
        deadline,
        snap=pts,
        site_times=st,
        shares=(rows_cell, rows_site, rows_people, rows_time),
        cap=cap,
        reachable=site0 >= 0,
    )
    cat.summary = CatchmentSummary(**cat.summary, **info, seconds=time.perf_counter() - t0)
    return cat
