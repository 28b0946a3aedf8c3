"""The OGC API of the running app (``streamlit run app.py``): GDAL's OAPIF driver (what QGIS
uses) reads collections from it, and a cordon run in the page is a collection right after."""

from __future__ import annotations

import pyogrio
import pytest
from shapely.geometry import box

from tests.conftest import settle
from tests.ogc_http import get

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_gdal_oapif_driver_is_available():
    assert "OAPIF" in pyogrio.list_drivers()


def test_gdal_lists_and_reads_the_apps_collections(app_server, demo):
    url = f"OAPIF:{app_server.url}/ogc"
    names = [name for name, _ in pyogrio.list_layers(url)]
    assert names[:7] == [
        "incidents",
        "testing_sites",
        "crowd_zones",
        "roads",
        "facilities",
        "boundary",
        "cordons",
    ]
    got = pyogrio.read_dataframe(url, layer="incidents")
    want = demo.layer("incidents")
    assert got["id"].tolist() == want["id"].tolist()
    assert got["severity"].tolist() == want["severity"].tolist()
    assert (got["reported_at"] == want["reported_at"]).all()  # same instants, zone kept
    for a, b in zip(got.geometry, want.geometry):
        assert a.equals_exact(b, 2e-7)
    # More features than GDAL's page (1,000): it follows the next links.
    roads = pyogrio.read_dataframe(url, layer="roads", columns=["id", "road_class"])
    assert sorted(roads["id"]) == sorted(demo.layer("roads")["id"])


def test_gdal_bbox_filter_is_served_by_the_api(app_server, demo):
    url = f"OAPIF:{app_server.url}/ogc"
    area = (121.650, 31.140, 121.662, 31.150)
    got = pyogrio.read_dataframe(url, layer="roads", bbox=area, columns=["id"])
    roads = demo.layer("roads")
    want = roads.loc[roads.intersects(box(*area)), "id"]
    assert sorted(got["id"]) == sorted(want)


def test_a_cordon_run_in_the_page_is_a_collection_right_after(browser, app_server, demo):
    base = f"{app_server.url}/ogc"
    # Rings no other test uses, so the published bands are this run's.
    rings = "260,910,2730"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        # The URL carries the cordon's parameters: the page runs it as it opens.
        page.goto(
            f"{app_server.url}/?cordon.ids=inc-001&cordon.by=distance&cordon.rings={rings}",
            wait_until="domcontentloaded",
        )
        page.get_by_text("Cordon bands · GeoJSON").first.wait_for(timeout=120_000)
        settle(page)
    finally:
        context.close()
    listed = [c["id"] for c in get(f"{base}/collections").json()["collections"]]
    assert {"results-cordon-bands", "results-checkpoints"} <= set(listed)
    bands = get(f"{base}/collections/results-cordon-bands/items").json()
    assert [f["id"] for f in bands["features"]] == ["lockdown", "control", "prevention"]
    assert [f["properties"]["outer_m"] for f in bands["features"]] == [260, 910, 2730]
    # GDAL reads the result like any layer.
    got = pyogrio.read_dataframe(f"OAPIF:{base}", layer="results-cordon-bands")
    assert got["band"].tolist() == ["lockdown", "control", "prevention"]
