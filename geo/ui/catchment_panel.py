"""The Catchments panel: kind and mode in the sidebar; polygons on the map; the sites table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo import analyses, io, mapview, tables
from geo import results as published
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import signin, state, urlstate, widgets
from geo.ui.widgets import plain

KIND_LABELS = {
    "travel_time": "Travel time (nearest by road)",
    "balanced": "Capacity-balanced (throughput until the deadline)",
    "voronoi": "Straight-line (Voronoi)",
}
MODE_LABELS = {"walk": "Walking", "drive": "Driving"}
SCOPES = analyses.DEMAND_SCOPES


URL = urlstate.Panel("catch")
CELLS_M = [100, 150, 250, 500, 1000]


K = {k: f"catch_{k}" for k in ("kind", "mode", "cell", "iso", "scope")}  # widget keys


def controls(sc: Scenario) -> None:
    """Sidebar controls; a run stores its result in the session (and its parameters in the URL)."""
    st.header("Catchments")
    # The URL seeds each widget once; the widgets own their values from then on.
    URL.seed(K["kind"], "kind", str, "travel_time", choices=KIND_LABELS)
    URL.seed(K["mode"], "mode", str, "walk", choices=MODE_LABELS)
    URL.seed(K["cell"], "cell", int, 250, choices=CELLS_M)
    URL.seed(K["iso"], "iso", urlstate.as_bool, False)
    URL.seed(K["scope"], "scope", analyses.scope_key, "held", choices=SCOPES)
    with st.form("catchments"):
        st.selectbox(
            "Kind", list(KIND_LABELS), format_func=lambda k: str(KIND_LABELS[k]), key=K["kind"]
        )
        st.radio(
            "Mode",
            list(MODE_LABELS),
            format_func=lambda k: str(MODE_LABELS[k]),
            horizontal=True,
            key=K["mode"],
        )
        st.select_slider("Demand cell (m)", CELLS_M, key=K["cell"])
        st.checkbox("Show isochrones (5/10/15/30 min)", key=K["iso"])
        st.radio(
            "Demand",
            list(SCOPES),
            format_func=lambda k: str(SCOPES[k]),
            key=K["scope"],
            help="The people to test: those the standing plan holds (its lockdown zone and the "
            "venues its incidents close, as on the wall), or everyone in the crowd zones.",
        )
        run = st.form_submit_button("Compute catchments")
    p = {k: st.session_state[K[k]] for k in K}
    if run or urlstate.restore_due(URL, "catchment_result"):
        try:
            with st.spinner("Computing catchments…"):
                area = _area(sc, p["scope"])
                result = analyses.catchments(
                    sc, p["kind"], p["mode"], cell_m=float(p["cell"]), within=area
                )
                bands = analyses.isochrones(sc, p["mode"]) if p["iso"] else None
        except InputError as exc:
            state.forget("catchment_result")  # a failed run leaves no stale result on screen
            st.error(f"Catchments could not be computed.\n\n{plain(exc)}")
            return
        state.keep_result(
            "catchment_result",
            kind=p["kind"],
            mode=p["mode"],
            scope=p["scope"] if area is not None else "all",
            result=result,
            isochrones=bands,
        )
        published.publish_catchments(result, bands, params=p)  # served to desktop GIS
        URL.set(p)
        state.show_result("catchments")
    if state.clear_button("catchment_result", "Clear catchments"):
        URL.clear()


def _area(sc: Scenario, scope: str):
    """The held area when asked for and there is one (else everyone: None)."""
    area, note = analyses.demand_area(sc, scope)
    if note:
        st.caption(plain(note))
    return area


def _current() -> dict | None:
    return state.result("catchment_result")


def map_layers() -> list[mapview.MapLayer]:
    res = _current()
    if not res:
        return []
    title = f"Catchments · {KIND_LABELS[res['kind']].split(' (')[0]} · {MODE_LABELS[res['mode']]}"
    out = [mapview.catchment_layer(res["result"].sites, title)]
    if res["isochrones"] is not None and len(res["isochrones"]):
        out.append(mapview.isochrone_layer(res["isochrones"]))
    return out


def results() -> None:
    """The sites table (sorted by finish time), totals and the downloads."""
    res = _current()
    if not res:
        return
    result = res["result"]
    s = result.summary
    st.subheader(f"Catchments: {KIND_LABELS[res['kind']]}, {MODE_LABELS[res['mode']].lower()}")
    st.caption(f"Demand: {SCOPES[res.get('scope', 'all')].lower()}")
    mean = s.get("mean_min")
    widgets.metric_grid(
        [
            ("People", f"{s['people']:,.0f}"),
            ("Assigned", f"{s['assigned']:,.0f}"),
            ("Cannot be tested in time", f"{s.get('untested', 0):,.0f}"),
            ("Mean travel", "–" if mean is None or pd.isna(mean) else f"{mean:.1f} min"),
        ]
    )
    table = result.sites.drop(columns="geometry")
    if "finish_at" in table:
        table = table.sort_values("finish_at", na_position="last")
    widgets.table(
        table,
        "catchment_sites",
        tz=state.scenario_of_session().settings.timezone,
        height=min(38 + 35 * len(table), 600),  # every site without scrolling (up to ~16)
    )
    c1, c2 = st.columns(2)
    c1.download_button(
        "Catchments · GeoJSON",
        io.to_geojson(_json_safe(result.sites)),
        file_name=f"catchments_{res['kind']}_{res['mode']}.geojson",
        mime="application/geo+json",
        on_click=signin.on_export(f"catchments_{res['kind']}_{res['mode']}.geojson"),
    )
    if res["isochrones"] is not None:
        c2.download_button(
            "Isochrones · GeoJSON",
            io.to_geojson(res["isochrones"]),
            file_name=f"isochrones_{res['mode']}.geojson",
            mime="application/geo+json",
            on_click=signin.on_export(f"isochrones_{res['mode']}.geojson"),
        )


def _json_safe(gdf):
    # site ids become the feature ids of the export
    out = gdf.copy()
    if "id" not in out.columns and "site_id" in out.columns:
        out.insert(0, "id", out["site_id"])
    return out


def exports() -> tuple[dict, dict]:
    res = _current()
    if not res:
        return {}, {}
    out = {f"catchments_{res['kind']}_{res['mode']}": res["result"].sites}
    if res["isochrones"] is not None:
        out[f"isochrones_{res['mode']}"] = res["isochrones"]
    table = res["result"].sites.drop(columns="geometry")
    tz = state.scenario_of_session().settings.timezone
    return out, {"Catchments": tables.present(table, "catchment_sites", tz)}
