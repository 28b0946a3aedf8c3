"""The store's record of a night, replayed: the picture at any time t as the store held it.

The same interface as the simulated night (:class:`geo.timeline.Replay`), but nothing is
simulated: ``at(t)`` is the scenario overlaid with the store's layers at ``t``
(:func:`geo.live.overlay`), and the figures are the wall's figures of that picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from geo import analyses, live, situation
from geo.cordon import CordonResult
from geo.scenario import Scenario
from geo.store import ALWAYS, Store
from geo.timeline import EVENT_COLUMNS, to_time

__all__ = ["RECORD_WINDOW", "Recording", "record"]


@dataclass
class Recording:
    """A night as the operations store recorded it: the picture at any time t.

    The same interface as :class:`Timeline` (``start``, ``end``, ``events``, ``at``,
    ``figures``, ``events_until``, ``cordon_result``, ``time``), but nothing is simulated:
    ``at(t)`` is the scenario overlaid with what the store held at ``t``
    (:func:`geo.live.overlay`), and the figures are the wall's figures of that picture.
    """

    scenario: Scenario
    store: Store = field(repr=False)
    start: pd.Timestamp
    end: pd.Timestamp
    events: pd.DataFrame = field(repr=False)

    def time(self, t: Any) -> pd.Timestamp:
        return to_time(t, self.scenario.settings.timezone, "t")

    def events_until(self, t: Any) -> pd.DataFrame:
        ts = self.time(t)
        return self.events[self.events["time"] <= ts].reset_index(drop=True)

    def at(self, t: Any) -> Scenario:
        """The scenario with its live layers as the store held them at ``t``; ``now`` = ``t``."""
        ts = self.time(t)
        sc = live.overlay(self.scenario, self.store, at=ts)
        return replace(sc, settings=replace(sc.settings, now=ts.isoformat()))

    def cordon_result(self, t: Any) -> CordonResult | None:
        return analyses.standing_plan(self.at(t)).cordon

    def figures(self, t: Any) -> situation.ReplayFigures:
        """:func:`geo.situation.wall_figures` of the picture at ``t`` (with its standing
        plan), plus ``queue`` (people waiting at sites) and ``sites_open``."""
        ts = self.time(t)
        sc = self.at(ts)
        wall = situation.wall_figures(sc, analyses.standing_plan(sc))
        sites = sc.layer("testing_sites")
        opened = (sites["opens_at"].isna() | (sites["opens_at"] <= ts)) & ~(
            sites["closes_at"].notna() & (sites["closes_at"] <= ts)
        )
        per_h = sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)
        wall["tests_per_hour"] = float(per_h[opened.to_numpy(dtype=bool)].sum())
        return {
            **wall,
            "queue": float(sites["queue"].astype(float).fillna(0).sum()),
            "sites_open": int(opened.sum()),
        }


#: How far back a recording reaches from its last event: one night and day.
RECORD_WINDOW = pd.Timedelta(hours=24)


def record(sc: Scenario, store: Store, window: pd.Timedelta = RECORD_WINDOW) -> Recording:
    """The store's record of ``sc``'s night: its last ``window`` of timed events (from the first
    of them, if later).

    Events are the store's log (scenario baselines left out) as ``time``, ``kind``, ``text``,
    ``feature_id``; the text names the entity (its name when the event carries one).
    """
    tz = sc.settings.timezone
    log = store.events()
    log = log[log["time"] > ALWAYS] if len(log) else log
    now = pd.Timestamp.now(tz=tz)
    if len(log) == 0:
        events = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
        events["time"] = pd.to_datetime(events["time"]).dt.tz_localize(tz)
        return Recording(sc, store, now, now, events)
    texts = [
        f"{str(k).replace('_', ' ').capitalize()}: {p.get('name') or e}"
        for k, e, p in zip(log["kind"], log["entity_id"], log["props"])
    ]
    events = pd.DataFrame(
        {
            "time": log["time"].dt.tz_convert(tz).to_numpy(),
            "kind": log["kind"].to_numpy(),
            "text": texts,
            "feature_id": log["entity_id"].to_numpy(),
        }
    )
    events["time"] = pd.to_datetime(events["time"]).dt.tz_convert(tz)
    end = events["time"].max()
    start = max(events["time"].min(), end - window)
    events = events[events["time"] >= start]
    return Recording(sc, store, start, end, events.reset_index(drop=True))
