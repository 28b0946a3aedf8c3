"""Road network and catchments at city scale, against references measured in the same run.

1. Nearest site for every demand point: a synthetic city road network (~250,000 edges, a
   perturbed grid with arterials and one-way streets), 500 testing sites, 1,000,000 points.
   - ours: geo.network (snap every point, one multi-source Dijkstra from the sites with
     scipy.sparse.csgraph, vectorised assignment);
   - reference: networkx ``multi_source_dijkstra`` on the same graph (same virtual source
     nodes), then a per-point lookup of the two ends of its edge. Both use the same snapping, so
     the ratio compares routing + assignment; the snapping time is reported on its own and the
     "whole" figure is snapping + routing + assignment. Results are checked equal.
2. Capacity-balanced catchments: 500 sites x ~100,000 demand cells (crowd zones on the same
   city; sites placed where people are), walking, capacity 1.2x and 0.8x the demand.
   - ours: geo.catchment.balanced (exact, column generation);
   - reference (smaller size, where it is practical): the textbook transportation LP with every
     (cell, site) pair, solved by scipy.optimize.linprog (HiGHS), same objective checked.

Usage: ``python benchmarks/bench_network.py [--quick] [--skip-balanced] [--json PATH]``.
Goals: >= 30x networkx and < 5 s for the 1M-point assignment; balanced < 30 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from common import (  # noqa: E402
    city_bounds_m,
    random_points,
    sites_near_people,
    synthetic_city,
    synthetic_zones,
    testing_sites,
    timed,
)
from scipy.optimize import linprog  # noqa: E402

from geo import catchment  # noqa: E402
from geo.network import RoadNetwork  # noqa: E402

FULL = {
    "edges": 250_000,
    "sites": 500,
    "points": 1_000_000,
    "cells": 100_000,
    "ref_cells": 3000,
    "ref_sites": 60,
}
QUICK = {
    "edges": 20_000,
    "sites": 50,
    "points": 100_000,
    "cells": 5_000,
    "ref_cells": 600,
    "ref_sites": 20,
}
NOW = pd.Timestamp("2021-10-31T19:00:00+08:00")


def nearest_site_benchmark(net: RoadNetwork, roads, size: dict, out: dict) -> None:
    b = city_bounds_m(roads)
    sites = testing_sites(size["sites"], b)
    pts = random_points(size["points"], b, seed=11)
    xy = net._points_xy(pts, "points")
    t: dict[str, float] = {}
    # ours ------------------------------------------------------------------------------------
    with timed("snap", t):
        snap = net.snap_xy(xy, "walk")
    with timed("dijkstra", t):
        st = net.nearest_site(sites, "walk")
    with timed("assign", t):
        site, secs = st.assign_snapped(snap)
    # reference: networkx on the same augmented graph ------------------------------------------
    g_csr, n = net._augmented("walk", "to_site", st.site_snap, st.site_snap.access_s)
    coo = sp.coo_array(g_csr)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(g_csr.shape[0]))
    graph.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
    sources = list(range(n, n + len(st.site_ids)))
    with timed("nx_dijkstra", t):
        dist, paths = nx.multi_source_dijkstra(graph, sources, weight="weight")
    u, v, cu, cv = net._ends("walk", "to_site", snap)
    acc = snap.access_s
    with timed("nx_lookup", t):
        src = {node: p[0] - n for node, p in paths.items()}
        ref_t = np.empty(len(u))
        ref_s = np.empty(len(u), dtype=np.int64)
        inf = math.inf
        for k, (a, b_, ca, cb, ak) in enumerate(
            zip(u.tolist(), v.tolist(), cu.tolist(), cv.tolist(), acc.tolist())
        ):
            ta = dist.get(a, inf) + ca
            tb = dist.get(b_, inf) + cb
            if tb < ta:
                ref_t[k], ref_s[k] = tb + ak, src.get(b_, -1)
            else:
                ref_t[k], ref_s[k] = ta + ak, src.get(a, -1)
    # same answers (points sharing an edge with a site also get the direct way in ours)
    same_edge = np.isin(snap.edge, st.site_snap.edge)
    ok = ~same_edge & np.isfinite(ref_t)
    err = float(np.max(np.abs(secs[ok] - ref_t[ok]))) if ok.any() else 0.0
    assert err < 1e-6, f"times differ from networkx by {err} s"
    assert (secs[same_edge] <= ref_t[same_edge] + 1e-6).all()
    diff_site = (site[ok] != ref_s[ok]).mean()
    ours = t["dijkstra"] + t["assign"]
    ref = t["nx_dijkstra"] + t["nx_lookup"]
    out["nearest"] = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "sites": len(sites),
        "points": len(pts),
        **{k: round(val, 3) for k, val in t.items()},
        "ours_routing_s": round(ours, 3),
        "whole_s": round(t["snap"] + ours, 3),
        "networkx_s": round(ref, 3),
        "ratio": round(ref / ours, 1),
        "max_time_diff_s": err,
        "share_other_site_on_ties": float(diff_site),
    }
    r = out["nearest"]
    print(
        f"nearest site, {r['points']:,} points, {r['sites']} sites, {r['edges']:,} edges:\n"
        f"  ours: snap {t['snap']:.2f} s + Dijkstra {t['dijkstra']:.3f} s + assign "
        f"{t['assign']:.3f} s = whole {r['whole_s']:.2f} s (goal < 5 s)\n"
        f"  networkx: multi_source_dijkstra {t['nx_dijkstra']:.2f} s + lookup "
        f"{t['nx_lookup']:.2f} s = {ref:.2f} s\n"
        f"  ratio (routing + assignment): {r['ratio']:.1f}x (goal >= 30x); "
        f"max |time difference| {err:.1e} s",
        flush=True,
    )


def dense_lp(times_min: np.ndarray, people: np.ndarray, cap: np.ndarray) -> float:
    """The textbook transportation LP: every finite (cell, site) pair, one row per cell."""
    m, n = times_min.shape
    ci, si = np.nonzero(np.isfinite(times_min))
    k = len(ci)
    c = np.r_[times_min[ci, si], np.full(m, catchment.UNSERVED_MIN)]
    a_eq = sp.csr_array(
        (np.ones(k + m), (np.r_[ci, np.arange(m)], np.arange(k + m))), shape=(m, k + m)
    )
    lim = np.isfinite(cap)
    row = np.full(n, -1)
    row[lim] = np.arange(lim.sum())
    sel = lim[si]
    a_ub = sp.csr_array(
        (np.ones(int(sel.sum())), (row[si[sel]], np.flatnonzero(sel))),
        shape=(int(lim.sum()), k + m),
    )
    res = linprog(c, A_ub=a_ub, b_ub=cap[lim], A_eq=a_eq, b_eq=people, method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def balanced_instance(net: RoadNetwork, roads, n_cells: int, n_sites: int, seed: int):
    b = city_bounds_m(roads)
    zones = synthetic_zones(b, seed=seed)
    area = (b[2] - b[0]) * (b[3] - b[1])
    cell_m = float(np.sqrt(area / n_cells))
    cells = catchment.demand_cells(zones, cell_m, crs=net.crs)
    # zone edges cut cells in pieces: one correction brings the count near the target
    cell_m *= float(np.sqrt(len(cells) / n_cells))
    cells = catchment.demand_cells(zones, cell_m, crs=net.crs)
    sites = sites_near_people(cells, n_sites, seed=seed + 2)
    return cells, sites


def deadline_for(cells, sites, ratio: float) -> pd.Timestamp:
    thr = float((sites["lanes"].astype(float) * sites["per_lane_per_h"]).sum())
    return NOW + pd.Timedelta(hours=ratio * float(cells["people"].sum()) / thr)


def balanced_benchmark(net: RoadNetwork, roads, size: dict, out: dict) -> None:
    # small size: against the textbook LP
    cells, sites = balanced_instance(net, roads, size["ref_cells"], size["ref_sites"], seed=3)
    dl = deadline_for(cells, sites, 0.9)
    t: dict[str, float] = {}
    with timed("ours", t):
        cat = catchment.balanced(net, sites, cells, "walk", NOW, dl)
    with timed("matrix", t):
        times = net.travel_time_matrix(cells, sites, "walk").to_numpy() / 60.0
    cap = catchment.site_capacity(sites, NOW, dl)
    avail = np.maximum(cap["capacity"].to_numpy() - cap["queue_now"].to_numpy(), 0.0)
    with timed("lp", t):
        ref = dense_lp(times, cells["people"].to_numpy(), avail)
    got = cat.summary["objective_person_min"]
    assert abs(got - ref) <= 1e-7 * abs(ref), (got, ref)
    out["balanced_small"] = {
        "cells": len(cells),
        "sites": len(sites),
        "ours_s": round(t["ours"], 3),
        "textbook_lp_s": round(t["lp"], 3),
        "matrix_s": round(t["matrix"], 3),
        "ratio_lp_only": round(t["lp"] / t["ours"], 1),
        "ratio_with_matrix": round((t["lp"] + t["matrix"]) / t["ours"], 1),
    }
    r = out["balanced_small"]
    print(
        f"balanced, {len(sites)} sites x {len(cells):,} cells (capacity 0.9x demand):\n"
        f"  ours {t['ours']:.2f} s; textbook LP (all pairs) {t['lp']:.2f} s + its travel-time "
        f"matrix {t['matrix']:.2f} s -> {r['ratio_lp_only']:.1f}x ({r['ratio_with_matrix']:.1f}x "
        f"with the matrix); same optimum",
        flush=True,
    )
    # full size
    cells, sites = balanced_instance(net, roads, size["cells"], size["sites"], seed=5)
    out["balanced"] = []
    for ratio in (1.2, 0.8):
        dl = deadline_for(cells, sites, ratio)
        t0 = time.perf_counter()
        cat = catchment.balanced(net, sites, cells, "walk", NOW, dl)
        secs = time.perf_counter() - t0
        s = cat.summary
        row = {
            "cells": len(cells),
            "sites": len(sites),
            "capacity_over_demand": ratio,
            "seconds": round(secs, 2),
            "lp_seconds": round(s["lp_seconds"], 2),
            "pool_seconds": round(s["pool_seconds"], 2),
            "iterations": s["iterations"],
            "simplex_iterations": s["simplex_iterations"],
            "pairs": s["pairs"],
            "optimal": s["optimal"],
            "untested": round(s["untested"]),
            "mean_min": round(s["mean_min"], 2),
            "max_min": round(s["max_min"], 2),
        }
        out["balanced"].append(row)
        print(
            f"balanced, {len(sites)} sites x {len(cells):,} cells, capacity {ratio}x demand: "
            f"{secs:.1f} s (LP {s['lp_seconds']:.1f} s, {s['iterations']} rounds, "
            f"{s['pairs']:,} pairs, optimal={s['optimal']}; goal < 30 s); untested "
            f"{s['untested']:,.0f}, mean {s['mean_min']:.1f} min, max {s['max_min']:.1f} min",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--skip-balanced", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args()
    size = QUICK if args.quick else FULL
    out: dict = {"machine": f"{os.cpu_count()} cores", "size": "quick" if args.quick else "full"}
    print(f"machine: {os.cpu_count()} cores; sizes: {size}", flush=True)
    if args.quick:
        print("(quick sizes: the goals printed below are for the full sizes)", flush=True)
    t: dict[str, float] = {}
    with timed("generate", t):
        roads = synthetic_city(size["edges"])
    with timed("build", t):
        net = RoadNetwork.from_roads(roads)
        net.components("walk")
        net.components("drive")
    out["build"] = {
        "roads": len(roads),
        "edges": net.n_edges,
        "nodes": net.n_nodes,
        "generate_s": round(t["generate"], 2),
        "build_s": round(t["build"], 2),
    }
    print(
        f"network: {len(roads):,} road lines -> {net.n_nodes:,} nodes, {net.n_edges:,} edges; "
        f"built (both modes) in {t['build']:.2f} s",
        flush=True,
    )
    nearest_site_benchmark(net, roads, size, out)
    if not args.skip_balanced:
        balanced_benchmark(net, roads, size, out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
