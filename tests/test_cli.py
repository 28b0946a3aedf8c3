"""The ``cityops`` command line: validate and export."""

from __future__ import annotations

import json
import subprocess
import sys

from geo import io
from geo.cli import main
from geo.layers import LAYER_KINDS


def test_validate_ok(tmp_path, demo, capsys):
    path = tmp_path / "sites.geojson"
    io.write_geojson(demo.layer("testing_sites"), path)
    assert main(["validate", str(path), "--layer", "testing_sites"]) == 0
    assert "OK" in capsys.readouterr().out


def test_validate_bad_names_file_feature_field(tmp_path, capsys):
    path = tmp_path / "bad.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [121.6, 31.1]},
                        "properties": {"id": "s1", "name": "x", "lanes": -2, "per_lane_per_h": 100},
                    }
                ],
            }
        )
    )
    assert main(["validate", str(path), "--layer", "testing_sites"]) == 1
    err = capsys.readouterr().err
    assert "bad.geojson" in err and "s1" in err and "lanes" in err and ">= 1" in err


def test_export_writes_rfc7946(tmp_path, capsys):
    assert main(["export", "demo", "--out", str(tmp_path), "--gpkg"]) == 0
    for kind in LAYER_KINDS:
        data = json.loads((tmp_path / f"{kind}.geojson").read_text())
        assert data["type"] == "FeatureCollection" and "crs" not in data
    assert (tmp_path / "scenario.gpkg").stat().st_size > 0


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "geo.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "validate" in out.stdout and "export" in out.stdout


def test_catchment_and_isochrones(tmp_path, capsys, demo):
    out = tmp_path / "c.geojson"
    assert (
        main(["catchment", "demo", "--kind", "balanced", "--mode", "walk", "--out", str(out)]) == 0
    )
    data = json.loads(out.read_text())
    assert len(data["features"]) == len(demo.layer("testing_sites"))
    assert {"load", "finish_at", "people"} <= set(data["features"][0]["properties"])
    iso = tmp_path / "i.geojson"
    assert main(["isochrones", "demo", "--minutes", "5,10", "--out", str(iso)]) == 0
    assert {f["properties"]["min_to"] for f in json.loads(iso.read_text())["features"]} == {5, 10}


def test_catchment_without_roads_is_a_clear_error(tmp_path, demo, capsys):
    from geo import scenario as scen
    from geo.layers import empty

    sc = demo.with_layer("roads", empty("roads"))
    scen.save(sc, tmp_path / "noroads")
    assert main(["catchment", str(tmp_path / "noroads"), "--out", str(tmp_path / "x.geojson")]) == 1
    assert "no roads" in capsys.readouterr().err


def test_cordon_cli(tmp_path, capsys):
    assert (
        main(
            [
                "cordon",
                "demo",
                "--incident",
                "inc-001",
                "--rings",
                "500,2000,5000",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    bands = json.loads((tmp_path / "cordon_bands.geojson").read_text())
    assert [f["properties"]["band"] for f in bands["features"]] == [
        "lockdown",
        "control",
        "prevention",
    ]
    cps = json.loads((tmp_path / "checkpoints.geojson").read_text())
    assert cps["features"] and all("staff" in f["properties"] for f in cps["features"])
    assert "checkpoints" in capsys.readouterr().out
    assert main(["cordon", "demo", "--rings", "2000,500,5000", "--out", str(tmp_path)]) == 1
    assert "rings" in capsys.readouterr().err


def test_cordon_by_network_minutes(tmp_path):
    assert (
        main(
            [
                "cordon",
                "demo",
                "--incident",
                "inc-001",
                "--rings",
                "5,10,20",
                "--by",
                "network",
                "--unit",
                "min",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )


def test_crowd_aggregate_cli(tmp_path, capsys):
    import pandas as pd

    from geo import crowd

    pts = crowd.synthetic_points(20_000, seed=1)
    csv = tmp_path / "pts.csv"
    pd.DataFrame({"lon": pts["lon"], "lat": pts["lat"]}).to_csv(csv, index=False)
    out = tmp_path / "grid.geojson"
    assert (
        main(
            [
                "crowd",
                "aggregate",
                str(csv),
                "--cell",
                "200",
                "--out",
                str(out),
                "--observed-at",
                "2021-10-31T18:00:00+08:00",
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert sum(f["properties"]["people"] for f in data["features"]) == 20_000  # 1 per row
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat\n121.6,31.1\nabc,31.2\n")
    assert main(["crowd", "aggregate", str(bad), "--out", str(out)]) == 1
    assert "bad.csv" in capsys.readouterr().err


def test_stage_deadline_cli(tmp_path, capsys):
    out = tmp_path / "plan.geojson"
    assert (
        main(
            [
                "stage",
                "demo",
                "--objective",
                "deadline",
                "--deadline",
                "21:00",
                "--demand",
                "lockdown",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "#1" in text and "wrote" in text
    assert json.loads(out.read_text())["features"]


def test_stage_impossible_deadline_says_why(tmp_path, capsys):
    out = tmp_path / "plan.geojson"
    assert (
        main(
            [
                "stage",
                "demo",
                "--objective",
                "deadline",
                "--deadline",
                "18:10",
                "--demand",
                "lockdown",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "deadline" in capsys.readouterr().err.lower()
