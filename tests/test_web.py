"""The app's extra HTTP routes (geo.web), served next to the page on the app's own origin."""

from __future__ import annotations

import json
import urllib.request

import pytest

import geo

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_version_route_on_the_apps_origin(app_server):
    with urllib.request.urlopen(f"{app_server.url}/api/version", timeout=10) as r:
        body = json.loads(r.read())
    assert body == {"name": "cityops", "version": geo.__version__}
    assert geo.__version__ != "0+unknown"  # read from the installed package's metadata


def test_page_and_health_still_served(app_server):
    with urllib.request.urlopen(f"{app_server.url}/_stcore/health", timeout=10) as r:
        assert r.read() == b"ok"
    with urllib.request.urlopen(f"{app_server.url}/", timeout=10) as r:
        assert b"<html" in r.read().lower()
