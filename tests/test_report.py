"""The full export: a zip of RFC 7946 GeoJSON + GeoPackage, and an offline HTML report."""

from __future__ import annotations

import io as pyio
import json
import re
import zipfile

import pytest

from geo import analyses, mapview, report
from geo.layers import LAYER_KINDS


@pytest.fixture(scope="module")
def cordon_result(demo):
    return analyses.cordon(demo, ["inc-001"], (500, 2000, 5000))


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


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_report_opens_offline_in_the_browser(demo, cordon_result, browser, tmp_path):
    bands, cps, _ = cordon_result
    path = tmp_path / "report.html"
    path.write_text(
        report.situation_report(demo, mapview.cordon_layers(bands, cps)), encoding="utf-8"
    )
    ctx = browser.new_context(offline=True)
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
    finally:
        ctx.close()
