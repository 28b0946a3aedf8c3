"""Two vector tile renderers for Leaflet on the same CityOps tiles: Leaflet.VectorGrid 1.3.0
and protomaps-leaflet 5.1.0 (both vendored from npm), in headless chromium.

    .venv/bin/python benchmarks/bench_renderers.py            # a 100k-road synthetic city
    .venv/bin/python benchmarks/bench_renderers.py --quick    # 30k roads

Serves the app's tile routes and static files (uvicorn, loopback) with
``benchmarks/pages/renderers.html``, and times, for each renderer and view (the whole city,
zoom 14 where every street shows, zoom 17 past the tiles' last zoom), the time from adding
the layers to every visible tile drawn (the layers' ``load`` event), median of 3 fresh
pages, with the page's JS heap. The choice and why: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_map import ARGS, CHROMIUM  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from geo import web

    page = ROOT / "benchmarks" / "pages" / "renderers.html"
    app = Starlette(
        routes=[
            *web.routes(),
            Route("/renderers.html", lambda r: FileResponse(page)),
            Mount("/app/static", StaticFiles(directory=ROOT / "static")),
        ]
    )
    cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    threading.Thread(target=uvicorn.Server(cfg).run, daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--roads", type=int, default=100_000)
    args = ap.parse_args()
    roads = 30_000 if args.quick else args.roads
    os.environ.setdefault("CITYOPS_CACHE", tempfile.mkdtemp(prefix="cityops-renderers-"))
    from geo import mapview, synthetic
    from geo.tiles import cache, leaflet, source

    sc = synthetic.city(roads=roads, sites=roads // 50, cells=roads // 10, incidents_n=200)
    layers = []
    for layer in mapview.scenario_layers(sc):
        if leaflet.should_tile(layer) and layer.key in ("crowd_zones", "roads", "testing_sites"):
            ts = cache.ensure(source.from_layer(layer, mapview.tooltip_table), wait=True)
            layers.append({"url": f"/tiles/{ts.hash}/{layer.key}", "key": layer.key, "maxZoom": 15})
    w, s, e, n = sc.layer("boundary").total_bounds
    lat, lon = (s + n) / 2, (w + e) / 2
    city_z = 11 if roads > 50_000 else 12
    port = _port()
    serve(port)
    time.sleep(1.5)
    from playwright.sync_api import sync_playwright

    print(
        f"machine: {os.cpu_count()} cores; {len(sc.layer('roads')):,} roads, "
        f"{len(sc.layer('crowd_zones')):,} cells, {len(sc.layer('testing_sites')):,} sites"
    )
    results = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for z in (city_z, 14, 17):
            for r in ("vectorgrid", "protomaps"):
                times, heaps = [], []
                for _ in range(3):
                    ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                    pg = ctx.new_page()
                    q = urllib.parse.urlencode(
                        {"r": r, "z": z, "lat": lat, "lon": lon, "layers": json.dumps(layers)}
                    )
                    pg.goto(f"http://127.0.0.1:{port}/renderers.html?{q}")
                    pg.wait_for_function("() => window.__drawn !== undefined", timeout=120_000)
                    times.append(pg.evaluate("() => window.__drawn"))
                    heaps.append(pg.evaluate("() => performance.memory.usedJSHeapSize") / 2**20)
                    if z == 14 and r == "vectorgrid" and len(times) == 1:
                        pg.screenshot(path=str(Path(tempfile.gettempdir()) / f"renderer-{r}.png"))
                    ctx.close()
                row = (z, r, statistics.median(times), statistics.median(heaps))
                results.append(row)
                print(f"zoom {z:>2}  {r:<11} drawn in {row[2]:7.0f} ms  JS heap {row[3]:5.0f} MB")
        b.close()
    print("\n| zoom | Leaflet.VectorGrid ms | protomaps-leaflet ms | ratio |\n|---|---|---|---|")
    for z in (city_z, 14, 17):
        vg = next(t for zz, r, t, _ in results if zz == z and r == "vectorgrid")
        pm = next(t for zz, r, t, _ in results if zz == z and r == "protomaps")
        print(f"| {z} | {vg:.0f} | {pm:.0f} | {pm / vg:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
