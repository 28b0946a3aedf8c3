"""Holes 3.2 and 3.5 of issue #18: user text is shown as text, and absurd values are refused.

Markdown and HTML put in every text field of a scenario (its name and description, the names
and notes of incidents, sites, facilities, zones), in every URL parameter, in an uploaded file's
name and in the form's text inputs must be shown literally: no image fetched (the offline
promise, and no tracking beacon), no link or markup rendered. ``?cordon.rings=1e12`` must give a
short message and the map, never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from playwright.sync_api import expect

from geo import scenario as scen
from geo.ui.widgets import plain
from tests.conftest import ARTIFACTS_DIR, AppServer, map_frame, open_app, settle

EVIL_HOST = "evil.example"
IMG = f"![p](http://{EVIL_HOST}/p.png)"
EVIL = f'{IMG} <img src="http://{EVIL_HOST}/i.png"> [fake](http://{EVIL_HOST}/) **b**'
RAW = re.compile(r"(?<!\\)(!\[|<img|\[fake\]|\*\*b)")
PARAMS = {
    "cordon.rings": EVIL, "cordon.ids": EVIL, "cordon.by": EVIL, "cordon.mode": EVIL,
    "cordon.point": EVIL, "catch.kind": EVIL, "catch.cell": EVIL, "catch.scope": EVIL,
    "stage.goal": EVIL, "stage.k": EVIL, "stage.resource": EVIL, "planA.goal": EVIL,
    "hide": EVIL, "draw": EVIL, "replay": EVIL, "t": EVIL,
}  # fmt: skip


def _evil_scenario(folder: Path) -> Path:
    sc = scen.demo()
    sc = dataclasses.replace(
        sc, settings=dataclasses.replace(sc.settings, name=f"Ops {EVIL}", description=EVIL)
    )
    for kind, cols in {
        "incidents": ("name", "notes"),
        "testing_sites": ("name",),
        "facilities": ("name",),
        "crowd_zones": ("name",),
    }.items():
        gdf = sc.layer(kind).copy()
        for c in cols:
            gdf[c] = EVIL
        sc = sc.with_layer(kind, gdf)
    return scen.save(sc, folder / "evil")


def _shown(locator) -> str:
    return locator.inner_text().replace("\u2060", "").strip()


@pytest.fixture(scope="module")
def evil_dir(tmp_path_factory) -> Path:
    return _evil_scenario(tmp_path_factory.mktemp("md"))


def test_user_text_reaches_markdown_elements_escaped(evil_dir, monkeypatch) -> None:
    monkeypatch.setenv("CITYOPS_SCENARIO", str(evil_dir))
    at = open_app(**PARAMS)
    assert at.title[0].value == plain(f"Ops {EVIL}")
    assert any(c.value == plain(EVIL) for c in at.caption)  # the description
    warned = [w.value for w in at.warning]
    assert warned and all("![" not in w and "](http" not in w for w in warned)
    # every element that renders Markdown: no unescaped image, link or tag from the user
    for el in [*at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.success]:
        if "unsafe" in str(getattr(el.proto, "allow_html", "")):
            continue
        # a Markdown character is harmless once escaped ("\!\[" prints "!["): none may be bare
        assert not RAW.search(el.value), el.value


def test_absurd_ring_limits_give_a_message_not_a_traceback() -> None:
    at = open_app(**{"cordon.rings": "1e12", "cordon.ids": "inc-001"})  # fails on an exception
    assert any("cordon\\.rings=1e12" in w.value for w in at.warning)
    assert "Cordon" in [s.value for s in at.subheader]  # drawn with the default rings
    at = open_app()
    rings = next(t for t in at.sidebar.text_input if t.label.startswith("Lockdown"))
    rings.set_value("500,2000,1e12")
    next(b for b in at.sidebar.button if b.label == "Draw cordon").click()
    at.run()
    assert not at.exception
    assert any("at most 200000 metres" in e.value for e in at.error)


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_markdown_and_html_everywhere_are_shown_literally_and_fetch_nothing(browser, evil_dir):
    server = AppServer(scenario=str(evil_dir))
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            urlparse(r.url).hostname not in ("127.0.0.1", None)
            and not r.url.startswith(("data:", "blob:", "about:"))
            and outside.append(r.url)
        ),
    )
    try:
        page.goto(f"{server.url}/?{urlencode(PARAMS)}", wait_until="domcontentloaded")
        frame = map_frame(page)
        settle(page)
        # the title and description show the text as typed (U+2060, the invisible word joiner
        # that keeps a bare URL from becoming a link, aside)
        assert _shown(page.locator("h1").first) == f"Ops {EVIL}"
        assert EVIL in [_shown(c) for c in page.locator('[data-testid="stCaptionContainer"]').all()]
        # a URL parameter is named in its warning, literally
        alerts = [_shown(a) for a in page.locator('[data-testid="stAlert"]').all()]
        assert any(f"={EVIL}' is not valid here" in a for a in alerts), alerts
        # an uploaded file's name and a text input's value, echoed in an error
        sidebar = page.locator('[data-testid="stSidebar"]')
        form = sidebar.locator('[data-testid="stForm"]').filter(has_text="Add to map")
        form.locator('input[type="file"]').set_input_files(
            files=[{"name": f"{IMG}.geojson", "mimeType": "application/json", "buffer": b"{"}]
        )
        form.get_by_label("CRS if the file declares none").fill(EVIL)
        sidebar.get_by_role("heading", name="Load a layer").click()
        settle(page)
        sidebar.get_by_role("button", name="Add to map").click()
        error = sidebar.locator('[data-testid="stAlert"]').filter(has_text="was not loaded")
        error.wait_for(timeout=30_000)
        assert f"{IMG}.geojson was not loaded" in _shown(error)
        # names in the map's tooltips are text too
        frame.locator("path.co-incidents").first.hover(force=True)
        tip = frame.locator(".leaflet-tooltip").first
        tip.wait_for(timeout=10_000)
        assert IMG in tip.inner_text()
        page.screenshot(path=str(ARTIFACTS_DIR() / "markdown_injection.png"))
        # nothing rendered from the user's markup, nothing fetched from outside
        for root in (page, frame):
            found = root.locator(f"img[src*='//{EVIL_HOST}'], a[href*='//{EVIL_HOST}']")
            assert found.count() == 0
        assert outside == []
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and not re.search(r"\w+Error:", body)
    finally:
        ctx.close()
        server.stop()


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_absurd_rings_in_a_link_keep_the_map_and_show_no_traceback(browser, app_server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(f"{app_server.url}/?cordon.rings=1e12&cordon.ids=inc-001")
        frame = map_frame(page)
        expect(frame.locator("path.co-cordon").first).to_be_attached(timeout=60_000)
        expect(page.locator('[data-testid="stAlert"]').first).to_contain_text("cordon.rings=1e12")
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and "JSON compliant" not in body and ".py" not in body
    finally:
        ctx.close()


def test_users_see_a_short_message_and_the_server_listens_on_loopback() -> None:
    import tomllib

    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"  # no type, message or traceback
    assert config["server"]["address"] == "127.0.0.1"
