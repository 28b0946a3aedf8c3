"""The live overlay: feeds change what the app shows; the scenario is registered once."""

from __future__ import annotations

import pandas as pd

from geo import live, situation
from geo.store import Event, open_store


def test_overlay_applies_site_figures_and_reports_age(demo, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
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
