"""Cordon at city scale: three bands plus checkpoints on the synthetic 250,000-edge network.

Goals (issue 4): network-based bands + checkpoints under 1 s once the network is built; the
straight-distance version under 0.2 s. Inputs are made up (benchmarks/common.synthetic_city: a
jittered grid of ~36 x 36 km near Shanghai, one incident at its centre).

Cases (median of repeated runs, after one warm-up call):

- ``distance``: :func:`geo.cordon.zones_by_distance` (500 / 2000 / 5000 m) + checkpoints.
- ``network walk m``: :func:`geo.cordon.zones_by_network`, 500 / 2000 / 5000 m along the roads
  on foot, + checkpoints.
- ``network drive min``: 5 / 10 / 15 minutes by car (one-way streets honoured) + checkpoints.
- ``network walk polygon``: a 1 km^2 venue polygon as the incident, 5 / 10 / 20 min on foot.
- ``people``: :func:`geo.cordon.people_in_zones` for the distance bands over a 250 m grid of
  made-up crowd zones covering the city.

References, measured in the same run:

- reachable set: ``networkx.single_source_dijkstra_path_length`` (cutoff = outer limit) on the
  same walking graph (metres), against the multi-source Dijkstra of the cordon; the node sets
  are checked equal.
- crossings: a naive loop, one shapely ``intersection`` per road and boundary in the metric CRS
  (roads projected beforehand, not timed), against :func:`geo.cordon.checkpoints` with
  ``merge_m=0``; the crossing counts are checked equal. Also the vectorised naive form,
  ``GeoSeries.intersection`` of every road with each boundary.
- people: ``geopandas.overlay(zones, bands)`` then areal shares, against ``people_in_zones``.

The one-off costs per network (building it, and the lazily built snapping index, graphs and
metre-weighted view the first cordon call triggers) are printed separately.

Usage: ``python benchmarks/bench_cordon.py [--quick] [--edges N] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import UTM51N, city_bounds_m, synthetic_city  # noqa: E402

from geo import cordon  # noqa: E402
from geo.network import RoadNetwork  # noqa: E402


def median_time(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up (caches, allocator)
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def once(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def crossings_naive(bands: gpd.GeoDataFrame, roads_m: np.ndarray, crs) -> int:
    """One shapely call per road and boundary (what a first script would do)."""
    g = np.asarray(bands.to_crs(crs).geometry.array, dtype=object)
    n = 0
    for k in range(len(g)):
        boundary = shapely.union_all(g[: k + 1]).boundary
        for road in roads_m:
            if road.intersects(boundary):
                n += shapely.get_num_geometries(road.intersection(boundary))
    return n


def crossings_vectorised(bands: gpd.GeoDataFrame, roads_m: gpd.GeoSeries) -> int:
    g = np.asarray(bands.to_crs(roads_m.crs).geometry.array, dtype=object)
    n = 0
    for k in range(len(g)):
        boundary = shapely.union_all(g[: k + 1]).boundary
        hit = roads_m.intersection(boundary).to_numpy()
        n += int(shapely.get_num_geometries(hit[~shapely.is_empty(hit)]).sum())
    return n


def crowd_grid(bounds: tuple[float, float, float, float], cell: float, seed: int = 5):
    rng = np.random.default_rng(seed)
    xs = np.arange(bounds[0], bounds[2], cell)
    ys = np.arange(bounds[1], bounds[3], cell)
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    return gpd.GeoDataFrame(
        {"id": [f"z{k}" for k in range(len(x))], "people": rng.integers(0, 3000, len(x))},
        geometry=shapely.box(x, y, x + cell, y + cell),
        crs=UTM51N,
    ).to_crs(4326)


def people_overlay(bands: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> np.ndarray:
    b = bands[["band", "geometry"]].to_crs(UTM51N)
    z = zones.to_crs(UTM51N)
    z["zone_area"] = z.area
    ov = gpd.overlay(z, b, how="intersection", keep_geom_type=True)
    share = ov["people"] * ov.area / ov["zone_area"]
    return share.groupby(ov["band"]).sum().reindex(bands["band"]).fillna(0).to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="30,000 edges, 3 repeats")
    ap.add_argument("--edges", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    n_edges = args.edges or (30_000 if args.quick else 250_000)
    repeat = args.repeat or (3 if args.quick else 7)

    print(f"cordon benchmark: {n_edges:,} edges requested, median of {repeat} runs")
    t_gen, roads = once(lambda: synthetic_city(n_edges))
    t_build, net = once(lambda: RoadNetwork.from_roads(roads))
    print(f"  roads: {len(roads):,} lines, generated in {t_gen:.2f} s")
    print(f"  network: {net.n_edges:,} edges, {net.n_nodes:,} nodes, built in {t_build:.2f} s")

    b = city_bounds_m(roads)
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    point = gpd.GeoDataFrame({"id": ["centre"]}, geometry=[shapely.Point(cx, cy)], crs=UTM51N)
    point = point.to_crs(4326)
    venue = gpd.GeoDataFrame(
        {"id": ["venue"]},
        geometry=[shapely.Point(cx, cy).buffer(564.0, 32)],  # ~1 km^2
        crs=UTM51N,
    ).to_crs(4326)

    # First calls on a fresh network: the lazily built parts (snapping index per mode, the
    # per-mode graphs, the metre-weighted view) are one-off costs per network.
    t_first_walk, _ = once(lambda: cordon.zones_by_network(net, point, (500, 2000, 5000)))
    t_first_drive, _ = once(
        lambda: cordon.zones_by_network(net, point, (5, 10, 15), unit="min", mode="drive")
    )
    print(
        f"  first network call (one-off lazy parts): walk {t_first_walk:.2f} s, "
        f"drive {t_first_drive:.2f} s"
    )

    def case(make_bands, incidents):
        def run():
            bands = make_bands()
            cps = cordon.checkpoints(bands, roads, incidents=incidents)
            return bands, cps

        return run

    cases = [
        (
            "distance 500/2000/5000 m",
            case(lambda: cordon.zones_by_distance(point, (500, 2000, 5000)), point),
            0.2,
        ),
        (
            "network walk 500/2000/5000 m",
            case(lambda: cordon.zones_by_network(net, point, (500, 2000, 5000)), point),
            1.0,
        ),
        (
            "network drive 5/10/15 min",
            case(
                lambda: cordon.zones_by_network(net, point, (5, 10, 15), unit="min", mode="drive"),
                point,
            ),
            1.0,
        ),
        (
            "network walk polygon 5/10/20 min",
            case(lambda: cordon.zones_by_network(net, venue, (5, 10, 20), unit="min"), venue),
            1.0,
        ),
    ]
    results = {}
    print()
    print(f"{'case':34} {'bands+checkpoints':>18} {'goal':>6}  {'checkpoints':>11}  area km2")
    for name, fn, goal in cases:
        t, (bands, cps) = median_time(fn, repeat)
        results[name] = (t, bands, cps)
        ok = "ok" if t < goal else "SLOW"
        areas = "/".join(f"{a:.1f}" for a in bands["area_km2"])
        print(f"{name:34} {t * 1000:15.0f} ms {goal:5.1f}s {ok:>4} {len(cps):6d}  {areas}")

    # --- references -----------------------------------------------------------------------------
    print()
    print("references (same run)")
    # Reachable set: networkx on the same graph vs the cordon's multi-source Dijkstra.
    import networkx as nx

    ids, geoms = cordon._incident_geoms(point, net.crs)
    for mode, what, limit, per_m, view in (
        ("walk", "5000 m on foot", 5000.0, 1.0, cordon._length_view(net, "walk")),
        ("drive", "15 min by car", 900.0, 1.0 / net.walk_ms, net),
    ):
        src, cost0, _ = cordon._sources(net, mode, ids, geoms, per_m, 500.0)
        coo = view._graph(mode).csr.tocoo()
        t_nxbuild, G = once(
            lambda coo=coo: nx.DiGraph(
                (int(u), int(v), {"weight": float(w)})
                for u, v, w in zip(coo.row, coo.col, coo.data)
            )
        )
        # The incident's virtual node: to both ends of its edge (the directions it may go).
        e0, f0 = int(src.edge[0]), float(src.frac[0])
        g = view._graph(mode)
        for end, part in (
            (net.edge_u[e0], f0 * g.t_back[e0]),
            (net.edge_v[e0], (1 - f0) * g.t_fwd[e0]),
        ):
            if np.isfinite(part):
                G.add_edge("s", int(end), weight=cost0[0] + part)
        t_nx, ref = median_time(
            lambda G=G, limit=limit: nx.single_source_dijkstra_path_length(G, "s", cutoff=limit),
            max(1, repeat // 2),
        )
        t_ours, (d, _) = median_time(
            lambda v=view, m=mode, s=src, c=cost0, lim=limit: cordon._reach(v, m, s, c, lim),
            repeat,
        )
        same = set(np.flatnonzero(np.isfinite(d)).tolist()) == {k for k in ref if k != "s"}
        print(
            f"  reachable nodes within {what}: csgraph {t_ours * 1000:.1f} ms, "
            f"networkx {t_nx * 1000:.0f} ms (x{t_nx / t_ours:.0f}; its graph built in "
            f"{t_nxbuild:.1f} s, not counted); {int(np.isfinite(d).sum()):,} nodes, "
            f"same set: {same}"
        )

    # Crossings: naive loops against checkpoints(merge_m=0).
    roads_m = roads.geometry.to_crs(net.crs)
    roads_arr = np.asarray(roads_m.array, dtype=object)
    for name in ("distance 500/2000/5000 m", "network walk 500/2000/5000 m"):
        _, bands, _ = results[name]
        t_cp, cp0 = median_time(
            lambda b=bands: cordon.checkpoints(b, roads, merge_m=0, crs=net.crs), repeat
        )
        t_loop, n_loop = once(lambda b=bands: crossings_naive(b, roads_arr, net.crs))
        t_vec, n_vec = once(lambda b=bands: crossings_vectorised(b, roads_m))
        print(
            f"  crossings, {name}: checkpoints(merge_m=0) {t_cp * 1000:.0f} ms; "
            f"per-road shapely loop {t_loop:.2f} s (x{t_loop / t_cp:.0f}); "
            f"GeoSeries.intersection {t_vec:.2f} s (x{t_vec / t_cp:.1f}); "
            f"crossings {len(cp0)} / {n_loop} / {n_vec}"
        )

    # People: areal weighting against geopandas.overlay.
    zones = crowd_grid(b, 250.0)
    _, bands, _ = results["distance 500/2000/5000 m"]
    t_people, out = median_time(lambda: cordon.people_in_zones(bands, zones), repeat)
    t_ov, ref_people = once(lambda: people_overlay(bands, zones))
    err = float(np.max(np.abs(out["people"].to_numpy() - ref_people)))
    print(
        f"  people over {len(zones):,} crowd zones: people_in_zones {t_people * 1000:.0f} ms, "
        f"geopandas.overlay {t_ov:.2f} s (x{t_ov / t_people:.0f}); max difference {err:.2g}"
    )


if __name__ == "__main__":
    main()
