"""Two staging plans side by side: the figures, the difference, the URL, the page."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from geo import analyses
from tests.conftest import open_app


@pytest.fixture(scope="module")
def plans(demo):
    area = analyses.held_area(demo)
    a = analyses.stage(demo, "coverage", k=2, within_min=10, within=area)
    b = analyses.stage(demo, "coverage", k=3, within_min=10, within=area)
    return a, b


def test_compare_plans_reports_each_figure_and_the_difference(plans):
    a, b = plans
    table, sites = analyses.compare_plans(a, b)
    assert list(table["figure"]) == list(analyses.PLAN_FIGURES.values())
    row = table.set_index("figure")
    assert row.loc["New sites", "A"] == 2 and row.loc["New sites", "B"] == 3
    assert row.loc["New sites", "B - A"] == 1
    cov = row.loc["People within T (%)"]
    assert cov["B"] >= cov["A"] - 1e-9  # one more site never covers fewer people (both optimal)
    assert math.isclose(cov["B - A"], cov["B"] - cov["A"])
    assert len(sites["in_both"]) + len(sites["only_a"]) == 2
    assert len(sites["in_both"]) + len(sites["only_b"]) == 3


def test_compare_with_itself_has_no_difference(plans):
    a, _ = plans
    table, sites = analyses.compare_plans(a, a)
    diffs = [d for d in table["B - A"] if pd.notna(d)]
    assert diffs and all(d == 0 for d in diffs)
    assert sites["only_a"] == [] and sites["only_b"] == []


def test_keep_two_plans_and_compare_them_on_the_page():
    at = open_app()
    next(s for s in at.sidebar.selectbox if s.label == "Goal").set_value("coverage")
    at.run()  # the form then asks for what the goal uses (k for coverage)
    next(n for n in at.sidebar.number_input if n.label == "How many (k)").set_value(2)
    next(b for b in at.sidebar.button if b.label == "Suggest sites").click()
    at.run()
    next(b for b in at.main.button if b.label == "Keep as plan A").click()
    at.run()
    assert "Compare plans" in [s.value for s in at.subheader]
    assert at.query_params["planA.goal"] == "coverage" and at.query_params["planA.k"] == "2"
    next(n for n in at.sidebar.number_input if n.label == "How many (k)").set_value(3)
    next(b for b in at.sidebar.button if b.label == "Suggest sites").click()
    at.run()
    next(b for b in at.main.button if b.label == "Keep as plan B").click()
    at.run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "B - A" in d.value.columns)
    assert table.set_index("figure").loc["New sites", "B - A"] == "1"
    maps = [c for c in at.main if "plan-map" in str(getattr(c, "proto", ""))[:4000]]
    assert maps or len([c for c in at.main if getattr(c, "type", "") == "component_instance"]) >= 3


def test_a_link_with_two_plans_shows_the_comparison():
    at = open_app(
        **{
            "planA.goal": "coverage",
            "planA.k": "1",
            "planB.goal": "coverage",
            "planB.k": "2",
            "planB.T": "10",
        }
    )
    assert "Compare plans" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "B - A" in d.value.columns)
    assert table.set_index("figure").loc["New sites", "A"] == "1"
    assert any("Plan B" in m.value and "T = 10 min" in m.value for m in at.markdown)
