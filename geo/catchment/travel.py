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

    Parameters
    ----------
    network : the road network (:func:`geo.network.network_for`).
    sites : testing sites (points with ``id``; ``lanes``/``per_lane_per_h`` when ``now`` is given).
    cells : demand cells with ``people`` (:func:`demand_cells`).
    mode : ``"walk"`` or ``"drive"``.
    now, deadline : give them to get capacity, load and finish times.
    max_snap_m : cells further than this from a usable road are flagged ``off_network`` (and
        still assigned from where they meet the network).
    site_snap_m : a site further than this from a usable road is an error.

    Returns
    -------
    :class:`Catchments`: ``mean_min``/``max_min`` are the travel minutes of each site's people
    (access legs included); cells no site can reach are ``reachable`` False.

    Raises
    ------
    InputError : no sites or cells, a site off the network, an unknown mode.

    Examples
    --------
    Two sites 500 m apart on one road through a zone of 3,000 people:

    >>> import geopandas as gpd, shapely
    >>> from geo.catchment import by_travel_time, demand_cells
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> sites = layer([shapely.Point(380_000, 3_440_250), shapely.Point(380_500, 3_440_250)],
    ...               id=["west", "east"])
    >>> crowd = layer([shapely.box(379_500, 3_440_000, 381_000, 3_440_500)], id=["z1"],
    ...               people=[3000])
    >>> cells = demand_cells(crowd, 250)
    >>> from geo.network import RoadNetwork
    >>> road = shapely.LineString([(379_500, 3_440_250), (381_000, 3_440_250)])
    >>> net = RoadNetwork.from_roads(layer([road], id=["r1"], road_class=["residential"]))
    >>> cat = by_travel_time(net, sites, cells, "walk")
    >>> cat.sites[["site_id", "people", "mean_min"]].round(1).values.tolist()
    [['west', 1500.0, 4.6], ['east', 1500.0, 4.5]]
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
    network : the road network (:func:`geo.network.network_for`).
    sites : testing sites with ``id``, ``lanes``, ``per_lane_per_h`` (optional ``opens_at``,
        ``closes_at``, ``queue``: see :func:`site_capacity`).
    cells : demand cells with ``people`` (:func:`demand_cells`).
    mode : ``"walk"`` or ``"drive"``.
    now : the time people set off (tz-aware).
    deadline : by when everybody should be tested; default each site's closing time.
    max_snap_m, site_snap_m : as for :func:`by_travel_time`.
    max_iterations : column-generation rounds before giving up (the result is then feasible
        but maybe not optimal; ``summary["optimal"]`` says which).
    gap_min : stop as soon as the assignment is proven within this many minutes per person of
        the optimum (``summary["gap_min_per_person"]``); 0 = solve to optimality.

    Returns
    -------
    :class:`Catchments` whose ``cells`` may hold several rows per cell (its people split
    between sites); ``summary`` adds the solver's figures (``optimal``, ``lower_bound``, ...).

    Raises
    ------
    InputError : as :func:`by_travel_time`; ``now`` without a time zone, a deadline before it.

    Examples
    --------
    As for :func:`by_travel_time`, but the east site tests only 500 people an hour: in the two
    hours to the deadline it takes 1,000, and the west site the 2,000 others:

    >>> import geopandas as gpd, shapely
    >>> from geo.catchment import balanced, demand_cells
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> sites = layer([shapely.Point(380_000, 3_440_250), shapely.Point(380_500, 3_440_250)],
    ...               id=["west", "east"])
    >>> crowd = layer([shapely.box(379_500, 3_440_000, 381_000, 3_440_500)], id=["z1"],
    ...               people=[3000])
    >>> cells = demand_cells(crowd, 250)
    >>> from geo.network import RoadNetwork
    >>> road = shapely.LineString([(379_500, 3_440_250), (381_000, 3_440_250)])
    >>> net = RoadNetwork.from_roads(layer([road], id=["r1"], road_class=["residential"]))
    >>> sites = sites.assign(lanes=[1, 1], per_lane_per_h=[1000, 500])
    >>> cat = balanced(net, sites, cells, "walk", "2021-10-31T18:00+08:00",
    ...                deadline="2021-10-31T20:00+08:00")
    >>> cat.sites[["site_id", "people", "capacity", "untested"]].round().values.tolist()
    [['west', 2000.0, 2000.0, 0.0], ['east', 1000.0, 1000.0, 0.0]]
    >>> cat.summary["optimal"]
    True
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
