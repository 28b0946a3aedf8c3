"""The print sheet: an A3 landscape PDF of the map with title, situation time, legend, scale bar,
north arrow, sources and the classification line, printed offline by headless Chromium from the
CLI (``cityops report --pdf``) and the workbench's Export section."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from dataclasses import replace

import pytest
from pyproj import Geod

from geo import analyses, legend, mapview, printsheet, reportmap
from geo.cli import main
from geo.palette import BAND_FILL
from tests.conftest import ARTIFACTS_DIR
from tests.test_report import no_cjk_fontconfig

A = 6378137.0  # WGS 84
E2 = 0.0066943799901413165


@pytest.fixture(scope="module")
def cordon_layers(demo):
    bands, cps, _ = analyses.cordon(demo, ["inc-001"], (500, 2000, 5000))
    return mapview.cordon_layers(bands, cps)


@pytest.fixture(scope="module")
def sheet(demo, cordon_layers):
    return printsheet.sheet_html(demo, cordon_layers)


# --- scale, view ------------------------------------------------------------------------------


@pytest.mark.parametrize("lat", [0.0, 31.15, -45.0, 60.0])
@pytest.mark.parametrize("zoom", [10.0, 13.37, 16.0])
def test_scale_bar_is_true_at_the_centre_latitude(lat, zoom):
    s = printsheet.scale_bar(lat, zoom, max_px=190)
    # the reference: the parallel's radius on the ellipsoid, a cos(lat) / sqrt(1 - e2 sin2(lat)),
    # over one pixel's longitude, 2 pi / (256 * 2**zoom)
    phi = math.radians(lat)
    radius = A * math.cos(phi) / math.sqrt(1 - E2 * math.sin(phi) ** 2)
    expected = radius * 2 * math.pi / (256 * 2**zoom)
    assert s.metres_per_px == pytest.approx(expected, rel=1e-6)
    assert s.bar_px == pytest.approx(s.bar_m / expected, rel=1e-6)
    assert 190 / 2.5 <= s.bar_px <= 190  # the longest round length that fits
    mantissa = s.bar_m / 10 ** math.floor(math.log10(s.bar_m))
    assert mantissa in (1, 2, 5)
    assert s.label == (f"{s.bar_m / 1000:g} km" if s.bar_m >= 1000 else f"{s.bar_m:g} m")
    paper_m_per_px = 0.0254 / 96
    assert s.denominator == pytest.approx(expected / paper_m_per_px, rel=0.01)


def test_the_sheet_view_fits_the_content():
    bounds = (121.60, 31.10, 121.72, 31.20)
    w, h = 1180, 855
    lat, lon, zoom = printsheet.fit(bounds, w, h, pad=0.04)
    world = 256 * 2**zoom

    def px(lon_: float, lat_: float) -> tuple[float, float]:
        r = math.radians(lat_)
        return (lon_ + 180) / 360 * world, (
            1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi
        ) / 2 * world

    (x0, y1), (x1, y0) = px(bounds[0], bounds[1]), px(bounds[2], bounds[3])
    assert x1 - x0 <= w * 0.92 + 1e-6 and y1 - y0 <= h * 0.92 + 1e-6
    assert max((x1 - x0) / (w * 0.92), (y1 - y0) / (h * 0.92)) == pytest.approx(1.0)
    cx, cy = px(lon, lat)
    assert cx == pytest.approx((x0 + x1) / 2) and cy == pytest.approx((y0 + y1) / 2)


# --- what is on the sheet ---------------------------------------------------------------------


def test_the_sheet_carries_title_time_legend_sources_and_classification(demo, cordon_layers):
    sc = replace(
        demo,
        settings=replace(
            demo.settings, name="上海迪士尼度假区", extra={"classification": "内部 INTERNAL"}
        ),
    )
    s = printsheet.sheet_html(sc, cordon_layers)
    text = s.html
    assert text.count("内部 INTERNAL") == 2  # top and bottom
    assert "<h1>上海迪士尼度假区</h1>" in text
    assert "Situation at Sun 31 Oct 2021, 18:05 (UTC+08:00)" in text
    assert "Files: incidents.geojson (3)" in text and "Analyses (CityOps): Cordon bands" in text
    assert 'aria-label="North"' in text and f'data-bar-m="{s.scale.bar_m:g}"' in text
    # the legend lists every drawn layer's entries from the style table, in drawing order
    drawn = reportmap.drawn_layers(sc, cordon_layers)
    keys = re.findall(r"data-layer='([a-z_]+)'", text)
    assert keys == [g.key for g in legend.groups(drawn)]
    cordon = next(layer for layer in drawn if layer.key == "cordon")
    assert [e.label for e in legend.groups([cordon])[0].entries] == [
        lab for _, lab in cordon.legend
    ]
    assert "facilities" not in keys  # hidden layers are not in the legend
    # the embedded font holds the title's characters
    assert "@font-face" in text and s.missing == ""


def test_the_sheet_leaves_off_the_layers_the_map_hides(demo, cordon_layers):
    s = printsheet.sheet_html(demo, cordon_layers, hidden={"roads", "checkpoints"})
    keys = re.findall(r"data-layer='([a-z_]+)'", s.html)
    assert "roads" not in keys and "checkpoints" not in keys and "cordon" in keys
    assert "facilities" in keys  # hidden by default, shown when the map's choice says so
    want = json.loads(re.search(r"var want = (\{[^}]*\});", s.html).group(1))
    assert "roads" not in want and want["cordon"] == 3


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_the_drawn_sheet_has_a_true_scale_and_the_maps_symbols(sheet, browser):
    w, h = (round(v * printsheet.PX_PER_MM) for v in printsheet.A3_MM)
    ctx = browser.new_context(offline=True, viewport={"width": w, "height": h})
    try:
        page = ctx.new_page()
        page.set_content(sheet.html, wait_until="load")
        page.wait_for_function("window.coSheetReady === true", timeout=30_000)
        name = re.search(r"var (map_[0-9a-f]+) = L\.map", sheet.html).group(1)
        # the bar's length on the map, measured by Leaflet's own projection and the ellipsoid
        ends = page.evaluate(
            f"""(px) => {{
            const m = {name}, y = m.getSize().y / 2, x0 = m.getSize().x / 2 - px / 2;
            const a = m.containerPointToLatLng([x0, y]), b = m.containerPointToLatLng([x0 + px, y]);
            return [a.lat, a.lng, b.lat, b.lng];
        }}""",
            sheet.scale.bar_px,
        )
        _, _, dist = Geod(ellps="WGS84").inv(ends[1], ends[0], ends[3], ends[2])
        assert dist == pytest.approx(sheet.scale.bar_m, rel=0.005)
        # the legend's symbols are the map's: stroke, width, fill and opacities of a drawn path
        attrs = ("stroke", "stroke-width", "stroke-opacity", "fill", "fill-opacity")
        checked = page.evaluate(
            """(attrs) => {
            const out = [];
            for (const sym of document.querySelectorAll('.co-lg .co-sym')) {
                const key = sym.closest('.co-lg').dataset.layer;
                const shape = [...sym.children].filter(e => e.tagName !== 'text').pop();
                const want = attrs.map(a => shape.getAttribute(a) || 'none');
                const paths = [...document.querySelectorAll('path.co-' + key)];
                const same = paths.some(p => attrs.every((a, i) => {
                    if (shape.tagName === 'line' && a.startsWith('fill')) return true;
                    return (p.getAttribute(a) || 'none').toLowerCase() === want[i].toLowerCase();
                }));
                const colour = shape.getAttribute('fill') !== 'none' && shape.tagName !== 'line'
                    ? shape.getAttribute('fill') : shape.getAttribute('stroke');
                const present = paths.some(p => [p.getAttribute('fill'), p.getAttribute('stroke')]
                    .includes(colour));
                out.push([key, sym.nextElementSibling.textContent, present, same]);
            }
            return out;
        }""",
            list(attrs),
        )
        # every entry whose colour is on the map is drawn as the map draws it
        assert all(same for _, _, present, same in checked if present), checked
        must = {"Study area", "Major road", "lockdown zone", "Hospital", "Incident"}
        assert must <= {label for _, label, present, same in checked if present and same}
        assert page.locator(".north").count() == 1 and page.locator(".scale").is_visible()
        page.screenshot(path=str(ARTIFACTS_DIR() / "print-sheet.png"))
    finally:
        ctx.close()


# --- the PDF, from the CLI --------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's poppler-utils (.ci/run does)")
    return path


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_cli_prints_an_a3_pdf_with_title_legend_and_scale(demo, tmp_path, monkeypatch, capsys):
    from geo import scenario

    sc = replace(
        demo,
        settings=replace(
            demo.settings,
            name="上海迪士尼度假区 演练",
            description="演练：迪士尼度假区封控 (a drill)",
            extra={"classification": "内部 INTERNAL"},
        ),
    )
    folder = scenario.save(sc, tmp_path / "zh")
    # no CJK font on this "machine": the Chinese title must come from the embedded font
    for k, v in no_cjk_fontconfig(tmp_path).items():
        monkeypatch.setenv(k, v)
    out_pdf, out_html = tmp_path / "sheet.pdf", tmp_path / "report.html"
    assert main(["report", str(folder), "--pdf", str(out_pdf), "--html", str(out_html)]) == 0
    said = capsys.readouterr().out
    label = re.search(r"scale bar ([\d.]+ k?m)", said).group(1)
    assert out_pdf.read_bytes()[:5] == b"%PDF-" and "内部 INTERNAL" in out_html.read_text()

    info = subprocess.run([_tool("pdfinfo"), out_pdf], capture_output=True, text=True).stdout
    assert re.search(r"Pages:\s+1\n", info)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert float(size.group(1)) == pytest.approx(420 / 25.4 * 72, abs=1)  # landscape A3
    assert float(size.group(2)) == pytest.approx(297 / 25.4 * 72, abs=1)
    text = subprocess.run(
        [_tool("pdftotext"), "-layout", out_pdf, "-"], capture_output=True, text=True
    ).stdout
    assert "上海迪士尼度假区 演练" in text
    assert text.count("内部 INTERNAL") == 2
    for words in ("Legend", "Cordon bands", "lockdown zone", "Hospital", "Scale 1 :", "Sources."):
        assert words in text, words
    assert re.search(rf"\b{re.escape(label)}\b", text)
    fonts_used = subprocess.run([_tool("pdffonts"), out_pdf], capture_output=True, text=True)
    # the embedded face drew the Chinese set in regular weight (the sources line); bold Chinese
    # (title, classification) is emboldened by the browser and lands as Type 3 outlines
    assert "NotoSansSC" in fonts_used.stdout, fonts_used.stdout

    # pdftoppm renders it: an A3 landscape page whose map is drawn (the cordon's red ring)
    subprocess.run([_tool("pdftoppm"), "-r", "40", "-png", out_pdf, tmp_path / "p"], check=True)
    from PIL import Image

    png = next(tmp_path.glob("p*.png"))
    shutil.copy(png, ARTIFACTS_DIR() / "print-sheet-pdf.png")
    img = Image.open(png).convert("RGB")
    assert img.size[0] == pytest.approx(420 / 25.4 * 40, abs=1.5)
    assert img.size[1] == pytest.approx(297 / 25.4 * 40, abs=1.5)
    x, y, w, h = (v / 25.4 * 40 for v in printsheet.LAYOUT_MM["map"])
    import numpy as np

    px = np.asarray(img.crop((int(x), int(y), int(x + w), int(y + h))), dtype=float)
    ring = BAND_FILL["lockdown"].lstrip("#")  # the lockdown ring, in the palette's colour
    rgb = np.array([int(ring[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)
    red = int((np.linalg.norm(px - rgb, axis=-1) < 40).sum())
    assert red > 20, red


def test_cli_report_needs_an_output(capsys):
    assert main(["report", "demo"]) == 2
    assert "--pdf" in capsys.readouterr().err


# --- the workbench's Export section -----------------------------------------------------------


def test_the_export_section_prints_the_sheet_with_the_current_results(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    seen = {}

    def fake_pdf(sc, extra=(), **kwargs):
        seen["keys"] = [layer.key for layer in extra]
        seen["hidden"] = kwargs.get("hidden")
        return b"%PDF-1.4 fake"

    monkeypatch.setattr(printsheet, "pdf", fake_pdf)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["hide"] = "roads"
    at.run()
    next(b for b in at.sidebar.button if b.label == "Draw cordon").click()
    at.run()
    next(b for b in at.sidebar.button if b.label == "Print sheet (PDF, A3)").click()
    at.run()
    assert not at.exception
    assert seen["keys"][:2] == ["cordon", "checkpoints"] and seen["hidden"] == {"roads"}
    labels = [d.label for d in at.sidebar.get("download_button")]
    assert "Print sheet · PDF (A3 landscape)" in labels
    assert at.session_state["print_sheet"][1] == b"%PDF-1.4 fake"
