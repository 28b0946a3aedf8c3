"""Staging benchmark: geo.staging against PySAL spopt (HiGHS via PuLP) on the same instances.

Prints, per instance: our objective and time, spopt's objective and time, who is better, the speed
ratio, and the gap to the MILP optimum where it is known (our exact MILP, gap 1e-7, on the smaller
instances; spopt's proven optimum otherwise). Then 10,000 x 1,000 with k = 50 (ours only).

spopt is not a project dependency: it lives in a separate virtualenv (default /work/bench-venv,
override with CITYOPS_SPOPT_PYTHON) and runs in a subprocess; without it the spopt columns are
skipped with a note. Set it up with::

    python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install spopt highspy

spopt's time is its model build plus solve (the subprocess's interpreter start and imports are
not counted). Instances are synthetic (nothing real): demand points and candidates uniform in a
10 km x 10 km square, cost = straight-line walking minutes at 5 km/h, 1-100 people per demand
point, coverage threshold 15 min.

Usage: .venv/bin/python benchmarks/bench_staging.py [--quick] [--spopt-limit SECONDS]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo import staging  # noqa: E402

SPOPT_PYTHON = os.environ.get("CITYOPS_SPOPT_PYTHON", "/work/bench-venv/bin/python")
WITHIN = 15.0  # minutes

# Runs inside the spopt virtualenv: build the model from the cost matrix, solve with HiGHS under
# a time limit, report the sites (objectives are recomputed here from the sites).
SPOPT_SCRIPT = r"""
import json, sys, time
import numpy as np, pulp
from spopt.locate import MCLP, PMedian
d = np.load(sys.argv[1])
kind, limit = sys.argv[2], float(sys.argv[3])
cost, w, k = d["cost"], d["weights"], int(d["k"])
t0 = time.perf_counter()
if kind == "p_median":
    model = PMedian.from_cost_matrix(cost, w, p_facilities=k)
else:
    model = MCLP.from_cost_matrix(cost, w, service_radius=float(d["within"]), p_facilities=k)
t1 = time.perf_counter()
status = "optimal"
try:
    model.solve(pulp.HiGHS(msg=False, timeLimit=limit), results=False)
except RuntimeError as exc:
    status = "not solved: " + str(exc).split(".")[0]
t2 = time.perf_counter()
sites = [j for j, v in enumerate(model.fac_vars) if v.value() is not None and v.value() > 0.5]
print(json.dumps({"build_s": t1 - t0, "solve_s": t2 - t1, "status": status, "sites": sites}))
"""


def instance(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n, 2))
    c = rng.uniform(0, 10, (m, 2))
    km = np.sqrt(((d[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    return km * 12.0, rng.integers(1, 101, n).astype(float)  # 5 km/h -> 12 min per km


def objective(
    kind: str, cost: np.ndarray, w: np.ndarray, sites: list[int], within: float = WITHIN
) -> float:
    if not sites:
        return float("nan")
    if kind == "p_median":
        return float(w @ cost[:, sites].min(axis=1))
    return float(w[(cost[:, sites] <= within).any(axis=1)].sum())


def spopt_available() -> str | None:
    if not Path(SPOPT_PYTHON).exists():
        return f"{SPOPT_PYTHON} not found"
    probe = subprocess.run(
        [SPOPT_PYTHON, "-c", "import spopt, pulp; assert 'HiGHS' in pulp.listSolvers(True)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        return "spopt/pulp/highspy not importable there: " + probe.stderr.strip().splitlines()[-1]
    return None


def run_spopt(
    kind: str, cost: np.ndarray, w: np.ndarray, k: int, limit: float, within: float = WITHIN
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inst.npz"
        np.savez(path, cost=cost, weights=w, k=k, within=within)
        t0 = time.perf_counter()
        out = subprocess.run(
            [SPOPT_PYTHON, "-c", SPOPT_SCRIPT, str(path), kind, str(limit)],
            capture_output=True,
            text=True,
            timeout=limit * 2 + 600,
        )
        wall = time.perf_counter() - t0
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1], "wall_s": wall}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def run_ours(
    kind: str,
    cost: np.ndarray,
    w: np.ndarray,
    k: int,
    exact: bool | None,
    limit: float,
    within: float = WITHIN,
):
    t0 = time.perf_counter()
    if kind == "p_median":
        plan = staging.p_median(cost, k, w, exact=exact, time_limit=limit)
    else:
        plan = staging.max_coverage(cost, k, within, w, exact=exact, time_limit=limit)
    return plan, time.perf_counter() - t0


def fmt_rel(ours: float, ref: float, kind: str) -> str:
    """Signed difference, positive = ours better."""
    if not (np.isfinite(ours) and np.isfinite(ref)) or ref == 0:
        return "n/a"
    d = (ref - ours) / ref if kind == "p_median" else (ours - ref) / ref
    if abs(d) < 5e-7:
        return "same"
    return f"{'better' if d > 0 else 'worse'} {abs(d):.3%}"


def gap_to(kind: str, ours: float, opt: float) -> float:
    return (ours - opt) / opt if kind == "p_median" else (opt - ours) / opt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small instances only (about a minute)")
    ap.add_argument(
        "--spopt-limit", type=float, default=1500.0, help="spopt time limit on 2,000 x 200 (s)"
    )
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    note = spopt_available()
    if note:
        print(f"NOTE: spopt skipped ({note}); set CITYOPS_SPOPT_PYTHON or see the docstring")
    small = [(200, 40, 5, 0), (400, 50, 5, 1)]
    if not args.quick:
        small += [(600, 60, 8, 2), (800, 80, 8, 3)]
    rows = []
    gaps: dict[str, list[float]] = {"p_median": [], "max_coverage": []}
    for kind in ("p_median", "max_coverage"):
        print(f"\n== {kind}: instances where spopt finishes (limit 120 s); ours = heuristic ==")
        hdr = (
            f"{'n x m':>11} {'k':>3} | {'ours obj':>12} {'ours s':>7} | {'spopt obj':>12} "
            f"{'spopt s':>8} | {'vs spopt':>14} {'speed x':>8} | {'gap to opt':>10}"
        )
        print(hdr)
        print("-" * len(hdr))
        for n, m, k, seed in small:
            cost, w = instance(n, m, seed)
            plan, t_ours = run_ours(kind, cost, w, k, False, 10.0)
            exact, _ = run_ours(kind, cost, w, k, True, 300.0)
            opt = exact.objective if exact.optimal else float("nan")
            sp = run_spopt(kind, cost, w, k, 120.0) if not note else {}
            s_obj = objective(kind, cost, w, sp.get("sites", []))
            s_t = sp.get("build_s", float("nan")) + sp.get("solve_s", float("nan"))
            if sp.get("status") == "optimal" and not np.isfinite(opt):
                opt = s_obj
            gap = gap_to(kind, plan.objective, opt)
            if np.isfinite(gap):
                gaps[kind].append(gap)
            print(
                f"{n:>5} x {m:<4} {k:>3} | {plan.objective:>12,.1f} {t_ours:>7.2f} | "
                f"{s_obj:>12,.1f} {s_t:>8.1f} | {fmt_rel(plan.objective, s_obj, kind):>14} "
                f"{s_t / t_ours:>8.0f} | {gap:>10.4%}"
            )
            rows.append((kind, n, m, k, plan.objective, t_ours, s_obj, s_t, gap))

    # 2,000 x 200, k = 10: p-median, and coverage at two thresholds (25 min: harder MILP).
    for kind, within in (("p_median", WITHIN), ("max_coverage", WITHIN), ("max_coverage", 25.0)):
        label = kind if kind == "p_median" else f"{kind} within {within:g} min"
        print(f"\n== {label}: 2,000 x 200, k = 10 ==")
        cost, w = instance(2000, 200, 42)
        ours = {}
        for exact in (False, None):
            plan, t_ours = run_ours(kind, cost, w, 10, exact, 10.0, within)
            ours[exact] = (plan, t_ours)
            print(
                f"ours (exact={exact}): objective {plan.objective:,.1f} in {t_ours:.2f} s "
                f"({plan.method}); bound {plan.bound:,.1f}, gap to bound {plan.gap:.3%}"
            )
        if note or args.quick:
            print("spopt: skipped" + (" (--quick)" if args.quick else ""))
            continue
        sp = run_spopt(kind, cost, w, 10, args.spopt_limit, within)
        if "error" in sp:
            print(f"spopt: failed after {sp['wall_s']:.0f} s: {sp['error']}")
            continue
        s_obj = objective(kind, cost, w, sp["sites"], within)
        s_t = sp["build_s"] + sp["solve_s"]
        print(
            f"spopt: objective {s_obj:,.1f}, build {sp['build_s']:.1f} s + solve "
            f"{sp['solve_s']:.1f} s (limit {args.spopt_limit:.0f} s): {sp['status']}"
        )
        for exact, (plan, t_ours) in ours.items():
            print(
                f"=> ours (exact={exact}): {fmt_rel(plan.objective, s_obj, kind)} vs spopt, "
                f"{s_t / t_ours:.0f}x faster"
            )
        if sp["status"] == "optimal":
            gap = gap_to(kind, ours[False][0].objective, s_obj)
            gaps[kind].append(gap)
            print(f"   heuristic's gap to spopt's optimum (HiGHS mip gap 1e-4): {gap:.4%}")

    for kind, g in gaps.items():
        if g:
            print(
                f"\nmean gap to the MILP optimum, {kind}: {np.mean(g):.4%} over {len(g)} instances"
            )

    if not args.quick:
        print("\n== 10,000 x 1,000, k = 50 (ours; target < 10 s) ==")
        cost, w = instance(10_000, 1000, 7)
        for kind in ("p_median", "max_coverage"):
            plan, t = run_ours(kind, cost, w, 50, None, 10.0)
            print(
                f"{kind:>12}: objective {plan.objective:,.1f} in {t:.2f} s ({plan.method}), "
                f"bound {plan.bound:,.1f} (gap {plan.gap:.3%})"
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
