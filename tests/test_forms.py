"""The sidebar forms keep what the user submits: every submit runs what was entered, and the
field keeps it (issue #16: every second edit was thrown away when the widgets' defaults were
re-read from the URL after each run)."""

from __future__ import annotations

from tests.conftest import open_app


def _form_widget(at, kind: str, label: str):
    return next(w for w in getattr(at.sidebar, kind) if w.label == label)


def _submit(at, label: str):
    next(b for b in at.sidebar.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def test_cordon_rings_are_kept_over_several_submits():
    at = open_app()
    for rings in ("300,1000,3000", "1000,3000,6000", "800,2500,5000"):
        _form_widget(at, "text_input", "Lockdown, control, prevention").set_value(rings)
        _submit(at, "Draw cordon")
        assert _form_widget(at, "text_input", "Lockdown, control, prevention").value == rings
        assert at.query_params["cordon.rings"] == rings
        # what runs is what was submitted: the table's lockdown area grows with the ring
        area = at.session_state["cordon_result"]["result"].summary["rings"]
        assert area == [float(x) for x in rings.split(",")]


def test_catchment_kind_and_staging_goal_are_kept_over_several_submits():
    at = open_app()
    for kind in ("balanced", "voronoi", "travel_time", "balanced"):
        _form_widget(at, "selectbox", "Kind").set_value(kind)
        _submit(at, "Compute catchments")
        assert _form_widget(at, "selectbox", "Kind").value == kind
        assert at.session_state["catchment_result"]["kind"] == kind
    for goal in ("p_median", "coverage", "p_center"):
        _form_widget(at, "selectbox", "Goal").set_value(goal)
        _submit(at, "Suggest sites")
        assert _form_widget(at, "selectbox", "Goal").value == goal
        assert at.session_state["staging_result"]["objective"] == goal


def test_drawn_by_is_kept_over_several_submits():
    at = open_app()
    for by, rings in (("network_m", "500,2000,5000"), ("distance", "400,1500,4000")):
        _form_widget(at, "selectbox", "Drawn by").set_value(by)
        _form_widget(at, "text_input", "Lockdown, control, prevention").set_value(rings)
        _submit(at, "Draw cordon")
        assert _form_widget(at, "selectbox", "Drawn by").value == by
        assert at.session_state["cordon_result"]["result"].summary["by"] == (
            "distance" if by == "distance" else "network"
        )


def test_a_change_of_unit_brings_that_units_rings_and_odd_values_warn():
    at = open_app()
    _form_widget(at, "selectbox", "Drawn by").set_value("network_min")
    at.run()
    rings = _form_widget(at, "text_input", "Lockdown, control, prevention")
    assert rings.value == "5,10,15"  # minutes, not the 500,2000,5000 metres
    _submit(at, "Draw cordon")
    people = at.session_state["cordon_result"]["result"].summary["people"]
    assert people["control"] > 0 and people["prevention"] > 0  # three real bands
    assert not [w for w in at.warning if "unusual" in w.value]
    # back to metres: the metre defaults come back
    _form_widget(at, "selectbox", "Drawn by").set_value("distance")
    at.run()
    assert _form_widget(at, "text_input", "Lockdown, control, prevention").value == (
        "500,2000,5000"
    )
    # 500 minutes is possible but not what anyone means: the panel says so
    _form_widget(at, "selectbox", "Drawn by").set_value("network_min")
    at.run()
    _form_widget(at, "text_input", "Lockdown, control, prevention").set_value("500,2000,5000")
    _submit(at, "Draw cordon")
    assert any("500, 2000, 5000 minutes is unusual" in w.value for w in at.warning)


def test_a_failed_run_clears_the_old_result_and_says_why():
    at = open_app()
    _submit(at, "Draw cordon")
    assert at.session_state["cordon_result"]
    _form_widget(at, "text_input", "Lockdown, control, prevention").set_value("3000,1000")
    _submit(at, "Draw cordon")
    assert "cordon_result" not in at.session_state
    assert any("could not be drawn" in e.value for e in at.error)
