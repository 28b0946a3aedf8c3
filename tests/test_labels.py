"""Names on the map: what is labelled, and on the wall at 1920x1080 in a real browser: the
places that matter are named, at least 24 px high, no label covers another, and the wall shows
the whole standing cordon."""

from __future__ import annotations

import pytest

from geo import analyses, maplabels
from tests.conftest import MAP_IFRAME

WALL_MIN_PX = 24


def test_the_places_that_matter_are_labelled_in_priority_order(demo):
    found = maplabels.labels(demo)
    kinds = [lab.kind for lab in found]
    assert kinds[0] == "venue" and found[0].text == "Shanghai Disney Resort"
    assert {"hospital", "metro_station", "testing_site", "road"} <= set(kinds)
    assert [lab.priority for lab in found] == sorted(lab.priority for lab in found)
    sites = [lab for lab in found if lab.kind == "testing_site"]
    assert sites and all(lab.min_zoom >= 14 for lab in sites)  # sites only when close
    roads = [lab for lab in found if lab.kind == "road"]
    assert all(-90 <= lab.angle <= 90 for lab in roads)  # never upside down
    assert len({lab.text for lab in roads}) == len(roads)  # one label per road name


def test_html_in_a_name_is_text(demo):
    from geo import mapview

    fac = demo.layer("facilities").copy()
    fac.loc[fac["kind"] == "hospital", "name"] = "<img src=x onerror=alert(1)>"
    html = mapview.build_map(demo.with_layer("facilities", fac)).get_root().render()
    # escaped before it reaches the page (and the page's JSON escapes its "&" again)
    assert "<img src=x" not in html and "\\u0026lt;img src=x" in html


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_wall_labels_are_big_apart_and_the_cordon_fits(browser, app_server, demo):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(app_server.url + "/?view=wall")
        page.wait_for_selector(MAP_IFRAME, timeout=60_000)
        live = None
        for _ in range(100):
            live = page.locator(MAP_IFRAME).first.element_handle().content_frame()
            if live and live.locator(".co-maplabel").count():
                break
            page.wait_for_timeout(300)
        assert live is not None
        page.wait_for_timeout(1500)
        shown = live.evaluate(
            """() => [...document.querySelectorAll('.co-maplabel')]
                 .filter(e => e.style.visibility !== 'hidden')
                 .map(e => { const s = e.firstChild, r = s.getBoundingClientRect();
                   return {text: s.innerText, px: parseFloat(getComputedStyle(s).fontSize),
                           l: r.left, r: r.right, t: r.top, b: r.bottom}; })"""
        )
        texts = {s["text"] for s in shown}
        assert "Shanghai Disney Resort" in texts
        assert any("hospital" in t.lower() for t in texts)
        assert min(s["px"] for s in shown) >= WALL_MIN_PX
        for a, b in [(a, b) for i, a in enumerate(shown) for b in shown[i + 1 :]]:
            apart = a["r"] <= b["l"] or b["r"] <= a["l"] or a["b"] <= b["t"] or b["b"] <= a["t"]
            assert apart, (a["text"], b["text"])
        # the whole standing cordon is on the screen (its prevention ring is wider than the
        # study area)
        bands = analyses.standing_cordon(demo).bands
        x0, y0, x1, y1 = bands.total_bounds
        inside = live.evaluate(
            """([x0, y0, x1, y1]) => { const m = Object.values(window)
                 .find(v => v instanceof L.Map); const b = m.getBounds();
                 return b.contains([y0, x0]) && b.contains([y1, x1]); }""",
            [x0, y0, x1, y1],
        )
        assert inside
    finally:
        page.close()
