"""The synthetic city (`cityops demo city`): valid layers, clearly labelled as made up."""

from __future__ import annotations

import numpy as np

from geo import cli, synthetic
from geo import scenario as scen


def test_demo_city_writes_a_labelled_scenario_that_loads(tmp_path, capsys):
    out = tmp_path / "city"
    argv = ["demo", "city", "--out", str(out), "--roads", "3000", "--sites", "40"]
    rc = cli.main([*argv, "--cells", "300", "--incidents", "25"])
    assert rc == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    sc = scen.load(out)
    assert "SYNTHETIC" in sc.name and "made up" in sc.settings.description.lower()
    assert "synthetic" in (out / "README.md").read_text().lower()
    n = {k: len(v) for k, v in sc.layers.items()}
    assert n["testing_sites"] == 40 and n["incidents"] == 25
    assert 2_500 <= n["roads"] <= 3_500  # "about" the number asked for
    assert 250 <= n["crowd_zones"] <= 350
    assert n["boundary"] == 1 and n["facilities"] >= 3
    # Every layer inside the city's boundary; the standing cordon has incidents to work with.
    box = sc.layer("boundary").geometry.iloc[0].buffer(1e-6)
    for kind in ("roads", "testing_sites", "incidents", "facilities"):
        assert sc.layer(kind).within(box).all(), kind
    inc = sc.layer("incidents")
    assert ((inc["severity"] >= 4) & (inc["status"] == "open")).sum() == 3


def test_same_seed_same_city():
    a = synthetic.city(roads=2_000, sites=10, cells=50, incidents_n=5, seed=3)
    b = synthetic.city(roads=2_000, sites=10, cells=50, incidents_n=5, seed=3)
    for kind in a.layers:
        assert a.layer(kind).geometry.equals(b.layer(kind).geometry), kind
    people = a.layer("crowd_zones")["people"].to_numpy()
    assert np.isfinite(people).all() and people.sum() > 0


def test_bad_sizes_are_refused(tmp_path, capsys):
    rc = cli.main(["demo", "city", "--out", str(tmp_path / "x"), "--roads", "0"])
    assert rc == 1
    assert "--roads" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
