"""The Cordon panel: incident (or a clicked point), rings, method; bands, people, checkpoints."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st
from shapely.geometry import Point

from geo import analyses, io, mapview
from geo.constants import DEFAULT_RINGS_M
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state, urlstate

CLICKED = "__clicked__"
BY_LABELS = {
    "distance": "Straight distance (m)",
    "network_m": "Along roads (m)",
    "network_min": "Travel time on roads (min)",
    "drawn": "Outlines drawn on the map",
}


URL = urlstate.Panel("cordon")
DEFAULT_RINGS = ",".join(f"{r:g}" for r in DEFAULT_RINGS_M)


def _point(text: str) -> tuple[float, float]:
    lon, lat = (float(v) for v in text.split(","))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(text)
    return (lon, lat)


def _rings(text: str) -> str:
    analyses.parse_rings(text)  # raises InputError (a ValueError) when not three limits
    return text


def controls(sc: Scenario) -> None:
    st.header("Cordon")
    inc = sc.layer("incidents")
    options = list(inc["id"])
    labels = dict(zip(inc["id"], inc["name"].fillna(inc["kind"]))) if len(inc) else {}
    if "clicked_point" not in st.session_state and URL.present:
        linked = URL.get("point", _point, None)
        if linked:
            st.session_state["clicked_point"] = linked
    clicked = st.session_state.get("clicked_point")
    if clicked:
        options.append(CLICKED)
        labels[CLICKED] = f"Point clicked on the map ({clicked[1]:.5f}, {clicked[0]:.5f})"
    if clicked:
        st.caption(f"Map click at {clicked[1]:.5f} N, {clicked[0]:.5f} E: choose it below.")
    else:
        st.caption("Click on the map to place a new incident.")
    p = {
        "ids": URL.get("ids", lambda t: _known(t, options), options[:1]),
        "by": URL.get("by", str, "distance", choices=BY_LABELS),
        "rings": URL.get("rings", _rings, DEFAULT_RINGS),
        "mode": URL.get("mode", str, "walk", choices=("walk", "drive")),
        "foot": URL.get("foot", urlstate.as_bool, True),
    }
    with st.form("cordon"):
        chosen = st.multiselect(
            "Incidents",
            options,
            default=p["ids"],
            format_func=lambda i: labels.get(i, i),
            help="Click on the map to add a point as a new incident.",
        )
        by = st.selectbox(
            "Drawn by",
            list(BY_LABELS),
            format_func=BY_LABELS.get,
            index=list(BY_LABELS).index(p["by"]),
        )
        rings = st.text_input(
            "Lockdown, control, prevention",
            p["rings"],
            help="metres, or minutes for travel time",
        )
        mode = st.radio(
            "Mode (roads)",
            ["walk", "drive"],
            horizontal=True,
            index=["walk", "drive"].index(p["mode"]),
        )
        footpaths = st.checkbox("Checkpoints on footpaths too", value=p["foot"])
        run = st.form_submit_button("Draw cordon")
    if run:
        p = {"ids": chosen, "by": by, "rings": rings, "mode": mode, "foot": footpaths}
    if run or urlstate.restore_due(URL, "cordon_result"):
        try:
            result = _run(sc, p["ids"], p["by"], p["rings"], p["mode"], p["foot"], clicked)
        except InputError as exc:
            st.error(f"The cordon could not be drawn.\n\n{exc}")
            return
        state.keep_result("cordon_result", result=result)
        URL.set({**p, "point": clicked if CLICKED in p["ids"] else None})
    if state.clear_button("cordon_result", "Clear cordon"):
        URL.clear()


def _known(text: str, options: list[str]) -> list[str]:
    ids = urlstate.as_list(text)
    if not ids or any(i not in options for i in ids):
        raise ValueError(text)
    return ids


def _run(sc, chosen, by, rings, mode, footpaths, clicked):
    if by == "drawn":
        # The outlines are the zones; the chosen incidents only add their venue exits.
        with st.spinner("Counting people and checkpoints…"):
            return analyses.cordon(
                sc,
                [c for c in chosen if c != CLICKED],
                by="drawn",
                include_footpaths=footpaths,
            )
    if not chosen:
        raise InputError("choose at least one incident (or click on the map)", field="incidents")
    incidents = sc.layer("incidents")
    if CLICKED in chosen:
        t = sc.settings.time("now") or pd.Timestamp.now(tz=sc.settings.timezone)
        point = gpd.GeoDataFrame(
            {
                "id": [CLICKED],
                "kind": ["manual"],
                "severity": [3],
                "reported_at": [t],
                "name": ["Clicked point"],
                "status": ["open"],
                "notes": [None],
            },
            geometry=[Point(*clicked)],
            crs="EPSG:4326",
        )
        incidents = gpd.GeoDataFrame(
            pd.concat([incidents, point], ignore_index=True), crs="EPSG:4326"
        )
    method = "distance" if by == "distance" else "network"
    unit = "min" if by == "network_min" else "m"
    with st.spinner("Drawing the cordon…"):
        return analyses.cordon(
            sc,
            chosen,
            analyses.parse_rings(rings),
            by=method,
            unit=unit,
            mode=mode,
            incidents=incidents,
            include_footpaths=footpaths,
        )


def _current():
    res = state.result("cordon_result")
    return res["result"] if res else None


def map_layers() -> list[mapview.MapLayer]:
    res = _current()
    return mapview.cordon_layers(res.bands, res.checkpoints) if res else []


def results() -> None:
    res = _current()
    if not res:
        return
    bands, cps, s = res
    st.subheader("Cordon")
    cols = st.columns(4)
    for col, band in zip(cols, ["lockdown", "control", "prevention"]):
        col.metric(f"People · {band}", f"{s['people'].get(band, 0):,.0f}")
    cols[3].metric("Checkpoints · staff", f"{s['checkpoints']:,} · {s['staff_total']:,}")
    table = bands.drop(columns="geometry")[["band", "band_zh", "people", "area_km2"]].copy()
    table["people"] = table["people"].round().astype("Int64")
    st.dataframe(
        table.rename(
            columns={"band": "Band", "band_zh": "区", "people": "People", "area_km2": "Area km²"}
        ),
        hide_index=True,
        column_config={
            "People": st.column_config.NumberColumn(format="localized"),
            "Area km²": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    by_class = pd.Series(s["checkpoints_by_class"], name="checkpoints").rename_axis("road class")
    st.dataframe(by_class.reset_index(), hide_index=True)
    c1, c2 = st.columns(2)
    out = bands.copy()
    out.insert(0, "id", out["band"])
    c1.download_button(
        "Cordon bands · GeoJSON",
        io.to_geojson(out),
        "cordon_bands.geojson",
        mime="application/geo+json",
    )
    c2.download_button(
        "Checkpoints · GeoJSON",
        io.to_geojson(cps),
        "checkpoints.geojson",
        mime="application/geo+json",
    )


def exports() -> tuple[dict, dict]:
    """(results to export as GeoJSON, tables for the report) of the current cordon."""
    res = _current()
    if not res:
        return {}, {}
    bands, cps, _ = res
    table = bands.drop(columns="geometry")[["band", "band_zh", "people", "area_km2"]]
    return {"cordon_bands": bands, "checkpoints": cps}, {"Cordon": table}
