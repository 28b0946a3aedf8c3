"""The live overlay: feeds change what the app shows; the scenario is registered once."""

from __future__ import annotations

import pandas as pd

from geo import live, situation
from geo.auth import Actor
from geo.store import Event, open_store


def test_overlay_applies_site_figures_and_reports_age(demo, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}", actor=Actor.service("test"))
    try:
        first = live.overlay(demo, store)
        assert len(first.layer("testing_sites")) == len(demo.layer("testing_sites"))
        n_events = store.count()
        live.overlay(demo, store)  # registering again adds nothing
        assert store.count() == n_events
        site = demo.layer("testing_sites")["id"].iloc[0]
        t = demo.settings.time("now") + pd.Timedelta(minutes=20)
        store.append([Event("site_figures", site, t, {"queue": 5000, "tested": 300})])
        sc = live.overlay(demo, store)
        row = sc.layer("testing_sites").set_index("id").loc[site]
        assert row["queue"] == 5000 and row["tested"] == 300
        assert pd.Timestamp(sc.settings.extra["updated_at"]["testing_sites"]) == t
        # the long queue raises an alert; an hour later the figures are stale
        assert any(a.kind == "queue" and a.feature_id == site for a in situation.alerts(sc))
        ages = situation.data_age_min(sc, t + pd.Timedelta(minutes=60))
        assert ages["testing_sites"] == 60
    finally:
        store.close()


def test_a_cordon_drawn_on_one_screen_is_the_wall_cordon_on_another(demo, tmp_path):
    import shapely
    import shapely.affinity

    from geo import analyses, drawing

    store = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}", actor=Actor.service("test"))
    try:
        assert analyses.standing_cordon(live.overlay(demo, store)).summary["by"] == "distance"
        # the analyst draws the lockdown outline (what drawing_panel does with a store)
        box = shapely.box(121.650, 31.138, 121.664, 31.150)
        kind, row = drawing.new_feature(demo, box, "lockdown", name="Park")
        store.register_layer(kind, row, at=pd.Timestamp.now(tz="UTC"), source="drawing")
        wall = live.overlay(demo, store)  # another screen, next refresh
        assert list(wall.layer("cordons")["id"]) == ["drawn-1"]
        standing = analyses.standing_cordon(wall)
        assert standing.summary["by"] == "drawn" and standing.summary["people"]["lockdown"] > 0
        # an edit supersedes it; a deletion withdraws it everywhere
        moved = row.copy()
        moved["geometry"] = [shapely.affinity.translate(box, 0.002, 0)]
        store.register_layer(kind, moved, at=pd.Timestamp.now(tz="UTC"), source="drawing")
        got = live.overlay(demo, store).layer("cordons").geometry.iloc[0]
        assert got.equals_exact(moved.geometry.iloc[0], 1e-9)
        store.remove("cordons", "drawn-1")
        assert len(live.overlay(demo, store).layer("cordons")) == 0
    finally:
        store.close()
