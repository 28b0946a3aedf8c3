"""The page under Streamlit's AppTest (no browser): tiles, map component, no tracebacks."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def _run(args=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if args:
        import sys

        old = sys.argv
        sys.argv = ["app.py", *args]
        try:
            at.run()
        finally:
            sys.argv = old
    else:
        at.run()
    return at


def test_page_shows_tiles_and_map(demo):
    at = _run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    k = demo.kpis()
    assert labels["Testing sites"] == f"{k['testing_sites']:,}"
    assert labels["Lanes"] == f"{k['lanes']:,}"
    assert labels["Open incidents"] == f"{k['open_incidents']:,}"
    comps = [
        c
        for c in at.main
        if getattr(c, "type", "") == "component_instance"
        or "st_folium" in str(getattr(c, "proto", ""))[:2000]
    ]
    assert comps, "the map component is on the page"
    args = json.loads(comps[0].proto.json_args)
    links = args["js_links"] + args["css_links"]
    assert links and all(u.startswith("/app/static/") for u in links), links


def test_bad_scenario_path_is_an_error_not_a_traceback(tmp_path):
    at = _run(["--scenario", str(tmp_path / "missing")])
    assert not at.exception
    assert any("no such file" in e.value for e in at.error)


def test_catchments_panel_draws_and_tabulates(demo):
    at = _run()
    next(s for s in at.sidebar.selectbox if s.label == "Kind").set_value("balanced")
    next(b for b in at.sidebar.button if b.label == "Compute catchments").click()
    at.run()
    assert not at.exception
    assert any("Catchments: Capacity-balanced" in s.value for s in at.subheader)
    table = at.dataframe[0].value
    assert len(table) == len(demo.layer("testing_sites"))
    assert list(table["Finishes"]) == sorted(table["Finishes"])
    comp = next(
        c
        for c in at.main
        if getattr(c, "type", "") == "component_instance"
        or "st_folium" in str(getattr(c, "proto", ""))[:2000]
    )
    args = json.loads(comp.proto.json_args)
    # live layers and results travel as feature groups swapped in place, not in the base script
    assert "co-catchments" in args["feature_group"]
    assert "co-catchments" not in args["script"] and "co-roads" in args["script"]


def test_live_store_feeds_the_page(demo, tmp_path, monkeypatch):
    import pandas as pd

    from geo.auth import Actor
    from geo.store import Event, open_store

    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.setenv("CITYOPS_STORE", url)
    at = _run()
    assert not at.exception
    assert any("live store" in c.value for c in at.caption)
    # a new incident arrives through the store: the tile counts it on the next run
    with open_store(url, actor=Actor.service("test")) as store:
        t = pd.Timestamp.now(tz="Asia/Shanghai")
        store.append(
            [
                Event(
                    "incident",
                    "feed-1",
                    t,
                    {"kind": "crowd", "severity": 2, "reported_at": t.isoformat()},
                    {"type": "Point", "coordinates": [121.66, 31.15]},
                )
            ]
        )
    at.run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["Open incidents"] == f"{demo.kpis()['open_incidents'] + 1:,}"


def test_cordon_panel(demo):
    at = _run()
    form_button = next(b for b in at.sidebar.button if b.label == "Draw cordon")
    form_button.click()
    at.run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert "People · lockdown" in labels and "Checkpoints · staff" in labels
    comp = next(
        c
        for c in at.main
        if getattr(c, "type", "") == "component_instance"
        or "st_folium" in str(getattr(c, "proto", ""))[:2000]
    )
    args = json.loads(comp.proto.json_args)
    assert "co-cordon" in args["feature_group"] and "co-checkpoints" in args["feature_group"]


def test_staging_panel_suggests_numbered_sites(demo):
    at = _run()
    form = next(b for b in at.sidebar.button if b.label == "Suggest sites")
    next(s for s in at.sidebar.selectbox if s.label == "Goal").set_value("coverage")
    form.click()
    at.run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Staging:") for s in at.subheader)
    labels = {m.label for m in at.metric}
    assert any(label.startswith("Within ") for label in labels)
    # a table people read: names, units, whole people, and why each site is there
    table = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert list(table["#"]) == [1, 2, 3] and table["Why"].str.len().min() > 10
    assert {"Site", "People served", "Mean travel (min)"} <= set(table.columns)
    assert table["Site"].notna().all() and not table["Site"].str.startswith("stage-").any()
    comp = next(
        c
        for c in at.main
        if getattr(c, "type", "") == "component_instance"
        or "st_folium" in str(getattr(c, "proto", ""))[:2000]
    )
    assert "co-label-staging" in json.loads(comp.proto.json_args)["feature_group"]


def test_full_export_offers_zip_and_report():
    at = _run()
    next(b for b in at.sidebar.button if b.label == "Draw cordon").click()
    at.run()
    next(b for b in at.sidebar.button if b.label.startswith("Prepare full export")).click()
    at.run()
    assert not at.exception
    labels = [d.label for d in at.sidebar.get("download_button")]
    assert "Everything · zip" in labels and "Situation report · HTML (offline)" in labels
