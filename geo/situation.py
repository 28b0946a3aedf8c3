"""The situation at a glance: alerts a commander must see and the figures on the wall screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypedDict

import numpy as np
import pandas as pd

from geo.scenario import Scenario

if TYPE_CHECKING:
    from geo.analyses import StandingPlan

__all__ = [
    "MAX_QUEUE_MIN",
    "PEOPLE_LABEL",
    "STALE_AFTER_MIN",
    "Alert",
    "alerts",
    "banners",
    "data_age_min",
    "Level",
    "ReplayFigures",
    "wall_figures",
    "WallFigures",
]

Level = Literal["critical", "warning", "info"]

MAX_QUEUE_MIN = 45.0
STALE_AFTER_MIN = 30.0


@dataclass(frozen=True)
class Alert:
    """One banner: how bad, about what, and the sentence shown."""

    level: Level
    kind: str
    feature_id: str | None
    message: str
    value: float = 0.0  # how bad, within its kind (minutes of queue, % of capacity, minutes old)


def data_age_min(sc: Scenario, now: pd.Timestamp | None = None) -> dict[str, float]:
    """Minutes since each layer's newest observation (layers with a time column only)."""
    now = now if now is not None else sc.settings.time("now")
    if now is None:
        now = pd.Timestamp.now(tz=sc.settings.timezone)
    ages: dict[str, float] = {}
    for kind, col in (("crowd_zones", "observed_at"), ("incidents", "reported_at")):
        times = sc.layer(kind)[col].dropna() if len(sc.layer(kind)) else pd.Series(dtype=object)
        times = times[times <= now]
        if len(times):
            ages[kind] = (now - times.max()).total_seconds() / 60.0
    extra = sc.settings.extra.get("updated_at", {})
    for kind, when in extra.items() if isinstance(extra, dict) else []:
        ages[kind] = (now - pd.Timestamp(when).tz_convert(now.tz)).total_seconds() / 60.0
    return ages


def alerts(
    sc: Scenario,
    now: pd.Timestamp | None = None,
    *,
    figures: WallFigures | None = None,
    max_queue_min: float = MAX_QUEUE_MIN,
    stale_after_min: float = STALE_AFTER_MIN,
) -> list[Alert]:
    """Long queues, crowds over capacity and stale data, most severe first.

    With the wall's ``figures`` a long queue reads the same plan as the tiles: it is critical
    only at a site that misses the deadline; at a site the plan clears in time it is a warning
    that says when it clears (a long queue is expected while a site works through it).
    """
    late = set(figures["late_site_ids"]) if figures is not None else None
    finish = figures["site_finish"] if figures is not None else {}
    out: list[Alert] = []
    sites = sc.layer("testing_sites")
    if len(sites):
        per_h = sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)
        queue = sites["queue"].astype(float).fillna(0.0)
        wait = np.where(per_h > 0, queue / per_h.where(per_h > 0, np.nan) * 60.0, np.inf)
        if now is not None and "opens_at" in sites:
            # People queueing at a site that has not opened yet also wait for it to open.
            until_open = (sites["opens_at"] - now).dt.total_seconds().fillna(0.0) / 60.0
            wait = wait + until_open.clip(lower=0.0).to_numpy()
        for sid, name, q, w in zip(sites["id"], sites["name"], queue, wait):
            if q > 0 and w > max_queue_min:
                text = f"{name}: queue {q:,.0f} people, about {w:,.0f} min"
                lvl: Level = "critical" if w > 2 * max_queue_min else "warning"
                if late is not None:
                    lvl = "critical" if str(sid) in late else "warning"
                    done = finish.get(str(sid))
                    text += (
                        ", misses the deadline"
                        if str(sid) in late
                        else (f", clears by {done:%H:%M} as planned" if done is not None else "")
                    )
                out.append(Alert(lvl, "queue", sid, text, float(w)))
    zones = sc.layer("crowd_zones")
    if len(zones):
        cap = zones["capacity"].astype(float)
        over = zones["people"].astype(float) > cap
        for _, z in zones[over.fillna(False).to_numpy()].iterrows():
            pct = 100.0 * float(z["people"]) / float(z["capacity"]) if z["capacity"] else np.inf
            out.append(
                Alert(
                    "critical" if pct >= 120 else "warning",
                    "crowd",
                    z["id"],
                    f"{z['name'] or z['id']}: {z['people']:,.0f} people, {pct:,.0f}% of capacity",
                    float(pct),
                )
            )
    for kind, age in data_age_min(sc, now).items():
        if age > stale_after_min:
            out.append(
                Alert(
                    "warning",
                    "stale",
                    kind,
                    f"{kind.replace('_', ' ').capitalize()} data is {age:,.0f} min old",
                    float(age),
                )
            )
    return sorted(out, key=lambda a: (_RANK[a.level], -a.value))


_RANK = {"critical": 0, "warning": 1, "info": 2}
_GROUP_TEXT = {
    "queue": "sites with long queues",
    "crowd": "crowd zones over capacity",
    "stale": "layers with old data",
}


def banners(alerts: list[Alert]) -> list[Alert]:
    """One banner per kind of alert, for a screen read from afar.

    A kind with one alert keeps it; several become one banner at the worst level that counts
    them and names the worst (e.g. "8 sites with long queues · worst: Park main gate plaza:
    queue 8,213 people, about 220 min"); ``feature_id`` is then None. Order: most severe first.
    """
    out: list[Alert] = []
    for kind in dict.fromkeys(a.kind for a in alerts):
        group = [a for a in alerts if a.kind == kind]
        if len(group) == 1:
            out.append(group[0])
            continue
        worst = min(group, key=lambda a: (_RANK[a.level], -a.value))
        label = _GROUP_TEXT.get(kind, f"{kind} alerts")
        out.append(
            Alert(
                worst.level,
                kind,
                None,
                f"{len(group)} {label} · worst: {worst.message}",
                worst.value,
            )
        )
    return sorted(out, key=lambda a: _RANK[a.level])


class WallFigures(TypedDict):
    """The wall's tiles, and what its alerts read, from one computation."""

    people: float  # the people to test
    people_label: str
    people_detail: str  # where they are: "lockdown zone 29,135 · closed venues 5,148"
    tested: float
    remaining: float
    tests_per_hour: float
    deadline: pd.Timestamp | None
    finish_at: pd.Timestamp | None  # the plan's projected last test
    sites_late: int | None  # sites with people still waiting or to come at the deadline
    late_site_ids: list[str]
    site_finish: dict[str, pd.Timestamp]  # each site's projected last test
    untested_by_deadline: float | None
    checkpoints: int | None
    staff: int | None


class ReplayFigures(WallFigures):
    """The wall's figures at a moment of a replay, plus what only a replay knows."""

    queue: float  # people waiting at the sites
    sites_open: int


def wall_figures(sc: Scenario, plan: StandingPlan | None = None) -> WallFigures:
    """Figures for the wall tiles, from the scenario and its standing plan.

    With a plan that holds people (:attr:`geo.analyses.StandingPlan.held`) the people to test
    are those held (the lockdown zone and the closed venues), the checkpoints are its cordon's,
    and its capacity-balanced catchments give the projected finish, each site's finish and the
    sites that miss the deadline. Without one, the people are everyone in the crowd zones.
    """
    sites = sc.layer("testing_sites")
    tested = float(sites["tested"].astype(float).fillna(0).sum()) if len(sites) else 0.0
    per_h = float((sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)).sum())
    held = plan is not None and plan.held is not None
    if plan is not None and plan.held is not None:
        people, detail = plan.people, plan.detail
    else:
        people = float(sc.layer("crowd_zones")["people"].sum())
        detail = "everyone in the crowd zones (no severe incident)"
    out: WallFigures = {
        "people": people,
        "people_label": PEOPLE_LABEL if held else "people in crowd zones",
        "people_detail": detail,
        "tested": tested,
        "remaining": max(people - tested, 0.0),
        "tests_per_hour": per_h,
        "deadline": sc.settings.time("deadline"),
        "finish_at": None,
        "sites_late": None,
        "late_site_ids": [],
        "site_finish": {},
        "untested_by_deadline": None,
        "checkpoints": None,
        "staff": None,
    }
    cordon = plan.cordon if plan is not None else None
    if cordon is not None:
        out["checkpoints"] = int(cordon.summary["checkpoints"])
        out["staff"] = int(cordon.summary["staff_total"])
    catch = plan.catchments if plan is not None else None
    if catch is not None:
        s = catch.sites
        out["finish_at"] = s["finish_at"].max() if "finish_at" in s else None
        untested = s.get("untested", pd.Series(0.0, index=s.index)).astype(float)
        late = s.loc[(untested > 0.5).to_numpy(dtype=bool), "site_id"].astype(str)
        out["late_site_ids"] = list(late)
        out["sites_late"] = len(late)
        if "finish_at" in s:
            out["site_finish"] = {
                str(k): v for k, v in zip(s["site_id"], s["finish_at"]) if pd.notna(v)
            }
        out["untested_by_deadline"] = float(catch.summary.get("untested", 0.0))
    return out


#: The first tile's label wherever the people to test are counted (wall, replay, workbench).
PEOPLE_LABEL = "people to test"
