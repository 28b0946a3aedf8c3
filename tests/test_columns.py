"""The column registry (geo/columns.py): aliases, value parsers, defaults, ids, guesses, the
hand-made mapping from the CLI, and where a mapping ends up (data notes, the export)."""

from __future__ import annotations

import io as pyio
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo import columns, report
from geo.cli import main
from geo.columns import REGISTRY, ColumnsMissing, apply, norm, parse_mapping
from geo.errors import InputError
from geo.layers import SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def frame(data: dict, geoms=None) -> gpd.GeoDataFrame:
    n = len(next(iter(data.values())))
    geoms = geoms or [shapely.Point(121.66 + i / 1000, 31.14) for i in range(n)]
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def test_every_registry_field_is_a_schema_field_and_aliases_do_not_collide():
    for kind, fields in REGISTRY.items():
        schema = SCHEMAS[kind]
        assert set(schema.columns) <= set(fields)
        seen: dict[str, str] = {}
        for f, spec in fields.items():
            for a in spec.aliases:
                assert a.family in columns.FAMILIES
                assert a.name == norm(a.name), a  # stored as compared
                # one alias, one field per kind (a field's own name may also be an OSM tag)
                assert seen.setdefault(a.name, f) == f, (kind, a.name)


def test_names_are_compared_loosely():
    assert norm(" Site Name ") == "site_name" and norm("ＬＡＮＥＳ") == "lanes"  # full-width
    assert norm("人数（人）") == "人数" and norm("Speed (km/h)") == "speed"


def test_issue_examples_chinese_english_and_osm_headers():
    zh = frame({"id": ["a"], "名称": ["北门"], "车道数": ["4"], "开放时间": ["08:00"]})
    out, notes, used = apply(zh, "testing_sites", defaults={"date": "2021-10-31"})
    assert used == {"名称": "name", "车道数": "lanes", "开放时间": "opens_at"}
    assert out["opens_at"].iloc[0] == "2021-10-31T08:00:00"
    assert out["per_lane_per_h"].iloc[0] == 150.0
    en = frame({"site_name": ["x"], "lanes": [2], "population": [3]})
    out, _, used = apply(en, "testing_sites")
    assert used == {"site_name": "name"} and "population" in out.columns  # not a sites field
    zones = frame({"id": ["z"], "population": ["1,200"], "time": ["2021-10-31T18:00+08:00"]})
    out, _, used = apply(zones, "crowd_zones")
    assert used == {"population": "people", "time": "observed_at"}
    assert out["people"].iloc[0] == "1200"
    crowd = frame({"人数": ["5"], "容量": ["9"], "人口": ["6"], "观测时间": ["t"]})
    _, notes, used = apply(crowd, "crowd_zones")
    assert used["人数"] == "people" and used["容量"] == "capacity" and "人口" not in used


def test_speed_units_and_osm_symbols():
    lines = [shapely.LineString([(0, 0), (1, 0)])] * 5
    osm = frame(
        {"osm_id": list("12345"), "highway": ["primary"] * 5,
         "maxspeed": ["30 mph", "50", "20 knots", "none", "60 km/h"]},
        lines,
    )  # fmt: skip
    out, notes, _ = apply(osm, "roads")
    speeds = list(out["speed_kmh"])
    assert speeds[0] == pytest.approx(48.28032) and speeds[1] == 50 and speeds[4] == 60
    assert speeds[2] == pytest.approx(37.04) and speeds[3] is None
    assert any("'none'" in n for n in notes) and any("mph or knots" in n for n in notes)
    # outside an OSM column a word is not silently dropped: validation will refuse it
    plain = frame({"id": ["1"], "road_class": ["primary"], "speed_kmh": ["fast"]}, lines[:1])
    out, _, _ = apply(plain, "roads")
    assert out["speed_kmh"].iloc[0] == "fast"


def test_oneway_minus_one_reverses_the_line_and_odd_values_are_counted():
    line = shapely.LineString([(0, 0), (1, 0)])
    roads = frame(
        {"osm_id": ["1", "2", "3", "4"], "highway": ["primary"] * 4,
         "oneway": ["yes", "-1", "no", "reversible"]},
        [line] * 4,
    )  # fmt: skip
    out, notes, _ = apply(roads, "roads")
    assert list(out["oneway"]) == [True, True, False, None]
    assert list(out.geometry.iloc[1].coords) == [(1, 0), (0, 0)]
    assert list(out.geometry.iloc[0].coords) == [(0, 0), (1, 0)]
    assert any("reversed" in n for n in notes) and any("'reversible'" in n for n in notes)


def test_a_hand_made_mapping_wins_and_keeps_the_displaced_column():
    f = frame({"name": ["old"], "名称": ["新"], "lanes": [2]})
    out, notes, used = apply(f, "testing_sites", mapping={"name": "名称"})
    assert out["name"].iloc[0] == "新" and out["name_in_file"].iloc[0] == "old"
    assert used == {"名称": "name"} and any("by hand" in n for n in notes)


def test_missing_fields_are_guessed_by_name_then_content():
    f = frame({"id": ["a", "b"], "标题": ["x", "y"], "nm": ["Gate", "Hub"], "工位": ["3", "4"]})
    with pytest.raises(ColumnsMissing) as e:
        apply(f, "testing_sites", source="s.csv")
    assert e.value.missing == ["name", "lanes"]
    assert e.value.guesses == {"name": "nm", "lanes": "工位"}
    assert e.value.problems[0].file == "s.csv" and e.value.problems[0].field == "name"


def test_parse_mapping_reads_cli_text_and_refuses_nonsense():
    assert parse_mapping("name=名称, lanes=车道数") == {"name": "名称", "lanes": "车道数"}
    assert parse_mapping(["name=a", "lanes=b"]) == {"name": "a", "lanes": "b"}
    with pytest.raises(InputError, match="is not a column mapping"):
        parse_mapping("name")


def test_scenario_defaults_come_from_settings():
    from geo.scenario import Settings

    d = columns.scenario_defaults(Settings(per_lane_per_h=120, now="2021-10-31T18:05:00+08:00"))
    assert d == {"per_lane_per_h": 120.0, "date": "2021-10-31"}


def test_time_of_day_without_a_date_is_refused_not_put_on_today():
    data = b"id,name,lanes,lon,lat,opens_at\ns1,A,2,121.66,31.14,08:00\n"
    from geo.io import read_layer

    with pytest.raises(InputError, match="is a time of day without a date"):
        read_layer(data, "testing_sites", name="s.csv")
    layer, rep = read_layer(data, "testing_sites", name="s.csv", defaults={"date": "2021-10-31"})
    assert layer["opens_at"].iloc[0] == pd.Timestamp("2021-10-31T08:00+08:00")
    assert any("on the scenario's date 2021-10-31" in n for n in rep.notes)


def test_the_docs_list_every_field_and_alias():
    doc = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    assert columns.markdown_table() in doc, "regenerate the table: geo.columns.markdown_table()"


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_validate_maps_columns_and_reads_defaults(tmp_path, capsys):
    src = str(FIXTURES / "sites_unmapped_zh.csv")
    assert main(["validate", src, "--layer", "testing_sites"]) == 1
    err = capsys.readouterr().err
    assert "field 'lanes': required column is missing" in err and "--map lanes=" in err
    assert "best guess: 工位" in err
    assert main(["validate", src, "--layer", "testing_sites", "--map", "lanes=工位"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "columns mapped by hand: '工位' -> lanes" in out
    folder = tmp_path / "sc"
    folder.mkdir()
    (folder / "scenario.json").write_text('{"per_lane_per_h": 90}')
    args = ["validate", str(FIXTURES / "sites_zh.csv"), "--layer", "testing_sites"]
    assert main([*args, "--scenario", str(folder)]) == 0
    assert "per_lane_per_h not in the file: 90" in capsys.readouterr().out
    assert main([*args, "--map", "lanes"]) == 1
    assert "is not a column mapping" in capsys.readouterr().err


# --- the export carries the notes --------------------------------------------------------------


def test_the_full_export_carries_the_data_notes_and_mappings(demo):
    from geo.io import read_layer

    layer, rep = read_layer(FIXTURES / "sites_zh.csv", "testing_sites")
    sc = demo.with_layer("testing_sites", layer, rep)
    data = report.export_zip(sc)
    with zipfile.ZipFile(pyio.BytesIO(data)) as z:
        notes = z.read("data_notes.txt").decode("utf-8")
    assert "sites_zh.csv: 3 testing_sites feature(s)" in notes
    assert "column '名称' -> name" in notes and "column '车道数' -> lanes" in notes
