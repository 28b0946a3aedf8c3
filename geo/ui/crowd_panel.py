"""Crowd points: a telecom file of device counts (millions of points) becomes the crowd zones."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from geo import crowd
from geo.errors import InputError
from geo.layers import validate
from geo.scenario import Scenario
from geo.ui import state
from geo.ui.widgets import plain


def controls(sc: Scenario) -> None:
    flash = st.session_state.get("crowd_flash")
    if flash:
        st.success(plain(flash))  # outside the expander, which is closed again after the rerun
    with st.expander("Crowd points → crowd zones"):
        with st.form("crowd"):
            file = st.file_uploader(
                "Points (Parquet, GeoParquet or CSV with lon, lat[, devices])",
                type=["parquet", "geoparquet", "csv", "gz"],
            )
            cell = st.select_slider("Grid cell (m)", [50, 100, 200, 250, 500, 1000], value=250)
            gcj = st.checkbox("Coordinates are GCJ-02 (Amap, Tencent)")
            run = st.form_submit_button("Aggregate and replace crowd zones")
        if run and file is not None:
            _aggregate(sc, file, float(cell), "gcj02" if gcj else "wgs84")


def _aggregate(sc: Scenario, file, cell_m: float, datum: str) -> None:
    bar = st.progress(0.0, text=f"Reading {file.name}…")

    def progress(done: int, total: int) -> None:
        """The library's ``progress(done, total)`` callback, drawn as the panel's bar."""
        bar.progress(
            min(done / total, 1.0) if total else 0.0,
            text=f"Aggregating {file.name}: {100 * done / max(total, 1):.0f} %",
        )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(file.name).name
        path.write_bytes(file.getvalue())
        try:
            grid = crowd.aggregate_grid(
                str(path),
                cell_m,
                crs=sc.metric_crs(),
                datum=datum,
                observed_at=state.now(sc),
                tz=sc.settings.timezone,
                progress=progress,
            )
            layer, report = validate(grid, "crowd_zones", source=file.name, tz=sc.settings.timezone)
        except InputError as exc:
            bar.empty()
            st.error(
                f"**{plain(file.name)} was not loaded; the scenario is unchanged.**\n\n{plain(exc)}"
            )
            return
    bar.empty()
    state.replace(sc.with_layer("crowd_zones", layer, report))
    state.remember(report)
    # the message must outlive the rerun that redraws the map
    st.session_state["crowd_flash"] = (
        f"{file.name}: {layer['people'].sum():,.0f} people in {len(layer):,} cells"
    )
    st.rerun()
