"""The Cordon panel: incident (or a clicked point), rings, method; bands, people, checkpoints."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st
from shapely.geometry import Point

from geo import analyses, cordon, io, mapview, tables
from geo import results as published
from geo.constants import DEFAULT_RINGS_M, DEFAULT_RINGS_MIN
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import signin, state, urlstate, widgets
from geo.ui.widgets import plain

CLICKED = "__clicked__"
BY_LABELS = {
    "distance": "Straight distance (m)",
    "network_m": "Along roads (m)",
    "network_min": "Travel time on roads (min)",
    "drawn": "Outlines drawn on the map",
}


URL = urlstate.Panel("cordon")
#: Each way of drawing the rings, its unit, and that unit's default limits.
UNIT = {"distance": "m", "network_m": "m", "network_min": "min", "drawn": "m"}
DEFAULT_RINGS = {
    "m": ",".join(f"{r:g}" for r in DEFAULT_RINGS_M),
    "min": ",".join(f"{r:g}" for r in DEFAULT_RINGS_MIN),
}
#: Limits beyond these are possible but unlikely to be what was meant: the panel warns.
PLAUSIBLE = {"m": (20.0, 50_000.0), "min": (1.0, 180.0)}
K = {k: f"cordon_{k}" for k in ("ids", "by", "rings", "mode", "foot")}  # widget keys


def _point(text: str) -> tuple[float, float]:
    lon, lat = (float(v) for v in text.split(","))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(text)
    return (lon, lat)


def _rings(text: str, unit: str = "m") -> str:
    # raises InputError (a ValueError) when not numbers, not finite, or beyond a city's scale
    cordon.check_rings(analyses.parse_rings(text), unit)  # type: ignore[arg-type]
    return text


def _unit_changed() -> None:
    """A change of unit (metres <-> minutes) brings that unit's default rings."""
    ss = st.session_state
    by, before = ss[K["by"]], ss.get("cordon_unit")
    if before is not None and UNIT[by] != before:
        ss[K["rings"]] = DEFAULT_RINGS[UNIT[by]]
    ss["cordon_unit"] = UNIT[by]


def implausible(rings: str, by: str) -> str | None:
    """A warning when the limits look like the other unit's (e.g. 500 minutes)."""
    unit = UNIT[by]
    lo, hi = PLAUSIBLE[unit]
    values = analyses.parse_rings(rings)
    odd = [v for v in values if not lo <= v <= hi]
    if not odd or by == "drawn":
        return None
    words = "metres" if unit == "m" else "minutes"
    return (
        f"{', '.join(f'{v:g}' for v in odd)} {words} is unusual for a cordon (expected "
        f"{lo:g}-{hi:g} {words}): check the unit."
    )


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
    # The URL seeds each widget once; the widgets own their values from then on.
    URL.seed(K["ids"], "ids", lambda t: _known(t, options), options[:1])
    st.session_state[K["ids"]] = [i for i in st.session_state[K["ids"]] if i in options]
    by0 = URL.seed(K["by"], "by", str, "distance", choices=BY_LABELS)
    st.session_state.setdefault("cordon_unit", UNIT[by0])
    URL.seed(K["rings"], "rings", lambda t: _rings(t, UNIT[by0]), DEFAULT_RINGS[UNIT[by0]])
    URL.seed(K["mode"], "mode", str, "walk", choices=("walk", "drive"))
    URL.seed(K["foot"], "foot", urlstate.as_bool, True)
    # Outside the form: changing it reruns the panel, so the rings can follow the unit.
    st.selectbox(
        "Drawn by",
        list(BY_LABELS),
        format_func=lambda k: str(BY_LABELS[k]),
        key=K["by"],
        on_change=_unit_changed,
    )
    with st.form("cordon"):
        st.multiselect(
            "Incidents",
            options,
            format_func=lambda i: labels.get(i, i),
            help="Click on the map to add a point as a new incident.",
            key=K["ids"],
        )
        unit = UNIT[st.session_state[K["by"]]]
        st.text_input(
            "Lockdown, control, prevention",
            help="metres" if unit == "m" else "minutes of travel on the roads",
            key=K["rings"],
        )
        st.radio("Mode (roads)", ["walk", "drive"], horizontal=True, key=K["mode"])
        st.checkbox("Checkpoints on footpaths too", key=K["foot"])
        run = st.form_submit_button("Draw cordon")
    ss = st.session_state
    p = {k: ss[K[k]] for k in K}
    if run or urlstate.restore_due(URL, "cordon_result"):
        try:
            warning = implausible(p["rings"], p["by"])
            result = _run(sc, p["ids"], p["by"], p["rings"], p["mode"], p["foot"], clicked)
        except InputError as exc:
            state.forget("cordon_result")  # a failed run leaves no stale result on screen
            st.error(f"The cordon could not be drawn.\n\n{plain(exc)}")
            return
        state.keep_result("cordon_result", result=result, warning=warning)
        published.publish_cordon(result)  # served to desktop GIS (geo.web.ogc)
        URL.set({**p, "point": clicked if CLICKED in p["ids"] else None})
        state.show_result("cordon")
    kept = state.result("cordon_result")
    if kept and kept.get("warning"):
        st.warning(plain(kept["warning"]))
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
    widgets.metric_grid(
        [
            *[
                (f"People · {band}", f"{s['people'].get(band, 0):,.0f}")
                for band in ("lockdown", "control", "prevention")
            ],
            ("Checkpoints · staff", f"{s['checkpoints']:,} · {s['staff_total']:,}"),
        ]
    )
    widgets.table(bands.drop(columns="geometry"), "cordon_bands")
    by_class = pd.DataFrame(
        {
            "road_class": list(s["checkpoints_by_class"]),
            "checkpoints": list(s["checkpoints_by_class"].values()),
        }
    )
    widgets.table(by_class, "checkpoints_by_class")
    c1, c2 = st.columns(2)
    out = bands.copy()
    out.insert(0, "id", out["band"])
    c1.download_button(
        "Cordon bands · GeoJSON",
        io.to_geojson(out),
        "cordon_bands.geojson",
        mime="application/geo+json",
        on_click=signin.on_export("cordon_bands.geojson"),
    )
    c2.download_button(
        "Checkpoints · GeoJSON",
        io.to_geojson(cps),
        "checkpoints.geojson",
        mime="application/geo+json",
        on_click=signin.on_export("checkpoints.geojson"),
    )


def exports() -> tuple[dict, dict]:
    """(results to export as GeoJSON, tables for the report) of the current cordon."""
    res = _current()
    if not res:
        return {}, {}
    bands, cps, _ = res
    table = tables.present(bands.drop(columns="geometry"), "cordon_bands")
    return {"cordon_bands": bands, "checkpoints": cps}, {"Cordon": table}
