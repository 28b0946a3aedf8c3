"""The Staging panel: where to put mobile testing teams, checkpoints or ambulances, and why."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st
from streamlit_folium import st_folium

from geo import analyses, io, mapview, staging, tables
from geo import results as published
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state, urlstate, widgets

#: The goals, read off the staging registry (one name and one label per goal everywhere).
OBJECTIVE_LABELS = {name: goal.label for name, goal in staging.OBJECTIVES.items()}
# What each resource usually asks for: objective, mode, T.
RESOURCE_DEFAULTS = {
    "testing_team": ("deadline", "walk", 15),
    "checkpoint": ("p_center", "drive", 10),
    "ambulance": ("coverage", "drive", 8),
}
SCOPES = analyses.DEMAND_SCOPES


URL = urlstate.Panel("stage")

#: The panel's parameters: URL key -> (parse, default, choices). The URL seeds the widgets,
#: and a plan kept as A or B is recomputed from the same keys.
PARAMS: dict[str, tuple[Any, Any, Any]] = {
    "resource": (str, "testing_team", analyses.RESOURCES),
    "goal": (str, "deadline", OBJECTIVE_LABELS),
    "k": (int, 3, range(1, 51)),
    "T": (int, 15, range(1, 181)),
    "mode": (str, "walk", ("walk", "drive")),
    "lanes": (int, 10, range(1, 41)),
    "scope": (analyses.scope_key, "held", SCOPES),
    "cap": (urlstate.as_bool, False, None),
}
K = {k: f"stage_{k}" for k in PARAMS}  # widget keys


def _resource_changed() -> None:
    """A new resource brings what it usually asks for: its goal, travel mode and T."""
    goal, mode, t = RESOURCE_DEFAULTS[st.session_state[K["resource"]]]
    st.session_state.update({K["goal"]: goal, K["mode"]: mode, K["T"]: t})


def _from_url(url: urlstate.Panel, seed: bool) -> dict[str, Any]:
    """The parameters in ``url``: as the widgets' first values (``seed``), or as they are."""
    resource = url.get("resource", str, "testing_team", choices=analyses.RESOURCES)
    goal0, mode0, t0 = RESOURCE_DEFAULTS[resource]
    defaults = {"goal": goal0, "mode": mode0, "T": t0, "cap": resource == "testing_team"}
    out = {}
    for name, (parse, default, choices) in PARAMS.items():
        value = defaults.get(name, default)
        out[name] = (
            url.seed(K[name], name, parse, value, choices=choices)
            if seed
            else url.get(name, parse, value, choices=choices)
        )
    return out


def controls(sc: Scenario) -> None:
    st.header("Staging")
    _from_url(URL, seed=True)  # the URL seeds each widget once; then the widgets own them
    st.selectbox(
        "Resource",
        list(analyses.RESOURCES),
        format_func=lambda k: str(analyses.RESOURCES[k]),
        key=K["resource"],
        on_change=_resource_changed,
    )
    # Outside the form: the form then asks only for what the goal uses (the registry says).
    st.selectbox(
        "Goal", list(OBJECTIVE_LABELS), format_func=lambda k: OBJECTIVE_LABELS[k], key=K["goal"]
    )
    uses = staging.OBJECTIVES[st.session_state[K["goal"]]].params
    with st.form("staging"):
        if "k" in uses:
            st.number_input("How many (k)", 1, 50, key=K["k"])
        st.number_input(
            "T (minutes)",
            1,
            180,
            key=K["T"],
            help="Travel time that counts as near: the goal for coverage and set cover, and "
            "the 'within T' figure for every goal.",
        )
        st.radio("Travel", ["walk", "drive"], horizontal=True, key=K["mode"])
        if "lanes" in uses or "capacity" in uses:
            st.number_input("Lanes per mobile team", 1, 40, key=K["lanes"])
        if "capacity" in uses:
            st.checkbox(
                "Each site tests at most what its lanes can by the deadline",
                key=K["cap"],
                help="Sites (existing and new) are not sent more people than they can test "
                "before the deadline.",
            )
        st.radio("Demand", list(SCOPES), format_func=lambda k: str(SCOPES[k]), key=K["scope"])
        run = st.form_submit_button("Suggest sites")
    ss = st.session_state
    p = {k: ss[K[k]] for k in K}
    p.update({k: int(p[k]) for k in ("k", "T", "lanes")})
    p["cap"] = bool(p["cap"])
    if run or urlstate.restore_due(URL, "staging_result"):
        try:
            with st.spinner("Optimising…"):
                result = run_plan(sc, p)
        except InputError as exc:
            state.forget("staging_result")  # a failed run leaves no stale plan on screen
            st.error(f"No plan.\n\n{widgets.plain(exc)}")
            return
        state.keep_result(
            "staging_result",
            result=result,
            objective=p["goal"],
            resource=p["resource"],
            within=float(p["T"]),
            mode=p["mode"],
            params=p,
        )
        published.publish_plan(result, params=p)  # served to desktop GIS (geo.web.ogc)
        URL.set(p)
        state.show_result("staging")
    if state.clear_button("staging_result", "Clear plan"):
        URL.clear()


def run_plan(sc: Scenario, p: dict) -> analyses.Staging:
    """The staging plan for the panel's parameters ``p`` (as kept in the URL)."""
    area = analyses.held_area(sc) if analyses.scope_key(p["scope"]) == "held" else None
    return analyses.stage(
        sc,
        p["goal"],
        k=int(p["k"]),
        within_min=float(p["T"]),
        mode=p["mode"],
        lanes=int(p["lanes"]),
        within=area,
        capacity=bool(p.get("cap", False)),
    )


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
    st.subheader(f"Staging: {analyses.RESOURCES[res['resource']]}")
    st.caption(OBJECTIVE_LABELS[res["objective"]])
    t = res["within"]
    b, a = r.before, r.after
    finish = getattr(plan, "finish_min", float("nan"))
    last = (
        ("Teams · finish", f"{plan.n_teams} · {plan.clock(finish)}")
        if res["objective"] == "deadline" and not math.isnan(finish)
        else (
            "Gap to optimum",
            f"{100 * plan.gap:.2f} %" if not math.isnan(plan.gap) else "–",
            f"{plan.method}, {plan.solve_time_s:.2f} s",
            "off",
        )
    )
    widgets.metric_grid(
        [
            (
                f"Within {t:g} min",
                f"{a['covered_pct']:.1f} %",
                f"{a['covered_pct'] - b['covered_pct']:+.1f} pts vs now",
            ),
            (
                "Mean travel",
                _fmt(a["mean_min"], " min"),
                f"{a['mean_min'] - b['mean_min']:+.1f} min",
                "inverse",
            ),
            (
                "Worst travel",
                _fmt(a["max_min"], " min"),
                f"{a['max_min'] - b['max_min']:+.1f} min",
                "inverse",
            ),
            last,
        ]
    )
    if len(r.sites) == 0:
        st.info("No new site is needed: the existing testing sites already meet this goal.")
        _keep_buttons(res)  # a plan that needs nothing is a plan worth keeping
        return
    widgets.table(r.sites.drop(columns="geometry"), "staging_sites")
    # The reasons in full (a table cell would cut them).
    for _, row in r.sites.iterrows():
        name = widgets.plain(row.get("name") or row["candidate_id"])
        st.markdown(f"**{int(row['rank'])}. {name}**")
        st.caption(widgets.plain(row.get("reason") or ""))
    _keep_buttons(res)
    out = r.sites.copy()
    out.insert(0, "id", out["candidate_id"].astype(str))
    st.download_button(
        "Plan · GeoJSON",
        io.to_geojson(out),
        f"plan_{res['objective']}.geojson",
        mime="application/geo+json",
    )


# --- two plans side by side ---------------------------------------------------------------------

SLOTS = ("A", "B")


def _slot_url(slot: str) -> urlstate.Panel:
    return urlstate.Panel(f"plan{slot}")


def _describe(p: dict) -> str:
    goal = OBJECTIVE_LABELS[p["goal"]].split(" (")[0]
    k = "" if p["goal"] in ("deadline", "set_cover") else f", k = {p['k']}"
    return f"{goal}{k}, T = {p['T']} min, {p['mode']}, {SCOPES[p['scope']].lower()}"


def _keep_buttons(res: dict) -> None:
    cols = st.columns(len(SLOTS))
    for col, slot in zip(cols, SLOTS):
        if col.button(f"Keep as plan {slot}", key=f"keep-{slot}", width="stretch"):
            state.keep_result(f"plan_{slot}", result=res["result"], params=res["params"])
            published.publish_plan(res["result"], slot=slot, params=res["params"])
            _slot_url(slot).set(res["params"])


def _kept(sc: Scenario, slot: str) -> dict | None:
    """Plan ``slot`` of this session, or recomputed from the URL (a reload, a shared link)."""
    url = _slot_url(slot)
    if urlstate.restore_due(url, f"plan_{slot}"):
        p = _from_url(url, seed=False)
        try:
            state.keep_result(f"plan_{slot}", result=run_plan(sc, p), params=p)
        except InputError as exc:
            st.error(f"Plan {slot} from the link could not be computed.\n\n{widgets.plain(exc)}")
    return state.result(f"plan_{slot}")


def compare(sc: Scenario) -> None:
    """Plans A and B side by side: figures, the difference, and each on its own map."""
    plans = {slot: _kept(sc, slot) for slot in SLOTS}
    if not any(plans.values()):
        return
    st.subheader("Compare plans")
    if not all(plans.values()):
        missing = next(s for s in SLOTS if not plans[s])
        st.caption(f"Plan {missing} is empty: run another plan and keep it as plan {missing}.")
    table, sites = (None, None)
    plan_a, plan_b = plans["A"], plans["B"]
    if plan_a is not None and plan_b is not None:
        table, sites = analyses.compare_plans(plan_a["result"], plan_b["result"])
    cols = st.columns(len(SLOTS))
    for col, slot in zip(cols, SLOTS):
        kept = plans[slot]
        with col:
            if not kept:
                continue
            r = kept["result"]
            st.markdown(f"**Plan {slot}** · {_describe(kept['params'])}")
            f = analyses.plan_figures(r)
            c1, c2, c3 = st.columns(3)
            c1.metric(f"Within {kept['params']['T']} min", f"{f['covered_pct']:.1f} %")
            c2.metric("Worst travel", _fmt(f["max_min"], " min"))
            c3.metric("Teams · finish", f"{f['teams']} · {f['finish'] or '–'}")
            page_map = mapview.build_map(
                sc,
                [mapview.staging_layer(r.sites, f"Plan {slot}")],
                base_url=st.get_option("server.baseUrlPath") or "",
                hidden={"roads", "crowd_zones"},
                compact=True,
            )
            st_folium(
                page_map,
                key=f"plan-map-{slot}",
                height=420,
                use_container_width=True,
                returned_objects=[],
            )
            if st.button(f"Forget plan {slot}", key=f"forget-{slot}"):
                st.session_state.pop(f"plan_{slot}", None)
                _slot_url(slot).clear()
                st.rerun()
    if table is not None and sites is not None:
        shown = table.copy()
        for c in ("A", "B", "B - A"):
            shown[c] = shown[c].map(_cell)
        st.dataframe(shown, hide_index=True, width="stretch")
        st.caption(
            f"Sites in both: {widgets.plain(', '.join(sites['in_both']) or 'none')} · only in "
            f"A: {widgets.plain(', '.join(sites['only_a']) or 'none')} · only in B: "
            f"{widgets.plain(', '.join(sites['only_b']) or 'none')}"
        )


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    return str(v)


def exports() -> tuple[dict, dict]:
    """The current plan and the kept plans A and B: GeoJSON results and report tables."""
    out, shown = {}, {}
    res = _current()
    if res and len(res["result"].sites):
        sites = res["result"].sites
        out[f"plan_{res['objective']}"] = sites
        shown[f"Staging: {OBJECTIVE_LABELS[res['objective']]}"] = tables.present(
            sites, "staging_sites"
        )
    for slot in SLOTS:
        kept = state.result(f"plan_{slot}")
        if kept and len(kept["result"].sites):
            sites = kept["result"].sites
            out[f"plan_{slot}"] = sites
            shown[f"Plan {slot}: {_describe(kept['params'])}"] = tables.present(
                sites, "staging_sites"
            )
    a, b = state.result("plan_A"), state.result("plan_B")
    if a and b:
        table, _ = analyses.compare_plans(a["result"], b["result"])
        shown["Plans A and B compared"] = table.astype(str)
    return out, shown
