"""The full export: a zip of RFC 7946 GeoJSON + GeoPackage, and an offline HTML report that a
person can read (names, units, whole people, clock times), with its Chinese drawn by an embedded
font cut to the report's characters, its legend beside the map, and its tables below the map."""

from __future__ import annotations

import html as htmllib
import io as pyio
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from geo import analyses, fonts, mapview, readable, report, tables
from geo.errors import InputError
from geo.layers import LAYER_KINDS
from tests.conftest import ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def cordon_result(demo):
    return analyses.cordon(demo, ["inc-001"], (500, 2000, 5000))


@pytest.fixture(scope="module")
def zh_scenario(demo):
    """The demo with a site list read from a Chinese CSV (Chinese names and columns), one name
    holding 喆 (not in GB 2312, so not in the vendored font)."""
    from geo.io import read_layer

    layer, rep = read_layer(FIXTURES / "sites_zh.csv", "testing_sites")
    layer = layer.copy()
    layer.loc[0, "name"] = "北门 North Gate 喆"
    return demo.with_layer("testing_sites", layer, rep)


@pytest.fixture(scope="module")
def zh_page(zh_scenario):
    return report.build(zh_scenario)


def _page_only(doc: str) -> str:
    """The report without its map document (the srcdoc attribute)."""
    return re.sub(r'srcdoc="[^"]*"', 'srcdoc=""', doc)


def _srcdoc(doc: str) -> str:
    return htmllib.unescape(re.search(r'srcdoc="([^"]*)"', doc).group(1))


def test_zip_holds_every_layer_result_and_the_scenario(demo, cordon_result, tmp_path):
    bands, cps, _ = cordon_result
    html = report.situation_report(demo, mapview.cordon_layers(bands, cps))
    data = report.export_zip(demo, {"cordon_bands": bands, "checkpoints": cps}, html)
    z = zipfile.ZipFile(pyio.BytesIO(data))
    names = set(z.namelist())
    assert {f"layers/{k}.geojson" for k in LAYER_KINDS} <= names
    assert {
        "results/cordon_bands.geojson",
        "results/checkpoints.geojson",
        "scenario.gpkg",
        "scenario.json",
        "report.html",
    } <= names
    fc = json.loads(z.read("results/cordon_bands.geojson"))
    assert "crs" not in fc and [f["id"] for f in fc["features"]] == [
        "lockdown",
        "control",
        "prevention",
    ]
    # the GeoPackage inside reads back as the same scenario
    from geo import scenario

    (tmp_path / "s.gpkg").write_bytes(z.read("scenario.gpkg"))
    back = scenario.load(tmp_path / "s.gpkg")
    assert list(back.layer("testing_sites")["id"]) == list(demo.layer("testing_sites")["id"])


def test_report_is_self_contained(demo, cordon_result):
    bands, cps, _ = cordon_result
    html = report.situation_report(
        demo,
        mapview.cordon_layers(bands, cps),
        tables={"Cordon <b>bands</b>": bands.drop(columns="geometry")},
    )
    loads = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert loads == []  # Leaflet is inlined in the map's srcdoc
    assert "Cordon &lt;b&gt;bands&lt;/b&gt;" in html
    # the map's own document loads nothing either
    inner = _srcdoc(html)
    assert (
        re.findall(r"""<(?:script|link|img)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)""", inner) == []
    )


# --- every table and figure a person reads ---------------------------------------------------


def test_every_table_and_figure_is_readable_whatever_the_caller_passes(demo, cordon_result):
    """Raw tables (as the panels used to pass them, and the plan comparison passed through
    ``astype(str)``) come out with names, units, whole people and clock times."""
    bands, _, _ = cordon_result
    finish = pd.Timestamp("2021-10-31 23:00", tz="Asia/Shanghai")
    raw_sites = pd.DataFrame(
        {
            "site_id": ["s1", "s2"],
            "people": [28514.938562, 1200.4],
            "untested": [1.818989e-12, -0.0],
            "mean_min": [12.3456, 3.0],
            "finish_at": [finish, pd.NaT],
        }
    )
    compared = pd.DataFrame(
        {
            "figure": ["People within T (%)", "Everyone tested at", "Mean travel (min)"],
            "A": [87.345678, None, 25.0],
            "B": [91.2, "23:10", 30.12345],
            "B - A": [3.854322, None, 5.12345],
        }
    ).astype(str)
    page = report.build(
        demo,
        figures={"People to test": 34282.71, "Finish": finish},
        tables={
            "Cordon": bands.drop(columns="geometry"),  # raw: band_zh, area_km2, people
            "Catchments": raw_sites,
            "Plans A and B compared": compared,
        },
    )
    text = _page_only(page.html)
    cells = [htmllib.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", text)]
    tiles = [htmllib.unescape(v) for v in re.findall(r"<div class='v'>(.*?)</div>", text)]
    for value in cells + tiles:
        assert not re.search(r"\d\.\d{3,}|e-\d|\d{2}:\d{2}:\d{2}|NaN|None|NaT", value), value
    headers = [htmllib.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", text)]
    assert not [h for h in headers if "_" in h], headers
    assert {"Zone (中文)", "Area (km²)", "People", "Untested (people)", "Finishes"} <= set(headers)
    # the values, against a hand-made reference
    assert "28,515" in cells and "1,200" in cells and "12.3" in cells
    assert cells.count("Sun 23:00") == 1 and "0" in cells and "–" in cells
    assert {"87.3", "91.2", "3.9", "23:10", "30.1", "5.1"} <= set(cells)
    people = {b: round(p) for b, p in zip(bands["band"], bands["people"])}
    assert f"{people['lockdown']:,}" in cells
    assert "34,283" in tiles and "Sun 23:00" in tiles
    # the heading's time and the data notes are readable too
    assert "Situation at Sun 31 Oct 2021, 18:05 (UTC+08:00)" in text
    assert "roads.geojson: 1,578 roads" in text
    assert "2021-10-31 18:05:00" not in text


def test_presented_tables_keep_their_values(demo):
    """A table already shaped by geo.tables.present reads the same after the report's pass."""
    df = pd.DataFrame({"band": ["lockdown"], "people": [29135.49], "area_km2": [8.5612]})
    shown = readable.table(tables.present(df, "cordon_bands"))
    assert shown.to_dict("records") == [
        {"Zone": "lockdown", "People": "29,135", "Area (km²)": "8.56"}
    ]


def test_data_notes_name_each_file_and_its_columns(zh_page):
    text = _page_only(zh_page.html)
    assert "sites_zh.csv: 3 testing sites" in text
    assert "column &#x27;名称&#x27; read as name" in text or "column '名称' read as name" in text


def test_classification_is_printed_top_and_bottom(demo):
    from dataclasses import replace

    assert report.classification(demo) == report.DEFAULT_CLASSIFICATION
    sc = replace(demo, settings=replace(demo.settings, extra={"classification": "内部 INTERNAL"}))
    assert _page_only(report.build(sc).html).count("内部 INTERNAL") == 2
    for value in (["x"], "  ", "x" * 121):
        bad = replace(demo, settings=replace(demo.settings, extra={"classification": value}))
        with pytest.raises(InputError) as err:
            report.classification(bad)
        assert err.value.field == "classification"


# --- the embedded CJK font ------------------------------------------------------------------


def test_the_vendored_font_covers_gb2312_and_stays_small():
    from fontTools.ttLib import TTFont

    assert fonts.FONT_FILE.stat().st_size < 3_000_000
    assert (fonts.FONT_DIR / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") >= 1
    cmap = TTFont(fonts.FONT_FILE, lazy=True).getBestCmap()
    # the reference: every character of GB 2312 by Python's own codec
    gb = {
        bytes([h, lo]).decode("gb2312", "ignore")
        for h in range(0xB0, 0xF8)
        for lo in range(0xA1, 0xFF)
    }
    gb.discard("")
    assert len(gb) == 6763  # the hanzi of GB 2312 (levels 1 and 2)
    assert not [c for c in gb if ord(c) not in cmap]


def test_the_embed_holds_exactly_the_pages_characters_and_names_the_missing():
    from fontTools.ttLib import TTFont

    e = fonts.embed("<td>封控区</td> Gate 北门 \\u7ba1\\u63a7 𠀀 喆 한 abc")
    assert e.missing == "".join(sorted("𠀀喆한"))  # outside GB 2312: the codec says so too
    for c in e.missing:
        with pytest.raises(UnicodeEncodeError):
            c.encode("gb2312")
    assert set(e.chars) == set("封控区北门")  # the JSON escape is decoded only via page_text
    data = re.search(r"base64,([A-Za-z0-9+/=]+)", e.css).group(1)
    import base64

    font = TTFont(pyio.BytesIO(base64.b64decode(data)))
    assert set(font.getBestCmap()) == {ord(c) for c in "封控区北门"}
    assert len(data) < 20_000
    assert "管" in fonts.embed(fonts.page_text('{"t": "\\u7ba1\\u63a7"}')).chars
    assert fonts.embed("plain ASCII and – · ²").css == ""


def test_report_lists_the_characters_its_font_lacks(zh_page):
    page = zh_page
    assert page.missing == "喆"
    # no table holds the name: it is in the map's tooltips (JSON-escaped), and still found
    assert "id='co-missing-glyphs'" in page.html and "喆 (U+5586)" in page.html


# --- in a browser without CJK fonts ---------------------------------------------------------


def no_cjk_fontconfig(tmp_path: Path) -> dict[str, str]:
    """Environment for a Chromium that sees the system's fonts except every font file that has
    封 (fontconfig's own answer): a machine without CJK fonts."""
    try:
        out = subprocess.run(
            ["fc-list", ":charset=5c01", "file"], capture_output=True, text=True, check=True
        ).stdout
    except FileNotFoundError:
        pytest.fail("fc-list not found: install Debian's fontconfig (.ci/run does)")
    files = [line.strip().rstrip(":") for line in out.splitlines() if line.strip()]
    conf = tmp_path / "no-cjk-fonts.conf"
    conf.write_text(
        "<?xml version='1.0'?><!DOCTYPE fontconfig SYSTEM 'fonts.dtd'><fontconfig>"
        "<include ignore_missing='yes'>/etc/fonts/fonts.conf</include><selectfont><rejectfont>"
        + "".join(f"<glob>{htmllib.escape(f)}</glob>" for f in files)
        + "</rejectfont></selectfont></fontconfig>",
        encoding="utf-8",
    )
    return {"FONTCONFIG_FILE": str(conf)}


#: Draws each character of ``text`` in ``el``'s font on a canvas (after loading the page's web
#: fonts for it) and counts the distinct bitmaps: empty boxes (tofu) are all alike.
DISTINCT_GLYPHS = """async ([sel, text]) => {
    const el = document.querySelector(sel);
    const font = getComputedStyle(el).fontFamily;
    await document.fonts.load('32px ' + font, text);
    const c = document.createElement('canvas'); c.width = 48; c.height = 48;
    const g = c.getContext('2d'), seen = new Set();
    for (const ch of text) {
        g.clearRect(0, 0, 48, 48); g.font = '32px ' + font; g.fillText(ch, 4, 38);
        seen.add(c.toDataURL());
    }
    const faces = [...document.fonts].map(f => f.family.replace(/"/g, '') + ':' + f.status);
    return {distinct: seen.size, faces: faces};
}"""


@pytest.fixture(scope="module")
def no_cjk_browser(browser, tmp_path_factory):
    """A headless Chromium that cannot see any CJK font of the machine (launched by the
    session's Playwright: one thread may run only one)."""
    env = no_cjk_fontconfig(tmp_path_factory.mktemp("fc"))
    b = browser.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env={**os.environ, **env}
    )
    yield b
    b.close()


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_chinese_renders_from_the_embedded_font_without_system_cjk_fonts(
    zh_scenario, cordon_result, no_cjk_browser, tmp_path
):
    bands, cps, _ = cordon_result
    page_html = report.build(
        zh_scenario,
        mapview.cordon_layers(bands, cps),
        tables={"Cordon": tables.present(bands.drop(columns="geometry"), "cordon_bands")},
    ).html
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    ctx = no_cjk_browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        # the control: without the embed, this browser draws 封, 控 and 区 as the same box
        page.set_content("<p id='p' style='font-family: sans-serif'>x</p>")
        assert page.evaluate(DISTINCT_GLYPHS, ["#p", "封控区"])["distinct"] == 1
        page.goto(path.as_uri())
        cell = next(
            i for i, td in enumerate(page.locator("td").all_inner_texts()) if td == "封控区"
        )
        page.locator("td").nth(cell).evaluate("el => el.id = 'zh-cell'")
        got = page.evaluate(DISTINCT_GLYPHS, ["#zh-cell", "封控区中文"])  # cells, header
        assert got["distinct"] == 5 and f"{fonts.FAMILY}:loaded" in got["faces"], got
        # and inside the map's own document, with its own cut of the font (the cordon's
        # tooltips say 封控区; the sites' 北门)
        frame = page.frame_locator("iframe[title=map]")
        frame.locator("path.co-cordon").first.wait_for(state="attached", timeout=20_000)
        inner = page.frames[1]
        got = inner.evaluate(DISTINCT_GLYPHS, [".leaflet-container", "封控区北门"])
        assert got["distinct"] == 5 and f"{fonts.FAMILY}:loaded" in got["faces"], got
        # the character the font lacks is named on the page
        assert "喆 (U+5586)" in page.locator("#co-missing-glyphs").inner_text()
        page.locator("h2", has_text="Cordon").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS_DIR() / "report-no-cjk-fonts.png"), full_page=True)
    finally:
        ctx.close()


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_report_opens_offline_and_lays_out(demo, cordon_result, browser, tmp_path):
    bands, cps, _ = cordon_result
    path = tmp_path / "report.html"
    path.write_text(
        report.situation_report(
            demo,
            mapview.cordon_layers(bands, cps),
            tables={"Cordon": tables.present(bands.drop(columns="geometry"), "cordon_bands")},
        ),
        encoding="utf-8",
    )
    ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        frame = page.frame_locator("iframe[title=map]")
        frame.locator("path.co-cordon").first.wait_for(state="attached", timeout=20_000)
        assert frame.locator("path.co-cordon").count() == 3
        assert frame.locator("path.co-roads").count() == len(demo.layer("roads"))
        assert [u for u in requests if u.startswith("http")] == []
        # a full-page screenshot (the window as tall as the page) keeps the map its own height
        # and the tables below it
        page.screenshot(path=str(ARTIFACTS_DIR() / "report-full-page.png"), full_page=True)
        iframe = page.locator("iframe[title=map]").bounding_box()
        assert iframe["height"] == pytest.approx(report.MAP_HEIGHT_PX, abs=2)
        assert page.locator("h2", has_text="Cordon").bounding_box()["y"] >= (
            iframe["y"] + iframe["height"]
        )
        # the legend sits beside the map, not on it; the map has none and its switcher is shut
        key = page.locator(".co-legend-sheet").bounding_box()
        assert key["x"] >= iframe["x"] + iframe["width"]
        assert frame.locator(".co-legend").count() == 0
        assert frame.locator(".leaflet-control-layers").count() == 1
        assert frame.locator(".leaflet-control-layers-expanded").count() == 0
        # the map fits its content: the outer cordon band is wholly inside the map
        inner = page.frames[1]
        box = inner.evaluate(
            """() => {
            const m = document.querySelector('.leaflet-container').getBoundingClientRect();
            const b = [...document.querySelectorAll('path.co-cordon')]
                .map(p => p.getBoundingClientRect());
            return {m: [m.left, m.top, m.right, m.bottom],
                    b: [Math.min(...b.map(r => r.left)), Math.min(...b.map(r => r.top)),
                        Math.max(...b.map(r => r.right)), Math.max(...b.map(r => r.bottom))]};
        }"""
        )
        (ml, mt, mr, mb), (bl, bt, br, bb) = box["m"], box["b"]
        assert ml <= bl and mt <= bt and br <= mr and bb <= mb, box
        assert (br - bl) > 0.6 * (mr - ml) or (bb - bt) > 0.6 * (mb - mt), box  # and fills it
    finally:
        ctx.close()
