"""The map's HTML: every layer, no outside links, user text escaped (checked in a real browser)."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo import mapview

EVIL = '<img src=x onerror="window.__pwned=1">Gate & <b>co</b>'


def _links(html: str) -> list[str]:
    """What the page loads: script sources and stylesheet links (not anchors in text)."""
    return re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_static_assets_point_at_the_app(demo):
    m = mapview.build_map(demo)
    html = m.get_root().render()
    links = _links(html)
    assert links, "leaflet must be linked"
    assert all(u.startswith("/app/static/") for u in links), links
    assert "cdn" not in html.lower() and "https://" not in html


def test_base_url_prefix():
    js, css = mapview.asset_urls("ops/")
    assert js[0][1] == "/ops/app/static/vendor/leaflet-1.9.4/leaflet.js"
    assert css[0][1].endswith("leaflet.css")


def test_inline_html_is_self_contained(demo):
    html = mapview.to_html(demo)
    assert not [u for u in _links(html) if u.startswith("http")]
    assert "L.version" in html or "leaflet" in html.lower()
    assert len(html) < 5_000_000


def test_layers_and_legend(demo):
    names = [layer.name for layer in mapview.scenario_layers(demo)]
    for expected in [
        "Boundary",
        "Crowd zones (people/km²)",
        "Roads",
        "Hospitals",
        "Testing sites",
        "Incidents",
    ]:
        assert expected in names


def test_density_classes():
    assert mapview.density_color(0) == mapview.DENSITY_COLORS[0]
    assert mapview.density_color(7_500) == mapview.DENSITY_COLORS[2]
    assert mapview.density_color(1e9) == mapview.DENSITY_COLORS[-1]


def test_tooltip_escapes_user_text():
    html = mapview.tooltip_table(EVIL, [("name", EVIL)])
    assert "<img" not in html and "&lt;img" in html


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_html_in_names_is_text_in_the_browser(demo, browser):
    sites = demo.layer("testing_sites").copy()
    sites["name"] = EVIL  # every site: whichever the mouse lands on shows it
    inc = demo.layer("incidents").copy()
    inc.loc[inc.index[0], "name"] = EVIL
    sc = demo.with_layer("testing_sites", sites).with_layer("incidents", inc)
    page = browser.new_page()
    try:
        page.set_content(mapview.to_html(sc))
        page.locator("path.co-testing_sites").first.wait_for(timeout=20_000)
        page.locator("path.co-testing_sites").first.hover(force=True)
        tip = page.locator(".leaflet-tooltip").first
        tip.wait_for(timeout=10_000)
        assert "<img src=x" in tip.inner_text()
        assert page.evaluate("window.__pwned") is None
        assert page.locator(".leaflet-tooltip img").count() == 0
    finally:
        page.close()


def test_empty_layers_do_not_break_the_map(demo):
    empty_inc = gpd.GeoDataFrame(demo.layer("incidents").iloc[:0])
    sc = demo.with_layer("incidents", empty_inc)
    html = mapview.build_map(sc).get_root().render()
    assert "co-incidents" not in html


def test_point_incident_is_drawn(demo):
    inc = demo.layer("incidents").iloc[:1].copy()
    inc["geometry"] = [Point(121.66, 31.14)]
    sc = demo.with_layer("incidents", inc)
    html = mapview.build_map(sc).get_root().render()
    assert "co-incidents" in html


def test_styled_features_are_reused_only_for_the_same_layer_object_and_theme(demo):
    from geo.mapview import _features, scenario_layers

    dark = {lay.key: lay for lay in scenario_layers(demo, "dark")}
    light = {lay.key: lay for lay in scenario_layers(demo, "light")}
    first, again = _features(dark["roads"]), _features(dark["roads"])
    assert first == again and first is not again  # a fresh copy: folium may keep or change it
    assert _features(light["roads"]) != first  # the theme's colours, not the cached ones
    roads = demo.layer("roads").copy()
    roads.loc[roads.index[0], "road_class"] = "footway"
    moved = {lay.key: lay for lay in scenario_layers(demo.with_layer("roads", roads), "dark")}
    changed = _features(moved["roads"])["features"][0]["properties"]["_style"]
    assert changed.get("dashArray") == "2 4"  # a new layer object is styled afresh
