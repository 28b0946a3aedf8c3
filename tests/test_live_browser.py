"""Live refresh in a real browser: data changes underneath, the map follows without a page
reload and without losing the user's view."""

from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import expect

from geo.auth import Actor
from geo.store import Event, open_store
from tests.conftest import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture()
def live_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    server = AppServer(args=["--store", url, "--refresh", "2"])
    yield server, url
    server.stop()


def _leaflet(page):
    """The Leaflet map object inside the component frame (streamlit-folium names it map_div)."""
    frame = next(f for f in page.frames if "streamlit_folium" in f.url)
    return frame


def test_new_incident_appears_without_reload_or_losing_the_view(browser, live_app):
    server, url = live_app
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        page.goto(server.url)
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame_loc = page.locator(MAP_IFRAME).first.content_frame
        frame_loc.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        before = frame_loc.locator("path.co-incidents").count()
        page.evaluate("window.__no_reload = 42")
        frame_loc.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(800)
        frame = _leaflet(page)
        view = frame.evaluate("() => [map_div.getZoom(), map_div.getCenter().lat]")

        with open_store(url, actor=Actor.service("test")) as store:
            t = pd.Timestamp.now(tz="Asia/Shanghai")
            store.append(
                [
                    Event(
                        "incident",
                        "live-1",
                        t,
                        {
                            "kind": "crowd",
                            "severity": 3,
                            "reported_at": t.isoformat(),
                            "name": "Fresh report",
                        },
                        {"type": "Point", "coordinates": [121.664, 31.146]},
                    )
                ]
            )

        expect(frame_loc.locator("path.co-incidents")).to_have_count(before + 1, timeout=20_000)
        assert page.evaluate("window.__no_reload") == 42
        frame = _leaflet(page)
        assert frame.evaluate("() => [map_div.getZoom(), map_div.getCenter().lat]") == view
    finally:
        page.close()


def test_wall_follows_the_store_without_reload(browser, live_app):
    server, url = live_app
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(server.url + "/?view=wall")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame_loc = page.locator(MAP_IFRAME).first.content_frame
        frame_loc.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        before = frame_loc.locator("path.co-incidents").count()
        page.evaluate("window.__no_reload = 9")
        with open_store(url, actor=Actor.service("test")) as store:
            t = pd.Timestamp.now(tz="Asia/Shanghai")
            store.append(
                [
                    Event(
                        "incident",
                        "wall-1",
                        t,
                        {"kind": "fire", "severity": 2, "reported_at": t.isoformat()},
                        {"type": "Point", "coordinates": [121.662, 31.147]},
                    )
                ]
            )
        expect(frame_loc.locator("path.co-incidents")).to_have_count(before + 1, timeout=20_000)
        assert page.evaluate("window.__no_reload") == 9
    finally:
        page.close()
