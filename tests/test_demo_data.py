"""The embedded demo scenario (data/disney_2021): up to date, valid, and true to the facts.

Facts are restated here from the sources in data/README.md, not imported from the generator, so a
change to the generator that breaks a fact fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from geo import layers
from geo.crs import local_crs

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "disney_2021"
SCRIPT = ROOT / "data" / "make_demo.py"
# Every layer but the drawn cordons (drawn by the user on the night, not shipped).
DEMO_KINDS = tuple(k for k in layers.LAYER_KINDS if k != "cordons")
FILES = ["scenario.json", *(f"{kind}.geojson" for kind in DEMO_KINDS)]

# Facts (FACTS.md; sources in data/README.md).
PARK_CENTRE = (121.6570, 31.1440)  # Wikipedia
PARK_AREA_KM2 = 3.9  # Wikipedia
STATION = (121.663737, 31.143429)  # Wikipedia
NOTICE = pd.Timestamp("2021-10-31T18:05:00+08:00")  # Shine, Sixth Tone, AP
TESTED = 33_863  # negative by 08:00 on 1 Nov (Shine, Sixth Tone, AP)
PUDONG_PER_KM2 = 5_681_512 / 1_210  # 2020 census / land area
HOSPITAL_DRIVE_MIN = 15  # China Daily 2016-01-29


def diff_folders(a: Path, b: Path) -> list[str]:
    """Files that differ between two scenario folders (missing counts as different)."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    return [
        n
        for n in names
        if not ((a / n).exists() and (b / n).exists())
        or (a / n).read_bytes() != (b / n).read_bytes()
    ]


@pytest.fixture(scope="module")
def raw() -> dict[str, dict]:
    return {f: json.loads((DEMO / f).read_text(encoding="utf-8")) for f in FILES}


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for kind in DEMO_KINDS:
        path = DEMO / f"{kind}.geojson"
        out[kind], _ = layers.validate(gpd.read_file(path), kind, source=path.name)
    return out


@pytest.fixture(scope="module")
def crs(demo):
    return local_crs(demo["boundary"])


@pytest.fixture(scope="module")
def park(demo, crs) -> shapely.Polygon:
    inc = demo["incidents"]
    return inc[inc["kind"] == "outbreak_trace"].to_crs(crs).geometry.iloc[0]


def _point(lonlat: tuple[float, float], crs) -> Point:
    return gpd.GeoSeries([Point(lonlat)], crs=4326).to_crs(crs).iloc[0]


# --- the folder is what the script writes -------------------------------------------------------


def test_folder_is_up_to_date(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    stale = diff_folders(DEMO, out)
    assert not stale, f"{stale} differ from a fresh run: rerun `python data/make_demo.py`"


def test_diff_folders_sees_a_change(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.geojson").write_text('{"a": 1}')
    (b / "x.geojson").write_text('{"a": 1}')
    assert diff_folders(a, b) == []
    (b / "x.geojson").write_text('{"a": 2}')
    (b / "y.geojson").write_text("{}")
    assert diff_folders(a, b) == ["x.geojson", "y.geojson"]


def test_folder_is_small():
    assert sum(p.stat().st_size for p in DEMO.iterdir()) < 1.5e6
    assert sorted(p.name for p in DEMO.iterdir()) == sorted(FILES)


# --- format -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DEMO_KINDS)
def test_layer_validates_cleanly(kind):
    path = DEMO / f"{kind}.geojson"
    gdf, report = layers.validate(gpd.read_file(path), kind, source=path.name)
    assert report.features == len(gdf) > 0
    assert report.repaired == [] and report.notes == []
    assert gdf["id"].is_unique
    assert str(gdf.crs) == "EPSG:4326"


@pytest.mark.parametrize("kind", DEMO_KINDS)
def test_geojson_follows_rfc7946_and_the_schema(raw, kind):
    fc = raw[f"{kind}.geojson"]
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    schema = layers.SCHEMAS[kind]
    for feat in fc["features"]:
        props = feat["properties"]
        assert list(props) == schema.columns, "columns and order of geo/layers.py SCHEMAS"
        assert isinstance(props["id"], str)
        for f in schema.fields:
            if f.dtype == "datetime" and props[f.name] is not None:
                assert re.fullmatch(r"2021-1[01]-\d\dT\d\d:\d\d:00\+08:00", props[f.name])
        geom = shapely.geometry.shape(feat["geometry"])
        xy = shapely.get_coordinates(geom)
        assert np.all(np.abs(np.round(xy, 7) - xy) < 1e-12), "at most 7 decimals"
        lon, lat = xy[:, 0], xy[:, 1]
        assert np.all((121.5 < lon) & (lon < 121.8) & (31.0 < lat) & (lat < 31.3)), "lon/lat order"
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type == "Polygon":
                assert poly.exterior.is_ccw, f"{props['id']}: exterior must be counter-clockwise"


def test_scenario_settings(raw):
    s = raw["scenario.json"]
    assert s["timezone"] == "Asia/Shanghai"
    assert pd.Timestamp(s["now"]) == NOTICE
    assert pd.Timestamp(s["deadline"]) == pd.Timestamp("2021-10-31T23:00:00+08:00")
    assert 100 <= s["per_lane_per_h"] <= 200  # the working assumption in FACTS
    assert s["walk_kmh"] == 4.5
    for cls in ["motorway", "trunk", "primary", "secondary", "tertiary", "residential", "service"]:
        assert s["drive_speeds_kmh"][cls] > 0
        assert s["checkpoint_staff"][cls] >= 1


def test_readme_counts_match(demo):
    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for kind, gdf in demo.items():
        m = re.search(rf"^\| `{kind}\.geojson` \| (\d[\d,]*) \|", text, re.MULTILINE)
        assert m, f"data/README.md has no row for {kind}"
        assert int(m.group(1).replace(",", "")) == len(gdf), kind


# --- facts --------------------------------------------------------------------------------------


def test_outbreak_trace_is_the_park_at_18_05(demo, park, crs):
    inc = demo["incidents"]
    trace = inc[inc["kind"] == "outbreak_trace"]
    assert len(trace) == 1
    row = trace.iloc[0]
    assert row["reported_at"] == NOTICE
    assert row["severity"] == 5 and row["status"] == "open"
    assert len(inc) >= 3  # plus made-up follow-on incidents
    assert (inc["reported_at"] >= NOTICE).all()
    assert park.area / 1e6 == pytest.approx(PARK_AREA_KM2, rel=0.01)
    centre = _point(PARK_CENTRE, crs)
    assert park.centroid.distance(centre) < 300
    assert park.contains(centre) and park.exterior.distance(centre) > 300


def test_station_is_just_east_of_the_park_gates(demo, park, crs):
    fac = demo["facilities"]
    station = fac[fac["kind"] == "metro_station"].to_crs(crs).geometry.iloc[0]
    assert station.distance(_point(STATION, crs)) < 1
    assert not park.contains(station)
    assert 50 < park.distance(station) < 300
    assert station.x > park.bounds[2]  # east of the park
    zones = demo["crowd_zones"].set_index("id").to_crs(crs)
    assert zones.geometry["resort-station"].contains(station)
    assert zones.geometry["resort-lake"].centroid.y < station.y  # station north of the lake
    bus = fac[fac["kind"] == "bus_terminal"].to_crs(crs).geometry.iloc[0]
    assert bus.y > station.y  # bus terminal on its north side


def test_hospital_is_about_15_minutes_drive(demo, raw, crs):
    speeds = raw["scenario.json"]["drive_speeds_kmh"]
    roads = demo["roads"].to_crs(crs)
    roads = roads[roads["road_class"] != "footway"]
    graph = nx.Graph()
    for geom, cls, kmh in zip(roads.geometry, roads["road_class"], roads["speed_kmh"], strict=True):
        v = kmh if pd.notna(kmh) else speeds[cls]
        a, b = (tuple(np.round(geom.coords[k], 2)) for k in (0, -1))
        graph.add_edge(a, b, minutes=geom.length / (v / 3.6) / 60)
    nodes = np.array(list(graph))

    def nearest(p: Point) -> tuple:
        return tuple(nodes[np.argmin(np.hypot(nodes[:, 0] - p.x, nodes[:, 1] - p.y))])

    fac = demo["facilities"].set_index("id").to_crs(crs)
    minutes = nx.shortest_path_length(
        graph,
        nearest(fac.geometry["metro-disney-resort"]),
        nearest(fac.geometry["hosp-pudong"]),
        weight="minutes",
    )
    assert HOSPITAL_DRIVE_MIN * 0.7 < minutes < HOSPITAL_DRIVE_MIN * 1.3
    assert fac.loc["hosp-pudong", "capacity"] == 1000  # about 1,000 beds
    assert "approximate" in fac.loc["hosp-pudong", "name"]


# --- crowd zones --------------------------------------------------------------------------------


def _resort(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return zones[zones["id"].str.startswith(("park-", "resort-"))]


def test_park_is_split_into_lands(demo, park, crs):
    zones = demo["crowd_zones"].to_crs(crs)
    lands = zones[zones["id"].str.startswith("park-")]
    assert 4 <= len(lands) <= 6
    union = shapely.union_all(lands.geometry.values)
    assert union.symmetric_difference(park).area < 1e-4 * park.area


def test_zones_do_not_overlap_and_stay_inside(demo, crs):
    zones = demo["crowd_zones"].to_crs(crs)
    union = shapely.union_all(zones.geometry.values)
    assert zones.area.sum() - union.area < 10  # m²; people are spread within one zone only
    area = demo["boundary"].to_crs(crs).geometry.iloc[0]
    assert union.difference(area.buffer(0.05)).area < 1  # inside to within rounding (1 cm)


def test_people_totals_are_plausible(demo, crs):
    zones = demo["crowd_zones"].to_crs(crs)
    resort = _resort(zones)
    assert 0.97 * TESTED < resort["people"].sum() < 1.08 * TESTED
    lands = zones[zones["id"].str.startswith("park-")]
    assert lands["people"].sum() > 0.6 * resort["people"].sum()  # most were in the park
    over = zones[zones["people"] > zones["capacity"]]
    assert "resort-station" in set(over["id"])
    town = zones[zones["id"].str.startswith("nbh-")]
    density = town["people"] / (town.area / 1e6)
    assert ((density > 500) & (density < 20_000)).all(), density
    area_km2 = demo["boundary"].to_crs(crs).area.iloc[0] / 1e6
    assert 110 < area_km2 < 130  # about 12 km x 10 km
    assert 0.2 < zones["people"].sum() / area_km2 / PUDONG_PER_KM2 < 1.5
    assert (
        zones["observed_at"]
        .between(pd.Timestamp("2021-10-31T18:00+08:00"), pd.Timestamp("2021-10-31T18:10+08:00"))
        .all()
    )


# --- testing sites ------------------------------------------------------------------------------


def _capacity_by(sites: pd.DataFrame, when: str) -> float:
    end = sites["closes_at"].clip(upper=pd.Timestamp(when))
    hours = ((end - sites["opens_at"]).dt.total_seconds() / 3600).clip(lower=0)
    return float((hours * sites["lanes"] * sites["per_lane_per_h"]).sum())


def test_testing_sites_are_plausible(demo):
    s = demo["testing_sites"]
    assert 8 <= len(s) <= 12
    assert s["lanes"].between(4, 40).all()
    assert s["per_lane_per_h"].between(100, 200).all()
    assert (
        s["opens_at"]
        .between(pd.Timestamp("2021-10-31T19:00+08:00"), pd.Timestamp("2021-10-31T20:00+08:00"))
        .all()
    )
    assert (s["closes_at"] <= pd.Timestamp("2021-11-01T08:00+08:00")).all()
    assert (s["closes_at"] > s["opens_at"]).all()
    assert (s["queue"] == 0).all() and (s["tested"] == 0).all()
    assert set(s["kind"]) == {"fixed", "mobile"}


def test_testing_capacity_is_tight_by_23_00_and_ample_by_dawn(demo, crs):
    zones = demo["crowd_zones"].to_crs(crs)
    resort_area = shapely.union_all(_resort(zones).geometry.values).buffer(500)
    sites = demo["testing_sites"].to_crs(crs)
    on_site = sites[sites.within(resort_area)]
    assert 8 <= len(on_site) < len(sites)  # the rest serve Chuansha
    people = _resort(zones)["people"].sum()
    assert 1.0 < _capacity_by(on_site, "2021-10-31T23:00+08:00") / people < 1.25
    assert _capacity_by(on_site, "2021-11-01T06:00+08:00") / people > 2


# --- roads --------------------------------------------------------------------------------------


def _graph(roads: gpd.GeoDataFrame) -> nx.Graph:
    graph = nx.Graph()
    for i, geom in enumerate(roads.geometry):
        graph.add_edge(geom.coords[0], geom.coords[-1], key=i, length=geom.length)
    return graph


def test_road_network_is_connected(demo, park, crs):
    roads = demo["roads"].to_crs(crs)  # coordinates shared exactly in lon/lat stay shared
    assert 300 <= len(roads) <= 2000
    graph = _graph(roads)
    largest = max(nx.connected_components(graph), key=len)
    in_largest = np.array([geom.coords[0] in largest for geom in roads.geometry])
    assert roads.length[in_largest].sum() >= 0.95 * roads.length.sum()
    in_park = roads.intersects(park).to_numpy()
    assert (roads["road_class"][in_park] == "footway").sum() >= 10
    assert in_largest[in_park].all(), "park footways must reach the gates"


def test_surface_roads_meet_only_at_end_points(demo):
    roads = demo["roads"]
    grade_separated = (roads["road_class"] == "motorway") | roads["name"].fillna("").str.contains(
        "Elevated$"
    )
    surface = roads[~grade_separated].geometry.values
    noded = shapely.node(shapely.MultiLineString(list(surface)))
    assert len(noded.geoms) == len(surface), "a road crosses another without a shared node"


def test_road_attributes(demo):
    roads = demo["roads"]
    classes = set(roads["road_class"])
    for cls in ["trunk", "primary", "secondary", "tertiary", "residential", "service", "footway"]:
        assert cls in classes
    assert 3 <= roads["oneway"].sum() < 0.1 * len(roads)
    assert roads["speed_kmh"].notna().any() and roads["speed_kmh"].isna().any()
    trunk = roads[roads["road_class"] == "trunk"]
    assert trunk["name"].str.startswith("Shenjiang Road").all()
    main = roads["road_class"].isin(["motorway", "trunk", "primary", "secondary"])
    assert roads.loc[main, "name"].notna().mean() > 0.8


def test_facilities(demo, crs):
    fac = demo["facilities"]
    counts = fac["kind"].value_counts()
    assert counts["hospital"] >= 2 and counts["police"] >= 1
    assert 25 <= counts["staging_candidate"] <= 35
    area = demo["boundary"].to_crs(crs).geometry.iloc[0]
    assert fac.to_crs(crs).within(area).all()
