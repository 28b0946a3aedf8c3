"""The OGC API checked by an outside validator: ``ogctests`` (PyPI), a black-box runner of the
abstract test suite of OGC API - Features Part 1 (``/ats/core/...``, test_ast1..29).

ogctests pins pytest < 9, so it cannot share the project's environment: ``make test`` installs
it without its dependencies into ``.venv/ogctests`` (see the Makefile), and it runs here in a
subprocess against the routes served in this process. ``CITYOPS_OGCTESTS`` may point at
another such folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo import analyses, config, results, scenario
from tests.ogc_http import RoutesServer

ROOT = Path(__file__).resolve().parent.parent
LIB = Path(os.environ.get("CITYOPS_OGCTESTS", ROOT / ".venv" / "ogctests"))

# ogctests' test_ast2 (/ats/core/crs84) asserts the Part 2 conformance class
# (ogcapi-features-2/1.0/conf/crs), which Part 1 does not require of a CRS84-only API; our own
# test_req_core_crs84 checks the requirement itself.
DESELECT = ["features/core/test_crs.py::test_ast2"]


@pytest.fixture()
def small_scenario(tmp_path, demo) -> str:
    """The demo cut to a few features per layer, with a drawn cordon: every collection has
    features (the validator fails an empty one) and the run stays short."""
    layers = {kind: gdf.head(12) for kind, gdf in demo.layers.items()}
    layers["cordons"] = gpd.GeoDataFrame(
        {
            "id": ["drawn-1"],
            "band": ["lockdown"],
            "name": ["Park"],
            "drawn_at": [pd.Timestamp("2021-10-31T18:30:00+08:00")],
            "notes": [None],
            "origin": ["drawn"],
        },
        geometry=[box(121.65, 31.135, 121.665, 31.15)],
        crs="EPSG:4326",
    )
    sc = scenario.Scenario(layers, demo.settings)
    return str(scenario.save(sc, tmp_path / "small"))


def test_ogctests_core_suite_passes(tmp_path, small_scenario, demo):
    if not (LIB / "ogctests").is_dir():
        pytest.skip(f"ogctests not installed in {LIB} (make test installs it)")
    before = config.current()
    config.configure(config.Config(scenario=small_scenario))
    results.clear()
    results.publish_cordon(analyses.cordon(demo, ["inc-001"], (300, 1000, 3000)))
    server = RoutesServer()
    try:
        ini = tmp_path / "pytest.ini"
        ini.write_text("[pytest]\n")
        report = tmp_path / "ogctests.xml"
        suite = LIB / "ogctests"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ini),
            "--rootdir",
            str(suite),
            "--confcutdir",
            str(suite),
            f"--junitxml={report}",
            str(suite / "features" / "core"),
            *[f"--deselect={name}" for name in DESELECT],  # node ids under --rootdir
        ]
        env = {
            **os.environ,
            "INSTANCE_URL": f"{server.url}/ogc",
            "PYTHONPATH": os.pathsep.join([str(LIB), str(ROOT)]),
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    finally:
        server.stop()
        results.clear()
        config.configure(before)
    suite_xml = ET.parse(report).getroot().find("testsuite")
    assert suite_xml is not None, run.stdout[-2000:]
    counts = {k: int(suite_xml.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 28 - len(DESELECT), counts
    assert run.returncode == 0 and counts["failures"] == counts["errors"] == 0, run.stdout[-4000:]
