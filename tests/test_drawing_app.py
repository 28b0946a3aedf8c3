"""Drawing in the app, end to end in a real browser: draw an outline, say it is the lockdown
zone, see it kept, exported and used by the cordon; then delete it with the toolbar."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS_DIR, MAP_IFRAME, map_frame, settle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _choose(page, scope, label: str, option: str) -> None:
    box = scope.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    field = box.get_by_role("combobox")
    for _ in range(3):
        if field.input_value() == option:
            break
        box.get_by_role("button", name="Open").click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except Exception:  # a rerun re-rendered the list: try again
            page.keyboard.press("Escape")
    expect(field).to_have_value(option)


def _saved_drawings(page, timeout_s: float = 30.0) -> list[dict]:
    """The properties of the drawings on the live map once it holds a saved one (the map is
    rebuilt after a save; frames of the old one detach meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for f in [f for f in page.frames if "streamlit_folium" in f.url and not f.is_detached()]:
            try:
                props = f.evaluate(
                    "() => window.drawnItems && drawnItems.getLayers ? drawnItems.getLayers()"
                    ".map(l => Object.assign({tip: l.getTooltip() && l.getTooltip().getContent()},"
                    " l.feature ? l.feature.properties : {})) : []"
                )
            except Exception:  # detached while asked
                continue
            if any(p.get("id") for p in props):
                return props
        page.wait_for_timeout(300)
    raise AssertionError("the map never showed a saved drawing")


def test_draw_a_lockdown_outline_use_it_and_delete_it(browser, app_server):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    outside = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(app_server.url) else None,
    )
    try:
        page.goto(app_server.url + "/?draw=1")
        frame = map_frame(page)
        settle(page)
        expect(frame.locator(".leaflet-draw-draw-rectangle")).to_be_visible()
        box = page.locator(MAP_IFRAME).first.bounding_box()
        frame.locator(".leaflet-draw-draw-rectangle").click()
        page.mouse.move(box["x"] + 0.42 * box["width"], box["y"] + 0.40 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.58 * box["width"], box["y"] + 0.60 * box["height"], steps=8)
        page.mouse.up()
        # the app asks what the new shape is, beside the map (in view without scrolling), and an
        # outline is a zone unless the user says otherwise
        role = page.locator('[data-testid="stSelectbox"]').filter(has_text="Shape 1")
        expect(role).to_be_visible(timeout=30_000)
        settle(page)
        expect(role).to_be_in_viewport()
        expect(role.get_by_role("combobox")).to_have_value("Cordon outline · lockdown")
        form = page.locator('[data-testid="stForm"]').filter(has_text="Discard")
        expect(form.get_by_label("Severity")).to_have_count(0)  # no incident fields for a zone
        form.get_by_label("Name").fill("<b>Gate</b> line")
        form.get_by_role("button", name="Save").click()
        settle(page)
        # kept: the map is rebuilt with the outline as an editable drawing, its name as text in
        # its tooltip (escaped: tooltips are HTML)
        saved = _saved_drawings(page)
        assert [(p["id"], p["role"]) for p in saved] == [("drawn-1", "lockdown")]
        assert (
            "&lt;b&gt;Gate&lt;/b&gt; line" in saved[0]["tip"] and "<b>Gate" not in saved[0]["tip"]
        )
        frame = map_frame(page)
        expect(frame.locator("path.co-drawn")).to_have_count(1, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS_DIR() / "drawing-app.png"))
        # one name per layer: while drawing, the outline is in the map's editable group (one
        # entry in its switcher), not also a layer of the page's picker under another name
        switcher = frame.locator(".leaflet-control-layers").inner_text()
        picker = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
        assert "Drawings (editable)" in switcher and "Cordon outlines" not in switcher
        assert "Cordon outlines" not in picker and "Drawings" not in picker
        # exported: the layer's download button counts it
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Cordons (drawn) (1) · GeoJSON")).to_be_visible()
        # used: the cordon from the outlines drawn on the map counts people in it
        cordon_form = sidebar.locator('[data-testid="stForm"]').filter(has_text="Draw cordon")
        _choose(page, sidebar, "Drawn by", "Outlines drawn on the map")
        settle(page)
        sidebar.get_by_role("heading", name="Cordon").click()
        cordon_form.get_by_role("button", name="Draw cordon").click()
        settle(page)
        people = page.get_by_test_id("stMetric").filter(has_text="People · lockdown")
        expect(people).to_be_visible(timeout=30_000)
        expect(people).to_be_in_viewport()  # the result is beside the map, not below it
        assert re.search(r"[1-9]", people.get_by_test_id("stMetricValue").inner_text())
        # deleted with the toolbar's bin: gone from the scenario
        frame = map_frame(page)
        frame.locator(".leaflet-draw-edit-remove").click()
        frame.locator("path.co-drawn").first.click()
        frame.locator(".leaflet-draw-actions a", has_text=re.compile(r"^Save$")).click()
        settle(page)
        expect(sidebar.get_by_text("Cordons (drawn) (0) · GeoJSON")).to_be_visible(timeout=30_000)
        assert outside == []
    finally:
        page.close()
