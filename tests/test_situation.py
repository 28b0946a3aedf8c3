"""Alerts and wall figures: long queues, crowds over capacity, stale data."""

from __future__ import annotations

import pandas as pd
import pytest

from geo import situation


def test_demo_alerts_the_overfull_station(demo):
    alerts = situation.alerts(demo)
    crowd = [a for a in alerts if a.kind == "crowd"]
    zones = demo.layer("crowd_zones")
    over = zones[zones["people"] > zones["capacity"].astype(float)]
    assert {a.feature_id for a in crowd} == set(over["id"])
    assert all("% of capacity" in a.message for a in crowd)


def test_queue_over_45_minutes_is_an_alert(demo):
    sites = demo.layer("testing_sites").copy()
    per_h = float(sites["lanes"].iloc[0] * sites["per_lane_per_h"].iloc[0])
    sites["queue"] = 0
    sites.loc[sites.index[0], "queue"] = int(per_h)  # one hour of work: 60 min > 45
    sites.loc[sites.index[1], "queue"] = 1  # a short queue is no alert
    sc = demo.with_layer("testing_sites", sites)
    q = [a for a in situation.alerts(sc) if a.kind == "queue"]
    assert [a.feature_id for a in q] == [sites["id"].iloc[0]]
    assert "60 min" in q[0].message and q[0].level == "warning"


def test_stale_crowd_counts(demo):
    later = demo.settings.time("now") + pd.Timedelta(minutes=90)
    stale = [a for a in situation.alerts(demo, later) if a.kind == "stale"]
    assert any(a.feature_id == "crowd_zones" for a in stale)
    assert not [a for a in situation.alerts(demo) if a.kind == "stale"]


def test_alerts_sorted_by_severity(demo):
    levels = [
        a.level for a in situation.alerts(demo, demo.settings.time("now") + pd.Timedelta(hours=2))
    ]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert levels == sorted(levels, key=order.get)


def test_wall_figures(demo):
    f = situation.wall_figures(demo)
    assert f["people"] == demo.layer("crowd_zones")["people"].sum()
    assert f["remaining"] == f["people"] - f["tested"]
    assert f["finish_at"] is None


def test_wall_figures_with_the_standing_plan(demo):
    from geo import analyses

    plan = analyses.standing_plan(demo)
    f = situation.wall_figures(demo, plan)
    # the people to test: the lockdown zone plus the closed venue's zones outside it
    assert f["people"] == plan.people
    assert f["people"] == pytest.approx(plan.people_lockdown + plan.people_venues)
    assert plan.people_lockdown == pytest.approx(plan.cordon.summary["people"]["lockdown"])
    assert f["people_label"] == "people to test"
    assert "lockdown zone 29,135" in f["people_detail"] and "closed venues" in f["people_detail"]
    # the balanced catchment serves exactly the people held (areal weighting)
    assert abs(plan.catchments.summary["people"] - f["people"]) < 1e-6 * f["people"]
    assert f["checkpoints"] == plan.cordon.summary["checkpoints"] and f["staff"] > 0
    assert f["finish_at"] is not None and f["sites_late"] == len(f["late_site_ids"]) == 0
    assert set(f["site_finish"]) <= set(demo.layer("testing_sites")["id"])


def test_a_long_queue_is_critical_only_where_the_plan_misses_the_deadline(demo):
    """The banners read the same plan as the tiles: a long queue at a site that the plan clears
    in time is a warning that says when; at a site that misses the deadline it is critical."""
    from geo import analyses

    sites = demo.layer("testing_sites").copy()
    sites["queue"] = (sites["lanes"] * sites["per_lane_per_h"]).astype(int)  # an hour's work
    sc = demo.with_layer("testing_sites", sites)
    later = demo.settings.time("now") + pd.Timedelta(hours=2)  # every site open
    f = situation.wall_figures(sc, analyses.standing_plan(demo))
    on_time = [a for a in situation.alerts(sc, later, figures=f) if a.kind == "queue"]
    assert on_time and {a.level for a in on_time} == {"warning"}
    assert all("as planned" in a.message for a in on_time)
    late = {**f, "late_site_ids": [str(sites["id"].iloc[0])], "sites_late": 1}
    levels = {a.feature_id: a.level for a in situation.alerts(sc, later, figures=late)}
    assert levels[sites["id"].iloc[0]] == "critical"
    assert "misses the deadline" in next(
        a.message
        for a in situation.alerts(sc, later, figures=late)
        if a.kind == "queue" and a.level == "critical"
    )


def test_a_queue_at_a_site_not_open_yet_waits_for_the_opening(demo):
    sites = demo.layer("testing_sites").copy()
    first = sites.index[0]
    per_h = float(sites.loc[first, "lanes"] * sites.loc[first, "per_lane_per_h"])
    sites["queue"] = 0
    sites.loc[first, "queue"] = int(per_h / 2)  # 30 min of work
    sc = demo.with_layer("testing_sites", sites)
    opens = sites.loc[first, "opens_at"]
    at_open = [a for a in situation.alerts(sc, opens) if a.kind == "queue"]
    assert at_open == []  # 30 min < 45 once it is open
    before = [
        a for a in situation.alerts(sc, opens - pd.Timedelta(minutes=30)) if a.kind == "queue"
    ]
    assert len(before) == 1 and "about 60 min" in before[0].message  # 30 to open + 30 of work


def test_banners_give_one_line_per_kind_naming_the_worst(demo):
    sites = demo.layer("testing_sites").copy()
    sites["queue"] = (sites["lanes"] * sites["per_lane_per_h"]).astype(int) * 2  # 120 min each
    sites.loc[sites.index[3], "queue"] = int(
        sites.loc[sites.index[3], "lanes"] * sites.loc[sites.index[3], "per_lane_per_h"] * 3
    )
    sc = demo.with_layer("testing_sites", sites)
    now = sites["opens_at"].max()
    alerts = situation.alerts(sc, now)
    banners = situation.banners(alerts)
    kinds = [b.kind for b in banners]
    assert len(kinds) == len(set(kinds)) and "queue" in kinds
    queue = next(b for b in banners if b.kind == "queue")
    n = sum(a.kind == "queue" for a in alerts)
    assert queue.message.startswith(f"{n} sites with long queues · worst: ")
    assert sites.loc[sites.index[3], "name"] in queue.message and "about 180 min" in queue.message
    assert queue.level == "critical" and queue.feature_id is None
    single = situation.banners([a for a in alerts if a.kind == "crowd"][:1])
    assert single == [a for a in alerts if a.kind == "crowd"][:1]
