"""Measure on the map: draw a line or an area; its length, area and perimeter are computed in
the scenario's metric CRS (not in degrees) and shown beside the map (issue #17, measure)."""

from __future__ import annotations

import streamlit as st

from geo import drawing, measure
from geo.scenario import Scenario
from geo.ui import urlstate

SHAPES = "measure_shapes"


def active() -> bool:
    return urlstate.get("measure") == "1"


def toggle(container: st.delta_generator.DeltaGenerator) -> None:
    """The switch that turns measuring on (and drawing off: one toolbar at a time)."""
    on = container.toggle(
        "Measure",
        value=active(),
        help="Draw a line for its length, or an area for its area and perimeter "
        "(metres, km²). Measured in the scenario's metric CRS.",
    )
    if on != active():
        urlstate.set_("measure", "1" if on else None)
        if on:
            urlstate.set_("draw", None)
        st.session_state.pop(SHAPES, None)
        st.rerun(scope="app")


def add_to_map(base: object) -> None:
    drawing.add_draw_control(
        base,  # type: ignore[arg-type]  # a folium.Map (the live map's base)
        None,
        base_url=st.get_option("server.baseUrlPath") or "",
        name="Measured shapes",
        tools="measure",
    )


def handle(sc: Scenario, all_drawings: list | None) -> None:
    """Measure what the browser reports (every shape on the map, each time one changes)."""
    if all_drawings is None:
        return
    shapes = measure.measure(measure.from_drawings(all_drawings), sc.metric_crs())
    if shapes != st.session_state.get(SHAPES):
        st.session_state[SHAPES] = shapes
        st.rerun(scope="app")


def map_layers() -> list:
    return []


def results() -> None:
    """The measurements, beside the map."""
    shapes: list[measure.Measurement] = st.session_state.get(SHAPES) or []
    if not active():
        return
    st.subheader("Measure")
    if not shapes:
        st.caption("Draw a line or an area with the toolbar on the map.")
        return
    for i, m in enumerate(shapes, start=1):
        what = "Line" if m.kind == "line" else "Area"
        st.markdown(f"**{what} {i}:** {m.text}")
    lines = [m.length_m for m in shapes if m.kind == "line"]
    if len(lines) > 1:
        st.caption(f"All lines: {measure.Measurement('line', sum(lines)).text}")
