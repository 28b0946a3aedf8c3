"""The Staging panel: where to put mobile testing teams, checkpoints or ambulances, and why."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from geo import analyses, io, mapview
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state

OBJECTIVE_LABELS = {
    "deadline": "Everyone tested by the deadline (fewest teams)",
    "coverage": "Most people within T minutes (k sites)",
    "p_median": "Least average travel (k sites)",
    "p_center": "Least worst-case travel (k sites)",
    "set_cover": "Everyone within T minutes (fewest sites)",
}
# What each resource usually asks for: objective, mode, T.
RESOURCE_DEFAULTS = {
    "testing_team": ("deadline", "walk", 15),
    "checkpoint": ("p_center", "drive", 10),
    "ambulance": ("coverage", "drive", 8),
}
SCOPES = {"lockdown": "People in the lockdown zone", "all": "Everyone in the crowd zones"}


def controls(sc: Scenario) -> None:
    st.header("Staging")
    resource = st.selectbox(
        "Resource",
        list(analyses.RESOURCES),
        format_func=analyses.RESOURCES.get,
        key="stage_resource",
    )
    objective0, mode0, t0 = RESOURCE_DEFAULTS[resource]
    with st.form("staging"):
        objective = st.selectbox(
            "Goal",
            list(OBJECTIVE_LABELS),
            format_func=OBJECTIVE_LABELS.get,
            index=list(OBJECTIVE_LABELS).index(objective0),
        )
        k = st.number_input("How many (k)", 1, 50, 3)
        within = st.number_input("T (minutes)", 1, 180, t0)
        mode = st.radio(
            "Travel", ["walk", "drive"], index=["walk", "drive"].index(mode0), horizontal=True
        )
        lanes = st.number_input("Lanes per mobile team", 1, 40, 10)
        scope = st.radio("Demand", list(SCOPES), format_func=SCOPES.get)
        run = st.form_submit_button("Suggest sites")
    if run:
        try:
            with st.spinner("Optimising…"):
                area = analyses.lockdown_area(sc) if scope == "lockdown" else None
                result = analyses.stage(
                    sc,
                    objective,
                    k=int(k),
                    within_min=float(within),
                    mode=mode,
                    lanes=int(lanes),
                    within=area,
                )
        except InputError as exc:
            st.error(f"No plan.\n\n{exc}")
            return
        state.keep_result(
            "staging_result",
            result=result,
            objective=objective,
            resource=resource,
            within=float(within),
            mode=mode,
        )
    state.clear_button("staging_result", "Clear plan")


def _current() -> dict | None:
    return state.result("staging_result")


def map_layers() -> list[mapview.MapLayer]:
    res = _current()
    if not res:
        return []
    title = f"Suggested: {analyses.RESOURCES[res['resource']]}"
    return [mapview.staging_layer(res["result"].sites, title)]


def _fmt(v: float, unit: str = "") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.1f}{unit}"


def results() -> None:
    res = _current()
    if not res:
        return
    r, plan = res["result"], res["result"].plan
    st.subheader(
        f"Staging: {analyses.RESOURCES[res['resource']]} · {OBJECTIVE_LABELS[res['objective']]}"
    )
    t = res["within"]
    b, a = r.before, r.after
    cols = st.columns(4)
    cols[0].metric(
        f"Within {t:g} min",
        f"{a['covered_pct']:.1f} %",
        f"{a['covered_pct'] - b['covered_pct']:+.1f} pts vs now",
    )
    cols[1].metric(
        "Mean travel",
        _fmt(a["mean_min"], " min"),
        f"{a['mean_min'] - b['mean_min']:+.1f} min",
        delta_color="inverse",
    )
    cols[2].metric(
        "Worst travel",
        _fmt(a["max_min"], " min"),
        f"{a['max_min'] - b['max_min']:+.1f} min",
        delta_color="inverse",
    )
    finish = getattr(plan, "finish_min", float("nan"))
    if res["objective"] == "deadline" and not math.isnan(finish):
        cols[3].metric("Teams · finish", f"{plan.n_teams} · {plan.clock(finish)}")
    else:
        cols[3].metric(
            "Gap to optimum",
            f"{100 * plan.gap:.2f} %" if not math.isnan(plan.gap) else "–",
            f"{plan.method}, {plan.solve_time_s:.2f} s",
            delta_color="off",
        )
    if len(r.sites) == 0:
        st.info("No new site is needed: the existing testing sites already meet this goal.")
        return
    table = pd.DataFrame(r.sites.drop(columns="geometry"))
    shown = [
        c
        for c in ("rank", "candidate_id", "people", "mean_cost", "max_cost", "teams", "reason")
        if c in table
    ]
    st.dataframe(table[shown], hide_index=True, width="stretch")
    out = r.sites.copy()
    out.insert(0, "id", out["candidate_id"].astype(str))
    st.download_button(
        "Plan · GeoJSON",
        io.to_geojson(out),
        f"plan_{res['objective']}.geojson",
        mime="application/geo+json",
    )


def exports() -> tuple[dict, dict]:
    res = _current()
    if not res or len(res["result"].sites) == 0:
        return {}, {}
    sites = res["result"].sites
    cols = [
        c
        for c in ("rank", "candidate_id", "people", "mean_cost", "max_cost", "reason")
        if c in sites.columns
    ]
    return (
        {f"plan_{res['objective']}": sites},
        {f"Staging: {OBJECTIVE_LABELS[res['objective']]}": sites[cols]},
    )
