"""Drawing in a real headless chromium, offline: the toolbar shows its icons, a polygon drawn by
clicking is added to the drawings next to the saved one, and the delete tool removes a saved one.
The page is the self-contained HTML (``assets="inline"``); every request that is not file: or
data: is recorded and aborted."""

from __future__ import annotations

import json
import re
import shutil

import geopandas as gpd
import pytest
from playwright.sync_api import expect
from shapely.geometry import Polygon

from geo import drawing, mapview

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOT = "/tmp/drawing_browser.png"
VIEWPORT = {"width": 1200, "height": 800}
# Where the new polygon is clicked, as fractions of the map's box: clear of the saved square
# (left of centre), the layer switcher (top right) and the legend (bottom right).
NEW_POLYGON = [(0.55, 0.35), (0.68, 0.35), (0.68, 0.58), (0.55, 0.58)]
LOCKDOWN_STROKE = mapview.BAND_FILL["lockdown"]


@pytest.fixture(scope="module")
def drawing_page(demo, tmp_path_factory):
    """The demo map with one saved lockdown square "c1", as a self-contained HTML file."""
    x0, y0, x1, y1 = demo.extent().total_bounds
    cx, cy = x0 + 0.3 * (x1 - x0), y0 + 0.5 * (y1 - y0)
    d = 0.05 * min(x1 - x0, y1 - y0)
    saved = gpd.GeoDataFrame(
        {"id": ["c1"], "role": ["lockdown"], "name": ["Block <b>7</b>"]},
        geometry=[
            Polygon([(cx - d, cy - d), (cx + d, cy - d), (cx + d, cy + d), (cx - d, cy + d)])
        ],
        crs=4326,
    )
    m = mapview.build_map(demo, assets="inline")
    drawing.add_draw_control(m, saved, assets="inline")
    html = m.get_root().render()
    path = tmp_path_factory.mktemp("drawing") / "map.html"
    path.write_text(html, encoding="utf-8")
    # folium names the group's alias drawnItems_<draw control name>; streamlit-folium renames
    # it to drawnItems, but this page is plain folium output.
    var = re.search(r"var (drawnItems_draw_control_[0-9a-f]+) =", html).group(1)
    return path, var


@pytest.fixture()
def page(browser, drawing_page):
    path, var = drawing_page
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.outside = []  # requests the page tried to make beyond the file itself
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))

    def only_local(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            pg.outside.append(url)
            route.abort()

    pg.route("**/*", only_local)
    pg.goto(path.as_uri())
    pg.locator(".leaflet-draw-toolbar").first.wait_for(state="visible", timeout=20_000)
    pg.features = lambda: pg.evaluate(f"{var}.toGeoJSON().features")
    yield pg
    context.close()


def _click_map(page, fx: float, fy: float) -> None:
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.wait_for_timeout(120)  # Leaflet.Draw tells a click from a drag by timing and distance


def test_toolbar_renders_with_its_icons(page, demo):
    buttons = {
        "polygon": ".leaflet-draw-draw-polygon",
        "rectangle": ".leaflet-draw-draw-rectangle",
        "circle": ".leaflet-draw-draw-circle",
        "marker": ".leaflet-draw-draw-marker",
        "edit": ".leaflet-draw-edit-edit",
        "delete": ".leaflet-draw-edit-remove",
    }
    for selector in buttons.values():
        button = page.locator(selector)
        assert button.is_visible()
        bg = button.evaluate("e => getComputedStyle(e).backgroundImage")
        assert "url(" in bg and "data:image/" in bg, bg
    assert page.locator(".leaflet-draw-draw-polyline").count() == 0
    assert page.locator(".leaflet-draw-draw-circlemarker").count() == 0
    # the sprite really decodes (a broken data: URI would leave blank buttons)
    width = page.evaluate(
        """() => new Promise((ok) => {
            const bg = getComputedStyle(document.querySelector('.leaflet-draw-draw-polygon'))
                .backgroundImage;
            const img = new Image();
            img.onload = () => ok(img.naturalWidth);
            img.onerror = () => ok(0);
            img.src = bg.match(/url\\("?([^")]+)"?\\)/)[1];
        })"""
    )
    assert width > 0
    # the saved drawing is on the map, styled by its role, and the other layers still draw
    assert page.locator(f'path.co-drawn[stroke="{LOCKDOWN_STROKE}"]').count() == 1
    assert page.locator("path.co-roads").count() == len(demo.layer("roads"))
    assert "Drawings (editable)" in page.locator(".leaflet-control-layers").inner_text()
    assert page.outside == [] and page.errors == []


def test_draw_a_polygon_then_delete_the_saved_one(page):
    assert [f["properties"].get("id") for f in page.features()] == ["c1"]

    page.locator(".leaflet-draw-draw-polygon").click()
    vertices = page.locator(".leaflet-marker-icon.leaflet-editing-icon")
    for n, (fx, fy) in enumerate(NEW_POLYGON, start=1):
        _click_map(page, fx, fy)
        # Leaflet.Draw ignores a click within 50 ms (a timer) of the last vertex: wait for it
        expect(vertices).to_have_count(n)
    _click_map(page, *NEW_POLYGON[0])  # the first point again closes the ring
    expect(vertices).to_have_count(0)
    features = page.features()
    assert len(features) == 2
    saved = [f for f in features if f["properties"].get("id") == "c1"]
    new = [f for f in features if f["properties"].get("id") is None]
    assert len(saved) == 1 and len(new) == 1
    assert saved[0]["properties"] == {"id": "c1", "role": "lockdown", "name": "Block <b>7</b>"}
    assert new[0]["geometry"]["type"] == "Polygon"
    assert len(new[0]["geometry"]["coordinates"][0]) == 5  # 4 corners + the closing point
    # what the browser returns parses into one saved and one new drawing
    parsed = drawing.parse_drawings(features, None)
    assert sorted(parsed["id"].fillna("")) == ["", "c1"]

    page.locator(".leaflet-draw-edit-remove").click()
    page.locator(f'path.co-drawn[stroke="{LOCKDOWN_STROKE}"]').click()
    page.locator(".leaflet-draw-actions a", has_text=re.compile(r"^Save$")).click()
    expect(page.locator(f'path.co-drawn[stroke="{LOCKDOWN_STROKE}"]')).to_have_count(0)
    features = page.features()
    assert len(features) == 1 and features[0]["properties"].get("id") is None
    assert json.dumps(features[0]["geometry"]) == json.dumps(new[0]["geometry"])

    page.screenshot(path=SCREENSHOT)
    shutil.copy(SCREENSHOT, _artifact("drawing_browser.png"))
    assert page.outside == [] and page.errors == []


def test_circle_and_marker_come_back_as_points(page):
    box = page.locator(".folium-map").bounding_box()
    page.locator(".leaflet-draw-draw-circle").click()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.75 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.65 * box["width"], box["y"] + 0.75 * box["height"], steps=5)
    page.mouse.up()
    expect(page.locator("path.co-drawn")).to_have_count(2)  # the saved square and the circle
    page.locator(".leaflet-draw-draw-marker").click()
    _click_map(page, 0.45, 0.2)
    expect(page.locator("img.leaflet-marker-icon.co-drawn-marker")).to_have_count(1)

    features = page.features()
    circle = [f for f in features if "radius" in f["properties"]]
    marker = [f for f in features if f["geometry"]["type"] == "Point" and not f["properties"]]
    assert len(circle) == 1 and circle[0]["properties"]["radius"] > 0
    assert len(marker) == 1
    # the marker's image loaded (a data: URI, no guessing of Leaflet's image folder)
    widths = page.locator("img.leaflet-marker-icon.co-drawn-marker").evaluate_all(
        "l => l.map(i => i.naturalWidth)"
    )
    assert widths == [25]
    parsed = drawing.parse_drawings(features, None)
    assert sorted(parsed.geometry.geom_type) == ["Point", "Polygon", "Polygon"]
    assert page.outside == [] and page.errors == []


def _artifact(name: str):
    from tests.conftest import ARTIFACTS_DIR

    return ARTIFACTS_DIR() / name
