"""Acknowledged alerts in real browsers: an operator acknowledges a banner on the workbench, a
second browser's wall shows it folded with who, when and the note, also after a reload; a wall
opened with ``alarm=1`` rings once for a new alert, not again for the same one."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import AppServer, map_frame, settle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    store = tmp_path_factory.mktemp("acks") / "ops.sqlite"
    server = AppServer(None, env={"CITYOPS_STORE": f"sqlite:///{store}"})
    yield server
    server.stop()


def _rings(page) -> int:
    frame = next(f for f in page.frames if f.locator("#co-alarm").count())
    return int(frame.evaluate("() => Number(localStorage.getItem('cityops.alarm.rings') || 0)"))


def test_acknowledge_on_the_workbench_seen_on_another_wall(browser, live):
    wall_ctx, desk_ctx = browser.new_context(), browser.new_context()
    wall, desk = wall_ctx.new_page(), desk_ctx.new_page()
    try:
        wall.set_viewport_size({"width": 1920, "height": 1080})
        wall.goto(live.url + "/?view=wall&alarm=1")
        expect(wall.locator(".co-alert").first).to_be_visible(timeout=60_000)
        wall.wait_for_timeout(1500)
        first = _rings(wall)
        assert first >= 1  # a new alert rang once
        wall.reload()
        expect(wall.locator(".co-alert").first).to_be_visible(timeout=60_000)
        wall.wait_for_timeout(1500)
        assert _rings(wall) == first  # the same alerts do not ring again
        banners = wall.locator(".co-alert:not(.acked)").count()

        desk.set_viewport_size({"width": 1920, "height": 1080})
        desk.goto(live.url + "/")
        map_frame(desk)
        settle(desk)
        sidebar = desk.get_by_test_id("stSidebar")
        sidebar.get_by_text("Alerts on the wall").click()
        sidebar.get_by_label("Note").first.fill("buses on the way")
        sidebar.get_by_role("button", name="Acknowledge").first.click()
        settle(desk)
        expect(sidebar.get_by_text("acknowledged by")).to_be_attached(timeout=30_000)

        wall.reload()  # (the wall also refreshes itself with a store; a reload is quicker)
        acked = wall.locator("#co-acked")
        expect(acked).to_be_visible(timeout=60_000)
        assert "buses on the way" in acked.inner_text() and "✓" in acked.inner_text()
        assert wall.locator(".co-alert:not(.acked)").count() == banners - 1
    finally:
        wall_ctx.close()
        desk_ctx.close()
