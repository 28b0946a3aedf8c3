"""HTML to PDF with the system's headless Chromium (Playwright), offline.

The page is loaded with the network off, Chromium waits until the page says it is drawn (a
JavaScript condition, e.g. every Leaflet layer's paths are on the map and the fonts are loaded),
then prints with the page's own size and backgrounds. Playwright's sync API runs in a thread of
its own, so this works from Streamlit's script thread, from a CLI and beside a test's browser.

Examples
--------
>>> pdf = html_to_pdf("<p>Hello</p>", ready="true", size_mm=(210, 297))  # doctest: +SKIP
>>> pdf[:5]  # doctest: +SKIP
b'%PDF-'
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from geo.errors import InputError

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium", "html_to_pdf"]

#: The browser that prints (Debian's chromium; another with ``CITYOPS_CHROMIUM``).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)
PX_PER_MM = 96 / 25.4  # CSS pixels: what Chromium prints at scale 1


def chromium() -> str:
    """The Chromium executable: ``$CITYOPS_CHROMIUM``, ``/usr/bin/chromium``, or ``chromium``
    on the PATH; an InputError saying how to get one when there is none.

    Examples
    --------
    >>> chromium()  # doctest: +SKIP
    '/usr/bin/chromium'
    """
    for candidate in (os.environ.get("CITYOPS_CHROMIUM"), CHROMIUM, shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise InputError(
        "no Chromium to print with",
        field="CITYOPS_CHROMIUM",
        expected="Debian's chromium (apt-get install chromium) or its path in CITYOPS_CHROMIUM",
    )


def _print(
    doc: str, ready: str, size_mm: tuple[float, float], timeout_s: float, env: Mapping[str, str]
) -> bytes:
    from playwright.sync_api import sync_playwright

    w_mm, h_mm = size_mm
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium(),
            args=list(CHROMIUM_ARGS),
            headless=True,
            env={**os.environ, **env},
        )
        try:
            ctx = browser.new_context(
                offline=True,
                # The page is laid out once, at the paper's size: the map measured by Leaflet on
                # screen is the map printed.
                viewport={"width": round(w_mm * PX_PER_MM), "height": round(h_mm * PX_PER_MM)},
            )
            page = ctx.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.set_content(doc, wait_until="load")
            page.wait_for_function(ready, timeout=timeout_s * 1000)
            return page.pdf(
                width=f"{w_mm}mm",
                height=f"{h_mm}mm",
                print_background=True,
                margin={"top": "0", "right": "0", "bottom": "0", "left": "0"},
                prefer_css_page_size=True,
            )
        finally:
            browser.close()


def html_to_pdf(
    doc: str,
    *,
    ready: str = "window.coSheetReady === true",
    size_mm: tuple[float, float] = (420.0, 297.0),
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Print the HTML ``doc`` to PDF bytes with headless Chromium, offline.

    Parameters
    ----------
    doc : a self-contained HTML document (nothing is fetched: the browser is offline).
    ready : a JavaScript expression that is true once the page is fully drawn.
    size_mm : paper (width, height) in mm; the default is A3 landscape. The page's CSS
        ``@page`` size wins when it sets one.
    timeout_s : how long to wait for the page to load and be drawn.
    env : extra environment for the browser (e.g. ``FONTCONFIG_FILE``).

    Returns
    -------
    bytes : the PDF.
    """
    chromium()  # fail early, with the message, not from inside Playwright
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityops-print") as pool:
        return pool.submit(_print, doc, ready, size_mm, timeout_s, dict(env or {})).result()
