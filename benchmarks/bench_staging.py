"""Staging benchmark: time to a proven optimum and gap, geo.staging against PySAL spopt.

Instances (all synthetic, generated here; nothing real):

1. **Graphs shaped like OR-Library's pmed1-pmed40**: 40 random connected graphs with the same
   sizes (100-900 vertices, n^2/50 edges, integer lengths 1-100) and the same k (5 to 200);
   cost = shortest-path length (``scipy.sparse.csgraph``); every vertex is a demand point and a
   candidate, one person each. The OR-Library files themselves are not used: no licence says a
   copy may be kept. ``p_center(cost, k)`` and ``p_median(cost, k)`` run with their defaults.
2. **5,000 demand points x 2,000 candidates** (uniform in a 10 km square, walking minutes,
   1-100 people each): p-center and p-median with k = 50, time limit 60 s (full run only).
3. **Capacitated p-median**, 100 x 100 (the same points), k = 10, 1-20 people each, uniform
   capacity 1.2 x people / k, time limit 10 s.

spopt (``PCenter`` / ``PMedian.from_cost_matrix``, HiGHS through PuLP) runs on the same cost
matrices in its own virtualenv, in a subprocess: ``make bench`` builds it
(``benchmarks/.spopt-venv``) and passes its interpreter in ``CITYOPS_SPOPT_PYTHON``. Its time is
model build + solve (not the interpreter start), with a limit (600 s; ``--quick``: 60 s), and
its answer is only counted when spopt reports it optimal. Without spopt the tables say so.
``--quick`` (what ``make bench`` runs): 8 of the graphs (100 and 200 vertices), spopt limit 20 s,
2 capacitated instances, no 5,000 x 2,000.

Usage: .venv/bin/python benchmarks/bench_staging.py [--quick] [--spopt-limit S] [--no-spopt]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo import staging  # noqa: E402

SPOPT_PYTHON = os.environ.get("CITYOPS_SPOPT_PYTHON", "")

# (n, k) of OR-Library pmed1..pmed40 (Beasley 1985); the graphs are ours
PMED = [
    (100, 5), (100, 10), (100, 10), (100, 20), (100, 33),
    (200, 5), (200, 10), (200, 20), (200, 40), (200, 67),
    (300, 5), (300, 10), (300, 30), (300, 60), (300, 100),
    (400, 5), (400, 10), (400, 40), (400, 80), (400, 133),
    (500, 5), (500, 10), (500, 50), (500, 100), (500, 167),
    (600, 5), (600, 10), (600, 60), (600, 120), (600, 200),
    (700, 5), (700, 10), (700, 70), (700, 140),
    (800, 5), (800, 10), (800, 80),
    (900, 5), (900, 10), (900, 90),
]  # fmt: skip

# Runs inside the spopt virtualenv: build the model from the cost matrix, solve with HiGHS under
# a time limit, report the sites (objectives are recomputed here from the sites).
SPOPT_SCRIPT = r"""
import json, sys, time
import numpy as np, pulp
from spopt.locate import PCenter, PMedian
d = np.load(sys.argv[1])
kind, limit = sys.argv[2], float(sys.argv[3])
cost, w, k = d["cost"], d["weights"], int(d["k"])
t0 = time.perf_counter()
if kind == "p_median":
    model = PMedian.from_cost_matrix(cost, w, p_facilities=k)
else:
    model = PCenter.from_cost_matrix(cost, p_facilities=k)
t1 = time.perf_counter()
status = "optimal"
try:
    model.solve(pulp.HiGHS(msg=False, timeLimit=limit, gapRel=1e-9), results=False)
    if pulp.LpStatus[model.problem.status] != "Optimal":
        status = pulp.LpStatus[model.problem.status]
except Exception as exc:
    status = "not solved: " + str(exc).split(".")[0]
t2 = time.perf_counter()
if t2 - t1 >= limit * 0.98:
    status = "time limit"
sites = [j for j, v in enumerate(model.fac_vars) if v.value() is not None and v.value() > 0.5]
print(json.dumps({"build_s": t1 - t0, "solve_s": t2 - t1, "status": status, "sites": sites}))
"""


def graph_cost(n: int, seed: int) -> np.ndarray:
    """Shortest paths on a random connected graph with n^2/50 edges, lengths 1-100."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    a, b = perm[1:], perm[rng.integers(0, np.arange(1, n))]  # a random spanning tree
    extra = n * n // 50 - (n - 1)
    u, v = rng.integers(0, n, 2 * extra), rng.integers(0, n, 2 * extra)
    ok = u != v
    r, c = np.r_[a, u[ok][:extra]], np.r_[b, v[ok][:extra]]
    g = sp.coo_matrix((rng.integers(1, 101, r.size).astype(float), (r, c)), shape=(n, n))
    return shortest_path(g.tocsr(), directed=False)


def euclid(n: int, m: int, seed: int, people: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, c = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    km = np.sqrt(((d[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    return km * 12.0, rng.integers(1, people + 1, n).astype(float)  # 5 km/h: 12 min per km


def value(kind: str, cost: np.ndarray, w: np.ndarray, sites: list[int]) -> float:
    if not sites:
        return float("nan")
    near = cost[:, sites].min(axis=1)
    return float(w @ near) if kind == "p_median" else float(near[w > 0].max())


def spopt_missing(disabled: bool) -> str | None:
    if disabled:
        return "disabled (--no-spopt)"
    if not SPOPT_PYTHON:
        return "CITYOPS_SPOPT_PYTHON is not set (`make bench` sets it up)"
    if not Path(SPOPT_PYTHON).exists():
        return f"{SPOPT_PYTHON} not found"
    probe = subprocess.run(
        [SPOPT_PYTHON, "-c", "import spopt, pulp; assert 'HiGHS' in pulp.listSolvers(True)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or ["unknown error"]
        return "spopt/pulp/highspy not importable there: " + lines[-1]
    return None


def run_spopt(kind: str, cost: np.ndarray, w: np.ndarray, k: int, limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inst.npz"
        np.savez(path, cost=cost, weights=w, k=k)
        try:
            out = subprocess.run(
                [SPOPT_PYTHON, "-c", SPOPT_SCRIPT, str(path), kind, str(limit)],
                capture_output=True,
                text=True,
                timeout=limit * 2 + 300,
            )
        except subprocess.TimeoutExpired:
            return {"status": "killed (no answer)", "build_s": float("nan"), "solve_s": limit}
    if out.returncode:
        err = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {err}", "build_s": float("nan"), "solve_s": float("nan")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def banner(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def pmed_tables(quick: bool, note: str | None, limit: float) -> None:
    # --quick: pmed1-7 and pmed10 shapes (100 and 200 vertices), so the whole run takes minutes
    chosen = [0, 1, 2, 3, 4, 5, 6, 9] if quick else list(range(len(PMED)))
    for kind in ("p_center", "p_median"):
        banner(
            f"{kind}(cost, k), defaults, on graphs shaped like pmed1-40 "
            f"({len(chosen)} instances); spopt limit {limit:g} s"
        )
        hdr = (
            f"{'inst':>6} {'n':>4} {'k':>4} | {'objective':>10} {'optimal':>7} {'gap':>7} "
            f"{'ours s':>7} | {'spopt':>10} {'spopt s':>8} {'status':>12}"
        )
        print(hdr)
        print("-" * len(hdr))
        times, gaps, proven = [], [], 0
        for i in chosen:
            n, k = PMED[i]
            cost = graph_cost(n, 1000 + i)
            w = np.ones(n)
            t0 = time.perf_counter()
            plan = getattr(staging, kind)(cost, k)
            t = time.perf_counter() - t0
            times.append(t)
            gaps.append(plan.gap)
            proven += bool(plan.optimal)
            if note:
                s_txt = f"{'-':>10} {'-':>8} {'-':>12}"
            else:
                sp_ = run_spopt(kind, cost, w, k, limit)
                s_obj = value(kind, cost, w, sp_.get("sites", []))
                s_t = sp_["build_s"] + sp_["solve_s"]
                s_txt = f"{s_obj:>10.6g} {s_t:>8.1f} {sp_['status'][:12]:>12}"
                if (
                    sp_["status"] == "optimal"
                    and plan.optimal
                    and abs(s_obj - plan.objective) > 1e-6
                ):
                    s_txt += "  MISMATCH"
            print(
                f"pmed{i + 1:<2} {n:>4} {k:>4} | {plan.objective:>10.6g} {str(plan.optimal):>7} "
                f"{plan.gap:>7.2%} {t:>7.2f} | {s_txt}",
                flush=True,
            )
        goal = "<= 2 s each" if kind == "p_center" else "<= 10 s each, mean <= 3 s"
        print(
            f"{kind}: proven optimal {proven} of {len(chosen)}; worst gap {max(gaps):.3%}; "
            f"time max {max(times):.2f} s, mean {np.mean(times):.2f} s (goal: all optimal, {goal})"
        )


def large(quick: bool) -> None:
    if quick:
        banner("5,000 x 2,000, k = 50: skipped (--quick)")
        return
    banner("5,000 demand points x 2,000 candidates, k = 50, time limit 60 s (ours only)")
    cost, w = euclid(5000, 2000, 7)
    for kind in ("p_center", "p_median"):
        t0 = time.perf_counter()
        plan = getattr(staging, kind)(cost, 50, w, time_limit=60.0)
        t = time.perf_counter() - t0
        goal = "proven or a certified gap" if kind == "p_center" else "gap <= 0.1 %"
        print(
            f"{kind:>9}: objective {plan.objective:,.6g}, bound {plan.bound:,.6g}, gap "
            f"{plan.gap:.3%}, optimal {plan.optimal}, {t:.1f} s ({plan.method}; goal: {goal})",
            flush=True,
        )


def capacitated(quick: bool) -> None:
    seeds = range(2) if quick else range(10)
    banner(
        f"capacitated p-median, 100 x 100, k = 10, uniform capacity 1.2 x people / k, "
        f"{len(seeds)} instances (goal: gap <= 1 % in <= 10 s)"
    )
    print(f"{'seed':>4} | {'objective':>10} {'bound':>10} {'gap':>7} {'optimal':>7} {'s':>6}")
    for seed in seeds:
        cost, w = euclid(100, 100, 100 + seed, people=20)
        cap = np.full(100, 1.2 * w.sum() / 10)
        t0 = time.perf_counter()
        plan = staging.p_median(cost, 10, w, capacity=cap)
        t = time.perf_counter() - t0
        print(
            f"{seed:>4} | {plan.objective:>10,.1f} {plan.bound:>10,.1f} {plan.gap:>7.3%} "
            f"{str(plan.optimal):>7} {t:>6.2f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 small graphs, no 5,000 x 2,000")
    ap.add_argument("--spopt-limit", type=float, default=None, help="seconds per spopt solve")
    ap.add_argument("--no-spopt", action="store_true", help="ours only")
    args = ap.parse_args()
    limit = args.spopt_limit or (20.0 if args.quick else 600.0)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    note = spopt_missing(args.no_spopt)
    if note:
        print("!" * 78)
        print(f"!! spopt NOT COMPARED: {note}")
        print("!! the spopt columns below are empty; run `make bench` to build its venv")
        print("!" * 78)
    pmed_tables(args.quick, note, limit)
    capacitated(args.quick)
    large(args.quick)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
