"""Staging solvers: optimal against brute force and an independent MILP, explained, validated."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from shapely.geometry import Point, Polygon

from geo import staging as st
from geo.errors import InputError
from geo.staging.coverage import _CoverSwap, _csr
from geo.staging.p_median import _neighbours, _PMedianSwap

SEEDS = [0, 1, 2, 3]


def instance(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random Euclidean instance: costs in 'minutes' (0-100), 1-99 people per point."""
    rng = np.random.default_rng(seed)
    d, c = rng.random((n, 2)), rng.random((m, 2))
    cost = np.sqrt(((d[:, None] - c[None]) ** 2).sum(-1)) * 100
    return cost, rng.integers(1, 100, n).astype(float)


# --- independent references ----------------------------------------------------------------


def combos(m: int, k: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(m), k)))


def brute_p_median(cost, w, k):
    s = combos(cost.shape[1], k)
    vals = w @ cost[:, s].min(axis=2)
    return float(vals.min()), s[int(vals.argmin())]


def brute_coverage(cost, w, k, within):
    s = combos(cost.shape[1], k)
    vals = w @ (cost[:, s] <= within).any(axis=2)
    return float(vals.max())


def brute_p_center(cost, w, k):
    s = combos(cost.shape[1], k)
    return float(cost[w > 0][:, s].min(axis=2).max(axis=0).min())


def brute_set_cover(cost, w, within):
    reach = cost[w > 0] <= within
    for size in range(1, cost.shape[1] + 1):
        s = combos(cost.shape[1], size)
        if reach[:, s].any(axis=2).all(axis=0).any():
            return size
    raise AssertionError("no cover")


def milp_p_median(cost, w, k):
    """Textbook p-median MILP (all n*m assignment variables), written without geo.staging."""
    n, m = cost.shape
    nv = m + n * m
    xi = m + np.arange(n * m).reshape(n, m)
    assign = sp.coo_matrix((np.ones(n * m), (np.repeat(np.arange(n), m), xi.ravel())), (n, nv))
    r = np.arange(n * m)
    link = sp.coo_matrix(
        (np.r_[np.ones(n * m), -np.ones(n * m)], (np.r_[r, r], np.r_[xi.ravel(), r % m])),
        (n * m, nv),
    )
    card = sp.coo_matrix((np.ones(m), (np.zeros(m), np.arange(m))), (1, nv))
    c = np.r_[np.zeros(m), (w[:, None] * cost).ravel()]
    res = milp(
        c,
        constraints=[
            LinearConstraint(assign, 1, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(card, k, k),
        ],
        integrality=np.r_[np.ones(m), np.zeros(n * m)],
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 1e-9},
    )
    assert res.status == 0
    return float(res.fun)


def milp_coverage(cost, w, k, within):
    n, m = cost.shape
    a = (cost <= within).astype(float)
    nv = m + n
    link = sp.hstack([-sp.csr_matrix(a), sp.identity(n)])
    card = sp.coo_matrix((np.ones(m), (np.zeros(m), np.arange(m))), (1, nv))
    res = milp(
        np.r_[np.zeros(m), -w],
        constraints=[LinearConstraint(link, -np.inf, 0), LinearConstraint(card, k, k)],
        integrality=np.r_[np.ones(m), np.zeros(n)],
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 1e-9},
    )
    assert res.status == 0
    return -float(res.fun)


# --- optimality ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_p_median_matches_brute_force(seed):
    cost, w = instance(30, 12, seed)
    for k in (1, 3, 4):
        best, _ = brute_p_median(cost, w, k)
        ex = st.p_median(cost, k, w, exact=True)
        he = st.p_median(cost, k, w, exact=False)
        assert ex.objective == pytest.approx(best, rel=1e-9)
        assert ex.optimal and ex.gap == pytest.approx(0, abs=1e-7)
        assert he.objective <= best * 1.01
        # the plan is what it says: objective recomputed from the sites
        assert w @ cost[:, ex.sites].min(axis=1) == pytest.approx(ex.objective)
        assert he.lower_bound <= best * (1 + 1e-9)
        assert len(ex.sites) == k and len(set(ex.sites)) == k


@pytest.mark.parametrize(("n", "m", "k", "seed"), [(60, 25, 4, 0), (60, 25, 4, 1), (150, 50, 5, 2)])
def test_p_median_matches_independent_milp(n, m, k, seed):
    cost, w = instance(n, m, seed)
    ref = milp_p_median(cost, w, k)
    assert st.p_median(cost, k, w, exact=True).objective == pytest.approx(ref, rel=1e-7)
    he = st.p_median(cost, k, w, exact=False)  # 150 x 50: the short-list code path
    assert he.objective <= ref * 1.01
    assert he.lower_bound <= ref * (1 + 1e-9)


def _check_swaps(state, fresh, n_swaps, fields, sense):
    """Random swaps with incremental updates must match a from-scratch state, and the
    predicted change of a swap must be the real one (sense -1: profit lowers the objective)."""
    rng = np.random.default_rng(0)
    m = state.m
    for _ in range(n_swaps):
        j = int(rng.choice(np.setdiff1d(np.arange(m), state.sites)))
        slot = int(rng.integers(state.nf, state.k))
        pr = state.profit()
        predicted = state.objective + sense * pr[j, slot]
        state.swap(j, slot)
        assert state.objective == pytest.approx(predicted, rel=1e-9, abs=1e-9)
        ref = fresh(state.sites)
        for f in fields:
            np.testing.assert_allclose(getattr(state, f), getattr(ref, f), rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("short_lists", [False, True])
def test_p_median_swap_matrices_stay_exact(short_lists):
    cost, w = instance(120, 40, 9)
    wc = w[:, None] * cost
    nbrs = _neighbours(wc, 10) if short_lists else None
    state = _PMedianSwap(wc, np.array([3, 0, 5, 9, 20]), 1, nbrs)
    _check_swaps(
        state,
        lambda s: _PMedianSwap(wc, s, 1, nbrs),
        40,
        ("gain", "loss", "extra", "d1", "d2"),
        -1,
    )


def test_coverage_swap_matrices_stay_exact():
    cost, w = instance(120, 40, 10)
    a = cost <= 20
    acsr = _csr(a)
    state = _CoverSwap(a, acsr, w, np.array([3, 0, 5, 9]), 1)
    _check_swaps(
        state, lambda s: _CoverSwap(a, acsr, w, s, 1), 40, ("gain", "loss", "extra", "cnt"), 1
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_max_coverage_matches_brute_force(seed):
    cost, w = instance(30, 12, seed)
    for k, within in ((2, 25.0), (3, 20.0)):
        best = brute_coverage(cost, w, k, within)
        ex = st.max_coverage(cost, k, within, w, exact=True)
        he = st.max_coverage(cost, k, within, w, exact=False)
        assert ex.objective == pytest.approx(best)
        assert ex.upper_bound >= best - 1e-9 and he.upper_bound >= best - 1e-9
        assert he.objective >= best * 0.99
        covered = (cost[:, ex.sites] <= within).any(axis=1)
        assert w[covered].sum() == pytest.approx(ex.objective)
        assert ex.uncovered == pytest.approx(w.sum() - ex.objective)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_max_coverage_matches_independent_milp(seed):
    cost, w = instance(60, 25, seed)
    ref = milp_coverage(cost, w, 4, 18.0)
    assert st.max_coverage(cost, 4, 18.0, w, exact=True).objective == pytest.approx(ref)
    assert st.max_coverage(cost, 4, 18.0, w, exact=False).objective >= ref * 0.99


@pytest.mark.parametrize("seed", SEEDS)
def test_p_center_matches_brute_force(seed):
    cost, w = instance(30, 12, seed)
    w[seed] = 0  # weight 0 is ignored
    for k in (1, 3):
        best = brute_p_center(cost, w, k)
        ex = st.p_center(cost, k, w, exact=True)
        he = st.p_center(cost, k, w, exact=False)
        assert ex.objective == pytest.approx(best) and ex.optimal
        assert he.objective <= best * 1.01
        assert he.lower_bound <= best + 1e-9
        assert cost[w > 0][:, he.sites].min(axis=1).max() == pytest.approx(he.objective)


@pytest.mark.parametrize("seed", SEEDS)
def test_set_cover_matches_brute_force(seed):
    cost, w = instance(30, 12, seed)
    within = float(cost.min(axis=1).max()) + 8
    best = brute_set_cover(cost, w, within)
    for exact in (True, False):
        plan = st.set_cover(cost, within, w, exact=exact)
        assert (cost[:, plan.sites] <= within).any(axis=1).all()
        assert plan.lower_bound <= best
        if exact:
            assert plan.objective == best and plan.optimal
        else:
            assert plan.objective <= best + 1  # greedy + pruning; usually equal
    assert st.set_cover(cost, within, w, exact=False).objective == best or seed  # informative


# --- hand-made cases -----------------------------------------------------------------------


def line(n: int = 10) -> np.ndarray:
    """Demand and candidates at 0, 1, ..., n-1 on a line; cost = distance."""
    x = np.arange(n, dtype=float)
    return np.abs(x[:, None] - x[None, :])


@pytest.mark.parametrize("exact", [True, False])
def test_line_known_answers(exact):
    c = line(10)
    p1 = st.p_median(c, 1, exact=exact)
    assert p1.objective == 25 and p1.sites[0] in (4, 5)  # any median of 0..9
    p2 = st.p_median(c, 2, exact=exact)
    assert p2.objective == 12 and sorted(p2.sites) == [2, 7]  # 0-4 -> 2, 5-9 -> 7
    pc = st.p_center(c, 2, exact=exact)
    assert pc.objective == 2  # e.g. 2 and 7: farthest is 0 or 9 (or 4/5)
    cov = st.max_coverage(c, 2, 1.0, exact=exact)
    assert cov.objective == 6  # each site covers itself and its two neighbours
    sc = st.set_cover(c, 1.0, exact=exact)
    assert sc.objective == 4  # ceil(10 / 3)
    # weights move the median: all the people at the right end
    w = np.r_[np.ones(9), 100.0]
    assert st.p_median(c, 1, w, exact=exact).sites.tolist() == [9]


def test_fixed_sites_are_kept_and_not_counted():
    c = line(10)
    plan = st.p_median(c, 1, fixed=[0])
    assert plan.fixed.tolist() == [0]
    assert plan.sites.tolist() in ([6], [7])  # both give 0+1+2+3 + 9
    assert plan.objective == 15 == pytest.approx(brute_fixed(c, [0], 1))
    cov = st.max_coverage(c, 1, 1.0, fixed=[0])
    assert cov.objective == 5  # 0 covers 0,1; the new one covers three more
    sc = st.set_cover(c, 1.0, fixed=[1])
    assert sc.objective == 3 and 1 not in sc.sites


def test_p_center_with_fixed_site():
    c = line(10)
    plan = st.p_center(c, 1, fixed=[0], exact=True)
    # 0 is open; one more site: best is 6 (0-3 -> 0 at most 3, 4-9 -> 6 at most 3)
    assert plan.objective == 3 and plan.sites.tolist() in ([6], [7])
    assert st.p_center(c, 1, fixed=[0], exact=False).objective == 3


def brute_fixed(c, fixed, k):
    m = c.shape[1]
    best = math.inf
    for s in itertools.combinations([j for j in range(m) if j not in fixed], k):
        best = min(best, c[:, list(fixed) + list(s)].min(axis=1).sum())
    return best


@pytest.mark.parametrize("exact", [True, False])
def test_every_candidate_open_and_single_candidate(exact):
    cost, w = instance(20, 5, 4)
    assert st.p_median(cost, 5, w, exact=exact).objective == pytest.approx(w @ cost.min(axis=1))
    assert st.p_center(cost, 5, w, exact=exact).objective == pytest.approx(cost.min(axis=1).max())
    cov = st.max_coverage(cost, 5, 30.0, w, exact=exact)
    assert cov.objective == pytest.approx(w[(cost <= 30).any(axis=1)].sum())
    one = st.p_median(cost[:, :1], 1, w, exact=exact)
    assert one.sites.tolist() == [0] and one.explanations[0].alternative == -1


def test_unreachable_pairs_are_inf_and_reported():
    c = line(6)
    c[0, 3:] = np.inf  # demand 0 can only use candidates 0-2
    plan = st.p_median(c, 1, exact=False)
    assert plan.uncovered == 0 and math.isfinite(plan.objective)
    assert plan.sites[0] <= 2
    c2 = line(6)
    c2[5, :] = np.inf
    with pytest.raises(InputError, match="demand point 5 cannot reach") as err:
        st.p_median(c2, 2)
    assert err.value.feature == 5
    # ... unless nobody lives there
    w = np.r_[np.ones(5), 0.0]
    assert st.p_median(c2, 2, w).assignment[5] == -1


def test_two_islands_with_one_site_leaves_people_unreached():
    c = np.full((4, 2), np.inf)
    c[:2, 0] = [1, 2]
    c[2:, 1] = [1, 1]
    plan = st.p_median(c, 1, np.array([5, 5, 1, 1.0]))
    assert plan.sites.tolist() == [0] and plan.uncovered == 2
    assert math.isinf(plan.objective) and plan.notes


# --- explanations --------------------------------------------------------------------------


def test_p_median_explanations_are_true():
    cost, w = instance(30, 12, 5)
    plan = st.p_median(cost, 3, w, exact=True)
    obj = plan.objective
    for r in plan.explanations:
        rest = [s for s in plan.sites if s != r.site]
        without = w @ cost[:, rest].min(axis=1)
        assert r.drop == pytest.approx(without - obj)
        swapped = w @ cost[:, rest + [r.alternative]].min(axis=1)
        assert r.alternative_delta == pytest.approx(swapped - obj)
        # the best swap is the best: no other candidate does better
        others = [j for j in range(12) if j not in plan.sites]
        best = min(w @ cost[:, rest + [j]].min(axis=1) for j in others)
        assert swapped == pytest.approx(best)
        assert r.people == pytest.approx(w[plan.assignment == r.site].sum())
        assert "Best swap" in r.reason
    drops = [r.drop for r in plan.explanations]
    assert drops == sorted(drops, reverse=True) and [r.rank for r in plan.explanations] == [1, 2, 3]
    frame = plan.to_frame()
    assert list(frame["candidate"]) == list(plan.sites) and len(frame) == 3


def test_coverage_and_center_explanations_are_true():
    cost, w = instance(30, 12, 6)
    cov = st.max_coverage(cost, 3, 25.0, w, exact=True)
    for r in cov.explanations:
        rest = [s for s in cov.sites if s != r.site]
        lost = cov.objective - w[(cost[:, rest] <= 25).any(axis=1)].sum()
        assert r.drop == pytest.approx(lost) and r.sole == pytest.approx(lost)
        assert r.covered == pytest.approx(w[cost[:, r.site] <= 25].sum())
        swapped = w[(cost[:, rest + [r.alternative]] <= 25).any(axis=1)].sum()
        assert r.alternative_delta == pytest.approx(cov.objective - swapped)
    pc = st.p_center(cost, 3, w, exact=True)
    for r in pc.explanations:
        rest = [s for s in pc.sites if s != r.site]
        assert r.drop == pytest.approx(cost[:, rest].min(axis=1).max() - pc.objective)
        swapped = cost[:, rest + [r.alternative]].min(axis=1).max()
        assert r.alternative_delta == pytest.approx(swapped - pc.objective)


# --- deadline plans ------------------------------------------------------------------------


@pytest.mark.parametrize("exact", [True, False])
def test_deadline_known_answer(exact):
    # 1,000 people, 0 min from 6 candidates; a team tests 200/h; 2 h -> 400 per team -> 3 teams
    c = np.zeros((1, 6))
    plan = st.deadline_plan(c, [1000], 120, lanes=2, per_lane_per_h=100, exact=exact)
    assert plan.n_teams == 3 and plan.optimal and plan.objective == 3
    assert plan.method == ("milp" if exact else "heuristic")
    assert plan.finish_min <= 120 + 1e-6
    # 30 min walk: each team has 90 min -> 300 people -> 4 teams
    plan = st.deadline_plan(c + 30, [1000], 120, lanes=2, per_lane_per_h=100, exact=exact)
    assert plan.n_teams == 4 and plan.finish_min <= 120 + 1e-6
    assert sum(r.people for r in plan.explanations) == pytest.approx(1000)
    # people walking 30 min to two existing sites (300/h each) need no team at all
    plan = st.deadline_plan(
        c + 30,
        [1000],
        150,
        lanes=2,
        per_lane_per_h=100,
        exact=exact,
        existing_cost=np.full((1, 2), 30.0),
        existing_per_h=[300, 300],
    )
    assert plan.n_teams == 0 and plan.existing_people.sum() == pytest.approx(1000)


def test_deadline_setup_time():
    # a team that needs 30 min to set up has 90 min too -> 4 teams; 20 min -> 333.3 -> 3 (the
    # MILP, exactly tight; the max-flow heuristic counts thousandths of people and needs 4)
    c = np.zeros((1, 6))
    plan = st.deadline_plan(c, [1000], 120, lanes=2, per_lane_per_h=100, setup_min=30)
    assert plan.n_teams == 4
    plan = st.deadline_plan(c, [1000], 120, lanes=2, per_lane_per_h=100, setup_min=20)
    assert plan.n_teams == 3


def fluid_finish(arrivals, people, rate_per_min, opens=0.0, queue=0.0):
    """Independent single-server fluid simulation in arrival order."""
    t, order = opens, np.argsort(arrivals)
    # the queue is there at minute 0
    t = max(t, 0.0) + queue / rate_per_min
    for a, p in zip(np.asarray(arrivals)[order], np.asarray(people)[order], strict=True):
        t = max(t, a) + p / rate_per_min
    return t


@pytest.mark.parametrize("exact", [True, False])
def test_deadline_plan_is_feasible_by_simulation(exact):
    rng = np.random.default_rng(3)
    n, m = 25, 8
    cost = rng.uniform(2, 40, (n, m))
    w = rng.integers(50, 400, n).astype(float)
    ex_cost = rng.uniform(5, 30, (n, 2))
    plan = st.deadline_plan(
        cost,
        w,
        180,
        lanes=3,
        per_lane_per_h=150,
        existing_cost=ex_cost,
        existing_per_h=[500, 300],
        existing_queue=[100, 0],
        exact=exact,
    )
    flows = plan.flows
    assert flows.groupby("demand")["people"].sum().to_numpy() == pytest.approx(w)
    for (kind, site), f in flows.groupby(["kind", "site"]):
        if kind == "new":
            rate = 3 * 150 / 60 * plan.teams[list(plan.sites).index(site)]
            fin = fluid_finish(f["arrival_min"], f["people"], rate)
        else:
            rate = [500, 300][site] / 60
            fin = fluid_finish(f["arrival_min"], f["people"], rate, queue=[100, 0][site])
        assert fin <= 180 + 1e-6
    assert plan.finish_min <= 180 + 1e-6
    # one team fewer anywhere is not enough (per the model's LP), so the count is tight
    assert plan.lower_bound <= plan.n_teams
    if exact:
        assert plan.optimal or plan.gap < 0.5


def test_deadline_infeasible_says_why_and_what_works():
    c = np.full((2, 3), 10.0)
    w = [6000, 6000]
    start = datetime(2021, 10, 31, 19, 0)
    with pytest.raises(st.InfeasibleError) as err:
        st.deadline_plan(c, w, 240, lanes=5, per_lane_per_h=150, start=start)
    e = err.value
    # 3 teams x 750/h from minute 10 to 240 test 8,625 of 12,000; all of them need 10 + 320 min
    msg = str(e)
    assert "capacity short by" in msg and e.field == "deadline"
    assert e.min_deadline_min is not None
    # the suggested deadline works and a minute earlier does not
    ok = st.deadline_plan(c, w, e.min_deadline_min, lanes=5, per_lane_per_h=150)
    assert ok.n_teams == 3
    with pytest.raises(st.InfeasibleError):
        st.deadline_plan(c, w, e.min_deadline_min - 1, lanes=5, per_lane_per_h=150)
    assert e.min_deadline_min == 330
    assert e.shortage == pytest.approx(3375) and e.teams_needed == 5  # 12,000 / 2,875 per team
    when = (start + timedelta(minutes=330)).strftime("%d %b %H:%M")  # the next day
    assert f"a deadline of {when}" in msg and "at least 5 teams" in msg


def test_deadline_capacity_message_numbers():
    # 3 candidates, one team each at 500/h, people at 0 min: 2 h -> 3,000 testable of 5,000
    c = np.zeros((1, 3))
    with pytest.raises(st.InfeasibleError) as err:
        st.deadline_plan(c, [5000], 120, lanes=5, per_lane_per_h=100)
    e = err.value
    assert e.shortage == pytest.approx(2000, rel=1e-6)
    assert "capacity short by 2,000 people" in str(e)
    assert e.teams_needed == 5  # 5,000 / 1,000 per team
    assert e.min_deadline_min == 200  # 5,000 / 1,500 per hour = 3 h 20 min
    # more teams per site makes it feasible with exactly that many teams
    plan = st.deadline_plan(c, [5000], 120, lanes=5, per_lane_per_h=100, max_teams_per_site=2)
    assert plan.n_teams == 5


def test_deadline_unreachable_and_queue_and_max_teams():
    c = np.array([[10.0, 20.0], [100.0, np.inf]])
    with pytest.raises(st.InfeasibleError, match="cannot reach any site") as err:
        st.deadline_plan(c, [10, 10], 60, lanes=1, per_lane_per_h=100)
    assert err.value.unreachable == 10
    assert err.value.min_deadline_min is not None and err.value.min_deadline_min > 100
    with pytest.raises(st.InfeasibleError, match="already has 1,000 people queuing"):
        st.deadline_plan(
            np.zeros((1, 1)),
            [1],
            60,
            lanes=1,
            per_lane_per_h=100,
            existing_cost=np.zeros((1, 1)),
            existing_per_h=[600],
            existing_queue=[1000],
        )
    with pytest.raises(st.InfeasibleError, match="max_teams is 2") as err:
        st.deadline_plan(np.zeros((1, 6)), [1000], 120, lanes=2, per_lane_per_h=100, max_teams=2)
    assert err.value.teams_needed == 3
    assert err.value.min_deadline_min == 150  # 1,000 people / 400 per hour


def test_earliest_finish_known_answer():
    # 1,000 people at 0 min; 2 teams of 200/h plus an existing 100/h site: 1000/500 h = 120 min
    c = np.zeros((1, 4))
    plan = st.earliest_finish(
        c,
        [1000],
        2,
        lanes=2,
        per_lane_per_h=100,
        existing_cost=np.zeros((1, 1)),
        existing_per_h=[100],
    )
    assert plan.n_teams == 2
    assert plan.objective == pytest.approx(120, abs=1.0)
    assert plan.lower_bound == pytest.approx(120, abs=1e-6)
    assert plan.deadline_min == pytest.approx(120, abs=1.0)
    heur = st.earliest_finish(
        c,
        [1000],
        2,
        lanes=2,
        per_lane_per_h=100,
        existing_cost=np.zeros((1, 1)),
        existing_per_h=[100],
        exact=False,
    )
    assert heur.objective == pytest.approx(120, abs=1.0) and heur.n_teams == 2


def test_infeasible_is_an_input_error():
    # one UI handler catches both
    assert issubclass(st.InfeasibleError, InputError)


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field", "expected_part"),
    [
        (lambda c: st.p_median(c, 13), "k", "from 1 to 12"),
        (lambda c: st.p_median(c, 0), "k", "from 1 to 12"),
        (lambda c: st.p_median(c, 2.5), "k", "whole number"),
        (lambda c: st.p_median(c, 2, fixed=[12]), "fixed", "from 0 to 11"),
        (lambda c: st.p_median(c, 11, fixed=[0, 1]), "k", "from 1 to 10"),
        (lambda c: st.p_median(c, 2, np.ones(5)), "weights", "30 values"),
        (lambda c: st.p_median(c, 2, -np.ones(30)), "weights", ">= 0"),
        (lambda c: st.p_median(c, 2, np.zeros(30)), "weights", "people > 0"),
        (lambda c: st.max_coverage(c, 2, -1), "within", ">= 0"),
        (lambda c: st.max_coverage(c, 2, float("nan")), "within", ">= 0"),
        (lambda c: st.p_center(c[:, :0], 1), "cost", "2-D"),
        (lambda c: st.p_median(c, 2, time_limit=0), "time_limit", "> 0"),
        (lambda c: st.set_cover(c, 5.0), "within", "within >="),
        (lambda c: st.deadline_plan(c, None, 60, lanes=0, per_lane_per_h=100), "lanes", ">= 1"),
        (
            lambda c: st.deadline_plan(c, None, -5, lanes=1, per_lane_per_h=100),
            "deadline_min",
            "> 0",
        ),
        (
            lambda c: st.deadline_plan(
                c, None, 60, lanes=1, per_lane_per_h=100, existing_cost=np.zeros((30, 2))
            ),
            "existing_per_h",
            "2 throughputs",
        ),
    ],
)
def test_bad_input_names_the_field(call, field, expected_part):
    cost, _ = instance(30, 12, 0)
    with pytest.raises(InputError) as err:
        call(cost)
    assert err.value.field == field
    assert expected_part in str(err.value)


def test_bad_cost_values():
    cost, _ = instance(30, 12, 0)
    bad = cost.copy()
    bad[4, 7] = np.nan
    with pytest.raises(InputError, match=r"cost\[4, 7\] is NaN") as err:
        st.p_median(bad, 2)
    assert err.value.feature == 4 and err.value.field == "cost"
    bad[4, 7] = -1
    with pytest.raises(InputError, match="negative"):
        st.max_coverage(bad, 2, 10)
    bad[4, 7] = -np.inf
    with pytest.raises(InputError, match="negative"):
        st.set_cover(bad, 10)
    with pytest.raises(InputError, match="not numeric"):
        st.p_center([["a", "b"]], 1)


def test_set_cover_infeasible_names_demand_and_nearest():
    c = line(5)
    c[3, :] += 10  # demand 3 is 10 away from everything
    with pytest.raises(InputError) as err:
        st.set_cover(c, 2.0, unit="min")
    msg = str(err.value)
    assert "demand point 3" in msg and "nearest is candidate 3 at 10.0 min" in msg
    assert err.value.feature == 3 and "within >= 10" in msg


# --- export --------------------------------------------------------------------------------


def test_plan_to_geodataframe():
    c = line(6)
    cands = gpd.GeoDataFrame(
        {"id": [f"c{j}" for j in range(6)]},
        geometry=[Point(121.6 + j * 0.01, 31.1) for j in range(5)]
        + [Polygon([(121.7, 31.1), (121.71, 31.1), (121.71, 31.11)])],
        crs="EPSG:4326",
    ).to_crs(32651)
    demand = gpd.GeoDataFrame(
        {"id": [f"d{i}" for i in range(6)]},
        geometry=[Point(121.6 + i * 0.01, 31.1) for i in range(6)],
        crs="EPSG:4326",
    )
    plan = st.p_median(c, 2, fixed=None)
    gdf = st.plan_to_geodataframe(plan, cands, demand)
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == 2
    assert list(gdf["rank"]) == [1, 2]
    assert list(gdf["candidate_id"]) == [f"c{j}" for j in plan.sites]
    assert (gdf.geom_type == "Point").all()
    assert gdf["reason"].str.contains("Nearest site").all()
    assert gdf["reason"].str.contains("candidate c").all()  # ids, not column numbers
    assert gdf["n_demand"].sum() == 6
    x0 = gdf.geometry.iloc[0].x
    assert x0 == pytest.approx(121.6 + plan.sites[0] * 0.01, abs=1e-6)
    with pytest.raises(InputError, match="candidate columns"):
        st.plan_to_geodataframe(plan, cands.iloc[:3])


def test_zero_weight_rows_are_ignored_but_assigned_and_labels_used():
    c = line(8)
    w = np.r_[np.ones(4), np.zeros(4)]  # nobody at 4..7
    plan = st.p_median(c, 1, w)
    assert plan.sites[0] in (1, 2) and plan.objective == 4
    assert (plan.assignment == plan.sites[0]).all()  # zero-weight rows still get a site
    frame = plan.to_frame(labels=[f"gate {j}" for j in range(8)])
    assert frame["candidate"].iloc[0] == f"gate {plan.sites[0]}"
    assert "candidate gate" in frame["reason"].iloc[0]


def test_evaluate_sites_before_and_after():
    c = line(10)
    before = st.evaluate_sites(c, [0], within=2)
    assert before["covered"] == 3 and before["max_cost"] == 9 and before["mean_cost"] == 4.5
    after = st.evaluate_sites(c, [0, 7], within=2)
    assert after["coverage"] == pytest.approx(0.8)
