"""OGC API - Features (/ogc) of the running app: items request latency on the demo and on a
large layer, against the cost of writing the same features (the reference, same run).

Starts ``streamlit run app.py`` (as the browser tests do) on a scenario made of the demo plus a
synthetic incidents layer of N points (made up: uniform over the demo's area, reported over the
night), then times, as a client that accepts gzip (as GDAL does):

- one page of ``items`` (first, last, with ``bbox``, with ``datetime``), ``/collections`` and
  one feature by id: median of repeated requests;
- reference: :func:`geo.io.to_geojson` of the same page in this process (the serialisation
  every answer needs), so ``ratio`` is what the request costs beyond writing its features;
- GDAL's OAPIF driver (QGIS's) reading the whole layer through the API (pages of 1,000), against
  reading the same layer from a GeoJSON file export (the export step this API replaces).

    python benchmarks/bench_ogc.py            # 100,000 incidents
    python benchmarks/bench_ogc.py --quick    # 10,000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo import io, scenario  # noqa: E402
from tests.conftest import AppServer  # noqa: E402

START = pd.Timestamp("2021-10-31T18:00+08:00")


def big_incidents(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` made-up incidents over the demo's area, reported between 18:00 and 06:00."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(121.60, 121.72, n)
    lat = rng.uniform(31.10, 31.19, n)
    return gpd.GeoDataFrame(
        {
            "id": [f"syn-{i:07d}" for i in range(n)],
            "kind": rng.choice(["crowding", "medical", "fire", "traffic"], n),
            "severity": rng.integers(1, 6, n),
            # Whole seconds: GDAL 3.12 writes 59.9996 s as "60.000" and then cannot parse it.
            "reported_at": START + pd.to_timedelta(rng.integers(0, 12 * 3600, n), unit="s"),
            "name": None,
            "status": "open",
            "notes": None,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


def fetch(url: str) -> tuple[float, bytes]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
    return time.perf_counter() - t0, body


def median_s(url: str, repeat: int) -> tuple[float, dict | None]:
    fetch(url)  # warm (first read of a layer, spatial index)
    times, body = [], b""
    for _ in range(repeat):
        dt, body = fetch(url)
        times.append(dt)
    return statistics.median(times), json.loads(body)


def time_it(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 incidents")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    print(f"machine: {os.cpu_count()} cores; synthetic incidents: {n:,}")
    demo = scenario.demo()
    big = big_incidents(n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ogc-"))
    path = scenario.save(
        scenario.Scenario({**demo.layers, "incidents": big}, demo.settings), tmp / "big.gpkg"
    )
    servers = {"demo": AppServer(), "big": AppServer(scenario=str(path))}
    rows = []
    try:
        d = f"{servers['demo'].url}/ogc"
        b = f"{servers['big'].url}/ogc"
        roads = demo.layer("roads")
        cases = [
            (
                "demo: incidents, 3 features",
                f"{d}/collections/incidents/items",
                demo.layer("incidents"),
            ),
            ("demo: roads, page of 100", f"{d}/collections/roads/items", roads.iloc[:100]),
            (
                "demo: roads, page of 1,000 (GDAL's)",
                f"{d}/collections/roads/items?limit=1000",
                roads.iloc[:1000],
            ),
            (f"{n:,}: first page of 100", f"{b}/collections/incidents/items", big.iloc[:100]),
            (
                f"{n:,}: last page of 100",
                f"{b}/collections/incidents/items?offset={n - 100}",
                big.iloc[n - 100 :],
            ),
            (
                f"{n:,}: page of 1,000",
                f"{b}/collections/incidents/items?limit=1000",
                big.iloc[:1000],
            ),
            (
                f"{n:,}: page of 10,000 (max)",
                f"{b}/collections/incidents/items?limit=10000",
                big.iloc[:10000],
            ),
        ]
        box_q = "bbox=121.650,31.140,121.660,31.150"
        sel = big.cx[121.650:121.660, 31.140:31.150]
        cases.append(
            (
                f"{n:,}: bbox (a city block, {len(sel):,} hits)",
                f"{b}/collections/incidents/items?{box_q}",
                sel.iloc[:100],
            )
        )
        dt_q = "datetime=2021-10-31T20:00:00%2B08:00/2021-10-31T20:10:00%2B08:00"
        t_sel = big[
            (big["reported_at"] >= START + pd.Timedelta("2h"))
            & (big["reported_at"] <= START + pd.Timedelta("2h10min"))
        ]
        cases.append(
            (
                f"{n:,}: datetime (10 min, {len(t_sel):,} hits)",
                f"{b}/collections/incidents/items?{dt_q}",
                t_sel.iloc[:100],
            )
        )
        for label, url, page in cases:
            got, doc = median_s(url, args.repeat)
            assert doc is not None and doc["numberReturned"] == len(page), (
                label,
                doc and doc["numberReturned"],
            )
            ref = time_it(lambda page=page: io.to_geojson(page), args.repeat)
            rows.append((label, got, ref))
        extra = [
            ("demo: /collections", f"{d}/collections"),
            (f"{n:,}: /collections", f"{b}/collections"),
            (f"{n:,}: one feature by id", f"{b}/collections/incidents/items/syn-{n // 2:07d}"),
        ]
        for label, url in extra:
            rows.append((label, median_s(url, args.repeat)[0], None))
        print(f"\n{'request':48} {'median':>9} {'to_geojson':>11} {'ratio':>6}")
        for label, got, ref in rows:
            r = f"{got / ref:5.1f}x" if ref else ""
            rs = f"{ref * 1000:8.1f} ms" if ref else ""
            print(f"{label:48} {got * 1000:6.1f} ms {rs:>11} {r:>6}")
        # The whole layer into GDAL: through the API vs from an exported file.
        t0 = time.perf_counter()
        via_api = pyogrio.read_dataframe(f"OAPIF:{b}", layer="incidents")
        api_s = time.perf_counter() - t0
        export = tmp / "incidents.geojson"
        t0 = time.perf_counter()
        io.write_geojson(big, export)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        from_file = pyogrio.read_dataframe(export)
        read_s = time.perf_counter() - t0
        assert len(via_api) == len(from_file) == n
        print(
            f"\nGDAL reads all {n:,} via OAPIF (pages of 1,000): {api_s:.2f} s; "
            f"from a GeoJSON export: write {write_s:.2f} s + read {read_s:.2f} s = "
            f"{write_s + read_s:.2f} s (ratio {api_s / (write_s + read_s):.1f}x)"
        )
    finally:
        for s in servers.values():
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
