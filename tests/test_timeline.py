"""The night's timeline: a hand-computed fluid queue, conservation, ordering, the demo replay."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from geo import analyses, layers, recording, situation, timeline
from geo.catchment import Catchments
from geo.errors import InputError
from geo.scenario import Scenario, Settings

TZ = "Asia/Shanghai"


def T(clock: str, day: int = 31) -> pd.Timestamp:
    return pd.Timestamp(f"2021-10-{day} {clock}", tz=TZ)


def _sites(rows: list[dict]) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        rows, geometry=[Point(121.66 + 0.001 * i, 31.14) for i in range(len(rows))], crs=4326
    )
    return layers.validate(gdf, "testing_sites", tz=TZ)[0]


def _catchments(shares: list[tuple[str | None, float, float]]) -> Catchments:
    """Catchments with one cell share per (site_id, people, time_min)."""
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [f"c{i}" for i in range(len(shares))],
            "site_id": [s for s, _, _ in shares],
            "people": [p for _, p, _ in shares],
            "time_min": [t for _, _, t in shares],
        },
        geometry=[Point(121.66, 31.14)] * len(shares),
        crs=4326,
    )
    return Catchments(gpd.GeoDataFrame(geometry=[], crs=4326), cells, {})


def _scenario(sites: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame | None = None) -> Scenario:
    found = {"testing_sites": sites}
    if incidents is not None:
        found["incidents"] = incidents
    settings = Settings(now="2021-10-31T18:05:00+08:00", deadline="2021-10-31T23:00:00+08:00")
    return Scenario(found, settings)


@pytest.fixture(scope="module")
def small() -> timeline.Timeline:
    # A: 10 lanes x 60/h = 600/h from 19:00, never closes; 1200 people arrive 18:30.
    # B: 2 lanes x 60/h = 120/h from 19:00 to 20:00; 500 people arrive 18:30 -> 380 left.
    # 50 people have no site (beyond capacity in the catchment): never tested.
    sites = _sites(
        [
            {"id": "A", "name": "A", "lanes": 10, "per_lane_per_h": 60, "opens_at": T("19:00")},
            {
                "id": "B",
                "name": "B",
                "lanes": 2,
                "per_lane_per_h": 60,
                "opens_at": T("19:00"),
                "closes_at": T("20:00"),
            },
        ]
    )
    catch = _catchments([("A", 1200.0, 25.0), ("B", 500.0, 25.0), (None, 50.0, np.nan)])
    return timeline.build(_scenario(sites), catch)


def _site(tl: timeline.Timeline, t: pd.Timestamp, sid: str) -> pd.Series:
    s = tl.at(t).layer("testing_sites").set_index("id")
    return s.loc[sid]


def test_hand_computed_fluid_queue(small):
    a = _site(small, T("19:30"), "A")
    assert (a["tested"], a["queue"], a["status"]) == (300, 900, "open")
    a = _site(small, T("21:00"), "A")
    assert (a["tested"], a["queue"]) == (1200, 0)
    assert _site(small, T("18:45"), "A")[["tested", "queue"]].tolist() == [0, 1200]
    assert _site(small, T("18:20"), "A")[["tested", "queue", "status"]].tolist() == [
        0,
        0,
        "not open yet",
    ]
    row = small.sites.set_index("site_id").loc["A"]
    assert row["finish_at"] == T("21:00") and row["untested"] == pytest.approx(0.0)
    done = small.events[small.events["kind"] == "site_done"]
    assert done[["time", "feature_id"]].values.tolist() == [[T("21:00"), "A"]]
    # between grid times the values are interpolated
    _, tested, _ = small.values(T("19:30:30"))
    assert tested[0] == pytest.approx(305.0)


def test_a_site_that_closes_early_leaves_people_untested(small):
    b = small.sites.set_index("site_id").loc["B"]
    assert b["tested"] == pytest.approx(120.0) and b["untested"] == pytest.approx(380.0)
    late = _site(small, T("22:00"), "B")
    assert (late["tested"], late["queue"], late["status"]) == (120, 380, "closed")
    closed = small.events[small.events["kind"] == "site_closed"]
    assert "380 people left untested" in closed["text"].iloc[0]
    # 380 at B and the 50 without a site are never tested
    f = small.figures(small.end)
    assert f["people"] == pytest.approx(1750.0)
    assert f["remaining"] == pytest.approx(430.0)
    assert f["untested_by_deadline"] == pytest.approx(430.0)
    assert f["sites_late"] == 1 and f["late_site_ids"] == ["B"]
    assert small.finish_at == T("21:00")
    assert "testing_ends" in set(small.events["kind"]) and "all_tested" not in set(
        small.events["kind"]
    )
    # default end: the deadline (23:00, later than the last test) + 1 h, on the hour
    assert small.end == T("00:00", 1).replace(month=11, day=1)


def test_nobody_is_tested_before_arriving_and_the_notice_delay_counts():
    sites = _sites([{"id": "A", "name": "A", "lanes": 10, "per_lane_per_h": 60}])  # open at start
    catch = _catchments([("A", 100.0, 25.0), ("A", 10.0, 30.5)])
    tl = timeline.build(_scenario(sites), catch)
    _, tested, queue = tl.values(T("18:30"))
    assert (tested[0], queue[0]) == (0.0, 100.0)
    _, tested, _ = tl.values(T("18:31"))
    assert tested[0] == pytest.approx(10.0)  # 10 a minute from the arrival on
    # 10 people arrive at 18:35:30, between grid times: they count from 18:36, never earlier
    assert tl.values(T("18:35"))[0][0] == pytest.approx(100.0)
    assert tl.values(T("18:36"))[0][0] == pytest.approx(110.0)
    assert tl.sites["finish_at"].iloc[0] == T("18:41")  # 110 people at 10 a minute from 18:30
    later = timeline.build(_scenario(sites), catch, notice_delay_min=10)
    assert later.sites["finish_at"].iloc[0] == T("18:51")


def test_queue_and_tested_at_start_are_carried():
    sites = _sites(
        [{"id": "A", "name": "A", "lanes": 10, "per_lane_per_h": 60, "queue": 60, "tested": 5}]
    )
    tl = timeline.build(_scenario(sites), None)
    assert _site(tl, T("18:05"), "A")[["tested", "queue"]].tolist() == [5, 60]
    assert _site(tl, T("18:11"), "A")[["tested", "queue"]].tolist() == [65, 0]
    assert tl.people == pytest.approx(65.0)
    assert tl.figures(T("18:05"))["remaining"] == pytest.approx(60.0)


def test_cells_for_an_unknown_site_are_an_input_error():
    sites = _sites([{"id": "A", "name": "A", "lanes": 1, "per_lane_per_h": 60}])
    with pytest.raises(InputError, match="does not have: Z"):
        timeline.build(_scenario(sites), _catchments([("Z", 10.0, 1.0)]))


def test_bad_arguments_are_input_errors():
    sites = _sites([{"id": "A", "name": "A", "lanes": 1, "per_lane_per_h": 60}])
    with pytest.raises(InputError):
        timeline.build(_scenario(sites), None, step_min=0)
    with pytest.raises(InputError):
        timeline.build(_scenario(sites), None, end="2021-10-31T17:00:00+08:00")


# --- the demo -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def night(demo):
    plan = analyses.standing_plan(demo)
    return analyses.night(demo), plan.catchments, plan.cordon


def test_demo_conservation(night):
    tl, catch, _ = night
    assert (np.diff(tl.tested, axis=1) >= -1e-9).all()
    assert (np.diff(tl.arrived, axis=1) >= -1e-9).all()
    assert (tl.tested <= tl.arrived + 1e-9).all()
    assert np.allclose(tl.queue, tl.arrived - tl.tested)
    untested = float(tl.sites["untested"].sum())
    assert tl.tested[:, -1].sum() + untested == pytest.approx(tl.people)
    s = catch.summary
    assert tl.tested[:, -1].sum() == pytest.approx(s["assigned"] + s["queue_now"] - s["untested"])
    # the sites stay open past the deadline, so the simulation tests everyone the plan sends
    for sid, row in tl.sites.set_index("site_id").iterrows():
        planned = catch.sites.set_index("site_id").loc[sid]
        assert row["tested"] == pytest.approx(planned["load"] - planned["untested"], abs=1e-6)


def test_demo_finish_times_match_the_catchment(night):
    tl, catch, _ = night
    planned = catch.sites.set_index("site_id")
    for sid, row in tl.sites.set_index("site_id").iterrows():
        if row["tested"] > 0:
            # everyone arrives before the sites open, so the plan's finish is exact
            gap = abs((row["finish_at"] - planned.loc[sid, "finish_at"]).total_seconds())
            assert gap <= 1.0, sid
    assert tl.finish_at == pd.Timestamp("2021-10-31T23:00:00+08:00")


def test_demo_at_follows_the_clock(night, demo):
    tl, _, _ = night
    assert len(tl.at(T("18:00")).layer("incidents")) == 0
    at = tl.at(T("18:50"))
    assert list(at.layer("incidents")["id"]) == ["inc-001", "inc-002"]
    assert at.settings.time("now") == T("18:50")
    assert len(tl.at(tl.end).layer("incidents")) == 3
    for t in (T("18:30"), T("19:10"), T("19:40"), T("20:30")):
        sites = tl.at(t).layer("testing_sites")
        unopened = sites["opens_at"] > t
        assert (sites.loc[unopened, "tested"] == 0).all()
        assert (sites.loc[unopened, "status"] == "not open yet").all()
        hidden = tl.at(t, unopened=False).layer("testing_sites")
        assert set(hidden["id"]) == set(sites.loc[~unopened, "id"])
    # the scenario itself is untouched
    assert demo.settings.now == "2021-10-31T18:05:00+08:00"
    assert (demo.layer("testing_sites")["tested"] == 0).all()


def test_demo_figures(night):
    tl, _, cordon = night
    f = tl.figures(tl.start)
    assert f["tested"] == 0 and f["remaining"] == pytest.approx(f["people"])
    assert f["checkpoints"] is None and f["tests_per_hour"] == 0
    assert f["people"] == pytest.approx(analyses.standing_plan(tl.scenario).people)
    g = tl.figures(T("19:30"))
    assert g["checkpoints"] == cordon.summary["checkpoints"]
    assert g["people_label"] == f["people_label"] == "people to test"  # one meaning all night
    assert 0 < g["tested"] < g["people"]
    # the layer at t tells the same story as the figures (up to rounding per site)
    wall = situation.wall_figures(tl.at(T("19:30")))
    assert wall["tested"] == pytest.approx(g["tested"], abs=len(tl.site_ids))
    end = tl.figures(tl.end)
    assert end["remaining"] == pytest.approx(tl.sites["untested"].sum(), abs=1e-6)
    assert set(f) >= set(situation.wall_figures(tl.scenario))
    totals = [tl.figures(t)["tested"] for t in tl.frames(15)]
    assert totals == sorted(totals)


def test_demo_events(night):
    tl, _, _ = night
    ev = tl.events
    assert list(ev.columns) == ["time", "kind", "text", "feature_id"]
    assert ev["time"].is_monotonic_increasing
    first = ev.iloc[0][["time", "kind", "feature_id"]].tolist()
    assert first == [T("18:05"), "incident", "inc-001"]
    dl = ev[ev["kind"] == "deadline"]
    assert dl["time"].tolist() == [T("23:00")]
    assert (ev["kind"] == "site_open").sum() == len(tl.site_ids)
    cordon = ev[ev["kind"] == "cordon"]
    assert cordon["time"].tolist() == [T("18:35")]  # 18:05 + 30 min (made-up delay)
    until = tl.events_until(T("18:50"))
    assert until["kind"].tolist() == ["incident", "cordon", "incident"]


def test_demo_frames_and_clamp(night):
    tl, _, _ = night
    frames = tl.frames(5)
    assert frames[0] == tl.start == T("18:05") and frames[-1] == tl.end
    assert all(b > a for a, b in zip(frames, frames[1:]))
    assert tl.clamp("2021-10-31 12:00") == tl.start
    assert tl.clamp("2021-11-02T00:00:00+08:00") == tl.end
    assert tl.times.tz is not None and str(tl.times.tz) == TZ
    assert tl.times[0] == tl.start and tl.times[-1] >= tl.end


# --- the store's record --------------------------------------------------------------------------


def test_a_recorded_night_replays_what_the_store_held(demo, tmp_path):
    from geo import live
    from geo.auth import Actor
    from geo.store import Event, open_store

    store = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}", actor=Actor.service("test"))
    try:
        live.overlay(demo, store)  # registers the scenario (incidents at their report times)
        t = pd.Timestamp("2021-10-31T19:00:00+08:00")
        site = demo.layer("testing_sites")["id"].iloc[0]
        store.append(
            [
                Event("site_figures", site, t, {"tested": 500, "queue": 1200}),
                Event(
                    "incident",
                    "feed-9",
                    t + pd.Timedelta(minutes=30),
                    {"kind": "crowd", "severity": 2, "reported_at": "2021-10-31T19:30:00+08:00"},
                    {"type": "Point", "coordinates": [121.66, 31.15]},
                ),
            ]
        )
        rec = recording.record(demo, store)
        assert rec.start == pd.Timestamp("2021-10-31T18:05:00+08:00")
        assert rec.end == pd.Timestamp("2021-10-31T19:30:00+08:00")
        assert len(rec.at("2021-10-31 18:30").layer("incidents")) == 1
        assert len(rec.at("2021-10-31 19:45").layer("incidents")) == 4
        before, after = rec.figures("2021-10-31 18:55"), rec.figures("2021-10-31 19:05")
        assert before["tested"] == 0 and after["tested"] == 500 and after["queue"] == 1200
        assert after["checkpoints"] is not None  # the standing cordon of the picture then
        kinds = list(rec.events_until("2021-10-31 19:00")["kind"])
        assert kinds.count("incident") == 2 and kinds[-1] == "site_figures"  # 18:05, 18:40
        assert rec.at("2021-10-31 19:05").settings.time("now") == pd.Timestamp(
            "2021-10-31T19:05:00+08:00"
        )
    finally:
        store.close()


def test_an_empty_store_records_nothing(demo, tmp_path):
    from geo.auth import Actor
    from geo.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}", actor=Actor.service("test"))
    try:
        rec = recording.record(demo, store)
        assert rec.start == rec.end and len(rec.events) == 0
    finally:
        store.close()


# --- the night as it happened (issue #16) ---------------------------------------------------------

#: People who had tested negative by 08:00 on 1 Nov 2021 (Shine, Sixth Tone, AP; FACTS.md).
TESTED_BY_MORNING = 33_863


def test_the_people_held_are_the_resort_as_on_the_night(night, demo):
    """Everyone inside the closed resort was held, not only the 500 m ring: the people to test
    and the replay's tested count agree with the 33,863 of the sources within 2 %."""
    tl, _, _ = night
    plan = analyses.standing_plan(demo)
    assert plan.venues == ("Shanghai Disney Resort",)
    resort = demo.layer("crowd_zones")
    resort = resort[resort["venue"] == "Shanghai Disney Resort"]["people"].sum()
    assert plan.people == pytest.approx(resort)  # every resort zone, also beyond the ring
    assert plan.people > plan.people_lockdown + 4_000  # hotels, car parks, the west hub
    assert abs(plan.people - TESTED_BY_MORNING) / TESTED_BY_MORNING < 0.02
    done = tl.figures(tl.end)["tested"]
    assert abs(done - TESTED_BY_MORNING) / TESTED_BY_MORNING < 0.02
    assert tl.finish_at == T("23:00")  # "testing on site finished by about 23:00"


def test_tested_people_leave_their_zone_and_the_crowd_alert_clears(night):
    tl, _, _ = night
    zones0 = tl.at(tl.start).layer("crowd_zones").set_index("id")["people"]
    later = tl.at(T("21:00")).layer("crowd_zones").set_index("id")["people"]
    end = tl.at(tl.end).layer("crowd_zones").set_index("id")["people"]
    assert (later <= zones0 + 1e-9).all() and (end <= later + 1e-9).all()
    # the people gone from the zones are the people tested
    gone = float((zones0 - end).sum())
    assert gone == pytest.approx(tl.figures(tl.end)["tested"], rel=1e-6)
    assert end["resort-station"] == pytest.approx(0.0, abs=1e-6)
    assert end["nbh-chuansha-centre"] == zones0["nbh-chuansha-centre"]  # not held: stays
    crowd = [a for a in situation.alerts(tl.at(tl.start), tl.start) if a.kind == "crowd"]
    assert crowd  # the station is over its capacity at the notice...
    assert not [a for a in situation.alerts(tl.at(tl.end), tl.end) if a.kind == "crowd"]


def test_tiles_and_banners_tell_one_story_all_night(night):
    """No red queue banner while the tiles say every site finishes in time (18:30 replay)."""
    tl, _, _ = night
    for t in tl.frames(30):
        f = tl.figures(t)
        found = situation.alerts(tl.at(t), t, figures=f, stale_after_min=float("inf"))
        queues = [a for a in found if a.kind == "queue"]
        if f["sites_late"] == 0:
            assert all(a.level != "critical" for a in queues), t
        assert f["people_label"] == "people to test"
