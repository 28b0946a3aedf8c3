"""The night's replay: what one play tick costs, against recomputing the picture at each tick.

Goal (issue 6): a play tick (1 s of wall time) well under 1 s on the server: the scenario at t,
the wall figures, the alerts and the map's feature groups. Input: the embedded demo (12 sites,
34,283 people to test: the lockdown zone and the closed resort).

Cases (median over the night's 5-minute frames, after one warm-up):

- ``build``: :func:`geo.timeline.build` (once per content of its inputs), the standing plan
  (cordon and balanced catchments) it starts from timed apart.
- ``tick``: ``Timeline.at(t)`` + ``figures(t)`` + ``situation.alerts`` + the map's feature
  groups (``mapview.build_live_map``) at t.

Reference, measured in the same run: a replay without the simulation, which would recompute
the standing cordon and the balanced catchments of the picture at every tick to get its figures
(``analyses.standing_plan`` uncached + ``situation.wall_figures``) and then build the same map.

Usage: ``python benchmarks/bench_replay.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo import analyses, mapview, situation, timeline  # noqa: E402
from geo import scenario as scen  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 30 min instead of every 5")
    args = ap.parse_args()
    sc = scen.demo()
    t_plan, plan = _timed(lambda: analyses.standing_plan(sc))
    t_build, tl = _timed(lambda: timeline.build(sc, plan.catchments, plan.cordon))
    print(
        f"build: standing plan (cordon + balanced catchments) {t_plan * 1e3:.0f} ms, "
        f"timeline.build {t_build * 1e3:.0f} ms"
    )
    frames = tl.frames(30.0 if args.quick else 5.0)

    def tick(t):
        at = tl.at(t)
        f = tl.figures(t)
        situation.alerts(at, t, figures=f, stale_after_min=float("inf"))
        c = tl.cordon_result(t)
        extra = mapview.cordon_layers(c.bands, c.checkpoints) if c is not None else []
        return mapview.build_live_map(at, extra).groups

    def naive(t):
        at = tl.at(t)  # the same picture, figures recomputed from scratch (no cache)
        p = analyses._standing_plan(at, "walk", 250.0)
        f = situation.wall_figures(at, p)
        situation.alerts(at, t, figures=f, stale_after_min=float("inf"))
        c = p.cordon
        return mapview.build_live_map(at, mapview.cordon_layers(c.bands, c.checkpoints)).groups

    tick(frames[0])
    naive(frames[0])
    ours = [_timed(lambda t=t: tick(t))[0] for t in frames]
    # The reference is slow (a sample) and needs a deadline still ahead (catchments refuse else).
    before = [t for t in frames if tl.deadline is None or t < tl.deadline]
    ref_frames = before[:: max(1, len(before) // 8)]
    ref = [_timed(lambda t=t: naive(t))[0] for t in ref_frames]
    m_ours, m_ref = statistics.median(ours), statistics.median(ref)
    at_only = statistics.median(_timed(lambda t=t: tl.at(t))[0] for t in frames)
    print(f"frames: {len(frames)} ({tl.start:%H:%M} to {tl.end:%H:%M}), reference on {len(ref)}")
    print(f"Timeline.at(t): {at_only * 1e3:.1f} ms")
    print(
        f"tick: {m_ours * 1e3:.0f} ms (max {max(ours) * 1e3:.0f} ms); recomputing: "
        f"{m_ref * 1e3:.0f} ms: {m_ref / m_ours:.1f}x"
    )
    ok = m_ours < 1.0
    print(f"goal (tick < 1 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
