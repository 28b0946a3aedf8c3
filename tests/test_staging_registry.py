"""The staging objectives registry: one name per goal, existing sites fixed for every goal,
zero-people demand points, per-site figures from the final assignment, reason texts by problem."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest

from geo import staging as st
from geo.errors import InputError
from geo.staging.texts import reason_text


def line(n: int = 10) -> np.ndarray:
    x = np.arange(n, dtype=float)
    return np.abs(x[:, None] - x[None, :])


def problem(**kw) -> st.StagingProblem:
    c = line(10)
    base = {"cost": c, "existing_cost": c[:, [0]], "k": 1, "within": 1.0}
    base.update(kw)
    return st.StagingProblem(**base)


def test_registry_names_labels_params():
    assert set(st.OBJECTIVES) == {"coverage", "p_median", "p_center", "set_cover", "deadline"}
    allowed = {"k", "within", "lanes", "deadline", "capacity"}
    for name, obj in st.OBJECTIVES.items():
        assert obj.name == name
        assert isinstance(obj.label, str) and obj.label
        assert obj.params <= allowed and obj.params
        assert callable(obj.solve)
    assert "k" in st.OBJECTIVES["coverage"].params and "within" in st.OBJECTIVES["coverage"].params
    assert "capacity" in st.OBJECTIVES["p_median"].params
    assert st.OBJECTIVES["set_cover"].params == frozenset({"within"})


@pytest.mark.parametrize("name", ["coverage", "p_median", "p_center", "set_cover"])
def test_plan_problem_is_the_registry_name(name):
    plan = st.OBJECTIVES[name].solve(problem())
    assert plan.problem == name
    assert plan.to_frame()["reason"].str.len().min() > 0


def test_max_coverage_plan_says_coverage():
    assert st.max_coverage(line(10), 2, 1.0).problem == "coverage"


def test_unknown_problem_has_no_reason_text():
    plan = st.p_median(line(6), 2)
    odd = dataclasses.replace(plan, problem="max_coverage")
    with pytest.raises(KeyError, match="max_coverage"):
        reason_text(odd, plan.explanations[0], lambda j: j)
    with pytest.raises(KeyError):
        odd.to_frame(labels=[str(j) for j in range(6)])


def test_existing_sites_are_open_and_not_counted_for_every_goal():
    # One existing site at 0 on a line of 10 (the same answers as fixed=[0] in test_staging).
    pm = st.OBJECTIVES["p_median"].solve(problem())
    assert pm.sites.tolist() in ([6], [7]) and pm.objective == 15 and pm.optimal
    assert pm.n_existing == 1 and pm.fixed.size == 0 and pm.n_candidates == 10
    # rows served by the existing site are marked there, not as a candidate column
    assert (pm.assignment_existing[:3] == 0).all() and (pm.assignment[:3] == -1).all()
    assert set(pm.assignment[pm.assignment >= 0].tolist()) == set(pm.sites.tolist())
    cov = st.OBJECTIVES["coverage"].solve(problem())
    assert cov.objective == 5  # 0 covers 0 and 1, the new site three more
    pc = st.OBJECTIVES["p_center"].solve(problem())
    assert pc.objective == 3 and pc.optimal
    sc = st.OBJECTIVES["set_cover"].solve(problem(existing_cost=line(10)[:, [1]]))
    assert sc.objective == 3 and sc.optimal and 1 not in sc.sites.tolist()


def test_existing_sites_covering_everyone_need_no_new_site():
    c = line(10)
    plan = st.OBJECTIVES["set_cover"].solve(problem(existing_cost=c[:, [1, 4, 7, 9]]))
    assert plan.sites.size == 0 and plan.objective == 0 and plan.optimal
    assert plan.uncovered == 0 and (plan.assignment_existing >= 0).all()
    assert plan.to_frame().empty


def test_no_existing_sites_is_zero_columns():
    c = line(10)
    plan = st.OBJECTIVES["p_median"].solve(
        st.StagingProblem(cost=c, existing_cost=np.zeros((10, 0)), k=2)
    )
    assert plan.objective == 12 and sorted(plan.sites.tolist()) == [2, 7]


def test_zero_people_points_never_make_a_problem_infeasible():
    c = line(10)
    c[0, :] = np.inf  # demand point 0 can reach nothing...
    c[9, :] += 100  # ...and point 9 nothing within 15
    w = np.r_[0.0, np.ones(8), 0.04]  # ...but nobody (0.04 of a person: a sliver of a cell)
    for name in ("set_cover", "p_center", "p_median", "coverage"):
        plan = st.OBJECTIVES[name].solve(
            st.StagingProblem(cost=c, weights=w, existing_cost=np.zeros((10, 0)), k=2, within=15)
        )
        assert plan.problem == name
    # with real people there, set cover still says why it cannot
    with pytest.raises(InputError, match="demand point 9"):
        st.OBJECTIVES["set_cover"].solve(
            st.StagingProblem(cost=c, weights=np.r_[0.0, np.ones(9)], k=2, within=15)
        )


def test_site_figures_come_from_the_final_assignment():
    rng = np.random.default_rng(3)
    d = rng.random((80, 2))
    cand, old = rng.random((20, 2)), rng.random((3, 2))
    cost = np.sqrt(((d[:, None] - cand[None]) ** 2).sum(-1)) * 60
    ex = np.sqrt(((d[:, None] - old[None]) ** 2).sum(-1)) * 60
    w = rng.integers(1, 50, 80).astype(float)
    for name in ("p_median", "p_center", "coverage"):
        plan = st.OBJECTIVES[name].solve(
            st.StagingProblem(cost=cost, weights=w, existing_cost=ex, k=3, within=15.0)
        )
        # the final assignment: nearest open site among existing + new
        full = np.hstack([ex, cost[:, plan.sites]])
        near = full.min(axis=1)
        if name != "coverage":
            assert plan.max_cost == pytest.approx(near.max())
            assert plan.mean_cost == pytest.approx(np.average(near, weights=w))
        for r in plan.explanations:
            mine = plan.assignment == r.site
            assert r.people == pytest.approx(w[mine].sum())
            if mine.any():
                assert r.max_cost == pytest.approx(plan.assigned_cost[mine].max())
                assert np.allclose(plan.assigned_cost[mine], cost[mine, r.site])
        served_new = sum(r.people for r in plan.explanations)
        served_old = w[plan.assignment_existing >= 0].sum()
        assert served_new + served_old + plan.uncovered == pytest.approx(w.sum())


def test_capacity_through_the_registry():
    rng = np.random.default_rng(5)
    d = rng.random((40, 2))
    cost = np.sqrt(((d[:, None] - d[None]) ** 2).sum(-1)) * 60
    w = rng.integers(1, 20, 40).astype(float)
    cap = np.full(40, w.sum() / 3)
    plan = st.OBJECTIVES["p_median"].solve(
        st.StagingProblem(cost=cost, weights=w, existing_cost=np.zeros((40, 0)), k=4, capacity=cap)
    )
    assert plan.capacitated and plan.uncovered == 0
    load = plan.flows.groupby("site")["people"].sum()
    assert (load <= cap[0] * (1 + 1e-6)).all()
    assert load.sum() == pytest.approx(w.sum())
    assert set(load.index) <= set(plan.sites.tolist())


def test_deadline_through_the_registry():
    c = line(6) * 10
    start = datetime(2021, 10, 31, 19, 0)
    plan = st.OBJECTIVES["deadline"].solve(
        st.StagingProblem(
            cost=c,
            weights=np.full(6, 100.0),
            existing_cost=c[:, [0]],
            lanes=1,
            per_lane_per_h=100.0,
            existing_per_h=np.array([100.0]),
            deadline_min=180.0,
            start=start,
        )
    )
    assert plan.problem == "deadline" and isinstance(plan, st.DeadlinePlan)
    assert plan.n_teams >= 1 and plan.finish_min <= 180.0 + 1e-9


def test_problem_validation():
    with pytest.raises(InputError, match="existing_cost"):
        st.StagingProblem(cost=line(5), existing_cost=np.zeros((4, 1)))
    with pytest.raises(InputError, match="deadline"):
        st.OBJECTIVES["deadline"].solve(problem())


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in ("common", "coverage", "set_cover", "p_center", "p_median", "deadline"):
        mod = importlib.import_module(f"geo.staging.{name}")
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, name
    assert res.attempted > 0
