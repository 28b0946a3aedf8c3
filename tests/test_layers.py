"""Layer validation: coercion, repairs reported, every problem named by file, feature and field."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from geo.errors import InputError
from geo.layers import LAYER_KINDS, SCHEMAS, empty, validate


def sites(**overrides) -> gpd.GeoDataFrame:
    data = {
        "id": ["a", "b"],
        "name": ["Gate", "Hub"],
        "lanes": [4, 10],
        "per_lane_per_h": [150, 120.5],
    }
    data.update(overrides)
    geoms = data.pop("geometry", [Point(121.66, 31.14), Point(121.67, 31.15)])
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def test_valid_layer_is_coerced_and_completed():
    gdf, report = validate(sites(id=[1, 2.0]), "testing_sites", source="s.geojson")
    assert list(gdf["id"]) == ["1", "2"]
    assert str(gdf["lanes"].dtype) == "Int64"
    assert gdf.crs.to_epsg() == 4326
    # optional columns exist (empty), schema columns come first, geometry last
    assert (
        list(gdf.columns[: len(SCHEMAS["testing_sites"].columns)])
        == SCHEMAS["testing_sites"].columns
    )
    assert gdf.columns[-1] == "geometry"
    assert report.features == 2 and not report.repaired


def test_extra_columns_are_kept():
    gdf, _ = validate(sites(operator=["x", "y"]), "testing_sites")
    assert list(gdf["operator"]) == ["x", "y"]


def test_missing_required_column_names_the_field():
    with pytest.raises(InputError) as e:
        validate(sites().drop(columns="lanes"), "testing_sites", source="sites.csv")
    assert e.value.field == "lanes" and e.value.file == "sites.csv"
    assert "whole number" in str(e.value)


@pytest.mark.parametrize(
    ("field", "values", "fragment"),
    [
        ("lanes", [0, 3], "out of range"),
        ("lanes", ["four", 3], "not a number"),
        ("lanes", [2.5, 3], "not a whole number"),
        ("per_lane_per_h", [None, 3], "missing"),
    ],
)
def test_bad_values_name_feature_field_and_expectation(field, values, fragment):
    with pytest.raises(InputError) as e:
        validate(sites(**{field: values}), "testing_sites", source="up.geojson")
    p = e.value.problems[0]
    assert p.field == field and p.file == "up.geojson" and "id a" in str(p.feature)
    assert fragment in p.message and p.expected


def test_severity_range_and_time_zone():
    inc = gpd.GeoDataFrame(
        {"id": ["i1"], "kind": ["fire"], "severity": [9], "reported_at": ["2021-10-31 18:05"]},
        geometry=[Point(121.66, 31.14)],
        crs="EPSG:4326",
    )
    with pytest.raises(InputError, match="severity.*from 1 to 5"):
        validate(inc, "incidents")
    inc["severity"] = [5]
    gdf, report = validate(inc, "incidents", tz="Asia/Shanghai")
    assert gdf["reported_at"].iloc[0] == pd.Timestamp("2021-10-31T18:05:00+08:00")
    assert "no time zone" in report.summary()


def test_bad_time_is_named():
    inc = gpd.GeoDataFrame(
        {"id": ["i1"], "kind": ["x"], "severity": [1], "reported_at": ["yesterday-ish"]},
        geometry=[Point(121.66, 31.14)],
        crs="EPSG:4326",
    )
    with pytest.raises(InputError) as e:
        validate(inc, "incidents")
    assert e.value.field == "reported_at" and "ISO 8601" in e.value.expected


def test_duplicate_ids_rejected():
    with pytest.raises(InputError, match="used by more than one"):
        validate(sites(id=["a", "a"]), "testing_sites")


def test_invalid_polygon_is_repaired_and_reported():
    bowtie = Polygon([(121.60, 31.10), (121.62, 31.12), (121.62, 31.10), (121.60, 31.12)])
    zones = gpd.GeoDataFrame(
        {"id": ["z"], "people": [100], "observed_at": ["2021-10-31T18:00+08:00"]},
        geometry=[bowtie],
        crs="EPSG:4326",
    )
    gdf, report = validate(zones, "crowd_zones", source="z.geojson")
    assert gdf.geometry.iloc[0].is_valid and gdf.geometry.iloc[0].area > 0
    assert report.repaired == ["#0 (id z)"]
    assert "1 invalid geometry repaired" in report.summary()


def test_wrong_and_empty_geometry_are_named():
    gdf = sites(geometry=[LineString([(121.6, 31.1), (121.7, 31.2)]), Point()])
    with pytest.raises(InputError) as e:
        validate(gdf, "testing_sites", source="s.gpkg")
    msgs = [str(p) for p in e.value.problems]
    assert any("LineString" in m and "expected Point" in m for m in msgs)
    assert any("empty" in m and "id b" in m for m in msgs)


def test_swapped_lat_lon_is_recognised_and_fixable():
    swapped = sites(geometry=[Point(31.14, 121.66), Point(31.15, 121.67)])
    with pytest.raises(InputError, match="look swapped"):
        validate(swapped, "testing_sites")
    gdf, _ = validate(swapped, "testing_sites", swap_xy=True)
    assert gdf.geometry.iloc[0].x == pytest.approx(121.66)


def test_projected_metres_without_crs_are_an_error():
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    pts = [Point(*to_utm.transform(121.66, 31.14)), Point(*to_utm.transform(121.67, 31.15))]
    gdf = sites(geometry=pts).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no coordinate reference system"):
        validate(gdf, "testing_sites")
    with pytest.raises(InputError, match="not longitude/latitude"):
        validate(gdf, "testing_sites", assume_crs="EPSG:4326")
    out, _ = validate(gdf, "testing_sites", assume_crs="EPSG:32651")
    assert out.geometry.iloc[0].x == pytest.approx(121.66, abs=1e-9)


def test_unknown_crs_is_an_error():
    gdf = sites().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="unknown coordinate reference system"):
        validate(gdf, "testing_sites", assume_crs="EPSG:99999999")


def test_empty_layer_rules():
    gdf = sites().iloc[:0]
    with pytest.raises(InputError, match="no features"):
        validate(gdf, "testing_sites", source="e.geojson")
    out, _ = validate(gdf, "testing_sites", allow_empty=True)
    assert len(out) == 0 and list(out.columns) == list(empty("testing_sites").columns)


def test_unknown_kind():
    with pytest.raises(InputError, match="unknown layer kind"):
        validate(sites(), "spaceships")


def test_many_problems_are_summarised():
    gdf = sites(id=[str(i) for i in range(2)], lanes=[0, 0])
    gdf = pd.concat([gdf] * 10, ignore_index=True)
    gdf["id"] = [str(i) for i in range(len(gdf))]
    with pytest.raises(InputError) as e:
        validate(gdf, "testing_sites")
    assert len(e.value.problems) == 20
    assert "and 10 more" in str(e.value)


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_every_kind_has_an_empty_template(kind):
    assert "id" in empty(kind).columns


def test_a_list_value_is_named_as_such_and_only_where_it_is():
    with pytest.raises(InputError) as e:
        validate(sites(per_lane_per_h=[[150], 150]), "testing_sites", source="s.geojson")
    (p,) = e.value.problems
    assert p.feature == "#0 (id a)" and p.message == "'[150]' is a list, not one number"


def test_over_long_values_are_one_short_message_each():
    from geo.limits import Limits

    big = "7" * 50_000
    with pytest.raises(InputError) as e:
        validate(
            sites(id=[big, "b"], lanes=[big, 2]),
            "testing_sites",
            source="s.geojson",
            limits_=Limits(max_field_chars=1000),
        )
    msgs = [(p.field, p.message) for p in e.value.problems]
    assert [f for f, _ in msgs] == ["id", "lanes"]  # no 'not a number', no 'missing'
    assert all("50,000 characters long" in m for _, m in msgs)
    assert len(str(e.value)) < 800 and big not in str(e.value)


def test_feature_count_limit_and_reader_row_labels():
    from geo.limits import Limits

    with pytest.raises(InputError, match="2 features, more than the limit of 1"):
        validate(sites(), "testing_sites", limits_=Limits(max_features=1))
    with pytest.raises(InputError) as e:
        validate(sites(lanes=[0, 2]), "testing_sites", labels=["row 1 (line 2)", "row 2"])
    assert e.value.feature == "row 1 (line 2) (id a)"


def test_messages_quote_values_escaped_and_short():
    with pytest.raises(InputError) as e:
        validate(sites(kind=["fixed\nline2" + "x" * 100, "mobile"]), "testing_sites")
    msg = e.value.problems[0].message
    assert "\n" not in msg and "\\n" in msg and "characters)" in msg
