"""URL state (AppTest): analyses, parameters and hidden layers come back from the address."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.conftest import open_app


def _map_args(at: AppTest) -> dict:
    comp = next(
        c
        for c in at.main
        if getattr(c, "type", "") == "component_instance"
        or "st_folium" in str(getattr(c, "proto", ""))[:2000]
    )
    return json.loads(comp.proto.json_args)


def test_running_an_analysis_writes_its_parameters_to_the_url():
    at = open_app()
    next(t for t in at.sidebar.text_input if t.label.startswith("Lockdown")).set_value(
        "300,1000,3000"
    )
    next(b for b in at.sidebar.button if b.label == "Draw cordon").click()
    at.run()
    assert not at.exception
    assert at.query_params["cordon.rings"] == "300,1000,3000"
    assert at.query_params["cordon.ids"] == "inc-001"
    assert at.query_params["cordon.by"] == "distance"


def test_a_link_with_parameters_recomputes_the_analyses():
    at = open_app(
        **{
            "cordon.ids": "inc-001,inc-002",
            "cordon.rings": "300,1000,3000",
            "catch.kind": "balanced",
            "catch.mode": "walk",
            "stage.goal": "coverage",
            "stage.k": "2",
        }
    )
    subheads = [s.value for s in at.subheader]
    assert "Cordon" in subheads
    assert any(s.startswith("Catchments: Capacity-balanced") for s in subheads)
    assert any(s.startswith("Staging:") for s in subheads)
    # the form shows the linked values
    rings = next(t for t in at.sidebar.text_input if t.label.startswith("Lockdown"))
    assert rings.value == "300,1000,3000"
    table = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert len(table) == 2
    groups = _map_args(at)["feature_group"]
    assert "co-cordon" in groups and "co-catchments" in groups and "co-staging" in groups


def test_a_bad_parameter_falls_back_to_the_default_with_a_warning():
    at = open_app(**{"cordon.rings": "<b>x</b>", "cordon.ids": "nope"})
    # shown literally (Markdown characters escaped), so "<b>" is no markup
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "cordon.rings" in warnings and "cordon.ids" in warnings
    rings = next(t for t in at.sidebar.text_input if t.label.startswith("Lockdown"))
    assert rings.value == "500,2000,5000"
    # the defaults were used for the cordon the link asked for
    assert "Cordon" in [s.value for s in at.subheader]


def test_clearing_a_result_removes_it_from_the_url():
    at = open_app(**{"cordon.ids": "inc-001"})
    next(b for b in at.sidebar.button if b.label == "Clear cordon").click()
    at.run()
    assert not at.exception
    assert "cordon.ids" not in at.query_params
    assert "Cordon" not in [s.value for s in at.subheader]


def test_hidden_layers_come_from_the_url_and_start_unchecked():
    at = open_app(hide="roads,incidents")
    picker = next(m for m in at.multiselect if m.label == "On the map")
    assert "roads" not in picker.value and "incidents" not in picker.value
    assert "testing_sites" in picker.value
    args = _map_args(at)
    # a base-map layer is not shown (folium show=False); a swapped group starts unchecked
    assert "co-incidents" in args["feature_group"]
    assert "group.once('add'" in args["feature_group"]
    picker.unselect("testing_sites")
    at.run()
    assert at.query_params["hide"] == "incidents,roads,testing_sites"


def test_a_cordon_from_drawn_outlines_without_any_says_so():
    at = open_app(**{"cordon.by": "drawn"})
    assert any("no cordon has been drawn" in e.value for e in at.error)
    drawn_by = next(s for s in at.sidebar.selectbox if s.label == "Drawn by")
    assert drawn_by.value == "drawn"


def test_layer_defaults_without_a_hide_parameter_and_an_empty_one_hides_nothing():
    at = open_app()
    picker = next(m for m in at.multiselect if m.label == "On the map")
    assert "facilities" not in picker.value and "roads" in picker.value  # as the switcher says
    assert "hide" not in at.query_params  # an untouched page keeps a clean address
    at = open_app(hide="")
    picker = next(m for m in at.multiselect if m.label == "On the map")
    assert "facilities" in picker.value


def test_catchments_count_the_lockdown_zone_unless_asked_for_everyone():
    at = open_app(**{"catch.kind": "balanced"})
    assert any(
        c.value == "Demand: people to test (lockdown zone and closed venues)" for c in at.caption
    )
    people = {m.label: m.value for m in at.metric}["People"]
    at = open_app(**{"catch.kind": "balanced", "catch.scope": "all"})
    assert any(c.value == "Demand: everyone in the crowd zones" for c in at.caption)
    everyone = {m.label: m.value for m in at.metric}["People"]
    assert int(everyone.replace(",", "")) > int(people.replace(",", "")) > 0
