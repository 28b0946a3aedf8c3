"""Find a place: the index (names in Chinese or English, partial, full-width), and in the browser
the map flying to a Chinese name with its tooltip open."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from geo import scenario, search
from tests.conftest import ARTIFACTS_DIR, MAP_IFRAME, AppServer, map_frame, settle

HOSPITAL = "浦东医院（复旦大学附属）"


@pytest.fixture(scope="module")
def chinese(tmp_path_factory):
    sc = scenario.demo()
    fac = sc.layer("facilities").copy()
    fac.loc[fac["id"] == "hosp-pudong", "name"] = HOSPITAL
    sc = sc.with_layer("facilities", fac)
    folder = tmp_path_factory.mktemp("zh") / "scenario"
    scenario.save(sc, folder)
    return sc, folder


def test_names_match_in_parts_any_order_chinese_and_full_width(chinese):
    sc, _ = chinese
    ix = search.index(sc)
    assert [p.feature_id for p in search.find(ix, "浦东医院")] == ["hosp-pudong"]
    assert search.find(ix, "复旦")[0].feature_id == "hosp-pudong"  # a part of the name
    assert search.find(ix, "hub west")[0].label.startswith("West")  # words in any order
    assert search.find(ix, "ＷＥＳＴ　ＨＵＢ")[0].label.startswith("West")  # full-width
    assert search.find(ix, "nothing like this") == []
    # a road is one place per name, not one per segment
    roads = [p for p in ix if p.layer == "roads"]
    assert len({p.label for p in roads}) == len(roads) > 0
    # every named layer is searched
    assert {"facilities", "crowd_zones", "testing_sites", "incidents", "roads"} <= {
        p.layer for p in ix
    }


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_find_a_chinese_name_flies_there_and_opens_its_tooltip(browser, chinese):
    sc, folder = chinese
    hosp = sc.layer("facilities").set_index("id").geometry["hosp-pudong"]
    server = AppServer(str(folder))
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(server.url)
        frame = map_frame(page)
        settle(page)
        box = page.get_by_role("textbox", name="Find a place")
        box.fill("浦东医院")
        box.press("Enter")
        settle(page)
        frame = map_frame(page)
        tip = frame.locator(".leaflet-tooltip", has_text=HOSPITAL)
        expect(tip).to_be_visible(timeout=30_000)
        live = page.locator(MAP_IFRAME).first.element_handle().content_frame()
        center = live.evaluate(
            "() => { const m = Object.values(window).find(v => v instanceof L.Map);"
            " const c = m.getCenter(); return [c.lng, c.lat, m.getZoom()]; }"
        )
        assert abs(center[0] - hosp.x) < 0.002 and abs(center[1] - hosp.y) < 0.002, center
        assert center[2] >= 15
        page.screenshot(path=str(ARTIFACTS_DIR() / "search-zh.png"))
    finally:
        page.close()
        server.stop()
