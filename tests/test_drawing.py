"""Drawings: what the map sends back (parse), what changed (diff), and an offline page."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import shapely.affinity
from pyproj import CRS
from shapely.geometry import Point, Polygon, mapping

from geo import drawing, mapview
from geo.errors import InputError

UTM51 = CRS.from_epsg(32651)  # Shanghai
LON, LAT = 121.66, 31.14
EVIL = '<img src=x onerror="window.__pwned=1">Gate & <b>co</b>'


def _square(lon: float = LON, lat: float = LAT, d: float = 0.002) -> Polygon:
    return Polygon([(lon - d, lat - d), (lon + d, lat - d), (lon + d, lat + d), (lon - d, lat + d)])


def _feature(geom, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _links(html: str) -> list[str]:
    """What the page loads: script sources and stylesheet links."""
    return re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.fixture
def saved() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["c1", "m1"], "role": ["lockdown", "incident"], "name": [EVIL, None]},
        geometry=[_square(), Point(LON + 0.01, LAT)],
        crs=4326,
    )


# --- parse ----------------------------------------------------------------------------------------


def test_none_and_empty_give_an_empty_frame():
    for value in (None, []):
        gdf = drawing.parse_drawings(value, UTM51)
        assert len(gdf) == 0
        assert list(gdf.columns) == ["id", "role", "name", "radius_m", "repaired", "geometry"]
        assert gdf.crs.to_epsg() == 4326


def test_circle_becomes_a_polygon_of_its_radius():
    r = 250.0
    gdf = drawing.parse_drawings([_feature(Point(LON, LAT), radius=r)], UTM51)
    geom = gdf.geometry.iloc[0]
    assert geom.geom_type == "Polygon"
    assert gdf["radius_m"].iloc[0] == r
    assert len(geom.exterior.coords) - 1 == 4 * drawing.CIRCLE_QUAD_SEGS
    area = gpd.GeoSeries([geom], crs=4326).to_crs(UTM51).area.iloc[0]
    assert area == pytest.approx(math.pi * r**2, rel=0.01)
    # the centre stays where it was drawn (within a few centimetres)
    centre = gpd.GeoSeries([geom.centroid], crs=4326).to_crs(UTM51).iloc[0]
    drawn = gpd.GeoSeries([Point(LON, LAT)], crs=4326).to_crs(UTM51).iloc[0]
    assert centre.distance(drawn) < 0.05


def test_circle_without_metric_crs_uses_the_local_utm_zone():
    gdf = drawing.parse_drawings([_feature(Point(LON, LAT), radius=100)], None)
    area = gpd.GeoSeries(gdf.geometry, crs=4326).to_crs(UTM51).area.iloc[0]
    assert area == pytest.approx(math.pi * 100**2, rel=0.01)


def test_properties_are_kept_and_new_drawings_have_no_id():
    gdf = drawing.parse_drawings(
        [
            _feature(_square(), id="c1", role="lockdown", name="Block 7"),
            _feature(Point(LON, LAT)),  # a marker just drawn
            {"type": "Feature", "id": "x9", "properties": None, "geometry": mapping(_square())},
        ],
        UTM51,
    )
    assert list(gdf["id"]) == ["c1", None, "x9"]
    assert list(gdf["role"]) == ["lockdown", None, None]
    assert list(gdf["name"]) == ["Block 7", None, None]
    assert list(gdf.geometry.geom_type) == ["Polygon", "Point", "Polygon"]
    assert not gdf["repaired"].any()
    assert math.isnan(gdf["radius_m"].iloc[1])


def test_self_intersecting_polygon_is_repaired_and_flagged():
    bowtie = Polygon([(LON, LAT), (LON + 0.01, LAT + 0.01), (LON + 0.01, LAT), (LON, LAT + 0.01)])
    assert not bowtie.is_valid
    gdf = drawing.parse_drawings([_feature(bowtie, id="b")], UTM51)
    geom = gdf.geometry.iloc[0]
    assert geom.is_valid and geom.area > 0
    assert geom.geom_type in ("Polygon", "MultiPolygon")
    assert gdf["repaired"].tolist() == [True]


def test_line_is_rejected_naming_feature_and_field():
    line = {"type": "LineString", "coordinates": [[LON, LAT], [LON + 0.01, LAT]]}
    with pytest.raises(InputError) as err:
        drawing.parse_drawings(
            [_feature(_square()), {"type": "Feature", "properties": {}, "geometry": line}],
            UTM51,
        )
    assert err.value.feature == 1 and err.value.field == "geometry"
    text = str(err.value)
    assert "feature 1" in text and "'geometry'" in text and "LineString" in text
    assert "expected" in text and "Polygon" in text


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [LON, 95.0]},  # latitude out of range
        {"type": "Point", "coordinates": ["a", "b"]},
        {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.01, LAT]]]},  # not a ring
        {
            "type": "Polygon",
            "coordinates": [[[LON, LAT], [LON + 1, LAT], [LON + 2, LAT], [LON, LAT]]],
        },
        None,
    ],
)
def test_bad_coordinates_are_rejected(geometry):
    features = [
        _feature(Point(LON, LAT)),
        {"type": "Feature", "properties": {}, "geometry": geometry},
    ]
    with pytest.raises(InputError) as err:
        drawing.parse_drawings(features, UTM51)
    assert err.value.feature == 1 and err.value.field == "geometry"
    assert "feature 1" in str(err.value)


def test_bad_radius_and_repeated_id_are_rejected():
    with pytest.raises(InputError) as err:
        drawing.parse_drawings([_feature(Point(LON, LAT), radius=-5)], UTM51)
    assert err.value.field == "radius" and err.value.feature == 0
    with pytest.raises(InputError) as err:
        drawing.parse_drawings([_feature(_square(), id="a"), _feature(_square(), id="a")], UTM51)
    assert err.value.field == "id" and err.value.feature == 1


# --- diff -----------------------------------------------------------------------------------------


def _drawn(features: list[dict] | None) -> gpd.GeoDataFrame | None:
    return None if features is None else drawing.parse_drawings(features, UTM51)


def _moved(geom, metres: float):
    """``geom`` shifted east by ``metres`` (in UTM)."""
    from shapely.affinity import translate

    g = gpd.GeoSeries([geom], crs=4326).to_crs(UTM51)
    return gpd.GeoSeries([translate(g.iloc[0], xoff=metres)], crs=UTM51).to_crs(4326).iloc[0]


def test_unchanged_within_tolerance(saved):
    drawn = _drawn(
        [
            _feature(_moved(saved.geometry[0], 0.2), id="c1", role="lockdown"),
            _feature(saved.geometry[1], id="m1"),
        ]
    )
    ch = drawing.diff_drawings(saved, drawn, tol_m=0.5, crs_metric=UTM51)
    assert (len(ch.new), ch.edited, ch.deleted, ch.unknown) == (0, [], [], [])
    assert not ch.changed


def test_new_edited_deleted(saved):
    drawn = _drawn(
        [
            _feature(_moved(saved.geometry[0], 3.0), id="c1", role="lockdown"),
            _feature(_square(LON - 0.02, LAT), role="control"),
            _feature(Point(LON, LAT), radius=50),
        ]
    )
    ch = drawing.diff_drawings(saved, drawn, crs_metric=UTM51)
    assert ch.edited == ["c1"] and ch.deleted == ["m1"] and len(ch.new) == 2
    assert ch.new["id"].isna().all() and ch.changed
    assert list(ch.edited_rows["id"]) == ["c1"]
    assert ch.edited_rows.geometry.iloc[0].equals(drawn.geometry.iloc[0])


def test_moving_a_marker_is_an_edit(saved):
    drawn = _drawn(
        [_feature(saved.geometry[0], id="c1"), _feature(_moved(saved.geometry[1], 2), id="m1")]
    )
    assert drawing.diff_drawings(saved, drawn, crs_metric=UTM51).edited == ["m1"]


def test_vertex_added_on_an_edge_is_no_change(saved):
    # Clicking Leaflet.Draw's midpoint handle adds a vertex without moving the outline.
    x0, y0, x1, y1 = saved.geometry[0].bounds
    with_mid = Polygon([(x0, y0), ((x0 + x1) / 2, y0), (x1, y0), (x1, y1), (x0, y1)])
    drawn = _drawn([_feature(with_mid, id="c1"), _feature(saved.geometry[1], id="m1")])
    assert drawing.diff_drawings(saved, drawn, crs_metric=UTM51).edited == []


def test_null_from_the_component_is_no_change_but_empty_list_deletes_all(saved):
    assert not drawing.diff_drawings(saved, None).changed
    assert not drawing.drawing_changes(saved, None).changed
    ch = drawing.drawing_changes(saved, [], crs_metric=UTM51)
    assert ch.deleted == ["c1", "m1"] and len(ch.new) == 0


def test_unknown_ids_are_reported_not_applied(saved):
    drawn = _drawn(
        [
            _feature(saved.geometry[0], id="c1"),
            _feature(saved.geometry[1], id="m1"),
            _feature(_square(), id="gone"),
        ]
    )
    ch = drawing.diff_drawings(saved, drawn, crs_metric=UTM51)
    assert ch.unknown == ["gone"] and not ch.changed


def test_nothing_saved_yet():
    ch = drawing.drawing_changes(None, [_feature(_square())])
    assert len(ch.new) == 1 and ch.deleted == [] and ch.edited == []
    assert len(ch.edited_rows) == 0 and "geometry" in ch.edited_rows.columns


# --- the page -------------------------------------------------------------------------------------


def _map(demo, saved, assets, base_url=""):
    m = mapview.build_map(demo, assets=assets, base_url=base_url)
    group = drawing.add_draw_control(m, saved, assets=assets, base_url=base_url)
    return m, group, m.get_root().render()


def test_static_page_links_only_the_vendored_files(demo, saved):
    _, _, html = _map(demo, saved, "static")
    links = _links(html)
    assert "/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.js" in links
    assert "/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.css" in links
    # vendored libraries, and the app's own map script (static/cityops: the vector tiles)
    assert all(u.startswith(("/app/static/vendor/", "/app/static/cityops/")) for u in links)
    assert not [u for u in links if u.startswith(("http://", "https://", "//"))]
    assert "cdnjs" not in html and "cloudflare" not in html
    # the marker icon is explicit and served by the app (no guessing from leaflet.css)
    assert "/app/static/vendor/leaflet-1.9.4/images/marker-icon.png" in html
    for path in links:
        assert (mapview.STATIC_DIR / path.removeprefix("/app/static/")).is_file(), path


def test_base_url_prefix(demo, saved):
    _, _, html = _map(demo, saved, "static", base_url="/ops/")
    assert "/ops/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.js" in _links(html)
    js, css = drawing.draw_asset_urls("ops")
    assert js[0][1] == "/ops/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.js"
    assert css[0][1] == "/ops/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.css"


def test_inline_page_is_self_contained(demo, saved):
    _, _, html = _map(demo, saved, "inline")
    assert _links(html) == []
    assert "/app/static" not in html
    assert "L.Control.Draw" in html and "leaflet-draw-toolbar" in html
    assert "url('images/" not in html  # the sprites are data: URIs
    assert "data:image/svg+xml;base64," in html


def test_toolbar_offers_the_four_shapes(demo, saved):
    _, _, html = _map(demo, saved, "static")
    draw = re.search(r"draw: (\{.*\}),\n", html).group(1)
    assert '"polyline": false' in draw and '"circlemarker": false' in draw
    for kind in ("polygon", "rectangle", "circle", "marker"):
        assert f'"{kind}": {{' in draw
    assert "alert(" not in html  # folium's show_geometry_on_click is off


def test_saved_drawings_are_separate_layers_with_escaped_tooltips(demo, saved):
    m, group, html = _map(demo, saved, "static")
    name = re.search(r"var (drawnItems_draw_control_[0-9a-f]+) = (\w+);", html)
    assert name and name.group(2) == group.get_name()
    assert "geometryToLayer" in html and "layer.feature = item.feature" in html
    assert EVIL not in html  # neither raw in the tooltip nor raw in the script
    assert "&lt;img src=x" in html.replace("\\u0026", "&")
    assert '"role": "lockdown"' in html and '"id": "c1"' in html
    # the layer switcher still runs after every layer it names
    assert isinstance(list(m._children.values())[-1], __import__("folium").LayerControl)


def test_adding_the_control_leaves_other_layers_alone(demo, saved):
    m = mapview.build_map(demo)
    before = m.get_root().render().splitlines()
    drawing.add_draw_control(m, saved)
    after = iter(m.get_root().render().splitlines())
    # every line of the page before is still there, in the same order (the control only adds)
    missing = [line for line in before if not any(line == a for a in after)]
    assert missing == []


def test_bad_saved_geometry_is_rejected(demo):
    line = gpd.GeoDataFrame(
        {"id": ["l1"]}, geometry=gpd.GeoSeries.from_wkt(["LINESTRING (0 0, 1 1)"]), crs=4326
    )
    with pytest.raises(InputError) as err:
        drawing.add_draw_control(mapview.build_map(demo), line)
    assert err.value.feature == "l1" and err.value.field == "geometry"


def test_role_styles():
    assert drawing.role_style("lockdown")["color"] == mapview.BAND_FILL["lockdown"]
    assert drawing.role_style("control")["color"] == mapview.BAND_FILL["control"]
    assert drawing.role_style("prevention")["color"] == mapview.BAND_FILL["prevention"]
    assert drawing.role_style("incident")["fillOpacity"] < 0.1
    assert drawing.role_style(None)["color"] == drawing.NEW_COLOR


def test_a_saved_marker_never_comes_back_as_a_circle(demo):
    marker = gpd.GeoDataFrame(
        {"id": ["m1"], "radius": [30.0]}, geometry=[Point(LON, LAT)], crs=4326
    )
    m = mapview.build_map(demo)
    drawing.add_draw_control(m, marker)
    html = m.get_root().render()
    assert '"properties": {"id": "m1"}' in html


# --- drawings in a scenario ----------------------------------------------------------------------


def test_a_drawing_becomes_an_incident_or_a_cordon_outline_and_changes_apply(demo):
    from geo.drawing import (
        DrawingChanges,
        apply_changes,
        new_feature,
        scenario_drawings,
        without_drawings,
    )

    box = shapely.box(121.650, 31.140, 121.655, 31.145)
    kind, row = new_feature(demo, box, "control", name="<i>east</i>")
    assert kind == "cordons" and row["id"].iloc[0] == "drawn-1"
    assert row["band"].iloc[0] == "control" and row["origin"].iloc[0] == "drawn"
    sc = demo.with_layer("cordons", row)
    kind, pin = new_feature(sc, shapely.Point(121.66, 31.15), "incident", kind="fire", severity=5)
    assert kind == "incidents" and pin["id"].iloc[0] == "drawn-2"  # ids unique across layers
    sc = sc.with_layer("incidents", pd.concat([sc.layer("incidents"), pin], ignore_index=True))
    drawings = scenario_drawings(sc)
    assert sorted(zip(drawings["id"], drawings["role"])) == [
        ("drawn-1", "control"),
        ("drawn-2", "incident"),
    ]  # the file's incidents are not drawings
    plain = without_drawings(sc)
    assert len(plain.layer("cordons")) == 0 and len(plain.layer("incidents")) == 3
    # a point cannot be a cordon outline; an unknown role is an error naming the field
    with pytest.raises(InputError) as e:
        new_feature(sc, shapely.Point(121.66, 31.15), "lockdown")
    assert e.value.field == "role"
    with pytest.raises(InputError):
        new_feature(sc, box, "moat")
    # move the outline, delete the incident
    moved = shapely.affinity.translate(box, 0.001, 0)
    edited = gpd.GeoDataFrame({"id": ["drawn-1"]}, geometry=[moved], crs=4326)
    empty = edited.iloc[:0]
    after = apply_changes(sc, DrawingChanges(empty, ["drawn-1"], ["drawn-2"], edited, []))
    assert after.layer("cordons").geometry.iloc[0].equals(moved)
    assert "drawn-2" not in set(after.layer("incidents")["id"])
    assert len(after.layer("incidents")) == 3 and len(sc.layer("incidents")) == 4  # copy
