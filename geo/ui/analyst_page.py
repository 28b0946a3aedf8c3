"""The analyst's workbench (``?view=analyst``, the default): KPI tiles, the map with every layer
and result, the cordon, catchment and staging panels, plan comparison, upload and export."""

from __future__ import annotations

import html
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import io, mapview, printsheet, report, situation
from geo import scenario as scen
from geo.layers import LAYER_KINDS, SCHEMAS
from geo.ui import (
    alerts_panel,
    catchment_panel,
    cordon_panel,
    crowd_panel,
    drawing_panel,
    find_panel,
    measure_panel,
    signin,
    staging_panel,
    state,
    timeline_panel,
    upload_panel,
    urlstate,
)
from geo.ui.widgets import plain

CSS = """
<style>
/* A figure is sized by its own column, so a narrow column (a tablet, the results beside the
   map) shows it whole instead of "27..."; labels wrap. */
[data-testid="stMetric"] { container-type: inline-size; }
[data-testid="stMetricValue"] { font-size: clamp(0.95rem, 15cqi, 2.6rem); font-weight: 700; }
[data-testid="stMetricValue"] > div { overflow: visible; text-overflow: clip; }
[data-testid="stMetricLabel"] p { white-space: normal; }
/* Below 1200 px (tablets) the results go under the map instead of beside it. */
@media (max-width: 1200px) {
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-co-results) {
    flex-wrap: wrap; }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-co-results)
    > [data-testid="stColumn"] { min-width: 100%; flex: 1 1 100%; }
}
[data-testid="stMetricLabel"] p { font-size: 1.05rem; }
.block-container { padding-top: 1.2rem; padding-bottom: 0.5rem; }
</style>
"""


def render() -> None:
    """Draw the page for the configured scenario (the demo by default)."""
    st.markdown(CSS, unsafe_allow_html=True)
    sc = state.scenario_or_stop()
    _count_run()
    who = state.actor()

    st.title(plain(sc.name))
    if sc.settings.description:
        st.caption(plain(sc.settings.description))
    with st.sidebar:
        signin.sidebar()
        # A viewer's workbench is read-only: no analysis (the panels would compute on the
        # server, also from a link's parameters), no upload, no export.
        if who.may("analyse"):
            cordon_panel.controls(sc)
            catchment_panel.controls(sc)
            staging_panel.controls(sc)
    # Results sit beside the map, the newest first, where the eye is after pressing a button.
    c_map, c_side = st.columns([2.3, 1], gap="medium")
    with c_map:
        st.fragment(run_every=timeline_panel.run_every(state.refresh_s()))(_live_view)()
    with c_side, st.container(key="co-results"):
        if drawing_panel.active() and not timeline_panel.active():
            drawing_panel.pending_form(sc)
        if measure_panel.active():
            measure_panel.results()
        for key in state.results_order(list(RESULT_PANELS)):
            RESULT_PANELS[key].results()
        if not any(
            state.result(k) for k in ("cordon_result", "catchment_result", "staging_result")
        ):
            st.caption(
                "Results of *Cordon*, *Catchments* and *Staging* (in the sidebar) appear here, "
                "beside the map, and the map zooms to them."
            )
    if who.may("analyse"):
        staging_panel.compare(sc)

    with st.sidebar:
        _views_link()
        alerts_panel.panel(sc)
        if who.may("upload"):
            upload_panel.render(sc)
            crowd_panel.controls(sc)
        if who.may("export"):
            _export_panel(sc)
        _data_notes(sc)


def _live_view() -> None:
    """Tiles and map; with a live store (or while the replay plays) this fragment reruns on a
    timer, alone."""
    signin.recheck()  # a live fragment must stop when its session ends
    sc = state.live_scenario()
    c_find, c_layers, c_draw, c_measure, c_replay = st.columns(
        [2.2, 3, 1.1, 1.1, 1.1], vertical_alignment="bottom"
    )
    find_panel.controls(sc, c_find)
    tiles = st.container()
    replay = c_replay.toggle(
        "Replay the night",
        value=timeline_panel.active(),
        help="Simulated from the plan: the standing cordon and the balanced catchments of the "
        "people in its lockdown zone. The tiles and the map follow the time slider.",
    )
    if replay != timeline_panel.active():
        timeline_panel.set_active(replay)
        st.rerun(scope="app")
    tl = timeline_panel.night(sc) if replay else None
    drawing = not replay and drawing_panel.active()  # one draws on the present, not a replay
    measuring = not replay and not drawing and measure_panel.active()
    if not replay:
        drawing_panel.toggle(c_draw)
        measure_panel.toggle(c_measure)
    extra = [
        *cordon_panel.map_layers(),
        *catchment_panel.map_layers(),
        *staging_panel.map_layers(),
        *find_panel.map_layers(),
    ]
    with tiles:
        if tl is not None:
            t = timeline_panel.bar(tl)
            sc = tl.at(t)
            _replay_tiles(tl.figures(t), t)
            if not cordon_panel.map_layers():
                extra = [*timeline_panel.cordon_layers(tl, t), *extra]
        else:
            _kpi_tiles(sc)
            _data_age(sc)
    with c_layers:
        # While drawing, the drawings are in the editable group, not a layer to pick.
        hidden = _layer_picker(drawing_panel.map_scenario(sc) if drawing else sc, extra)
    live_map = mapview.build_live_map(
        drawing_panel.map_scenario(sc) if drawing else sc,
        extra,
        base_url=st.get_option("server.baseUrlPath") or "",
        hidden=hidden,
    )
    if drawing:
        drawing_panel.add_to_map(live_map.base, sc)
    elif measuring:
        measure_panel.add_to_map(live_map.base)
    # The base map stays identical between refreshes (same component key): only the feature
    # groups are swapped, so the user's zoom and pan survive. Only a click (or, while drawing,
    # the drawings) comes back: panning and zooming must not rerun the script.
    center, zoom = _fit()
    out = st_folium(
        live_map.base,
        key="map",
        feature_group_to_add=live_map.groups,
        layer_control=live_map.control(),
        height=MAP_HEIGHT,
        use_container_width=True,
        center=center,
        zoom=zoom,
        returned_objects=["all_drawings"] if drawing or measuring else ["last_clicked"],
    )
    if drawing:
        drawing_panel.handle(sc, (out or {}).get("all_drawings"))
        return
    if measuring:
        measure_panel.handle(sc, (out or {}).get("all_drawings"))
        return
    clicked = (out or {}).get("last_clicked")
    if clicked and clicked.get("lng") is not None:
        point = (round(clicked["lng"], 6), round(clicked["lat"], 6))
        if st.session_state.get("clicked_point") != point:
            st.session_state["clicked_point"] = point
            st.rerun()  # the Cordon panel offers the point as an incident


MAP_HEIGHT = 760
#: The map's width on a 1920-px screen with the sidebar open (the fit's assumption).
MAP_WIDTH = 1050
RESULT_PANELS = {"cordon": cordon_panel, "catchments": catchment_panel, "staging": staging_panel}
#: Whatever can move the map to itself: the results, and a place found.
FITS = {**RESULT_PANELS, "found": find_panel}


def _fit() -> tuple[tuple[float, float] | None, int | None]:
    """The view that fits the newest result (the map moves there once, when it is computed;
    the same view on later reruns does not move the map again)."""
    latest = state.latest_result()
    if latest is None:
        return None, None
    layers = FITS[latest].map_layers()
    return mapview.fit_view([lay.gdf for lay in layers], MAP_WIDTH, MAP_HEIGHT, max_zoom=17)


def _layer_picker(sc: scen.Scenario, extra: list[mapview.MapLayer]) -> set[str]:
    """Which layers are on the map; the hidden ones are kept in the URL (``hide=``), so a new
    result layer shows up and a reload keeps the choice."""
    layers = [*mapview.scenario_layers(sc), *extra]
    names = {layer.key: layer.name for layer in layers}
    hidden = urlstate.hidden_layers()
    if hidden is None:  # the link does not say: each layer's default
        hidden = {layer.key for layer in layers if not layer.show}
    shown = st.multiselect(
        "On the map",
        list(names),
        default=[k for k in names if k not in hidden],
        format_func=lambda k: str(names[k]),
        help="Kept in the page's address: a reload or a shared link shows the same layers. "
        "The switcher on the map is for a quick look.",
    )
    # Hidden layers that are not available now (a result not computed yet) stay hidden.
    new = (hidden - set(names)) | (set(names) - set(shown))
    if new != hidden or urlstate.get("hide") is not None:  # an untouched page keeps a clean URL
        urlstate.set_("hide", ",".join(sorted(new)))
    return new


def _views_link() -> None:
    """A link that opens the wall screen with the same layers (and replay time)."""
    keep = {k: urlstate.get(k) for k in ("hide", "replay", "t") if urlstate.get(k)}
    query = urllib.parse.urlencode({"view": "wall", **keep})
    st.markdown(
        f"<a href='?{html.escape(query)}' target='_blank' id='co-wall-link'>"
        "Open the wall screen ↗</a>",
        unsafe_allow_html=True,
    )


def _count_run() -> None:
    # A hidden counter lets the browser tests prove that panning does not rerun the script.
    runs = st.session_state.get("runs", 0) + 1
    st.session_state["runs"] = runs
    st.markdown(f"<span id='co-runs' style='display:none'>{runs}</span>", unsafe_allow_html=True)


def _kpi_tiles(sc: scen.Scenario) -> None:
    k = sc.kpis()
    cols = st.columns(5)
    cols[0].metric("Open incidents", f"{k['open_incidents']:,}")
    cols[1].metric("People in crowd zones", f"{k['people_in_crowd_zones']:,.0f}")
    cols[2].metric("Testing sites", f"{k['testing_sites']:,}")
    cols[3].metric("Lanes", f"{k['lanes']:,}")
    cols[4].metric("Tests per hour", f"{k['tests_per_hour']:,.0f}")


def _replay_tiles(f: situation.ReplayFigures, t: pd.Timestamp) -> None:
    cols = st.columns(5)
    cols[0].metric("Replay time", f"{t:%H:%M}")
    cols[1].metric("Tested", f"{f['tested']:,.0f}")
    cols[2].metric("Remaining", f"{f['remaining']:,.0f}")
    cols[3].metric("Queueing", f"{f['queue']:,.0f}")
    cols[4].metric("Sites open · tests/h", f"{f['sites_open']} · {f['tests_per_hour']:,.0f}")


def _data_age(sc: scen.Scenario) -> None:
    ages = situation.data_age_min(sc, state.now(sc))
    if ages:
        parts = [f"{k.replace('_', ' ')} {v:,.0f} min" for k, v in sorted(ages.items())]
        src = "live store" if state.store() is not None else "scenario files"
        st.caption(f"Data age ({src}): " + " · ".join(parts))


@st.cache_data(show_spinner=False, max_entries=8)
def _gpkg_bytes(_sc: scen.Scenario, path_key: str, version: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scenario.gpkg"
        scen.save(_sc, out)
        return out.read_bytes()


def _geojson_later(gdf: gpd.GeoDataFrame) -> Callable[[], str]:
    """The layer's GeoJSON, written when its button is pressed."""
    return lambda: io.to_geojson(gdf)


def _gpkg_later(sc: scen.Scenario, path: str, version: int) -> Callable[[], bytes]:
    """The scenario's GeoPackage, written when its button is pressed."""
    return lambda: _gpkg_bytes(sc, path, version)


def _export_panel(sc: scen.Scenario) -> None:
    st.header("Export")
    # The files are written when a button is pressed, not on every run (a city's roads are
    # hundreds of MB of GeoJSON).
    for kind in LAYER_KINDS:
        gdf = sc.layer(kind)
        st.download_button(
            f"{SCHEMAS[kind].title} ({len(gdf)}) · GeoJSON",
            data=_geojson_later(gdf),
            file_name=f"{kind}.geojson",
            mime="application/geo+json",
            key=f"dl-{kind}",
            width="stretch",
            on_click=signin.on_export(f"{kind}.geojson", kind),
        )
    st.download_button(
        "Whole scenario · GeoPackage",
        data=_gpkg_later(sc, str(st.session_state.get("scenario_path")), state.version()),
        file_name="scenario.gpkg",
        mime="application/geopackage+sqlite3",
        key="dl-gpkg",
        width="stretch",
        on_click=signin.on_export("scenario.gpkg"),
    )
    _full_export(sc)


def _current_results() -> tuple[dict, dict, list[mapview.MapLayer]]:
    """The panels' current results: (GeoJSON results, report tables, map layers)."""
    results, tables = {}, {}
    for panel in (cordon_panel, catchment_panel, staging_panel):
        r, t = panel.exports()
        results.update(r)
        tables.update(t)
    extra = [
        *cordon_panel.map_layers(),
        *catchment_panel.map_layers(),
        *staging_panel.map_layers(),
    ]
    return results, tables, extra


def _full_export(sc: scen.Scenario) -> None:
    """Everything in one zip: GeoJSON per layer and result, GeoPackage, offline HTML report;
    and the A3 print sheet of the map with the same results."""
    if st.button("Prepare full export (zip + report)", width="stretch"):
        results, tables, extra = _current_results()
        with st.spinner("Writing the export…"):
            page = report.situation_report(sc, extra, tables=tables)
            st.session_state["full_export"] = (
                state.version(),
                report.export_zip(sc, results, page),
                page,
            )
    ready = st.session_state.get("full_export")
    if ready and ready[0] == state.version():
        st.download_button(
            "Everything · zip",
            ready[1],
            "cityops_export.zip",
            mime="application/zip",
            width="stretch",
            key="dl-zip",
            on_click=signin.on_export("cityops_export.zip"),
        )
        st.download_button(
            "Situation report · HTML (offline)",
            ready[2],
            "situation_report.html",
            mime="text/html",
            width="stretch",
            key="dl-report",
            on_click=signin.on_export("situation_report.html"),
        )
    if st.button("Print sheet (PDF, A3)", width="stretch", key="print-sheet"):
        try:
            with st.spinner("Printing the sheet (headless Chromium)…"):
                hidden = urlstate.hidden_layers()  # the layers the map shows, on paper too
                sheet = printsheet.pdf(sc, _current_results()[2], hidden=hidden)
        except Exception as exc:  # InputError (no Chromium) or a browser failure: a message
            st.error(f"The print sheet could not be made.\n\n{exc}")
        else:
            st.session_state["print_sheet"] = (state.version(), sheet)
    ready = st.session_state.get("print_sheet")
    if ready and ready[0] == state.version():
        st.download_button(
            "Print sheet · PDF (A3 landscape)",
            ready[1],
            "situation_sheet.pdf",
            mime="application/pdf",
            width="stretch",
            key="dl-sheet",
        )


def _data_notes(sc: scen.Scenario) -> None:
    notes = [r.summary() for r in sc.reports if r.repaired or r.notes]
    if notes:
        with st.expander("Data notes"):
            for n in notes:
                st.caption(plain(n))
