"""The Catchments panel: kind and mode in the sidebar; polygons on the map; the sites table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo import analyses, io, mapview
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state, urlstate

KIND_LABELS = {
    "travel_time": "Travel time (nearest by road)",
    "balanced": "Capacity-balanced (throughput until the deadline)",
    "voronoi": "Straight-line (Voronoi)",
}
MODE_LABELS = {"walk": "Walking", "drive": "Driving"}
SCOPES = analyses.DEMAND_SCOPES
TABLE_COLUMNS = {
    "name": "Site",
    "people": "People",
    "load": "Load",
    "throughput_per_h": "Tests/h",
    "mean_min": "Mean min",
    "max_min": "Max min",
    "untested": "Untested",
    "finish_at": "Finishes",
    "status": "Status",
}


URL = urlstate.Panel("catch")
CELLS_M = [100, 150, 250, 500, 1000]


def controls(sc: Scenario) -> None:
    """Sidebar controls; a run stores its result in the session (and its parameters in the URL)."""
    st.header("Catchments")
    p = {
        "kind": URL.get("kind", str, "travel_time", choices=KIND_LABELS),
        "mode": URL.get("mode", str, "walk", choices=MODE_LABELS),
        "cell": URL.get("cell", int, 250, choices=CELLS_M),
        "iso": URL.get("iso", urlstate.as_bool, False),
        "scope": URL.get("scope", analyses.scope_key, "held", choices=SCOPES),
    }
    with st.form("catchments"):
        kind = st.selectbox(
            "Kind",
            list(KIND_LABELS),
            format_func=KIND_LABELS.get,
            index=list(KIND_LABELS).index(p["kind"]),
        )
        mode = st.radio(
            "Mode",
            list(MODE_LABELS),
            format_func=MODE_LABELS.get,
            horizontal=True,
            index=list(MODE_LABELS).index(p["mode"]),
        )
        cell_m = st.select_slider("Demand cell (m)", CELLS_M, value=p["cell"])
        iso = st.checkbox("Show isochrones (5/10/15/30 min)", value=p["iso"])
        scope = st.radio(
            "Demand",
            list(SCOPES),
            format_func=SCOPES.get,
            index=list(SCOPES).index(p["scope"]),
            help="The people to test: those in the standing cordon's lockdown zone (as on the "
            "wall), or everyone in the crowd zones.",
        )
        run = st.form_submit_button("Compute catchments")
    if run:
        p = {"kind": kind, "mode": mode, "cell": int(cell_m), "iso": iso, "scope": scope}
    if run or urlstate.restore_due(URL, "catchment_result"):
        try:
            with st.spinner("Computing catchments…"):
                area = _area(sc, p["scope"])
                result = analyses.catchments(
                    sc, p["kind"], p["mode"], cell_m=float(p["cell"]), within=area
                )
                bands = analyses.isochrones(sc, p["mode"]) if p["iso"] else None
        except InputError as exc:
            st.error(f"Catchments could not be computed.\n\n{exc}")
            return
        state.keep_result(
            "catchment_result",
            kind=p["kind"],
            mode=p["mode"],
            scope=p["scope"] if area is not None else "all",
            result=result,
            isochrones=bands,
        )
        URL.set(p)
    if state.clear_button("catchment_result", "Clear catchments"):
        URL.clear()


def _area(sc: Scenario, scope: str):
    """The held area when asked for and there is one (else everyone: None)."""
    area, note = analyses.demand_area(sc, scope)
    if note:
        st.caption(note)
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
    cols = st.columns(4)
    cols[0].metric("People", f"{s['people']:,.0f}")
    cols[1].metric("Assigned", f"{s['assigned']:,.0f}")
    cols[2].metric("Cannot be tested in time", f"{s.get('untested', 0):,.0f}")
    mean = s.get("mean_min")
    cols[3].metric("Mean travel", "–" if mean is None or pd.isna(mean) else f"{mean:.1f} min")
    table = result.sites.drop(columns="geometry")
    if "finish_at" in table:
        table = table.sort_values("finish_at", na_position="last")
    shown = table[[c for c in TABLE_COLUMNS if c in table.columns]].rename(columns=TABLE_COLUMNS)
    for c in ("People", "Load", "Tests/h", "Untested"):
        if c in shown:  # whole people (the LP leaves 1e-12 residues)
            shown[c] = shown[c].astype(float).round().astype("Int64")
    whole = st.column_config.NumberColumn(format="localized")
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 600),  # every site without scrolling (up to ~16)
        column_config={
            "People": whole,
            "Load": whole,
            "Tests/h": whole,
            "Untested": whole,
            "Mean min": st.column_config.NumberColumn(format="%.1f"),
            "Max min": st.column_config.NumberColumn(format="%.1f"),
            "Finishes": st.column_config.DatetimeColumn(format="ddd HH:mm"),
        },
    )
    c1, c2 = st.columns(2)
    c1.download_button(
        "Catchments · GeoJSON",
        io.to_geojson(_json_safe(result.sites)),
        file_name=f"catchments_{res['kind']}_{res['mode']}.geojson",
        mime="application/geo+json",
    )
    if res["isochrones"] is not None:
        c2.download_button(
            "Isochrones · GeoJSON",
            io.to_geojson(res["isochrones"]),
            file_name=f"isochrones_{res['mode']}.geojson",
            mime="application/geo+json",
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
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    return out, {"Catchments": table[cols].rename(columns=TABLE_COLUMNS)}
