"""The night's timeline: the scenario as it stood at any time t, for a replay slider.

:func:`build` simulates the testing plan of a balanced catchment (:mod:`geo.catchment`) minute
by minute and returns a :class:`Timeline`; ``Timeline.at(t)`` is then the scenario at ``t``
(incidents reported by then, each site's queue and tested count, the clock at ``t``),
``figures(t)`` the wall tiles at ``t`` and ``events`` what happened when.

The model (a fluid queue per site; every assumption here is a modelling choice, not data):

* ``start`` is the notice: everyone to be tested is told at ``start`` (+ ``notice_delay_min``)
  and walks straight to the site the catchment sends them to, arriving ``time_min`` later
  (a cell share without a travel time arrives at once). People the catchment leaves without a
  site (unreachable, or beyond every site's capacity) never arrive and stay untested.
* A site's ``queue`` column counts as people already waiting at ``start``; its ``tested``
  column as people tested before ``start`` (they count among the people and as tested, so
  ``remaining`` is what the simulation still has to do).
* A site tests nobody before ``opens_at`` (missing: open at ``start``) or after ``closes_at``
  (missing: never closes); while open it tests ``lanes * per_lane_per_h`` people per hour from
  its queue, first come first served. People who arrive after it closes, or are still queueing
  when it closes, stay untested. Nobody switches site.
* Time runs on a grid of ``step_min``; an arrival counts from the first grid time at or after
  it, and a step serves only the people present at its start. Results at grid times are exact
  for arrivals on the grid and otherwise late by less than one step (never early). The
  recursion ``tested[k] = min(arrived[k-1], tested[k-1] + capacity of step k)`` is solved for
  every site at once in closed form (Lindley): ``tested = S + min(0, cummin(arrived' - S))``
  with ``S`` the cumulative testing capacity since ``start``. Between grid times values are
  interpolated linearly; finish times are exact within their step.
* The simulation runs until nothing can change any more (every site closed or its queue
  empty), at most :data:`MAX_HORIZON_MIN` after ``start``; people not tested by then are
  untested.
* The standing cordon is taken as drawn ``cordon_delay_min`` (default 30) after the first of
  its incidents was reported: a made-up delay for the demo, used only for the ``cordon``
  event and the checkpoint/staff figures; it changes nobody's movements.
* A person leaves their crowd zone once tested (on the night, buses took tested visitors
  away): a zone's people at ``t`` are those observed minus its people tested by ``t``. People
  walking to a site or queueing there still count in their home zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from geo.catchment import Catchments, site_capacity
from geo.errors import InputError
from geo.scenario import Scenario
from geo.situation import ReplayFigures

__all__ = [
    "CORDON_DELAY_MIN",
    "EVENT_COLUMNS",
    "MAX_HORIZON_MIN",
    "NOBODY",
    "build",
    "Replay",
    "Timeline",
    "to_time",
]

#: Longest simulated span (minutes after ``start``): a week.
MAX_HORIZON_MIN = 7 * 24 * 60.0
#: Made-up delay between the first severe incident and its cordon being drawn (demo assumption).
CORDON_DELAY_MIN = 30.0
#: Fewer people than this count as nobody (float noise of the catchment LP is ~1e-12).
NOBODY = 0.5
EVENT_COLUMNS = ("time", "kind", "text", "feature_id")
# Order of simultaneous events: what happened before the deadline is read first.
_EVENT_RANK = {
    "incident": 0,
    "cordon": 1,
    "site_open": 2,
    "site_done": 3,
    "all_tested": 4,
    "testing_ends": 4,
    "deadline": 5,
    "site_closed": 6,
}


class Replay(Protocol):
    """What a replay screen reads: a simulated night (:class:`Timeline`) or the store's record
    (:class:`geo.recording.Recording`)."""

    start: pd.Timestamp
    end: pd.Timestamp
    events: pd.DataFrame

    def time(self, t: Any) -> pd.Timestamp:
        """``t`` as a time in the scenario's zone."""

    def at(self, t: Any) -> Scenario:
        """The scenario as it stood at ``t``."""

    def figures(self, t: Any) -> ReplayFigures:
        """The wall figures at ``t`` (the keys of :func:`geo.situation.wall_figures`)."""

    def events_until(self, t: Any) -> pd.DataFrame:
        """The events at or before ``t``."""

    def cordon_result(self, t: Any) -> Any:
        """The cordon on the map at ``t`` (None before it is drawn, or without one)."""


@dataclass(frozen=True)
class _Leaving:
    """Each served cell share: its crowd zone, people, site, and the span of its site's
    cumulative arrivals its batch occupies (first come, first served: the share is tested as the
    site's tested count runs from ``lo`` to ``hi``)."""

    zone: np.ndarray
    people: np.ndarray
    site: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def left(self, tested: np.ndarray) -> pd.Series:
        """People tested (and gone) per zone id, given each site's tested count."""
        span = np.maximum(self.hi - self.lo, 1e-12)
        share = np.clip((tested[self.site] - self.lo) / span, 0.0, 1.0)
        return pd.Series(share * self.people).groupby(self.zone).sum()


@dataclass
class Timeline:
    """A simulated night: per-site arrivals, tests and queues on a time grid, and its events.

    Attributes
    ----------
    scenario : the scenario the timeline was built from (its state at ``start``).
    times : simulation grid (tz-aware, the scenario's zone), from ``start`` until nothing
        changes any more (at least ``end``).
    site_ids : testing site ids, in the order of the rows of the arrays (the layer's order).
    arrived, tested, queue : people per site (rows) and grid time (columns) since ``start``:
        arrived (including the queue at ``start``), tested, and waiting (arrived - tested).
    sites : one row per site: ``site_id``, ``name``, ``throughput_per_h``, ``opens_at``,
        ``closes_at``, ``arrived``, ``tested``, ``untested`` (at the end), ``finish_at`` (last
        test; NaT if none), ``untested_at_deadline`` (still waiting or to come at the deadline).
    events : ``time``, ``kind``, ``text``, ``feature_id``, sorted by time (see :func:`build`).
    start, end : the replay window (for the slider).
    deadline : the scenario's deadline, or None.
    finish_at : when the last person is tested (None if nobody is).
    cordon_at : when the cordon counts as drawn (None without a cordon).
    cordon : the cordon replayed (a :class:`geo.cordon.CordonResult`), or None.
    people : everyone to test: the catchment's people, the queues at ``start`` and the people
        tested before ``start``.
    """

    scenario: Scenario
    times: pd.DatetimeIndex
    site_ids: np.ndarray = field(repr=False)
    arrived: np.ndarray = field(repr=False)
    tested: np.ndarray = field(repr=False)
    queue: np.ndarray = field(repr=False)
    sites: pd.DataFrame = field(repr=False)
    events: pd.DataFrame = field(repr=False)
    start: pd.Timestamp
    end: pd.Timestamp
    deadline: pd.Timestamp | None
    finish_at: pd.Timestamp | None
    cordon_at: pd.Timestamp | None
    people: float
    cordon: Any = field(default=None, repr=False)
    _tested0: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _grid_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    _tested_total: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _queue_total: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _plan: dict[str, Any] = field(default_factory=dict, repr=False)
    detail: str = ""  # where the people to test are (the wall's first tile)
    _leave: _Leaving | None = field(default=None, repr=False)

    # --- time helpers ---------------------------------------------------------------------------

    def time(self, t: Any) -> pd.Timestamp:
        """``t`` (a Timestamp, datetime or ISO 8601 text; no zone = the scenario's) as a
        Timestamp in the scenario's zone."""
        return to_time(t, self.scenario.settings.timezone, "t")

    def clamp(self, t: Any) -> pd.Timestamp:
        """``t`` moved into the replay window ``[start, end]``."""
        ts = self.time(t)
        return min(max(ts, self.start), self.end)

    def frames(self, step_min: float = 5.0) -> list[pd.Timestamp]:
        """Slider positions every ``step_min`` minutes from ``start``, ending exactly at ``end``."""
        if not step_min > 0:
            raise InputError(
                "the frame step must be positive", field="step_min", expected="minutes > 0"
            )
        span = (self.end - self.start).total_seconds() / 60.0
        n = int(math.floor(span / step_min + 1e-9))
        out = [self.start + pd.Timedelta(minutes=k * step_min) for k in range(n + 1)]
        if out[-1] < self.end:
            out.append(self.end)
        return out

    def events_until(self, t: Any) -> pd.DataFrame:
        """The events at or before ``t``."""
        ts = self.time(t)
        return self.events[self.events["time"] <= ts].reset_index(drop=True)

    def cordon_result(self, t: Any) -> Any:
        """The cordon on the map at ``t``: the plan's, once drawn (None before, or without)."""
        if self.cordon is None or self.cordon_at is None or self.time(t) < self.cordon_at:
            return None
        return self.cordon

    # --- the state at t -------------------------------------------------------------------------

    def values(self, t: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(arrived, tested, queue)`` per site at ``t`` (since ``start``; interpolated)."""
        k, w = self._where(self.time(t))
        arrived, tested, queue = (
            a[:, k] * (1.0 - w) + a[:, min(k + 1, a.shape[1] - 1)] * w
            for a in (self.arrived, self.tested, self.queue)
        )
        return arrived, tested, queue

    def at(self, t: Any, *, unopened: bool = True) -> Scenario:
        """The scenario as it stood at ``t`` (a copy; the timeline's scenario is not changed).

        Parameters
        ----------
        t : any time (not clamped: before ``start`` nothing is tested yet, after the end of the
            simulation nothing changes any more).
        unopened : keep the sites that have not opened yet (people already queue there); False
            leaves them out, so sites appear on the map as they open.

        Returns
        -------
        Scenario : incidents reported at or before ``t`` (those without a time are kept);
        testing sites with ``queue`` and ``tested`` (ints) from the simulation plus an extra
        ``status`` column (``not open yet``, ``open``, ``closed``); crowd zones without the
        people tested by ``t`` (they have left); settings ``now`` = ``t`` (live-store
        ``updated_at`` stamps after ``t`` dropped). Other layers as they were.
        """
        ts = self.time(t)
        sc = self.scenario
        inc = sc.layer("incidents")
        if len(inc):
            rep = inc["reported_at"]
            inc = inc[(rep.isna() | (rep <= ts)).to_numpy(dtype=bool)]
        _, tested, queue = self.values(ts)
        sites = sc.layer("testing_sites").copy()
        if len(sites):
            sites["tested"] = pd.array(np.rint(self._tested0 + tested).astype(np.int64), "Int64")
            sites["queue"] = pd.array(np.rint(queue).astype(np.int64), "Int64")
            status = self._status(ts)
            sites["status"] = status
            if not unopened:
                sites = sites[status != "not open yet"]
        zones = sc.layer("crowd_zones")
        if self._leave is not None and len(zones):
            gone = self._leave.left(tested).reindex(zones["id"].astype(str)).fillna(0.0)
            zones = zones.copy()
            zones["people"] = np.maximum(
                zones["people"].astype(float).to_numpy() - gone.to_numpy(), 0.0
            )
        settings = sc.settings
        extra = settings.extra
        stamps = extra.get("updated_at") if isinstance(extra, dict) else None
        if isinstance(stamps, dict) and stamps:
            keep = {k: v for k, v in stamps.items() if pd.Timestamp(v) <= ts}
            extra = {**extra, "updated_at": keep}
        # The untouched layers are shared, as Scenario.with_layer does.
        out = replace(
            sc,
            layers={**sc.layers, "incidents": inc, "testing_sites": sites, "crowd_zones": zones},
            reports=list(sc.reports),
            settings=replace(settings, now=ts.isoformat(), extra=extra),
        )
        return out

    def figures(self, t: Any) -> ReplayFigures:
        """The wall figures at ``t``: the keys of :func:`geo.situation.wall_figures`.

        ``tested``/``remaining`` are the simulation's at ``t``; ``people`` is everyone to test
        (:attr:`people`);
        ``checkpoints``/``staff`` are None until then; ``tests_per_hour`` counts the sites
        open at ``t``; ``finish_at``, ``untested_by_deadline`` (people not tested by the
        deadline) and ``sites_late`` (sites with people still waiting or to come at the
        deadline) are the plan's and the same at every ``t``. Extra keys: ``queue`` (people
        waiting at sites), ``sites_open``.
        """
        ts = self.time(t)
        k, w = self._where(ts)
        k1 = min(k + 1, len(self._grid_ns) - 1)
        tested = float(self._tested0.sum()) + float(
            self._tested_total[k] * (1 - w) + self._tested_total[k1] * w
        )
        queue = float(self._queue_total[k] * (1 - w) + self._queue_total[k1] * w)
        drawn = self.cordon_at is not None and ts >= self.cordon_at
        is_open = self._status(ts) == "open"
        thr = self.sites["throughput_per_h"].to_numpy(dtype=float)
        summary = self.cordon.summary if drawn else {}
        return {
            "people": self.people,
            "people_label": "people to test",
            "tested": tested,
            "remaining": max(self.people - tested, 0.0),
            "deadline": self.deadline,
            "finish_at": self.finish_at,
            "people_detail": self.detail,
            "sites_late": self._plan["sites_late"],
            "late_site_ids": list(self._plan["late_site_ids"]),
            "site_finish": dict(self._plan["site_finish"]),
            "untested_by_deadline": self._plan["untested_by_deadline"],
            "checkpoints": int(summary["checkpoints"]) if drawn else None,
            "staff": int(summary["staff_total"]) if drawn else None,
            "tests_per_hour": float(thr[is_open].sum()),
            "queue": queue,
            "sites_open": int(is_open.sum()),
        }

    # --- internals ------------------------------------------------------------------------------

    def _where(self, ts: pd.Timestamp) -> tuple[int, float]:
        """Grid column at or before ``ts`` and the weight of the next one."""
        g = self._grid_ns
        v = ts.value
        if v <= g[0]:
            return 0, 0.0
        if v >= g[-1]:
            return len(g) - 1, 0.0
        k = int(np.searchsorted(g, v, side="right")) - 1
        return k, float((v - g[k]) / (g[k + 1] - g[k]))

    def _status(self, ts: pd.Timestamp) -> np.ndarray:
        opens = self.sites["opens_at"]
        closes = self.sites["closes_at"]
        opened = (opens.isna() | (opens <= ts)).to_numpy(dtype=bool)
        closed = (closes.notna() & (closes <= ts)).to_numpy(dtype=bool)
        out = np.full(len(self.sites), "open", dtype=object)
        out[~opened] = "not open yet"
        out[opened & closed] = "closed"
        return out


def build(
    sc: Scenario,
    catchments: Catchments | None,
    cordon: Any = None,
    *,
    start: Any = None,
    end: Any = None,
    step_min: float = 1.0,
    notice_delay_min: float = 0.0,
    cordon_delay_min: float = CORDON_DELAY_MIN,
    detail: str = "",
) -> Timeline:
    """Simulate the night (see the module docstring for the model).

    Parameters
    ----------
    sc : the scenario (its testing sites, incidents, settings ``now`` and ``deadline``).
    catchments : where people go and how long they walk: ``cells`` rows with ``site_id``,
        ``people``, ``time_min`` (e.g. ``analyses.catchments(sc, "balanced", "walk",
        within=lockdown)``); None = only the queues already at the sites.
    cordon : a :class:`geo.cordon.CordonResult` (e.g. ``analyses.standing_cordon(sc)``) or None.
    start : the notice and the start of the replay; default settings ``now``, else the first
        incident's ``reported_at``.
    end : end of the replay; default one hour after the later of the last test and the
        deadline, rounded up to the hour (23:00 -> 00:00 on the demo).
    step_min : grid step in minutes.
    notice_delay_min : minutes between the notice and people setting off.
    cordon_delay_min : minutes from the first of the cordon's incidents to the cordon being
        drawn (made up for the demo).
    detail : where the people to test are, for the wall (e.g. "lockdown zone 29,135 · closed
        venues 5,148").

    Returns
    -------
    Timeline. Its events (kinds): ``incident`` (reported), ``cordon`` (drawn), ``site_open``,
    ``site_done`` (a site's last test, when it leaves nobody behind), ``all_tested`` (the last
    test of the night) or ``testing_ends`` (the same when people are left untested),
    ``deadline``, ``site_closed``.

    Raises
    ------
    InputError : no start time, ``end`` not after ``start``, a step that is not positive, cells
        sent to a site the scenario does not have, sites without lanes/throughput.
    """
    tz = sc.settings.timezone
    if not (step_min > 0 and math.isfinite(step_min)):
        raise InputError("the grid step must be positive", field="step_min", expected="minutes > 0")
    start_ts = _start(sc, start)
    end_ts = to_time(end, tz, "end") if end is not None else None
    if end_ts is not None and end_ts <= start_ts:
        raise InputError(
            f"the end {end_ts.isoformat()} is not after the start {start_ts.isoformat()}",
            field="end",
            expected="a time after the start",
        )
    deadline = sc.settings.time("deadline")

    layer = sc.layer("testing_sites")
    n = len(layer)
    ids = layer["id"].astype(str).to_numpy(dtype=object)
    if n:
        cap = site_capacity(layer, start_ts)  # checks lanes / per_lane_per_h, reads queue
        thr = cap["throughput_per_h"].to_numpy(dtype=float)
        queue0 = np.maximum(cap["queue_now"].to_numpy(dtype=float), 0.0)
    else:
        thr = queue0 = np.zeros(0)
    tested0 = (
        np.maximum(pd.to_numeric(layer["tested"], errors="coerce").fillna(0).to_numpy(float), 0)
        if n and "tested" in layer.columns
        else np.zeros(n)
    )
    opens = _site_times(layer, "opens_at", tz)
    closes = _site_times(layer, "closes_at", tz)
    # Opening and closing in minutes after start; open from start when unknown, never closing.
    o_min = np.maximum(_minutes(opens, start_ts, 0.0), 0.0)
    c_min = np.maximum(_minutes(closes, start_ts, np.inf), o_min)

    # Arrivals: each served cell share reaches its site at notice + delay + travel.
    site_idx, arr_min, arr_people, unassigned = _arrivals(catchments, ids, notice_delay_min)
    load = queue0 + np.bincount(site_idx, weights=arr_people, minlength=n)
    last_arrival = np.full(n, 0.0)
    if len(site_idx):
        np.maximum.at(last_arrival, site_idx, arr_min)

    # Horizon: after it, no site can test anyone any more.
    with np.errstate(divide="ignore", invalid="ignore"):
        busy = np.maximum(o_min, last_arrival) + np.where(thr > 0, load / thr * 60.0, 0.0)
    h_site = np.where(thr > 0, np.where(np.isfinite(c_min), c_min, busy), 0.0)
    horizon = max(float(h_site.max(initial=0.0)), float(last_arrival.max(initial=0.0)))
    if deadline is not None:
        horizon = max(horizon, (deadline - start_ts).total_seconds() / 60.0)
    horizon = min(horizon, MAX_HORIZON_MIN)
    steps = int(math.ceil(horizon / step_min - 1e-9)) + 1
    x = np.arange(steps + 1) * step_min  # one spare step so the last one is quiet

    arrived, tested = _simulate(x, thr, o_min, c_min, queue0, site_idx, arr_min, arr_people)
    finish_min = _finish(x, tested, thr, o_min)
    any_tested = tested[:, -1] > 1e-9
    finish_at = (
        _round_s(start_ts + pd.Timedelta(minutes=float(finish_min[any_tested].max())))
        if any_tested.any()
        else None
    )

    if end_ts is None:
        base = max(finish_at or start_ts, deadline if deadline is not None else start_ts)
        end_ts = _ceil_hour(base + pd.Timedelta(hours=1))
    end_min = (end_ts - start_ts).total_seconds() / 60.0
    if end_min > x[-1]:  # nothing changes after the horizon: repeat the last column
        extra = np.arange(x[-1] + step_min, end_min + step_min - 1e-9, step_min)
        if not len(extra) or extra[-1] < end_min - 1e-9:
            extra = np.r_[extra, end_min]
        x = np.r_[x, extra]
        arrived = np.hstack([arrived, np.repeat(arrived[:, -1:], len(extra), axis=1)])
        tested = np.hstack([tested, np.repeat(tested[:, -1:], len(extra), axis=1)])
    queue = np.maximum(arrived - tested, 0.0)
    grid_ns = start_ts.value + np.rint(x * 60e9).astype(np.int64)
    times = pd.DatetimeIndex(pd.to_datetime(grid_ns, utc=True)).tz_convert(tz)

    people_sim = float(load.sum()) + unassigned
    people = people_sim + float(tested0.sum())
    final = tested[:, -1]
    if deadline is not None:
        dl_min = (deadline - start_ts).total_seconds() / 60.0
        at_dl = np.array([np.interp(dl_min, x, row) for row in tested]) if n else np.zeros(0)
        if dl_min < 0:
            at_dl = np.zeros(n)
    else:
        at_dl = final
    untested_at_dl = np.maximum(arrived[:, -1] - at_dl, 0.0)
    plan = {
        "sites_late": int((untested_at_dl > NOBODY).sum()),
        "late_site_ids": [str(i) for i in ids[untested_at_dl > NOBODY]],
        "untested_by_deadline": max(people_sim - float(at_dl.sum()), 0.0),
    }
    names = (
        layer["name"].astype(object).where(layer["name"].notna(), None).to_numpy()
        if "name" in layer.columns
        else ids
    )
    site_finish = pd.Series(
        [
            _round_s(start_ts + pd.Timedelta(minutes=float(m))) if done else pd.NaT
            for m, done in zip(finish_min, final > 1e-9)
        ],
        dtype=f"datetime64[ns, {tz}]",
    )
    plan["site_finish"] = {str(i): f for i, f in zip(ids, site_finish) if pd.notna(f)}
    sites = pd.DataFrame(
        {
            "site_id": ids,
            "name": [nm if nm is not None else i for nm, i in zip(names, ids)],
            "throughput_per_h": thr,
            "opens_at": opens.array,
            "closes_at": closes.array,
            "arrived": arrived[:, -1],
            "tested": final,
            "untested": np.maximum(arrived[:, -1] - final, 0.0),
            "finish_at": site_finish.array,
            "untested_at_deadline": untested_at_dl,
        }
    )
    cordon_at = _cordon_time(sc, cordon, start_ts, cordon_delay_min)
    events = _events(
        sc,
        sites,
        start_ts,
        deadline,
        finish_at,
        people_sim,
        float(final.sum()),
        at_dl,
        cordon,
        cordon_at,
        layer,
    )
    return Timeline(
        scenario=sc,
        times=times,
        site_ids=ids,
        arrived=arrived,
        tested=tested,
        queue=queue,
        sites=sites,
        events=events,
        start=start_ts,
        end=end_ts,
        deadline=deadline,
        finish_at=finish_at,
        cordon_at=cordon_at,
        people=people,
        cordon=cordon,
        _tested0=tested0,
        _grid_ns=grid_ns,
        _tested_total=tested.sum(axis=0) if n else np.zeros(len(x)),
        _queue_total=queue.sum(axis=0) if n else np.zeros(len(x)),
        _plan=plan,
        detail=detail,
        _leave=_leaving(catchments, ids, site_idx, arr_min, arr_people, x, arrived),
    )


def _leaving(
    catchments: Catchments | None,
    ids: np.ndarray,
    site_idx: np.ndarray,
    arr_min: np.ndarray,
    arr_people: np.ndarray,
    x: np.ndarray,
    arrived: np.ndarray,
) -> _Leaving | None:
    """Where each served cell share's people sit in its site's first-come-first-served order."""
    cells = catchments.cells if catchments is not None else None
    if cells is None or len(site_idx) == 0 or "zone_id" not in cells.columns:
        return None
    zone = cells.loc[cells["site_id"].notna().to_numpy(dtype=bool), "zone_id"].astype(str)
    step = x[1] - x[0] if len(x) > 1 else 1.0
    col = np.minimum(np.ceil(arr_min / step - 1e-9).astype(np.int64), arrived.shape[1] - 1)
    hi = arrived[site_idx, col]
    lo = np.where(col > 0, arrived[site_idx, np.maximum(col - 1, 0)], hi - 0.0)
    # At column 0 the batch follows the queue already there: arrived[:, 0] minus the batch.
    first = col == 0
    if first.any():
        at0 = np.bincount(site_idx[first], weights=arr_people[first], minlength=len(ids))
        lo = np.where(first, hi - at0[site_idx], lo)
    return _Leaving(zone.to_numpy(dtype=object), arr_people, site_idx, lo, hi)


# --- simulation -----------------------------------------------------------------------------------


def _simulate(
    x: np.ndarray,
    thr: np.ndarray,
    o_min: np.ndarray,
    c_min: np.ndarray,
    queue0: np.ndarray,
    site_idx: np.ndarray,
    arr_min: np.ndarray,
    arr_people: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Arrived and tested people per site (rows) at the grid times ``x`` (minutes)."""
    n, m = len(thr), len(x)
    step = x[1] - x[0] if m > 1 else 1.0
    # An arrival counts from the first grid time at or after it (never early).
    col = np.ceil(arr_min / step - 1e-9).astype(np.int64)
    inside = col < m  # later than the horizon: never arrives
    inc = np.zeros((n, m))
    np.add.at(inc, (site_idx[inside], col[inside]), arr_people[inside])
    arrived = np.cumsum(inc, axis=1) + queue0[:, None]
    # Cumulative testing capacity since start: throughput x time open so far.
    xx = x[None, :]
    open_min = np.clip(xx - o_min[:, None], 0.0, None) - np.clip(xx - c_min[:, None], 0.0, None)
    cap = thr[:, None] / 60.0 * open_min
    # A step serves the people present at its start: arrived one column earlier.
    present = np.zeros_like(arrived)
    present[:, 1:] = arrived[:, :-1]
    # Lindley: tested[k] = min(present[k], tested[k-1] + cap[k] - cap[k-1]), tested[-1] = 0.
    tested = cap + np.minimum(0.0, np.minimum.accumulate(present - cap, axis=1))
    tested = np.minimum(np.maximum.accumulate(np.maximum(tested, 0.0), axis=1), arrived)
    return arrived, tested


def _finish(x: np.ndarray, tested: np.ndarray, thr: np.ndarray, o_min: np.ndarray) -> np.ndarray:
    """Minutes after start of each site's last test (0 when it tests nobody)."""
    n = tested.shape[0]
    if n == 0:
        return np.zeros(0)
    final = tested[:, -1]
    tol = 1e-9 * np.maximum(final, 1.0)
    k = np.argmax(tested >= (final - tol)[:, None], axis=1)
    rows = np.arange(n)
    prev = np.maximum(k - 1, 0)
    # Within step k the queue held at least the rest from the step's start (or the opening).
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = (final - tested[rows, prev]) / thr * 60.0
    t = np.maximum(x[prev], o_min) + np.nan_to_num(rest)
    t = np.clip(t, x[prev], x[k])
    return np.where((k > 0) & (final > 1e-9), t, 0.0)


def _arrivals(
    catchments: Catchments | None, ids: np.ndarray, delay_min: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Site index, arrival minute and people of each served cell share, and the people left
    without a site."""
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 0.0)
    if catchments is None or catchments.cells is None or len(catchments.cells) == 0:
        return empty
    cells = catchments.cells
    for c in ("site_id", "people"):
        if c not in cells.columns:
            raise InputError(
                "required column is missing",
                file="catchment cells",
                field=c,
                expected="catchment cells (geo.catchment.Catchments.cells)",
            )
    people = pd.to_numeric(cells["people"], errors="coerce").fillna(0.0).to_numpy(float)
    people = np.maximum(people, 0.0)
    sid = cells["site_id"]
    served = sid.notna().to_numpy(dtype=bool)
    pos = pd.Index(ids).get_indexer(sid[served].astype(str))
    if (pos < 0).any():
        unknown = sorted(set(sid[served].astype(str)[pos < 0]))
        raise InputError(
            f"catchment cells go to site(s) the scenario does not have: {', '.join(unknown[:5])}",
            file="testing_sites",
            field="site_id",
            expected="catchments computed on this scenario's testing sites",
        )
    t = (
        pd.to_numeric(cells["time_min"], errors="coerce").to_numpy(float)
        if "time_min" in cells.columns
        else np.zeros(len(cells))
    )
    arr = np.maximum(float(delay_min) + np.nan_to_num(t[served], nan=0.0), 0.0)
    return pos.astype(np.int64), arr, people[served], float(people[~served].sum())


# --- events -------------------------------------------------------------------------------------


def _events(
    sc: Scenario,
    sites: pd.DataFrame,
    start: pd.Timestamp,
    deadline: pd.Timestamp | None,
    finish_at: pd.Timestamp | None,
    people: float,
    tested: float,
    at_deadline: np.ndarray,
    cordon: Any,
    cordon_at: pd.Timestamp | None,
    layer: pd.DataFrame,
) -> pd.DataFrame:
    rows: list[tuple[pd.Timestamp, str, str, str | None]] = []
    inc = sc.layer("incidents")
    for _, r in inc.iterrows():
        when = r["reported_at"] if pd.notna(r["reported_at"]) else start
        label = r.get("name") if isinstance(r.get("name"), str) and r.get("name") else r["id"]
        rows.append(
            (when, "incident", f"Incident reported: {label} (severity {r['severity']})", r["id"])
        )
    if cordon is not None and cordon_at is not None:
        s = cordon.summary
        ids = list(s.get("incident_ids") or [])
        lock = float((s.get("people") or {}).get("lockdown", 0.0))
        rows.append(
            (
                cordon_at,
                "cordon",
                f"Cordon drawn: {lock:,.0f} people in the lockdown zone, "
                f"{int(s.get('checkpoints', 0))} checkpoints, {int(s.get('staff_total', 0))} staff",
                ids[0] if ids else None,
            )
        )
    lanes = (
        pd.to_numeric(layer["lanes"], errors="coerce").to_numpy(float)
        if len(layer)
        else np.zeros(0)
    )
    for i, r in sites.iterrows():
        name, sid = r["name"], r["site_id"]
        opened = r["opens_at"] if pd.notna(r["opens_at"]) else start
        rows.append(
            (
                opened,
                "site_open",
                f"{name} opens: {lanes[i]:,.0f} lanes, {r['throughput_per_h']:,.0f} tests/h",
                sid,
            )
        )
        if r["tested"] > 1e-9 and r["untested"] <= NOBODY and pd.notna(r["finish_at"]):
            text = f"{name}: queue cleared, {r['tested']:,.0f} tested"
            rows.append((r["finish_at"], "site_done", text, sid))
        if pd.notna(r["closes_at"]):
            text = f"{name} closes"
            if r["untested"] > NOBODY:
                text += f", {r['untested']:,.0f} people left untested"
            rows.append((r["closes_at"], "site_closed", text, sid))
    if finish_at is not None:
        left = max(people - tested, 0.0)
        if left <= NOBODY:
            rows.append((finish_at, "all_tested", f"Everyone tested: {tested:,.0f} people", None))
        else:
            rows.append(
                (
                    finish_at,
                    "testing_ends",
                    f"Last test: {tested:,.0f} tested, {left:,.0f} never tested",
                    None,
                )
            )
    if deadline is not None:
        done = float(at_deadline.sum())
        left = max(people - done, 0.0)
        text = f"Deadline: {done:,.0f} tested" + (
            f", {left:,.0f} not yet" if left > NOBODY else ", nobody left"
        )
        rows.append((deadline, "deadline", text, None))
    tz = sc.settings.timezone
    ev = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    ev["time"] = pd.to_datetime(ev["time"], utc=True).dt.tz_convert(tz)
    ev["feature_id"] = ev["feature_id"].astype(object).where(ev["feature_id"].notna(), None)
    ev["rank"] = ev["kind"].map(_EVENT_RANK)
    ev = ev.sort_values(["time", "rank"], kind="stable").drop(columns="rank")
    return ev.reset_index(drop=True)


def _cordon_time(
    sc: Scenario, cordon: Any, start: pd.Timestamp, delay_min: float
) -> pd.Timestamp | None:
    """When the cordon counts as drawn: its first incident's report + ``delay_min``."""
    if cordon is None:
        return None
    inc = sc.layer("incidents")
    ids = list(cordon.summary.get("incident_ids") or []) if hasattr(cordon, "summary") else []
    times = inc.loc[inc["id"].isin(ids), "reported_at"].dropna() if len(inc) else pd.Series()
    if not len(times) and len(inc):
        times = inc.loc[inc["severity"].astype(float) >= 4, "reported_at"].dropna()
    first = times.min() if len(times) else start
    return pd.Timestamp(first).tz_convert(sc.settings.timezone) + pd.Timedelta(minutes=delay_min)


# --- times --------------------------------------------------------------------------------------


def _start(sc: Scenario, start: Any) -> pd.Timestamp:
    tz = sc.settings.timezone
    if start is not None:
        return to_time(start, tz, "start")
    now = sc.settings.time("now")
    if now is not None:
        return now
    inc = sc.layer("incidents")
    rep = inc["reported_at"].dropna() if len(inc) else pd.Series(dtype=object)
    if len(rep):
        return pd.Timestamp(rep.min()).tz_convert(tz)
    raise InputError(
        "the timeline needs a start: the scenario has no 'now' and no incident times",
        field="now",
        expected="an ISO 8601 time in scenario.json, or incidents with reported_at",
    )


def to_time(value: Any, tz: str, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"'{value}' is not a time", field=name, expected="an ISO 8601 time"
        ) from exc
    if pd.isna(ts):
        raise InputError("the time is missing", field=name, expected="an ISO 8601 time")
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _site_times(layer: pd.DataFrame, col: str, tz: str) -> pd.Series:
    if col not in layer.columns or len(layer) == 0:
        return pd.Series(pd.NaT, index=range(len(layer)), dtype=f"datetime64[ns, {tz}]")
    s = pd.Series(layer[col].to_numpy(), index=range(len(layer)))
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True, errors="coerce")
    return s.dt.tz_convert(tz)


def _minutes(times: pd.Series, start: pd.Timestamp, missing: float) -> np.ndarray:
    m = (times - start).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan) / 60.0
    return np.where(np.isnan(m), missing, m)


def _round_s(t: pd.Timestamp) -> pd.Timestamp:
    # Finish times come from float minutes; whole seconds read as 23:00, not 22:59:59.999.
    return t.round("s")


def _ceil_hour(t: pd.Timestamp) -> pd.Timestamp:
    try:
        return t.ceil("h")
    except (ValueError, TypeError):  # ambiguous/nonexistent local hour (DST): round in UTC
        return t.tz_convert("UTC").ceil("h").tz_convert(t.tz)
