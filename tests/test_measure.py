"""Measuring on the map: lengths and areas in the metric CRS, checked against the geodesic on
the ellipsoid, and in the browser a 1 km line drawn with the toolbar."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from pyproj import Geod
from shapely.geometry import LineString, Polygon

from geo import measure
from geo.crs import local_crs
from tests.conftest import MAP_IFRAME, map_frame, settle

GEOD = Geod(ellps="WGS84")
START = (121.6570, 31.1440)  # the park


def test_lengths_and_areas_agree_with_the_ellipsoid():
    lon2, lat2, _ = GEOD.fwd(*START, 90, 1000.0)
    line = LineString([START, (lon2, lat2)])
    ring = [START, GEOD.fwd(*START, 90, 500)[:2], GEOD.fwd(*START, 45, 707.1068)[:2]]
    ring.append(GEOD.fwd(*START, 0, 500)[:2])
    square = Polygon(ring)
    crs = local_crs(__import__("geopandas").GeoSeries([line], crs=4326))
    m_line, m_area = measure.measure([line, square], crs)
    assert m_line.kind == "line" and m_line.length_m == pytest.approx(1000.0, rel=5e-4)
    area, perimeter = GEOD.geometry_area_perimeter(square)
    assert m_area.kind == "area"
    assert m_area.area_km2 == pytest.approx(abs(area) / 1e6, rel=1e-3)
    assert m_area.length_m == pytest.approx(perimeter, rel=1e-3)
    assert m_area.text.startswith("0.250 km² (25.0 ha)")
    # degrees would be nonsense: 0.0105 "units" long
    assert m_line.length_m > 100


def test_points_and_junk_measure_nothing():
    assert measure.measure([], "EPSG:32651") == []
    junk = [{"geometry": None}, {"geometry": {"type": "Nope"}}, "x", {}]
    assert measure.from_drawings(junk) == []
    point = measure.from_drawings([{"geometry": {"type": "Point", "coordinates": [121, 31]}}])
    assert measure.measure(point, "EPSG:32651") == []


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_a_one_km_line_drawn_on_the_map_reads_1_00_km(browser, app_server):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(app_server.url + "/?measure=1")
        frame = map_frame(page)
        settle(page)
        expect(frame.locator(".leaflet-draw-draw-polyline")).to_be_visible()
        live = page.locator(MAP_IFRAME).first.element_handle().content_frame()
        lon2, lat2, _ = GEOD.fwd(*START, 0, 1000.0)  # due north: clear of the legend
        pts = live.evaluate(
            """([a, b]) => { const m = Object.values(window).find(v => v instanceof L.Map);
                m.setView([(a[1] + b[1]) / 2, a[0]], 16, {animate: false});
                return [a, b].map(p => m.latLngToContainerPoint([p[1], p[0]])); }""",
            [list(START), [lon2, lat2]],
        )
        box = page.locator(MAP_IFRAME).first.bounding_box()
        frame.locator(".leaflet-draw-draw-polyline").click()
        for p in (pts[0], pts[1], pts[1]):  # the last point again finishes the line
            page.mouse.click(box["x"] + p["x"], box["y"] + p["y"])
            page.wait_for_timeout(300)
        settle(page)
        text = page.locator("p", has_text="Line 1:").first
        expect(text).to_be_visible(timeout=30_000)
        shown = text.inner_text()
        assert "km" in shown, shown
        km = float(re.search(r"([\d.]+) km", shown).group(1))
        assert km == pytest.approx(1.00, abs=0.01)  # one pixel at zoom 16 is ~2 m
    finally:
        page.close()
