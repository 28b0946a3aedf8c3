"""The upload form's mapping step in a real headless chromium: a Chinese-header CSV whose lane
column is not a known alias is not refused; the form asks for that one column (the best guess
already chosen), and the sites appear on the map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS_DIR, AppServer, map_frame, settle
from tests.test_browser import _choose_layer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sites_unmapped_zh.csv"


@pytest.fixture(scope="module")
def server():
    s = AppServer()  # its own port: the session's shared server keeps its scenario
    yield s
    s.stop()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    pg.goto(server.url, wait_until="domcontentloaded")
    yield pg
    context.close()


def test_mapping_step_maps_the_one_unknown_column_and_the_sites_appear(page):
    frame = map_frame(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    form = sidebar.locator('[data-testid="stForm"]').filter(has_text="Add to map")
    form.locator('input[type="file"]').wait_for(state="attached")
    _choose_layer(page, sidebar, "Testing sites")
    form.locator('input[type="file"]').set_input_files(str(FIXTURE))
    sidebar.get_by_role("heading", name="Load a layer").click()
    settle(page)
    sidebar.get_by_role("button", name="Add to map").click()

    step = sidebar.locator('[data-testid="stForm"]').filter(has_text="Load with these columns")
    step.wait_for(timeout=30_000)
    expect(sidebar).to_contain_text("say which column holds lanes")
    assert "was not loaded" not in page.locator("body").inner_text()
    choice = step.locator('[data-testid="stSelectbox"]').get_by_role("combobox")
    expect(choice).to_have_count(1)  # only the one column that is still missing
    expect(choice).to_have_value("工位")  # the best guess, already chosen
    step.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS_DIR() / "upload_mapping_step.png"))
    step.get_by_role("button", name="Load with these columns").click()

    page.get_by_text("sites_unmapped_zh.csv: 3 testing_sites feature(s)").first.wait_for(
        timeout=30_000
    )
    # (Streamlit's markdown shows -> as an arrow)
    expect(sidebar).to_contain_text(re.compile("columns mapped by hand: '工位' (->|→) lanes"))
    frame = map_frame(page)
    expect(frame.locator("path.co-testing_sites")).to_have_count(3, timeout=30_000)
    frame.locator("path.co-testing_sites").first.hover(force=True)
    tip = frame.locator(".leaflet-tooltip").first
    tip.wait_for(timeout=10_000)
    assert any(name in tip.inner_text() for name in ("北门", "迪士尼小镇", "地铁站"))
