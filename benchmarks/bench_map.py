"""The map at city scale: vector tiles against today's embedding (every feature in the page).

    .venv/bin/python benchmarks/bench_map.py            # demo, 18k and 90k roads; 1M tiles only
    .venv/bin/python benchmarks/bench_map.py --quick    # demo and a 30k-road city (minutes)
    .venv/bin/python benchmarks/bench_map.py --sizes 1000000:10000:100000:1000

For each scenario (the demo, then synthetic cities: ``roads:sites:cells:incidents``, all made
up, ``geo.synthetic``) and each approach (``tiles``: heavy layers as vector tiles; ``today``:
the same app with tiling switched off, ``CITYOPS_TILE_MIN`` huge), measured in the same run:

- build: the tiles of every heavy scenario layer, cold, one after the other (the server then
  reuses them from the cache, as a reopened app does);
- nav: navigation to "map drawn" in headless chromium with a warm server (a first visit warms
  it), wall (``?view=wall``) and workbench; drawn = every visible tile of every tiled layer
  loaded, or (today) the roads' SVG paths on the page;
- ws: the largest websocket message of that page load;
- tile: latency of tile requests from 8 concurrent clients (median, 95th percentile);
- rss: the server's resident memory after the loads; tab: the renderer processes' memory.

Today's approach is skipped above ``--today-max`` roads (it does not answer: the 226k-road
city fails with MessageSizeError after minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CITYOPS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
# "Map drawn": every tiled layer's visible tiles loaded (or none tiled and the roads' paths
# present, as today's page draws them).
DRAWN = """() => {
  const T = window.cityopsTiles;
  const svg = document.querySelectorAll('path.co-roads').length > 0;
  if (!T || !T.maps.length) return svg;
  const layers = T.maps[0]._coTiles.layers;
  if (!layers.some(t => t.o.key === 'roads')) return svg;
  return layers.every(t => t.state !== 'ready' ||
    (t.grid && t.grid._map && !t.grid.isLoading() && Object.keys(t.grid._tiles).length > 0));
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self, scenario: str, env: dict[str, str], log: Path, extra: list[str] | None = None
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
            "--",
            "--scenario",
            scenario,
            *(extra or []),
        ]
        self.log = open(log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        import psutil

        p = psutil.Process(self.proc.pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20

    def wait_idle(self, limit_s: float = 180.0) -> None:
        """Wait until the server's background work (tile builds of result layers) is done."""
        import psutil

        p = psutil.Process(self.proc.pid)
        calm, t0 = 0, time.monotonic()
        while calm < 3 and time.monotonic() - t0 < limit_s:
            calm = calm + 1 if p.cpu_percent(interval=1.0) < 15 else 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _tab_mb(browser_pid: int) -> float:
    import psutil

    total = 0
    for p in psutil.Process(browser_pid).children(recursive=True):
        try:
            if "--type=renderer" in " ".join(p.cmdline()):
                total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def visit(browser, url: str, timeout_s: float, bpid: int | None = None) -> dict:
    """One page load in a fresh context: seconds to drawn, largest websocket message (bytes),
    tile URLs fetched."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    frames: list[int] = []
    tiles: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda p: frames.append(len(p if isinstance(p, bytes) else p.encode()))
        ),
    )
    page.on("request", lambda r: tiles.append(r.url) if r.url.endswith(".pbf") else None)
    t0 = time.perf_counter()
    out = {"nav_s": None, "ws_max": 0, "tiles": tiles, "error": None}
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
        page.wait_for_selector(IFRAME, timeout=timeout_s * 1000)
        frame = page.locator(IFRAME).first.element_handle().content_frame()
        left = max(1.0, timeout_s - (time.perf_counter() - t0))
        frame.wait_for_function(DRAWN, timeout=left * 1000, polling=100)
        out["nav_s"] = time.perf_counter() - t0
    except Exception as exc:  # a page that never draws is a result, not a crash
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        try:
            if "MessageSizeError" in page.locator("body").inner_text(timeout=5000):
                out["error"] = "MessageSizeError"
        except Exception:  # the tab itself is stuck or gone
            out["error"] += " (page unresponsive)"
    out["ws_max"] = max(frames, default=0)
    out["tab_mb"] = _tab_mb(bpid) if bpid else None  # while the page is open
    try:
        page.wait_for_timeout(500)
        ctx.close()
    except Exception:
        pass
    return out


def refresh_bytes(browser, url: str, store: str, timeout_s: float) -> tuple[int, int]:
    """Largest websocket message of a live refresh of the wall: idle (nothing changed) and
    after one new incident reaches the store."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geo.store import open_store

    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    frames: list[tuple[float, int]] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda p: frames.append(
                (time.perf_counter(), len(p if isinstance(p, bytes) else p.encode()))
            ),
        ),
    )
    page.goto(url + "/?view=wall", wait_until="domcontentloaded", timeout=timeout_s * 1000)
    page.wait_for_selector(IFRAME, timeout=timeout_s * 1000)
    frame = page.locator(IFRAME).first.element_handle().content_frame()
    frame.wait_for_function(DRAWN, timeout=timeout_s * 1000, polling=200)
    t_quiet = time.perf_counter()
    page.wait_for_timeout(20_000)  # quiet refreshes (a city's refresh takes seconds itself)
    t_new = time.perf_counter()
    idle = max((n for t, n in frames if t_quiet < t < t_new), default=0)
    st = open_store(store)
    sc_now = pd.Timestamp.now(tz="Asia/Shanghai")
    inc = gpd.GeoDataFrame(
        {
            "id": ["bench-new"],
            "kind": ["fire"],
            "severity": [3],
            "reported_at": [sc_now],
            "status": ["open"],
        },
        geometry=[shapely.Point(*last_center)],
        crs=4326,
    )
    st.register_layer("incidents", inc, at=sc_now, source="bench")
    page.wait_for_timeout(45_000)  # the next refreshes bring it (and its tiles' new hash)
    after = max((n for t, n in frames if t > t_new), default=0)
    ctx.close()
    return idle, after


last_center = (121.6, 31.2)


def _center(sdir: str) -> tuple[float, float]:
    from geo import scenario as scen

    b = scen.load(sdir).extent().total_bounds
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def tile_latency(urls: list[str], clients: int = 8, n: int = 400) -> tuple[float, float]:
    """Median and 95th percentile (ms) of ``n`` tile fetches by ``clients`` threads."""
    rng = random.Random(0)
    picks = [rng.choice(urls) for _ in range(n)]

    def fetch(u: str) -> float:
        t = time.perf_counter()
        with urllib.request.urlopen(u, timeout=30) as r:
            r.read()
        return (time.perf_counter() - t) * 1000

    with ThreadPoolExecutor(clients) as pool:
        times = sorted(pool.map(fetch, picks))
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def zoomed_tile_urls(base: str, hash_: str, key: str, bounds, zooms=(12, 13, 14, 15)) -> list[str]:
    from geo.tiles import mercator

    out = []
    for z in zooms:
        for x, y in mercator.tiles_covering(tuple(bounds), z):
            out.append(f"{base}/tiles/{hash_}/{key}/{z}/{x}/{y}.pbf")
    return out


def build_tiles(scenario_dir: str) -> tuple[float, list[tuple[str, str, tuple]], float]:
    """Build every heavy scenario layer's tiles (cold); (seconds, [(key, hash, bounds)],
    seconds to load the scenario)."""
    from geo import mapview
    from geo import scenario as scen
    from geo.tiles import cache, leaflet, source

    t = time.perf_counter()
    sc = scen.load(scenario_dir)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    built = []
    for layer in mapview.scenario_layers(sc):
        if leaflet.should_tile(layer):
            src = source.from_layer(layer, mapview.tooltip_table)
            ts = cache.ensure(src, wait=True)
            if ts.status != "ready":
                raise RuntimeError(ts.error)
            built.append((layer.key, ts.hash, tuple(layer.gdf.total_bounds)))
    return time.perf_counter() - t, built, load_s


def scenario_for(spec: str, work: Path) -> tuple[str, str]:
    if spec == "demo":
        return "demo (1,578 roads)", str(ROOT / "data" / "disney_2021")
    roads, sites, cells, incidents = (int(v) for v in spec.split(":"))
    out = work / f"city-{spec.replace(':', '-')}"
    if not (out / "scenario.json").exists():
        from geo import synthetic

        t = time.perf_counter()
        synthetic.write_city(out, roads, sites, cells, incidents)
        print(f"  wrote {out} in {time.perf_counter() - t:.0f} s", flush=True)
    return f"{roads:,} roads, {sites:,} sites, {cells:,} cells, {incidents:,} incidents", str(out)


def run(args: argparse.Namespace) -> list[dict]:
    from playwright.sync_api import sync_playwright

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        bpid = browser_pid(browser)
        for spec in args.sizes:
            label, sdir = scenario_for(spec, work)
            n_roads = 1578 if spec == "demo" else int(spec.split(":")[0])
            for approach in ("today", "tiles"):
                if approach == "today" and n_roads > args.today_max:
                    rows.append({"size": label, "approach": approach, "skipped": True})
                    continue
                if approach not in args.approaches:
                    continue
                cache_dir = Path(tempfile.mkdtemp(prefix="cityops-bench-cache-", dir=work))
                env = {"CITYOPS_CACHE": str(cache_dir)}
                if approach == "today":
                    env["CITYOPS_TILE_MIN"] = str(10**12)
                row: dict = {"size": label, "approach": approach}
                built: list = []
                if approach == "tiles":
                    os.environ["CITYOPS_CACHE"] = str(cache_dir)
                    row["build_s"], built, row["load_s"] = build_tiles(sdir)
                print(f"  {label} / {approach}: starting the server", flush=True)
                srv = Server(sdir, env, work / f"server-{approach}.log")
                try:
                    for view, path in (("wall", "/?view=wall"), ("bench", "/")):
                        visit(browser, srv.url + path, args.timeout)  # warms the server
                        v = visit(browser, srv.url + path, args.timeout, bpid)
                        row[f"{view}_s"] = v["nav_s"]
                        row[f"{view}_ws"] = v["ws_max"]
                        row[f"{view}_err"] = v["error"]
                        row["tab_mb"] = max(row.get("tab_mb", 0), v["tab_mb"] or 0)
                        print(
                            f"    {view}: {v['nav_s']} s, ws {v['ws_max']:,} B {v['error'] or ''}"
                        )
                    if built:
                        srv.wait_idle()
                        urls = [
                            u for key, h, b in built for u in zoomed_tile_urls(srv.url, h, key, b)
                        ]
                        row["tile_p50"], row["tile_p95"] = tile_latency(urls)
                    row["rss_mb"] = srv.rss_mb()
                finally:
                    srv.stop()
                if args.refresh:
                    global last_center
                    last_center = _center(sdir)
                    store = str(cache_dir / "ops.sqlite")
                    extra = ["--store", store, "--refresh", "3"]
                    srv = Server(sdir, env, work / f"server-{approach}-live.log", extra)
                    try:
                        visit(browser, srv.url + "/?view=wall", args.timeout)  # registers layers
                        row["refresh_idle"], row["refresh_new"] = refresh_bytes(
                            browser, srv.url, store, args.timeout
                        )
                        print(
                            f"    refresh: idle {row['refresh_idle']:,} B, "
                            f"new incident {row['refresh_new']:,} B",
                            flush=True,
                        )
                    except Exception as exc:
                        row["refresh_err"] = f"{type(exc).__name__}: {str(exc)[:100]}"
                    finally:
                        srv.stop()
                rows.append(row)
                print("   ", json.dumps({k: v for k, v in row.items()}, default=str), flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
        browser.close()
    return rows


def browser_pid(browser) -> int:
    import psutil

    me = psutil.Process()
    cands = [p for p in me.children(recursive=True) if "chromium" in (p.name() or "").lower()]
    roots = [p for p in cands if p.ppid() not in {c.pid for c in cands}]
    return roots[0].pid if roots else me.pid


def _f(v, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def _refresh(r: dict) -> str:
    if r.get("refresh_err"):
        return r["refresh_err"][:40]
    if r.get("refresh_new") is None:
        return "–"
    return f"{r['refresh_idle'] / 1e3:,.1f} / {r['refresh_new'] / 1e3:,.1f}"


def table(rows: list[dict]) -> str:
    head = (
        "| scenario | approach | tile build s | wall s | workbench s | largest ws MB "
        "| tile p50 / p95 ms | server RSS MB | tab MB | refresh KB (idle / +1 incident) |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    by = {(r["size"], r["approach"]): r for r in rows}
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['size']} | today | – | does not answer (not run) | | | | | | |")
            continue
        ws = max(r.get("wall_ws", 0), r.get("bench_ws", 0)) / 1e6
        wall = _f(r.get("wall_s")) + (f" ({r['wall_err']})" if r.get("wall_err") else "")
        bench = _f(r.get("bench_s")) + (f" ({r['bench_err']})" if r.get("bench_err") else "")
        tile = (
            f"{r['tile_p50']:.1f} / {r['tile_p95']:.1f}" if r.get("tile_p50") is not None else "–"
        )
        lines.append(
            f"| {r['size']} | {r['approach']} | {_f(r.get('build_s'), '{:.1f}')} | {wall} "
            f"| {bench} | {ws:.2f} | {tile} | {_f(r.get('rss_mb'), '{:,.0f}')} "
            f"| {_f(r.get('tab_mb'), '{:,.0f}')} | {_refresh(r)} |"
        )
    lines.append("")
    lines.append("Ratios, today / tiles (where today's approach answers):")
    for size in dict.fromkeys(r["size"] for r in rows):
        a, b = by.get((size, "today")), by.get((size, "tiles"))
        if not a or not b or a.get("skipped"):
            continue
        parts = []
        for k, name in (("wall_s", "wall"), ("bench_s", "workbench")):
            if a.get(k) and b.get(k):
                parts.append(f"{name} {a[k] / b[k]:.1f}x faster")
        wa = max(a.get("wall_ws", 0), a.get("bench_ws", 0))
        wb = max(b.get("wall_ws", 0), b.get("bench_ws", 0))
        if wa and wb:
            parts.append(f"largest message {wa / wb:.1f}x smaller")
        lines.append(f"- {size}: " + ", ".join(parts))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the demo and a 30k-road city")
    ap.add_argument("--sizes", nargs="*", help="demo and/or roads:sites:cells:incidents")
    ap.add_argument("--today-max", type=int, default=100_000, help="largest city for today's")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per page load")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "cityops-bench-map"))
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--approaches", nargs="*", default=["today", "tiles"], help="today, tiles")
    ap.add_argument("--rows", help="also print the table with these earlier rows (JSON)")
    ap.add_argument(
        "--no-refresh", dest="refresh", action="store_false", help="skip the live refresh check"
    )
    args = ap.parse_args()
    if not args.sizes:
        args.sizes = (
            ["demo", "30000:600:3000:100"]
            if args.quick
            else ["demo", "18000:200:2000:100", "90000:1000:10000:500", "1000000:10000:100000:1000"]
        )
    print(f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}")
    rows = run(args)
    if args.rows:
        rows = json.loads(Path(args.rows).read_text()) + rows
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
