"""The night's timeline on screen: slider and play; the tiles, clock and map follow, with no
page reload; the time lives in the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from geo import analyses
from tests.conftest import ARTIFACTS_DIR, open_app

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture(scope="module")
def night(demo):
    return analyses.night(demo)


def test_replay_from_a_link_shows_the_figures_at_that_time(night):
    at = open_app(replay="1", t="20:30")
    labels = {m.label: m.value for m in at.metric}
    f = night.figures(night.time("2021-10-31 20:30"))
    assert labels["Replay time"] == "20:30"
    assert labels["Tested"] == f"{f['tested']:,.0f}" and f["tested"] > 0
    assert labels["Queueing"] == f"{f['queue']:,.0f}"
    # the events so far, newest first
    events = next(m.value for m in at.markdown if "co-events" in m.value)
    assert "Chuansha sports ground opens" in events and "Everyone tested" not in events
    # the map holds the cordon (drawn at 18:35) and the sites with their simulated figures
    comp = next(c for c in at.main if getattr(c, "type", "") == "component_instance")
    assert "co-cordon" in comp.proto.json_args


def test_replay_after_midnight_and_a_bad_time(night):
    at = open_app(replay="1", t="01:30")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Replay time"] == "01:30" and labels["Remaining"] == "0"
    at = open_app(replay="1", t="25:99")
    # user text is shown literally: Markdown characters are escaped in the element's source
    assert any("t=25\\:99" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Replay time"] == "18:05"


def test_switching_the_replay_off_restores_the_live_tiles():
    at = open_app(replay="1", t="20:30")
    next(t for t in at.toggle if t.label == "Replay the night").set_value(False)
    at.run()
    assert "replay" not in at.query_params and "t" not in at.query_params
    assert "Open incidents" in {m.label for m in at.metric}


def test_with_a_store_the_replay_is_its_record(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.setenv("CITYOPS_STORE", url)
    at = open_app(replay="1", t="18:50")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Replay time"] == "18:50" and labels["Tested"] == "0"
    events = next(m.value for m in at.markdown if "co-events" in m.value)
    assert "Crowd surge" in events and "Congestion" not in events  # 18:40 yes, 19:10 not yet


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_wall_replay_plays_without_reloading(browser, app_server, night):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(app_server.url + "/?view=wall&replay=1&t=19:00")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        frame = page.locator(MAP_IFRAME).first.content_frame
        frame.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
        clock = page.locator("#co-clock")
        expect(clock).to_contain_text("19:00")
        tested = page.locator(".co-tile .v").nth(1)
        assert tested.inner_text() == "0"
        page.evaluate("window.__no_reload = 7")
        page.get_by_role("button", name=re.compile("Play")).click()
        # 5 min of the night per second: the clock moves on and people get tested
        expect(clock).not_to_contain_text("19:00", timeout=20_000)
        page.wait_for_function(
            "() => Number(document.querySelectorAll('.co-tile .v')[1].innerText"
            ".replace(/,/g, '')) > 0",
            timeout=30_000,
        )
        page.get_by_role("button", name=re.compile("Pause")).click()
        expect(page.get_by_role("button", name=re.compile("Play"))).to_be_visible(timeout=20_000)
        page.wait_for_timeout(2000)
        shown = clock.inner_text()
        page.wait_for_timeout(2500)
        assert clock.inner_text() == shown  # paused
        assert page.evaluate("window.__no_reload") == 7
        # the URL carries the time shown, so a reload comes back to it
        hhmm = re.search(r"\d\d:\d\d", shown).group(0)
        assert f"t={hhmm.replace(':', '%3A')}" in page.url or f"t={hhmm}" in page.url
        page.screenshot(path=str(ARTIFACTS_DIR() / "wall-replay.png"))
        page.reload()
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        expect(page.locator("#co-clock")).to_contain_text(hhmm, timeout=30_000)
        # the paused slider is an input: End takes it to the morning, when the last sites close
        thumb = page.get_by_role("slider")
        thumb.focus()
        thumb.press("End")
        expect(page.locator("#co-clock")).to_contain_text("08:00", timeout=30_000)
        expect(page.locator(".co-tile .v").nth(1)).to_have_text(f"{night.people:,.0f}")
    finally:
        page.close()


def _clock_minutes(text: str) -> int:
    h, m = (int(x) for x in re.search(r"(\d\d):(\d\d)", text).groups())
    return (h * 60 + m - 18 * 60) % (24 * 60)  # minutes since 18:00 (the night wraps at 24:00)


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_replay_speed_holds_and_pause_stops_on_the_time_shown(browser, app_server):
    """At 5 min/s the clock covers 5 minutes of the night per second (within 10 %), and a pause
    stops within half a second (2.5 min of the night) of the time shown when it is pressed."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(app_server.url + "/?view=wall&replay=1&t=19:00")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        clock = page.locator("#co-clock")
        expect(clock).to_contain_text("19:00", timeout=30_000)
        page.get_by_role("button", name=re.compile("Play")).click()
        samples: list[tuple[float, int]] = []  # (seconds, clock minutes) at each change
        last = None
        t0 = page.evaluate("performance.now()") / 1000
        while page.evaluate("performance.now()") / 1000 - t0 < 18:
            m = _clock_minutes(clock.inner_text())
            if m != last:
                samples.append((page.evaluate("performance.now()") / 1000, m))
                last = m
            page.wait_for_timeout(100)
        changes = samples[1:]  # the first sample is the start, not a change
        # A loaded machine draws fewer frames, but each shows the time the speed says.
        assert len(changes) >= 4, samples
        (ta, ma), (tb, mb) = changes[0], changes[-1]
        assert tb - ta >= 6, samples
        speed = (mb - ma) / (tb - ta)
        assert abs(speed - 5.0) / 5.0 <= 0.10, (speed, samples)
        # read the clock and press Pause in one go, as a person does
        text = page.evaluate(
            """() => { const t = document.querySelector('#co-clock').innerText;
                [...document.querySelectorAll('button')].find(b => /Pause/.test(b.innerText))
                  .click();
                return t; }"""
        )
        shown = _clock_minutes(text)
        expect(page.get_by_role("button", name=re.compile("Play"))).to_be_visible(timeout=20_000)
        page.wait_for_timeout(2000)
        stopped = _clock_minutes(clock.inner_text())
        # Half a second of the night is 2.5 min; a frame already on its way when Pause is
        # pressed may still land (a loaded machine draws a frame every second or so).
        steps = sorted(b[1] - a[1] for a, b in zip(changes, changes[1:]))
        frame = steps[len(steps) // 2] if steps else 2.5
        assert 0 <= stopped - shown <= max(2.5, frame), (shown, stopped, steps)
        page.wait_for_timeout(2000)
        assert _clock_minutes(clock.inner_text()) == stopped  # and it stays
    finally:
        page.close()
