"""Shared fixtures: the demo scenario, a running app, and a real headless chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The app's tests run without signing in: sign-in off is honoured on loopback only (every test
# server binds 127.0.0.1), with a banner; tests/test_auth*.py start servers with it on.
os.environ.setdefault("CITYOPS_AUTH", "off")
CHROMIUM = os.environ.get("CITYOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def demo():
    from geo import scenario

    return scenario.demo()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """A Streamlit server running app.py on loopback, for browser tests."""

    def __init__(
        self, scenario: str | None = None, args: list[str] | None = None, env: dict | None = None
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless=true",
            "--server.address=127.0.0.1",
            f"--server.port={self.port}",
            "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false",
        ]
        app_args = (["--scenario", scenario] if scenario else []) + list(args or [])
        if app_args:
            cmd += ["--", *app_args]
        self.log = open(ARTIFACTS_DIR() / f"streamlit-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("streamlit did not become healthy in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def ARTIFACTS_DIR() -> Path:  # noqa: N802 - reads like the constant it wraps
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_server() -> Iterator[AppServer]:
    server = AppServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def open_app(**params: str):
    """The app under Streamlit's AppTest, opened on a URL with these query parameters (no
    browser); fails on an exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def map_frame(page):
    """The map's frame once Leaflet has drawn the roads (a stale hidden iframe may linger
    beside the live one in fragments: the first is taken)."""
    page.wait_for_selector(MAP_IFRAME, timeout=60_000)
    frame = page.locator(MAP_IFRAME).first.content_frame
    frame.locator("path.co-roads").first.wait_for(state="attached", timeout=60_000)
    return frame


def settle(page) -> None:
    """Wait until the script has finished running (a click during a rerun can be lost)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)
    page.wait_for_timeout(200)
