"""Scenario load/save (folder and GeoPackage), uploads that leave the rest untouched, KPIs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from geo import scenario as scen
from geo.errors import InputError
from geo.layers import LAYER_KINDS


def test_demo_has_every_layer(demo):
    for kind in ("incidents", "testing_sites", "crowd_zones", "roads", "facilities", "boundary"):
        assert len(demo.layer(kind)) > 0, kind
    assert demo.settings.timezone == "Asia/Shanghai"
    assert demo.metric_crs().to_epsg() == 32651
    assert len(demo.hospitals()) >= 1


def test_kpis_are_sums_of_the_layers(demo):
    k = demo.kpis()
    sites = demo.layer("testing_sites")
    assert k["testing_sites"] == len(sites)
    assert k["lanes"] == int(sites["lanes"].sum())
    assert k["tests_per_hour"] == pytest.approx(
        float((sites["lanes"] * sites["per_lane_per_h"]).sum())
    )
    assert k["people_in_crowd_zones"] == pytest.approx(
        float(demo.layer("crowd_zones")["people"].sum())
    )
    assert k["open_incidents"] >= 1


@pytest.mark.parametrize("suffix", ["", ".gpkg"])
def test_save_and_load_round_trip(demo, tmp_path, suffix):
    out = scen.save(demo, tmp_path / f"copy{suffix}")
    back = scen.load(out)
    assert back.settings == demo.settings
    for kind in LAYER_KINDS:
        a, b = demo.layer(kind), back.layer(kind)
        assert list(a["id"]) == list(b["id"]), kind
        cols = [c for c in a.columns if c != "geometry"]
        pd.testing.assert_frame_equal(
            a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_dtype=False
        )
        assert (
            a.geometry.reset_index(drop=True)
            .geom_equals_exact(b.geometry.reset_index(drop=True), tolerance=1e-7)
            .all()
        ), kind


def test_with_layer_is_copy_on_write(demo):
    sites = demo.layer("testing_sites").iloc[:1].copy()
    sites["id"] = ["new-1"]
    new = demo.with_layer("testing_sites", sites, mode="append")
    assert len(new.layer("testing_sites")) == len(demo.layer("testing_sites")) + 1
    assert len(demo.layer("testing_sites")) == len(new.layer("testing_sites")) - 1
    with pytest.raises(InputError, match="already in the testing_sites layer"):
        demo.with_layer("testing_sites", demo.layer("testing_sites").iloc[:1], mode="append")


def test_bad_scenarios_are_explained(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        scen.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no layer files"):
        scen.load(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "scenario.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON") as e:
        scen.load(bad)
    assert "scenario.json" in str(e.value)
    (bad / "scenario.json").write_text(json.dumps({"timezone": "Mars/Olympus"}))
    with pytest.raises(InputError, match="unknown time zone"):
        scen.load(bad)


def test_settings_times(demo):
    now, deadline = demo.settings.time("now"), demo.settings.time("deadline")
    assert str(now.tz) == "Asia/Shanghai" and deadline > now
