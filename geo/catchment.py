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

Tested against the textbook LP (every pair, one row per cell) solved by linprog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.optimize import linprog
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.constants import WGS84
from geo.crs import local_crs
from geo.errors import InputError, Problem
from geo.network import POINT_SNAP_M, SITE_SNAP_M, Mode, RoadNetwork, SiteTimes

#: Cost (minutes per person) of leaving a person untested; larger than any travel time, so the
#: assignment tests as many people as capacity allows, then minimises travel.
UNSERVED_MIN = 10_000.0
#: Most grid boxes :func:`demand_cells` will make before asking for a larger cell size.
MAX_CELLS = 5_000_000
# Balanced assignment tuning (speed only: the result is optimal whatever they are).
CANDIDATE_WINDOW_MIN = 15.0  # cell side: sites within this many minutes of the nearest
COVER = 3.0  # site side: nearest cells up to this many times the site's capacity ...
COVER_RANK = 20.0  # ... and at most this many times the mean number of cells per site
PENALTY_STAGES_MIN = (5.0, 20.0, 80.0, 320.0)  # soft capacities first (see _solve_transport)
USE_HIGHS_WARM_START = True
_DEBUG = False


@dataclass
class Catchments:
    """A catchment result.

    Attributes
    ----------
    sites : GeoDataFrame (EPSG:4326), one row per site, in input order: ``site_id``, ``name``,
        ``people`` (demand assigned), ``mean_min`` / ``max_min`` (travel time of those people),
        ``queue_now``, ``load`` (= people + queue_now), ``throughput_per_h``, ``capacity``
        (people testable in the window; inf without a deadline or closing time), ``untested``
        (load beyond capacity), ``start_at``, ``finish_at``, ``finish_min`` (after ``now``),
        ``status``; geometry = union of the cells whose people (mostly) go there.
    cells : GeoDataFrame (EPSG:4326), one row per (cell, destination) share: ``cell_id``,
        ``zone_id``, ``site_id`` (missing = not tested: unreachable, or beyond capacity),
        ``people``, ``time_min``, ``snap_m``, ``off_network``, ``reachable``; geometry = cell.
    summary : totals: ``kind``, ``mode``, ``people``, ``assigned``, ``queue_now``,
        ``untested`` (people who cannot be tested in time: unreachable, left over when capacity
        is short, or beyond a site's capacity), ``unreachable``, ``off_network`` (people in
        cells further than the snapping threshold), ``mean_min``, ``max_min``; for
        ``balanced`` also ``optimal``, ``objective_person_min`` (travel person-minutes +
        ``UNSERVED_MIN`` per untested person), ``lower_bound``, ``gap_min_per_person``,
        ``iterations``, ``pairs``, ``simplex_iterations``, ``lp_seconds``, ``pool_pairs``,
        ``pool_seconds``, ``warm_start``, ``seconds``.
    """

    sites: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# --- demand -------------------------------------------------------------------------------------


def demand_cells(
    crowd_zones: gpd.GeoDataFrame,
    cell_m: float = 250.0,
    *,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Split crowd zones into grid cells carrying their areal share of the zone's people.

    The grid is aligned on multiples of ``cell_m`` in the metric CRS, so cells of neighbouring
    zones line up. Each zone's people are shared by the area of its cells (clipped to the zone);
    the shares add up to the zone's people.

    Parameters
    ----------
    crowd_zones : polygons with ``id`` and ``people``.
    cell_m : grid size in metres.
    crs : metric CRS; default the UTM zone of the zones.

    Returns
    -------
    GeoDataFrame (EPSG:4326): ``id`` (``"<zone id>:<n>"``), ``zone_id``, ``people``,
    ``area_m2``; geometry = the cell clipped to its zone.
    """
    if not cell_m > 0:
        raise InputError("the cell size must be positive", field="cell_m", expected="metres > 0")
    cols = ["id", "zone_id", "people", "area_m2"]
    if len(crowd_zones) == 0:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=WGS84)
    for c in ("id", "people"):
        if c not in crowd_zones.columns:
            raise InputError(
                "required column is missing", file="crowd_zones", field=c, expected="a number"
            )
    people = pd.to_numeric(crowd_zones["people"], errors="coerce").to_numpy(dtype=float)
    zone_ids = crowd_zones["id"].astype(str).to_numpy(dtype=object)
    bad = ~np.isfinite(people) | (people < 0)
    if bad.any():
        raise InputError(
            problems=[
                Problem(
                    "people is missing or negative",
                    "crowd_zones",
                    zone_ids[i],
                    "people",
                    "a number >= 0",
                )
                for i in np.flatnonzero(bad)
            ]
        )
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(crowd_zones)
    zones = np.asarray(crowd_zones.geometry.to_crs(crs).array, dtype=object)
    empty = shapely.is_missing(zones) | shapely.is_empty(zones)
    if empty.any():
        raise InputError(
            problems=[
                Problem(
                    "geometry is empty or missing",
                    "crowd_zones",
                    zone_ids[i],
                    "geometry",
                    "a polygon",
                )
                for i in np.flatnonzero(empty)
            ]
        )
    b = shapely.bounds(zones)
    i0 = np.floor(b[:, 0] / cell_m).astype(np.int64)
    j0 = np.floor(b[:, 1] / cell_m).astype(np.int64)
    ni = np.maximum(np.ceil(b[:, 2] / cell_m).astype(np.int64) - i0, 1)
    nj = np.maximum(np.ceil(b[:, 3] / cell_m).astype(np.int64) - j0, 1)
    n = ni * nj
    if n.sum() > MAX_CELLS:
        raise InputError(
            f"{int(n.sum()):,} grid cells of {cell_m:g} m are too many",
            field="cell_m",
            expected=f"a larger cell size (at most {MAX_CELLS:,} cells)",
        )
    zi = np.repeat(np.arange(len(zones)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    gi = i0[zi] + k // nj[zi]
    gj = j0[zi] + k % nj[zi]
    boxes = shapely.box(gi * cell_m, gj * cell_m, (gi + 1) * cell_m, (gj + 1) * cell_m)
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zi], boxes)
    pieces = boxes.copy()
    edge = ~inside
    pieces[edge] = shapely.intersection(boxes[edge], zones[zi[edge]])
    pieces[edge] = _polygonal(pieces[edge])
    area = shapely.area(pieces)
    keep = area > 0
    zi, pieces, area = zi[keep], pieces[keep], area[keep]
    total = np.bincount(zi, weights=area, minlength=len(zones))
    share = people[zi] * area / total[zi]
    # Zones too thin to hold any cell area (degenerate polygons): one cell at a point inside.
    lost = np.flatnonzero(total[np.arange(len(zones))] <= 0)
    if len(lost):
        zi = np.r_[zi, lost]
        pieces = np.r_[pieces, shapely.buffer(shapely.point_on_surface(zones[lost]), 0.5)]
        area = np.r_[area, np.zeros(len(lost))]
        share = np.r_[share, people[lost]]
        order = np.argsort(zi, kind="stable")
        zi, pieces, area, share = zi[order], pieces[order], area[order], share[order]
    first = np.r_[0, np.flatnonzero(zi[1:] != zi[:-1]) + 1]
    nth = np.arange(len(zi)) - np.repeat(first, np.diff(np.r_[first, len(zi)]))
    ids = [f"{zone_ids[z]}:{m}" for z, m in zip(zi.tolist(), nth.tolist())]
    out = gpd.GeoDataFrame(
        {"id": ids, "zone_id": zone_ids[zi], "people": share, "area_m2": area},
        geometry=pieces,
        crs=crs,
    )
    return out.to_crs(WGS84)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of intersection results (which may touch along lines)."""
    out = geoms.copy()
    mixed = shapely.get_type_id(out) == 7
    for i in np.flatnonzero(mixed):
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


# --- capacity -----------------------------------------------------------------------------------


def site_capacity(
    sites: gpd.GeoDataFrame | pd.DataFrame,
    now: Any,
    deadline: Any = None,
) -> pd.DataFrame:
    """Testing capacity of each site between ``now`` and the deadline.

    Returns
    -------
    DataFrame in site order: ``site_id``, ``throughput_per_h`` (lanes x per_lane_per_h),
    ``queue_now``, ``start_at`` (max(now, opens_at)), ``end_at`` (min(closes_at, deadline); NaT =
    open-ended), ``hours``, ``capacity`` (people testable in the window, inf when open-ended),
    ``status`` (``ok``, ``closed``, ``opens after deadline``, ``no capacity``).

    Raises
    ------
    InputError : ``now`` without a time zone, a deadline not after ``now``, sites without
        ``lanes``/``per_lane_per_h``.
    """
    now_ts = _time(now, "now")
    dl = _time(deadline, "deadline") if deadline is not None else None
    if dl is not None and dl <= now_ts:
        raise InputError(
            f"the deadline {dl.isoformat()} is not after now ({now_ts.isoformat()})",
            field="deadline",
            expected="a time after now",
        )
    ids = sites["id"].astype(str).to_numpy(dtype=object)
    problems = []
    for c in ("lanes", "per_lane_per_h"):
        if c not in sites.columns:
            problems.append(
                Problem("required column is missing", "testing_sites", field=c, expected="a number")
            )
    if problems:
        raise InputError(problems=problems)
    lanes = pd.to_numeric(sites["lanes"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    per = pd.to_numeric(sites["per_lane_per_h"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    thr = lanes * per
    bad = ~np.isfinite(thr) | (thr < 0)
    if bad.any():
        raise InputError(
            problems=[
                Problem(
                    "lanes or per_lane_per_h is missing or negative",
                    "testing_sites",
                    ids[i],
                    "per_lane_per_h",
                    "numbers >= 0",
                )
                for i in np.flatnonzero(bad)
            ]
        )
    n = len(sites)
    utc = "UTC"
    opens = _times(sites, "opens_at", n).dt.tz_convert(utc)
    closes = _times(sites, "closes_at", n).dt.tz_convert(utc)
    now_u = now_ts.tz_convert(utc)
    start = opens.where(opens > now_u, now_u)
    start = start.fillna(now_u)
    end = closes.copy()
    if dl is not None:
        dl_u = dl.tz_convert(utc)
        end = end.where(end.notna() & (end < dl_u), dl_u)
    hours = ((end - start).dt.total_seconds() / 3600.0).to_numpy(dtype=float, na_value=np.nan)
    open_ended = end.isna().to_numpy()
    hours = np.where(open_ended, np.inf, np.maximum(hours, 0.0))
    with np.errstate(invalid="ignore"):
        cap = np.where(thr > 0, thr * hours, 0.0)
    queue = (
        pd.to_numeric(sites["queue"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if "queue" in sites.columns
        else np.zeros(n)
    )
    status = np.full(n, "ok", dtype=object)
    status[(closes <= now_u).fillna(False).to_numpy(dtype=bool)] = "closed"
    if dl is not None:
        status[(opens >= dl.tz_convert(utc)).fillna(False).to_numpy(dtype=bool)] = (
            "opens after deadline"
        )
    status[thr <= 0] = "no capacity"
    tz = _layer_tz(sites) or now_ts.tz
    return pd.DataFrame(
        {
            "site_id": ids,
            "throughput_per_h": thr,
            "queue_now": queue,
            "start_at": start.dt.tz_convert(tz).array,
            "end_at": end.dt.tz_convert(tz).array,
            "hours": hours,
            "capacity": cap,
            "status": status,
        }
    )


def _layer_tz(sites: pd.DataFrame) -> Any:
    """The time zone the layer's times are written in (the scenario's), if any."""
    for col in ("opens_at", "closes_at"):
        if col in sites.columns and isinstance(sites[col].dtype, pd.DatetimeTZDtype):
            return sites[col].dtype.tz
    return None


def _time(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"'{value}' is not a time", field=name, expected="an ISO 8601 time with its zone"
        ) from exc
    if pd.isna(ts):
        raise InputError("the time is missing", field=name, expected="an ISO 8601 time")
    if ts.tzinfo is None:
        raise InputError(
            f"{name} {ts.isoformat()} has no time zone",
            field=name,
            expected="a time with its zone, such as 2021-10-31T18:05:00+08:00",
        )
    return ts


def _times(sites: pd.DataFrame, col: str, n: int) -> pd.Series:
    if col not in sites.columns:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    s = pd.Series(sites[col].to_numpy(), index=range(n))
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True, errors="coerce")
    return s


# --- the three kinds ----------------------------------------------------------------------------


def voronoi(
    sites: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | shapely.Geometry | None = None,
    cells: gpd.GeoDataFrame | None = None,
    *,
    now: Any = None,
    deadline: Any = None,
    crs: CRS | str | int | None = None,
) -> Catchments:
    """Euclidean catchments: the area nearer to each site than to any other, within the boundary.

    Parameters
    ----------
    sites : testing sites (points with ``id``; ``lanes``/``per_lane_per_h`` when ``now`` is given).
    boundary : polygons (a boundary layer or a shapely geometry in EPSG:4326); default the
        bounding box of sites and cells, grown by 10 %.
    cells : demand cells; their people are counted per site (at a point inside each cell).
    now, deadline : give them to get capacity, load and finish times.

    Returns
    -------
    :class:`Catchments` (``mean_min``/``max_min`` are NaN: no travel times here). Two sites at
    the same place share one polygon: the first gets it, the others are ``status``
    "duplicate location".
    """
    _check_sites(sites)
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(sites)
    sxy = shapely.get_coordinates(np.asarray(sites.geometry.to_crs(crs).array, dtype=object))
    if boundary is None:
        pts = [sxy]
        if cells is not None and len(cells):
            pts.append(shapely.get_coordinates(_cell_points(cells, crs)))
        allp = np.concatenate(pts)
        lo, hi = allp.min(0), allp.max(0)
        pad = np.maximum((hi - lo) * 0.1, 500.0)
        area = shapely.box(*(lo - pad), *(hi + pad))
    elif isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if len(boundary) == 0:
            raise InputError(
                "the boundary has no polygon", file="boundary", expected="at least one polygon"
            )
        area = shapely.union_all(np.asarray(boundary.geometry.to_crs(crs).array, dtype=object))
    else:
        area = gpd.GeoSeries([boundary], crs=WGS84).to_crs(crs).iloc[0]
    uniq, first, inv = np.unique(sxy, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if len(uniq) == 1:
        polys = np.array([area], dtype=object)
    else:
        env = shapely.box(
            *np.minimum(shapely.bounds(area)[:2], uniq.min(0) - 1),
            *np.maximum(shapely.bounds(area)[2:], uniq.max(0) + 1),
        )
        vor = shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=env, ordered=True)
        polys = np.asarray(shapely.get_parts(vor), dtype=object)
        polys = shapely.intersection(polys, area)
    geom = np.array([shapely.Polygon()] * len(sites), dtype=object)
    geom[first] = polys
    dup = np.ones(len(sites), dtype=bool)
    dup[first] = False

    site_of_cell = None
    if cells is not None and len(cells):
        cxy = shapely.get_coordinates(_cell_points(cells, crs))
        _, nearest = cKDTree(uniq).query(cxy)
        site_of_cell = first[nearest]
    cat = _assemble(
        "voronoi", None, sites, cells, crs, site_of_cell, None, now, deadline, geom_override=geom
    )
    cat.sites.loc[dup, "status"] = "duplicate location"
    return cat


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
    cat.summary.update(info)
    cat.summary["seconds"] = time.perf_counter() - t0
    return cat


def _candidates(
    st: SiteTimes,
    sub: Any,
    people: np.ndarray,
    t_best: np.ndarray,
    avail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pool of likely (cell, site) pairs with exact times (seconds), sorted by cell.

    One Dijkstra per site with capacity, limited to the time most cells could need. A pair
    is in the pool when the site is within ``CANDIDATE_WINDOW_MIN`` of the cell's nearest (cell
    side), or when the cell is among the nearest cells that would fill ``COVER`` times the
    site's capacity (site side: when capacity is short, a site fills up with the people nearest
    to it, wherever their own nearest site is). The pool only makes pricing cheap: pairs
    missing from it are still found by the Dijkstra pricing.
    """
    net = st.network
    s_all = st.site_snap
    m = len(t_best)
    sites = np.flatnonzero(avail > 0)
    window = CANDIDATE_WINDOW_MIN * 60.0
    # Far-out cells (the last 2 %) would make every search city-wide; pricing finds theirs.
    limit = float(np.quantile(t_best, 0.98)) + window if m else 0.0
    cap_rank = max(50, int(COVER_RANK * m / max(len(sites), 1)))
    u, v, cu, cv = net._ends(st.mode, st.direction, sub)
    cu = cu + sub.access_s
    cv = cv + sub.access_s
    reach_t = t_best + window
    out_c, out_s, out_t = [], [], []
    chunk = max(1, min(64, int(2e7 // max(net.n_nodes + m, 1))))
    for c0 in range(0, len(sites), chunk):
        sidx = sites[c0 : c0 + chunk]
        src = _take_snap(s_all, sidx)
        g, n = net._augmented(st.mode, st.direction, src, src.access_s)
        dist = dijkstra(g, directed=True, indices=np.arange(n, n + len(sidx)), limit=limit)
        t = np.minimum(dist[:, u] + cu, dist[:, v] + cv)  # (chunk, m)
        for k, site in enumerate(sidx):
            row = t[k]
            fin = np.flatnonzero(row < np.inf)
            if not len(fin):
                continue
            tf = row[fin]
            # site side: the nearest cells until COVER x capacity (at most cap_rank of them)
            if len(fin) > cap_rank:
                part = np.argpartition(tf, cap_rank - 1)[:cap_rank]
            else:
                part = np.arange(len(fin))
            part = part[np.argsort(tf[part], kind="stable")]
            cum = np.cumsum(people[fin[part]])
            near = part[(cum - people[fin[part]]) < COVER * avail[site]]
            # cell side: within the window of the cell's own nearest site
            close = np.flatnonzero(tf <= reach_t[fin])
            sel = np.union1d(near, close)
            out_c.append(fin[sel])
            out_s.append(np.full(len(sel), site))
            out_t.append(tf[sel])
    pc = np.concatenate(out_c).astype(np.int64) if out_c else np.zeros(0, np.int64)
    ps = np.concatenate(out_s).astype(np.int64) if out_s else np.zeros(0, np.int64)
    pt = np.concatenate(out_t) if out_t else np.zeros(0)
    # Same edge: the direct way may be shorter than through the edge's ends.
    ia, jb = net._same_edge_pairs(sub, s_all)
    keep = avail[jb] > 0
    ia, jb = ia[keep], jb[keep]
    if len(ia):
        if st.direction == "to_site":
            along = net._along(st.mode, sub.edge[ia], sub.frac[ia], s_all.frac[jb])
        else:
            along = net._along(st.mode, sub.edge[ia], s_all.frac[jb], sub.frac[ia])
        direct = along + sub.access_s[ia] + s_all.access_s[jb]
        pc, ps, pt = np.r_[pc, ia], np.r_[ps, jb], np.r_[pt, direct]
    # One pair per (cell, site), the fastest.
    order = np.lexsort((pt, ps, pc))
    pc, ps, pt = pc[order], ps[order], pt[order]
    first = np.r_[True, (pc[1:] != pc[:-1]) | (ps[1:] != ps[:-1])] if len(pc) else np.zeros(0, bool)
    pc, ps, pt = pc[first], ps[first], pt[first]
    order = np.lexsort((pt, pc))
    return pc[order], ps[order], pt[order]


class _RestrictedLP:
    """The assignment LP over a growing set of (cell, site) columns.

    Columns ``x_ij`` cost ``t_ij - UNSERVED_MIN`` (so serving beats leaving untested). Rows: a
    capacity row per limited site (``<= available``) and, only for cells with two or more
    columns, a row ``sum_i x_ij <= people_j``; a cell with a single column is just the bound
    ``x <= people_j``. The untested people of a cell are the slack. Most cells keep one column,
    so the LP has few rows and its solutions start from the bounds, not from pivots.

    With the HiGHS binding (``highspy``, or the copy inside scipy), columns and rows are added to
    the live model and each solve starts from the previous basis; without it every solve starts
    afresh through :func:`scipy.optimize.linprog`.
    """

    def __init__(self, avail_rows: np.ndarray, cell_people: np.ndarray) -> None:
        self.n_site_rows = len(avail_rows)
        self.people = cell_people
        m = len(cell_people)
        self.row_upper = list(avail_rows)
        self.cell_row = np.full(m, -1, dtype=np.int64)
        self.ncol = np.zeros(m, dtype=np.int64)
        self.first_col = np.full(m, -1, dtype=np.int64)
        self.col_site_row = np.zeros(0, np.int64)
        self.col_cell = np.zeros(0, np.int64)
        self.col_cost = np.zeros(0)
        self.col_upper = np.zeros(0)
        self.simplex_iterations = 0
        self.seconds = 0.0
        self._h = _new_highs() if USE_HIGHS_WARM_START else None
        # One overflow column per capacity row (-1 in its row): with a finite penalty the
        # capacities are soft, which keeps the site prices (duals) below the penalty.
        self.n_over = self.n_site_rows
        self.penalty: float | None = None
        if self._h is not None and self.n_site_rows:
            n = self.n_site_rows
            self._h.addRows(
                n,
                np.full(n, -np.inf),
                np.asarray(avail_rows, dtype=float),
                0,
                np.zeros(n, np.int32),
                np.zeros(0, np.int32),
                np.zeros(0),
            )
            self._h.addCols(
                n,
                np.zeros(n),
                np.zeros(n),
                np.zeros(n),
                n,
                np.arange(n, dtype=np.int32),
                np.arange(n, dtype=np.int32),
                -np.ones(n),
            )

    def set_penalty(self, penalty: float | None) -> None:
        """Cost per person over capacity; None = capacities are hard."""
        self.penalty = penalty
        if self._h is not None and self.n_over:
            n = self.n_over
            idx = np.arange(n, dtype=np.int32)
            if penalty is None:
                self._h.changeColsBounds(n, idx, np.zeros(n), np.zeros(n))
            else:
                self._h.changeColsCost(n, idx, np.full(n, float(penalty)))
                self._h.changeColsBounds(n, idx, np.zeros(n), np.full(n, np.inf))

    @property
    def n_cols(self) -> int:
        return len(self.col_cell)

    def add(self, site_row: np.ndarray, cell: np.ndarray, cost: np.ndarray) -> None:
        k = len(cell)
        if k == 0:
            return
        base = self.n_cols
        new_idx = base + np.arange(k)
        before = self.ncol.copy()
        np.add.at(self.ncol, cell, 1)
        multi_after = self.ncol[cell] >= 2
        upper = np.where(multi_after, np.inf, self.people[cell])
        row = self.cell_row[cell]
        self.col_site_row = np.r_[self.col_site_row, site_row]
        self.col_cell = np.r_[self.col_cell, cell]
        self.col_cost = np.r_[self.col_cost, cost]
        self.col_upper = np.r_[self.col_upper, upper]
        fresh = before[cell] == 0
        self.first_col[cell[fresh]] = new_idx[fresh]
        # Cells that now have two or more columns but no row yet get one.
        need = np.unique(cell[(self.cell_row[cell] < 0) & multi_after])
        old_single = need[before[need] == 1]
        if self._h is not None:
            has_s, has_c = site_row >= 0, row >= 0
            cnt = has_s.astype(np.int64) + has_c
            starts = np.r_[0, np.cumsum(cnt)[:-1]]
            idx = np.empty(int(cnt.sum()), np.int64)
            idx[starts[has_s]] = site_row[has_s]
            idx[(starts + has_s)[has_c]] = row[has_c]
            self._h.addCols(
                k,
                cost - UNSERVED_MIN,
                np.zeros(k),
                upper,
                len(idx),
                starts.astype(np.int32),
                idx.astype(np.int32),
                np.ones(len(idx)),
            )
        if len(need):
            first_rows = len(self.row_upper)
            self.cell_row[need] = first_rows + np.arange(len(need))
            self.row_upper.extend(self.people[need].tolist())
            if len(old_single):
                oc = self.first_col[old_single]
                self.col_upper[oc] = np.inf
            # members of the new rows: the old single column and the new columns of the cell
            in_need = np.isin(cell, need)
            r_cells = np.r_[old_single, cell[in_need]]
            r_cols = np.r_[self.first_col[old_single], new_idx[in_need]]
            order = np.argsort(self.cell_row[r_cells], kind="stable")
            r_cells, r_cols = r_cells[order], r_cols[order]
            if self._h is not None:
                if len(old_single):
                    oc = self.first_col[old_single] + self.n_over
                    self._h.changeColsBounds(
                        len(oc), oc.astype(np.int32), np.zeros(len(oc)), np.full(len(oc), np.inf)
                    )
                counts = np.bincount(self.cell_row[r_cells] - first_rows, minlength=len(need))
                starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int32)
                self._h.addRows(
                    len(need),
                    np.full(len(need), -np.inf),
                    self.people[need],
                    len(r_cols),
                    starts,
                    (r_cols + self.n_over).astype(np.int32),
                    np.ones(len(r_cols)),
                )
            # columns of these cells added in this batch were written without the row entry
            # (HiGHS got it through addRows); the fallback reads memberships from col arrays.

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x per pair column, overflow per capacity row, row duals (<= 0): capacity rows,
        then the cell rows)."""
        t0 = time.perf_counter()
        try:
            return self._solve()
        finally:
            self.seconds += time.perf_counter() - t0

    def _solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._h is not None:
            self._h.run()
            status = self._h.modelStatusToString(self._h.getModelStatus())
            if "Optimal" not in status:  # pragma: no cover - x = 0 is feasible, costs bounded
                raise RuntimeError(f"the assignment LP failed: {status}")
            self.simplex_iterations += int(self._h.getInfo().simplex_iteration_count)
            sol = self._h.getSolution()
            xv = np.asarray(sol.col_value)
            return xv[self.n_over :], xv[: self.n_over], np.asarray(sol.row_dual)
        n, k = self.n_cols, self.n_over
        has_s = self.col_site_row >= 0
        crow = self.cell_row[self.col_cell]
        has_c = crow >= 0
        rows = np.r_[np.arange(k), self.col_site_row[has_s], crow[has_c]]
        cols = np.r_[np.arange(k), k + np.flatnonzero(has_s), k + np.flatnonzero(has_c)]
        vals = np.r_[-np.ones(k), np.ones(len(rows) - k)]
        nrow = len(self.row_upper)
        a_ub = sp.csr_array((vals, (rows, cols)), shape=(nrow, n + k))
        over_up = np.inf if self.penalty is not None else 0.0
        res = linprog(
            np.r_[np.full(k, self.penalty or 0.0), self.col_cost - UNSERVED_MIN],
            A_ub=a_ub if nrow else None,
            b_ub=np.asarray(self.row_upper, dtype=float) if nrow else None,
            bounds=np.r_[
                np.column_stack([np.zeros(k), np.full(k, over_up)]),
                np.column_stack([np.zeros(n), self.col_upper]),
            ],
            method="highs-ds",
        )
        if res.status != 0:  # pragma: no cover
            raise RuntimeError(f"the assignment LP failed: {res.message}")
        self.simplex_iterations += int(res.nit)
        duals = res.ineqlin.marginals if nrow else np.zeros(0)
        return res.x[k:], res.x[:k], duals


def _new_highs() -> Any:
    """A HiGHS model object (``highspy`` if installed, else the binding inside scipy)."""
    try:
        import highspy  # type: ignore[import-not-found]

        h = highspy.Highs()
    except ImportError:
        try:
            from scipy.optimize._highspy import _core  # private: checked, with a fallback

            h = _core._Highs()
        except (ImportError, AttributeError):
            return None
    try:
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("threads", 1)
    except Exception:  # pragma: no cover - an unexpected binding: use linprog instead
        return None
    return h


def _solve_transport(
    st: SiteTimes,
    pts: Any,
    cj: np.ndarray,
    people: np.ndarray,
    site0: np.ndarray,
    t0s: np.ndarray,
    avail: np.ndarray,
    max_iterations: int,
    gap_min: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Capacity-limited assignment by column generation (see the module docstring).

    Starts from each cell's nearest site; prices new columns first from the candidate pool
    (:func:`_candidates`), and when the pool has nothing left, with one Dijkstra over all sites
    using the LP's site prices as offsets: no violation there proves the assignment optimal for
    every (cell, site) pair. That Dijkstra also gives a Lagrangian lower bound; with
    ``gap_min > 0`` the search stops once the solution is within ``gap_min`` minutes per person
    of the optimum.

    Returns (pair cell, pair site, x, minutes, untested per LP cell, info).
    """
    t_start = time.perf_counter()
    n_sites = len(st.site_ids)
    m = len(cj)
    limited = np.flatnonzero(np.isfinite(avail))
    row_of_site = np.full(n_sites, -1)
    row_of_site[limited] = np.arange(len(limited))
    pl = people[cj]
    sub = _take_snap(pts, cj)
    info: dict[str, Any] = {"optimal": False, "iterations": 0, "dijkstra_pricing": 0}
    cc, cs, ct = _candidates(st, sub, pl, t0s[cj], avail)
    ct = ct / 60.0
    info["pool_pairs"] = int(len(cc))
    info["pool_seconds"] = time.perf_counter() - t_start
    lp = _RestrictedLP(avail[limited], pl)
    info["warm_start"] = lp._h is not None
    ps0 = site0[cj]
    lp.add(row_of_site[ps0], np.arange(m), t0s[cj] / 60.0)
    pc, ps = np.arange(m), ps0.copy()
    seen = set((pc * n_sites + ps).tolist())
    pool_key = cc * n_sites + cs
    in_lp = np.isin(pool_key, pc * n_sites + ps)
    x = np.zeros(0)
    # Capacities start soft (a penalty per person over capacity caps the site prices), then
    # harden stage by stage: columns enter as the prices they need are reached, instead of
    # every cell of an overloaded site getting alternatives at once.
    stages: list[float | None] = [*PENALTY_STAGES_MIN, None]
    stage = 0
    lp.set_penalty(stages[stage])
    for it in range(1, max_iterations + 1):
        info["iterations"] = it
        x, over, y = lp.solve()
        if m == 0 or not len(limited):
            info["optimal"] = True
            break
        price = np.zeros(n_sites)
        price[limited] = np.maximum(-y[: len(limited)], 0.0)
        # u: what one more person of each cell would cost at the margin (minutes).
        fc = lp.first_col
        u = np.minimum(UNSERVED_MIN, lp.col_cost[fc] + price[ps[fc]])
        multi = lp.cell_row >= 0
        u[multi] = UNSERVED_MIN + np.minimum(y[lp.cell_row[multi]], 0.0)
        tol = 1e-7 + 1e-9 * np.abs(u)
        rc = ct + price[cs] - u[cc]
        neg = np.flatnonzero((rc < -tol[cc]) & ~in_lp)
        if len(neg):
            o = np.lexsort((rc[neg], cc[neg]))
            neg = neg[o]
            neg = neg[np.r_[True, cc[neg][1:] != cc[neg][:-1]]]
            in_lp[neg] = True
            new_c, new_s, new_t = cc[neg], cs[neg], ct[neg]
        elif lp.penalty is not None:
            # nothing left in the pool at this penalty: harden (at once if nothing overflows)
            stage = stage + 1 if over.sum() > 1e-9 * max(float(pl.sum()), 1.0) else len(stages) - 1
            lp.set_penalty(stages[stage])
            continue
        else:
            info["dijkstra_pricing"] += 1
            priced = st.network._nearest(
                st.site_ids, st.site_snap, st.mode, st.direction, price * 60.0
            )
            bst, tb = priced.assign_snapped(sub)
            val = tb / 60.0
            # Lagrangian bound: valid for any prices, tight at the optimum.
            lower = float(pl @ np.minimum(UNSERVED_MIN, np.where(bst >= 0, val, np.inf)))
            lower -= float(avail[limited] @ price[limited])
            upper = float(x @ lp.col_cost[: len(x)]) + UNSERVED_MIN * float(
                np.maximum(pl - np.bincount(lp.col_cell[: len(x)], weights=x, minlength=m), 0).sum()
            )
            info["lower_bound"] = max(info.get("lower_bound", -np.inf), lower)
            if upper - info["lower_bound"] <= gap_min * max(float(pl.sum()), 1.0):
                info["optimal"] = gap_min == 0 or upper - info["lower_bound"] <= 1e-9 * abs(upper)
                break
            viol = np.flatnonzero((bst >= 0) & (val < u - tol))
            key = viol * n_sites + bst[viol]
            fresh = np.array([k not in seen for k in key.tolist()], dtype=bool)
            if not fresh.any():
                info["optimal"] = True
                break
            new_c = viol[fresh]
            new_s = bst[new_c]
            new_t = val[new_c] - price[new_s]
        if _DEBUG:
            print(
                f"it {it} add {len(new_c)} simplex {lp.simplex_iterations} lp {lp.seconds:.2f}s "
                f"rows {len(lp.row_upper)} cols {lp.n_cols} "
                f"total {time.perf_counter() - t_start:.2f}s"
            )
        seen.update((new_c * n_sites + new_s).tolist())
        lp.add(row_of_site[new_s], new_c, new_t)
        pc, ps = np.r_[pc, new_c], np.r_[ps, new_s]
    npairs = len(x)
    pc, ps, pt = pc[:npairs], ps[:npairs], lp.col_cost[:npairs]
    untested = np.maximum(pl - np.bincount(pc, weights=x, minlength=m), 0.0)
    info["pairs"] = int(npairs)
    info["simplex_iterations"] = lp.simplex_iterations
    info["lp_seconds"] = lp.seconds
    info["objective_person_min"] = float(x @ pt) + UNSERVED_MIN * float(untested.sum())
    if info["optimal"] and "lower_bound" not in info:  # no capacity limit: nothing to price
        info["lower_bound"] = info["objective_person_min"]
    lb = info.get("lower_bound", -np.inf)
    info["gap_min_per_person"] = (
        (info["objective_person_min"] - lb) / max(float(pl.sum()), 1.0) if np.isfinite(lb) else None
    )
    return cj[pc], ps, x, pt, untested, info


# --- assembling results -------------------------------------------------------------------------


def _assemble(
    kind: str,
    mode: str | None,
    sites: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame | None,
    crs: CRS,
    site_of_cell: np.ndarray | None,
    time_min: np.ndarray | None,
    now: Any,
    deadline: Any,
    *,
    snap: Any = None,
    site_times: SiteTimes | None = None,
    shares: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    cap: pd.DataFrame | None = None,
    geom_override: np.ndarray | None = None,
    reachable: np.ndarray | None = None,
) -> Catchments:
    n_sites = len(sites)
    site_ids = sites["id"].astype(str).to_numpy(dtype=object)
    names = (
        sites["name"].astype(object).where(sites["name"].notna(), None).to_numpy()
        if "name" in sites.columns
        else np.full(n_sites, None, dtype=object)
    )
    have_cells = cells is not None and len(cells) > 0
    if have_cells:
        people = _people(cells)
        cell_ids = (
            cells["id"].astype(str).to_numpy(dtype=object)
            if "id" in cells.columns
            else (np.asarray([str(i) for i in cells.index], dtype=object))
        )
        zone_ids = (
            cells["zone_id"].astype(object).to_numpy()
            if "zone_id" in cells.columns
            else np.full(len(cells), None, dtype=object)
        )
        if shares is None:
            rc = np.arange(len(cells))
            rs = site_of_cell if site_of_cell is not None else np.full(len(cells), -1)
            rp = people
            rt = time_min if time_min is not None else np.full(len(cells), np.nan)
        else:
            rc, rs, rp, rt = shares
        rt = np.where(rs >= 0, rt, np.nan)
    else:
        people = np.zeros(0)
        rc = rs = np.zeros(0, dtype=np.int64)
        rp = rt = np.zeros(0)

    served = rs >= 0
    assigned = np.bincount(rs[served], weights=rp[served], minlength=n_sites)
    with np.errstate(invalid="ignore", divide="ignore"):
        tsum = np.bincount(rs[served], weights=(rp * np.nan_to_num(rt))[served], minlength=n_sites)
        mean_min = np.where(assigned > 0, tsum / assigned, np.nan)
    max_min = np.full(n_sites, np.nan)
    has_t = served & np.isfinite(rt) & (rp > 0)
    if has_t.any():
        mx = np.full(n_sites, -np.inf)
        np.maximum.at(mx, rs[has_t], rt[has_t])
        max_min = np.where(np.isfinite(mx), mx, np.nan)
    if not (time_min is not None or shares is not None):
        mean_min[:] = np.nan

    table = pd.DataFrame({"site_id": site_ids, "name": names, "people": assigned})
    table["mean_min"] = mean_min
    table["max_min"] = max_min
    if now is not None:
        if cap is None:
            cap = site_capacity(sites, now, deadline)
        now_ts = _time(now, "now")
        thr = cap["throughput_per_h"].to_numpy()
        load = assigned + cap["queue_now"].to_numpy()
        capacity = cap["capacity"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            hours = np.where(thr > 0, load / thr, np.where(load > 0, np.nan, 0.0))
        finish = cap["start_at"] + pd.to_timedelta(hours * 3600.0, unit="s")
        table["queue_now"] = cap["queue_now"].to_numpy()
        table["load"] = load
        table["throughput_per_h"] = thr
        table["capacity"] = capacity
        table["untested"] = np.where(np.isfinite(capacity), np.maximum(load - capacity, 0.0), 0.0)
        table["start_at"] = cap["start_at"].to_numpy()
        table["finish_at"] = finish.to_numpy()
        table["finish_min"] = (finish - now_ts).dt.total_seconds().to_numpy() / 60.0
        status = cap["status"].to_numpy().copy()
        ok = status == "ok"
        full = ok & np.isfinite(capacity) & (load >= capacity * (1 - 1e-9)) & (capacity > 0)
        status[full] = "full"
        status[ok & (table["untested"].to_numpy() > 1e-6)] = "over capacity"
        table["status"] = status
    else:
        for c in ("queue_now", "load", "throughput_per_h", "capacity", "untested"):
            table[c] = np.nan
        table["load"] = assigned
        table["start_at"] = pd.NaT
        table["finish_at"] = pd.NaT
        table["finish_min"] = np.nan
        table["status"] = "ok"
    if site_times is not None:
        isl = site_times.site_snap.island
        table.loc[isl, "status"] = table.loc[isl, "status"].map(lambda s: f"{s}; island")

    # Polygons: each cell drawn once, for the site that takes most of its people.
    cell_geoms = np.asarray(cells.geometry.to_crs(crs).array, dtype=object) if have_cells else None
    if geom_override is not None:
        site_geom = geom_override
    else:
        site_geom = np.array([shapely.Polygon()] * n_sites, dtype=object)
        if have_cells and served.any():
            order = np.lexsort((-rp[served], rc[served]))
            c_s, s_s = rc[served][order], rs[served][order]
            top = np.r_[True, c_s[1:] != c_s[:-1]]
            c_top, s_top = c_s[top], s_s[top]
            by = np.argsort(s_top, kind="stable")
            c_top, s_top = c_top[by], s_top[by]
            bounds = np.r_[0, np.flatnonzero(s_top[1:] != s_top[:-1]) + 1, len(s_top)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                site_geom[s_top[a]] = _dissolve(cell_geoms[c_top[a:b]])
    sites_gdf = gpd.GeoDataFrame(table, geometry=list(site_geom), crs=crs).to_crs(WGS84)

    if have_cells:
        snap_m = snap.dist_m[rc] if snap is not None else np.full(len(rc), np.nan)
        off = snap.off_network[rc] if snap is not None else np.zeros(len(rc), dtype=bool)
        reach_cell = reachable if reachable is not None else np.ones(len(people), dtype=bool)
        cells_gdf = gpd.GeoDataFrame(
            {
                "cell_id": cell_ids[rc],
                "zone_id": zone_ids[rc],
                "site_id": np.where(rs >= 0, site_ids[np.maximum(rs, 0)], None),
                "people": rp,
                "time_min": rt,
                "snap_m": snap_m,
                "off_network": off,
                "reachable": reach_cell[rc],
            },
            geometry=cells.geometry.to_crs(WGS84).to_numpy()[rc],
            crs=WGS84,
        )
    else:
        cells_gdf = gpd.GeoDataFrame(
            columns=[
                "cell_id",
                "zone_id",
                "site_id",
                "people",
                "time_min",
                "snap_m",
                "off_network",
                "reachable",
                "geometry",
            ],
            geometry="geometry",
            crs=WGS84,
        )

    total = float(people.sum())
    unreach = float(cells_gdf.loc[~cells_gdf["reachable"].astype(bool), "people"].sum())
    done = float(assigned.sum())
    untested_sites = float(sites_gdf["untested"].fillna(0).sum()) if now is not None else 0.0
    queue_total = float(np.nansum(sites_gdf["queue_now"])) if now is not None else 0.0
    with np.errstate(invalid="ignore"):
        w = rp[served & np.isfinite(rt)]
        summary = {
            "kind": kind,
            "mode": mode,
            "people": total,
            "assigned": done,
            "queue_now": queue_total,
            "untested": (total - done) + untested_sites,
            "unreachable": unreach,
            "off_network": float(
                cells_gdf.loc[cells_gdf["off_network"].astype(bool), "people"].sum()
            ),
            "mean_min": float((w * rt[served & np.isfinite(rt)]).sum() / w.sum())
            if w.sum() > 0
            else float("nan"),
            "max_min": float(np.nanmax(rt[served]))
            if served.any() and np.isfinite(rt[served]).any()
            else float("nan"),
        }
    return Catchments(sites_gdf, cells_gdf, summary)


# --- helpers ------------------------------------------------------------------------------------


def _dissolve(geoms: np.ndarray) -> shapely.Geometry:
    """Union of cells. Grid cells tile without overlap, so a coverage union (much faster) is
    tried first; a full union when the cells overlap (overlapping crowd zones)."""
    if len(geoms) == 1:
        return geoms[0]
    if (shapely.get_type_id(geoms) == 0).any():  # point cells: keep them as points
        return shapely.union_all(geoms)
    try:
        out = shapely.coverage_union_all(geoms)
        if shapely.is_valid(out) and abs(out.area - shapely.area(geoms).sum()) <= 1e-6 * out.area:
            return out
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms)


def _check_sites(sites: gpd.GeoDataFrame) -> None:
    if not isinstance(sites, gpd.GeoDataFrame):
        raise InputError("sites must be a GeoDataFrame", file="testing_sites")
    if len(sites) == 0:
        raise InputError(
            "there are no testing sites", file="testing_sites", expected="at least one site"
        )
    if "id" not in sites.columns:
        raise InputError("required column is missing", file="testing_sites", field="id")


def _people(cells: gpd.GeoDataFrame) -> np.ndarray:
    if "people" not in cells.columns:
        raise InputError(
            "required column is missing",
            file="demand cells",
            field="people",
            expected="people per cell (see demand_cells)",
        )
    p = pd.to_numeric(cells["people"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(p) | (p < 0)
    if bad.any():
        raise InputError(
            "people is missing or negative",
            file="demand cells",
            feature=int(np.flatnonzero(bad)[0]),
            field="people",
            expected="a number >= 0",
        )
    return p


def _cell_points(cells: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    g = np.asarray(cells.geometry.to_crs(crs).array, dtype=object)
    poly = shapely.get_type_id(g) != 0
    if poly.any():
        g = g.copy()
        g[poly] = shapely.point_on_surface(g[poly])
    return g


def _cell_xy(network: RoadNetwork, cells: gpd.GeoDataFrame) -> np.ndarray:
    if cells is None or len(cells) == 0:
        raise InputError(
            "there are no demand cells", file="crowd_zones", expected="crowd zones with people"
        )
    _people(cells)
    return shapely.get_coordinates(_cell_points(cells, network.crs))


def _take_snap(s: Any, idx: np.ndarray) -> Any:
    return type(s)(
        s.edge[idx],
        s.frac[idx],
        s.dist_m[idx],
        s.access_s[idx],
        s.off_network[idx],
        s.island[idx],
        s.xy[idx],
    )
