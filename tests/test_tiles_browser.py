"""A city-sized scenario in a real headless chromium: the heavy layers come as vector tiles from
the app's own origin, minor roads appear when zooming in, a tiled road has its tooltip, and
panning and zooming do not rerun the script."""

from __future__ import annotations

import gzip
import urllib.request
from urllib.parse import urlparse

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from geo import synthetic
from geo.tiles import generalise, mercator
from tests.conftest import ARTIFACTS_DIR, MAP_IFRAME, AppServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory):
    # Reduced size (the benchmark runs the full city): ~27k roads, all tiled.
    out = tmp_path_factory.mktemp("city")
    return synthetic.write_city(out, roads=30_000, sites=600, cells=3_000, incidents_n=100)


@pytest.fixture(scope="session")
def city_server(city_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("tile-cache")
    server = AppServer(str(city_dir), env={"CITYOPS_CACHE": str(cache)})
    yield server
    server.stop()


def _road_tiles(responses) -> dict[tuple[int, int, int], dict]:
    out = {}
    for url, body in responses:
        path = urlparse(url).path
        if "/roads/" not in path or not path.endswith(".pbf") or not body:
            continue
        z, x, y = (int(p) for p in path[: -len(".pbf")].split("/")[-3:])
        data = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        out[(z, x, y)] = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return out


def _runs(page) -> int:
    return int(page.locator("#co-runs").first.text_content())


def _wait_ready(frame, page) -> None:
    frame.wait_for_function(
        "() => window.cityopsTiles && cityopsTiles.maps.length && "
        "cityopsTiles.maps[0]._coTiles.layers.some(t => t.o.key === 'roads' && t.grid)",
        timeout=90_000,
    )
    page.wait_for_timeout(1500)  # the visible tiles arrive


def test_city_map_from_tiles(browser, city_server, city_dir):
    from geo import scenario

    sc = scenario.load(city_dir)
    roads = sc.layer("roads")
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    responses: list[tuple[str, bytes]] = []
    page.on("request", lambda r: requests.append(r.url))

    def keep(req):
        # What the page fetched, read again from the server (Chromium does not keep the bodies
        # of the iframe's fetches for the test): tiles are immutable by URL.
        if "/roads/" in req.url and req.url.endswith(".pbf"):
            resp = req.response()
            if resp is not None and resp.status == 200:
                with urllib.request.urlopen(req.url, timeout=10) as r:
                    responses.append((req.url, r.read()))

    page.on("requestfinished", keep)
    page.goto(city_server.url, wait_until="domcontentloaded")
    page.wait_for_selector(MAP_IFRAME, timeout=90_000)
    frame = page.locator(MAP_IFRAME).first.element_handle().content_frame()
    _wait_ready(frame, page)
    runs = _runs(page)

    # The page holds no road as GeoJSON: they come as tiles.
    assert frame.locator("path.co-roads").count() == 0
    city = _road_tiles(responses)
    assert city, "no road tiles arrived"
    z0 = max(z for z, _, _ in city)
    assert z0 < generalise.MINOR_ROAD_ZOOM
    minor_style = {
        f["properties"]["_s"]
        for t in city.values()
        for f in t["roads"]["features"]
        if roads.iloc[f["id"] - 1]["road_class"] in ("residential", "service")
    }
    assert minor_style == set(), "minor roads drawn at city zoom"
    notes = frame.locator("#co-tilenotes").inner_text()
    assert "zoom in to see" in notes

    # Zoom in with the map's own control, past the minor roads' zoom.
    n0 = len(responses)
    for _ in range(generalise.MINOR_ROAD_ZOOM + 1 - int(round(z0))):
        frame.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(700)
    page.wait_for_timeout(2000)
    near = _road_tiles(responses[n0:])
    assert any(z >= generalise.MINOR_ROAD_ZOOM for z, _, _ in near)
    minor = [
        (key, f)
        for key, t in near.items()
        if key[0] >= generalise.MINOR_ROAD_ZOOM
        for f in t["roads"]["features"]
        if roads.iloc[f["id"] - 1]["road_class"] == "residential"
    ]
    assert minor, "zooming in did not bring the minor roads"

    # A tooltip on a tiled road: hover the middle vertex of a residential road on screen.
    size = frame.evaluate("() => { const m = cityopsTiles.maps[0]; return m.getSize(); }")
    hit = None
    for (z, x, y), f in minor:
        mid = shapely.geometry.shape(f["geometry"])
        if mid.geom_type != "LineString":
            continue
        px, py = mid.coords[len(mid.coords) // 2]
        uv = [[(x + px / 4096) / 2**z, (y + py / 4096) / 2**z]]
        lon, lat = mercator.world_to_lonlat(np.array(uv))[0]
        pt = frame.evaluate(
            "([lat, lon]) => cityopsTiles.maps[0].latLngToContainerPoint([lat, lon])", [lat, lon]
        )
        if 40 < pt["x"] < size["x"] - 60 and 40 < pt["y"] < size["y"] - 60:
            hit = (f, pt)
            break
    assert hit is not None, "no residential road on screen"
    f, pt = hit
    box = page.locator(MAP_IFRAME).first.bounding_box()
    page.mouse.move(box["x"] + pt["x"] - 3, box["y"] + pt["y"])
    page.mouse.move(box["x"] + pt["x"], box["y"] + pt["y"])
    tip = frame.locator(".co-tiletip")
    tip.wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(500)
    text = tip.inner_text()
    row = roads.iloc[f["id"] - 1]
    assert "residential" in text and row["id"] in text, text

    # Pan by dragging; nothing of it reruns the script.
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 500, box["y"] + 420, steps=8)
    page.mouse.up()
    page.wait_for_timeout(1500)
    assert _runs(page) == runs
    page.screenshot(path=str(ARTIFACTS_DIR() / "tiles_zoomed.png"))

    own = urlparse(city_server.url).netloc
    outside = [
        u
        for u in requests
        if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != own
    ]
    assert outside == [], f"requests left the machine: {outside[:5]}"
    assert any("/tiles/" in u for u in requests)
    context.close()


@pytest.fixture(scope="session")
def slow_city_server(tmp_path_factory):
    """A small city whose tile builds take a while, and whose crowd cells' build fails."""
    out = tmp_path_factory.mktemp("slow-city")
    synthetic.write_city(out, roads=4_000, sites=400, cells=1_000, incidents_n=20)
    env = {
        "CITYOPS_CACHE": str(tmp_path_factory.mktemp("slow-cache")),
        "CITYOPS_TILES_DELAY_S": "3",
        "CITYOPS_TILES_FAIL": "crowd_zones",
    }
    server = AppServer(str(out), env=env)
    yield server
    server.stop()


def test_tiles_being_built_show_progress_and_a_failed_build_is_named(browser, slow_city_server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(slow_city_server.url, wait_until="domcontentloaded")
    page.wait_for_selector(MAP_IFRAME, timeout=90_000)
    frame = page.locator(MAP_IFRAME).first.element_handle().content_frame()
    notes = frame.locator("#co-tilenotes")
    # While the first layers build: the small layers are on the map and the build says how far.
    frame.wait_for_function(
        "() => /Preparing the .* %/.test(document.querySelector('#co-tilenotes').textContent)",
        timeout=60_000,
    )
    assert "Open incidents" in page.locator("body").inner_text()
    # Then the roads draw, and the failed layer is named with its cause; the rest works.
    frame.wait_for_function(
        "() => cityopsTiles.maps[0]._coTiles.layers.some(t => t.o.key === 'roads' && t.grid)",
        timeout=90_000,
    )
    frame.wait_for_function(
        "() => /crowd zones tiles could not be built/.test("
        "document.querySelector('#co-tilenotes').textContent)",
        timeout=90_000,
    )
    text = notes.inner_text()
    assert "CITYOPS_TILES_FAIL" in text  # the cause
    frame.wait_for_function(
        "() => cityopsTiles.maps[0]._coTiles.layers.some("
        "t => t.o.key === 'testing_sites' && t.grid)",
        timeout=90_000,
    )
    page.screenshot(path=str(ARTIFACTS_DIR() / "tiles_failed_layer.png"))
    context.close()
