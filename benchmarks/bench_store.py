"""Operations store: ingest throughput and state-query latency, SQLite against PostGIS.

Writes a synthetic night of events (made up, shaped like the demo: incidents and their status
changes, testing-site figures every few minutes, crowd counts) into each backend, then times

- ``append``: events per second, in batches of 10,000 (one transaction each);
- a feed folder: CSV files through :func:`geo.feeds.ingest_folder` (parse, check, store, move);
- ``current(layer)`` (the picture now) and ``current(layer, at=t)`` (the picture at a past t),
  median of repeated runs, per layer;
- ``history("site_figures", one site)``.

The PostGIS server is a throwaway one started like the tests' (tests/pg_server.py) but with
durable settings (fsync on), as SQLite runs with synchronous=FULL. ``--pg-url`` uses a server
of your own instead (its database gets ``ops_*`` tables).

    python benchmarks/bench_store.py            # 1,000,000 events
    python benchmarks/bench_store.py --quick    # 50,000 events
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo import feeds  # noqa: E402
from geo.auth import Actor  # noqa: E402
from geo.store import Event, Store, open_store  # noqa: E402

START = pd.Timestamp("2021-10-31T18:00+08:00")
NIGHT_S = 12 * 3600
BATCH = 10_000


def layout(n_events: int) -> dict[str, int]:
    """How many entities and events of each kind (shares of the total, made up)."""
    n_inc = max(10, n_events // 100)
    return {
        "sites": 500,
        "zones": 1000,
        "incidents": n_inc,
        "status": int(n_events * 0.09),
        "figures": int(n_events * 0.60),
        "counts": n_events - n_inc - int(n_events * 0.09) - int(n_events * 0.60),
    }


def baseline(n: dict[str, int], rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    lon = 121.60 + rng.random(n["sites"]) * 0.15
    lat = 31.10 + rng.random(n["sites"]) * 0.10
    sites = gpd.GeoDataFrame(
        {
            "id": [f"s{i}" for i in range(n["sites"])],
            "name": [f"Site {i}" for i in range(n["sites"])],
            "lanes": rng.integers(2, 9, n["sites"]),
            "per_lane_per_h": 150.0,
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    zx = 121.60 + rng.random(n["zones"]) * 0.15
    zy = 31.10 + rng.random(n["zones"]) * 0.10
    zones = gpd.GeoDataFrame(
        {
            "id": [f"z{i}" for i in range(n["zones"])],
            "people": 0.0,
            "observed_at": START,
        },
        geometry=shapely.box(zx, zy, zx + 0.004, zy + 0.004),
        crs="EPSG:4326",
    )
    return {"testing_sites": sites, "crowd_zones": zones}


def event_stream(n: dict[str, int], seed: int = 0) -> Iterator[list[Event]]:
    """The events in arrival order (roughly chronological), in batches."""
    rng = np.random.default_rng(seed)
    kinds = np.concatenate(
        [
            np.full(n["incidents"], 0),
            np.full(n["status"], 1),
            np.full(n["figures"], 2),
            np.full(n["counts"], 3),
        ]
    )
    secs = np.sort(rng.integers(0, NIGHT_S, kinds.size))
    kinds = rng.permutation(kinds)
    # incidents are reported before their status changes: status events name a reported one
    reported = 0
    statuses = ("open", "contained", "closed")
    for start in range(0, kinds.size, BATCH):
        batch = []
        for k, s in zip(kinds[start : start + BATCH], secs[start : start + BATCH]):
            when = START + pd.Timedelta(seconds=int(s))
            if k == 0 or (k == 1 and reported == 0):
                x, y = 121.60 + rng.random() * 0.15, 31.10 + rng.random() * 0.10
                batch.append(
                    Event(
                        "incident",
                        f"i{reported}",
                        when,
                        {"kind": "crowd", "severity": int(rng.integers(1, 6)), "reported_at": when},
                        shapely.Point(x, y),
                    )
                )
                reported += 1
            elif k == 1:
                iid = f"i{rng.integers(0, reported)}"
                status = statuses[rng.integers(0, 3)]
                batch.append(Event("incident_status", iid, when, {"status": status}))
            elif k == 2:
                site = f"s{rng.integers(0, n['sites'])}"
                figs = {"queue": int(rng.integers(0, 800)), "tested": int(rng.integers(0, 9000))}
                batch.append(Event("site_figures", site, when, figs))
            else:
                zone = f"z{rng.integers(0, n['zones'])}"
                people = float(rng.integers(0, 20000))
                batch.append(
                    Event("crowd_count", zone, when, {"people": people, "observed_at": when})
                )
        yield batch


def median_time(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_backend(name: str, url: str, n_events: int, feed_rows: int, repeat: int) -> dict:
    out: dict[str, float | int] = {}
    n = layout(n_events)
    rng = np.random.default_rng(1)
    st: Store = open_store(url, actor=Actor.service("bench"))
    for kind, gdf in baseline(n, rng).items():
        st.register_layer(kind, gdf)

    t_append = 0.0
    stored = 0
    for batch in event_stream(n):
        t0 = time.perf_counter()
        res = st.append(batch)
        t_append += time.perf_counter() - t0
        stored += res.inserted
    out["events"] = st.count()
    out["append_s"] = t_append
    out["append_per_s"] = stored / t_append
    print(f"  [{name}] appended {stored:,} events in {t_append:.1f} s", flush=True)

    # a second pass of the first batch: all duplicates (the re-ingest case)
    first = next(event_stream(n))
    t0 = time.perf_counter()
    res = st.append(first)
    out["reingest_per_s"] = len(first) / (time.perf_counter() - t0)
    assert res.inserted == 0

    # feed files
    tmp = Path(tempfile.mkdtemp(prefix="bench-feed-"))
    try:
        inbox = tmp / "inbox"
        inbox.mkdir()
        per_file = 2_500
        k = 0
        for f in range(max(1, feed_rows // per_file)):
            lines = ["site_id,queue,tested,observed_at"]
            for _ in range(per_file):
                when = (START + pd.Timedelta(seconds=NIGHT_S + k)).isoformat()
                lines.append(f"s{k % n['sites']},{k % 700},{k},{when}")
                k += 1
            (inbox / f"site_figures_{f:03d}.csv").write_text("\n".join(lines) + "\n")
        t0 = time.perf_counter()
        summary = feeds.ingest_folder(inbox, st, settle_s=0)
        dt = time.perf_counter() - t0
        assert summary.stored == k, summary.summary()
        out["feed_per_s"] = k / dt
        out["feed_files"] = len(summary.files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    past = START + pd.Timedelta(hours=6)
    for layer in ("incidents", "testing_sites", "crowd_zones"):
        out[f"rows_{layer}"] = len(st.current(layer))
        out[f"now_{layer}"] = median_time(lambda layer=layer: st.current(layer), repeat)
        out[f"past_{layer}"] = median_time(lambda layer=layer: st.current(layer, at=past), repeat)
    out["history_one_site"] = median_time(lambda: st.history("site_figures", "s7"), repeat)
    st.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50,000 events instead of 1,000,000")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--pg-url", default=None, help="use this PostgreSQL+PostGIS database")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n_events = args.events or (50_000 if args.quick else 1_000_000)
    feed_rows = 10_000 if args.quick else 50_000
    print(f"Store benchmark: {n_events:,} events, {os.cpu_count()} cores", flush=True)

    results: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    server = None
    try:
        for name in args.backends.split(","):
            if name == "sqlite":
                url = f"sqlite:///{tmp / 'ops.sqlite'}"
            else:
                url = args.pg_url
                if url is None:
                    from tests.pg_server import PgServer, PgServerError

                    try:
                        server = PgServer(fast=False)
                    except PgServerError as exc:
                        print(f"  [postgis] skipped: {exc}")
                        continue
                    url = server.url
            results[name] = bench_backend(name, url, n_events, feed_rows, args.repeat)
            if name == "sqlite":
                size = sum(p.stat().st_size for p in tmp.glob("ops.sqlite*"))
                results[name]["size_mb"] = size / 1e6
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    names = list(results)
    print()
    header = f"{'measure':<38}" + "".join(f"{n:>14}" for n in names)
    if len(names) == 2:
        header += f"{names[1] + '/' + names[0]:>18}"
    print(header)
    rows = [
        ("events stored", "events", "{:,.0f}"),
        ("append, events/s", "append_per_s", "{:,.0f}"),
        ("re-append (all duplicates), events/s", "reingest_per_s", "{:,.0f}"),
        ("feed folder (CSV), events/s", "feed_per_s", "{:,.0f}"),
    ]
    for layer in ("incidents", "testing_sites", "crowd_zones"):
        rows.append((f"current({layer}) now, ms", f"now_{layer}", "ms"))
        rows.append((f"current({layer}) at t, ms", f"past_{layer}", "ms"))
    rows.append(("history(site_figures, one site), ms", "history_one_site", "ms"))
    for label, key, fmt in rows:
        vals = [results[n].get(key) for n in names]
        cells = [
            (f"{v * 1000:,.1f}" if fmt == "ms" else fmt.format(v)) if v is not None else "-"
            for v in vals
        ]
        line = f"{label:<38}" + "".join(f"{c:>14}" for c in cells)
        if len(names) == 2 and all(v for v in vals):
            line += f"{vals[1] / vals[0]:>17.2f}x"
        print(line)
    for n in names:
        r = results[n]
        print(
            f"{n}: rows returned incidents={r['rows_incidents']:,} "
            f"testing_sites={r['rows_testing_sites']:,} crowd_zones={r['rows_crowd_zones']:,}"
            + (f"; file {r['size_mb']:.0f} MB" if "size_mb" in r else "")
        )


if __name__ == "__main__":
    main()
