"""The catchment result: :class:`Catchments`, its summary, and how it is assembled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.catchment.capacity import _time, site_capacity
from geo.catchment.demand import _people
from geo.constants import WGS84
from geo.network import SiteTimes, Snap

__all__ = ["CatchmentSummary", "Catchments"]


class CatchmentSummary(TypedDict):
    """Totals of a catchment result (see :class:`Catchments`); the ``NotRequired`` keys are
    :func:`~geo.catchment.balanced`'s (its solver's figures)."""

    kind: str
    mode: str | None
    people: float
    assigned: float
    queue_now: float
    untested: float
    unreachable: float
    off_network: float
    mean_min: float
    max_min: float
    optimal: NotRequired[bool]
    iterations: NotRequired[int]
    dijkstra_pricing: NotRequired[int]
    pool_pairs: NotRequired[int]
    pool_seconds: NotRequired[float]
    warm_start: NotRequired[bool]
    lower_bound: NotRequired[float]
    pairs: NotRequired[int]
    simplex_iterations: NotRequired[int]
    lp_seconds: NotRequired[float]
    objective_person_min: NotRequired[float]
    gap_min_per_person: NotRequired[float | None]
    seconds: NotRequired[float]


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
    summary: CatchmentSummary


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
    snap: Snap | None = None,
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
    if cells is not None and len(cells) == 0:
        cells = None
    if cells is not None:
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
    if geom_override is not None:
        site_geom = geom_override
    else:
        site_geom = np.array([shapely.Polygon()] * n_sites, dtype=object)
        if cells is not None and served.any():
            cell_geoms = np.asarray(cells.geometry.to_crs(crs).array, dtype=object)
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

    if cells is not None:
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
        summary: CatchmentSummary = {
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
