"""What each testing site can test between now and the deadline."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import InputError, Problem

__all__ = ["site_capacity"]


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


def _check_sites(sites: gpd.GeoDataFrame) -> None:
    if not isinstance(sites, gpd.GeoDataFrame):
        raise InputError("sites must be a GeoDataFrame", file="testing_sites")
    if len(sites) == 0:
        raise InputError(
            "there are no testing sites", file="testing_sites", expected="at least one site"
        )
    if "id" not in sites.columns:
        raise InputError("required column is missing", file="testing_sites", field="id")
