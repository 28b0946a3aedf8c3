"""The wall screen in a real browser at 1920x1080 and at 3840x2160 (a 4K wall at 200 %)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS_DIR

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.mark.parametrize(("scale", "name"), [(1, "wall-1920x1080"), (2, "wall-3840x2160")])
def test_wall_screen(browser, app_server, demo, scale, name):
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=scale)
    page = ctx.new_page()
    try:
        page.goto(app_server.url + "/?view=wall")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame = page.locator(MAP_IFRAME).first.content_frame
        frame.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        page.wait_for_timeout(800)
        # no Streamlit chrome, no sidebar
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert not page.locator('header[data-testid="stHeader"]').is_visible()
        # big tiles: values at least 36 CSS px high, readable from 5 m
        values = page.locator(".co-tile .v")
        assert values.count() == 5
        assert min(values.nth(i).bounding_box()["height"] for i in range(5)) >= 36
        # the alert for the overfull station, and the clock in the scenario's zone
        assert page.locator(".co-alert[data-kind='crowd']").count() >= 1
        assert "18:05" in page.locator("#co-clock").inner_text()
        # each live layer's data age, in the title row
        assert "crowd zones 0 min" in page.locator("#co-age").inner_text()
        # the map fills most of the screen, and Leaflet knows its full size
        box = page.locator(MAP_IFRAME).first.bounding_box()
        assert box["height"] >= 0.6 * 1080 and box["width"] >= 0.95 * 1920
        boundary = frame.locator("path.co-boundary").first.bounding_box()
        assert boundary["height"] >= 0.5 * box["height"]
        page.screenshot(path=str(ARTIFACTS_DIR() / f"{name}.png"))
    finally:
        ctx.close()


def test_wall_keeps_the_layers_of_its_link_through_a_reload(browser, app_server):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(app_server.url + "/?view=wall&hide=roads,crowd_zones")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame = page.locator(MAP_IFRAME).first.content_frame
        frame.locator("path.co-incidents").first.wait_for(state="attached", timeout=60_000)
        for _ in range(2):
            assert frame.locator("path.co-roads").count() == 0
            # a swapped-in group starts unchecked too: its paths leave the map
            expect(frame.locator("path.co-crowd_zones")).to_have_count(0, timeout=15_000)
            assert frame.locator("path.co-boundary").count() > 0
            page.reload()
            page.wait_for_selector(MAP_IFRAME, timeout=60_000)
            frame = page.locator(MAP_IFRAME).first.content_frame
            frame.locator("path.co-incidents").first.wait_for(state="attached", timeout=60_000)
        assert "hide=roads%2Ccrowd_zones" in page.url or "hide=roads,crowd_zones" in page.url
    finally:
        page.close()


_CUT = """() => [...document.querySelectorAll('%s')].filter(
    e => e.scrollWidth > e.clientWidth + 1 || e.innerText.includes('…')).length"""


def test_tablet_and_phone_layouts(browser, app_server):
    """1024x768: the wall's tiles and the workbench's figures wrap rather than being cut, and
    the map is in view without scrolling; 390x844 (a phone): the wall's tiles stack two by two
    and the legend folds to its title."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(app_server.url + "/?view=wall")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame = page.locator(MAP_IFRAME).first.content_frame
        frame.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        assert page.evaluate(_CUT % ".co-tile .v") == 0
        assert page.locator(MAP_IFRAME).first.bounding_box()["y"] < 768 - 200
        assert frame.locator("details.co-legend[open]").count() == 1
        page.screenshot(path=str(ARTIFACTS_DIR() / "wall-1024x768.png"))
        page.goto(app_server.url + "/")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.evaluate(_CUT % '[data-testid="stMetricValue"] > div') == 0
        page.screenshot(path=str(ARTIFACTS_DIR() / "workbench-1024x768.png"))
    finally:
        page.close()
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        phone.goto(app_server.url + "/?view=wall")
        phone.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame = phone.locator(MAP_IFRAME).first.content_frame
        frame.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        widths = [
            b["width"]
            for b in phone.locator(".co-tile").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().toJSON())"
            )
        ]
        assert len(widths) == 5 and max(widths) < 0.5 * 390
        assert phone.evaluate(_CUT % ".co-tile .v") == 0
        assert frame.locator("details.co-legend").count() == 1
        assert frame.locator("details.co-legend[open]").count() == 0  # folded
        phone.screenshot(path=str(ARTIFACTS_DIR() / "wall-390x844.png"))
    finally:
        phone.close()
