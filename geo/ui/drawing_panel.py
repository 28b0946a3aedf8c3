"""Drawing on the workbench's map: incidents and cordon outlines, edited and deleted in place.

While drawing is on (``draw=1`` in the URL) the map carries Leaflet.Draw's toolbar and the
scenario's editable drawings (cordon outlines, incidents drawn earlier). What the browser sends
back (``all_drawings``) is compared with what is saved: moves and deletions apply at once, a new
shape waits beside the map until the user says what it is (an incident, or the outline of a
lockdown, control or prevention zone). With an operations store, drawings go to the store, so
every screen (the wall) sees them.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo import drawing
from geo import scenario as scen
from geo.auth import PermissionDenied
from geo.errors import InputError
from geo.ui import state, urlstate
from geo.ui.widgets import plain

PENDING = "drawing_pending"
APPLIED = "drawing_applied"
FLASH = "drawing_flash"  # shown after the rerun that a save causes
INCIDENT_KINDS = ("outbreak_trace", "crowd", "traffic", "fire", "medical", "other")


def allowed() -> bool:
    """Whether the acting user may draw: on the shared record (a store) operators and admins;
    in their own session's scenario (no store) analysts too."""
    return state.actor().may("write" if state.store() is not None else "analyse")


def active() -> bool:
    return urlstate.get("draw") == "1" and allowed()


def toggle(container) -> None:
    """The switch that turns drawing on and off (kept in the URL); absent for those who may
    not draw."""
    if not allowed():
        return
    on = container.toggle(
        "Draw on the map",
        value=active(),
        help="Polygon, rectangle, circle or marker: an incident or a cordon outline. "
        "Edit and delete with the toolbar's pencil and bin.",
    )
    if on != active():
        urlstate.set_("draw", "1" if on else None)
        if on:
            urlstate.set_("measure", None)  # one toolbar at a time
        st.rerun(scope="app")


def map_scenario(sc: scen.Scenario) -> scen.Scenario:
    """What the ordinary layers show while drawing: everything but the editable drawings."""
    return drawing.without_drawings(sc) if active() else sc


def add_to_map(base, sc: scen.Scenario) -> None:
    drawing.add_draw_control(
        base, drawing.scenario_drawings(sc), base_url=st.get_option("server.baseUrlPath") or ""
    )


def handle(sc: scen.Scenario, all_drawings: list | None) -> None:
    """Apply what the user did on the map (once per change the browser reports)."""
    if all_drawings is None:
        return
    sig = json.dumps(all_drawings, sort_keys=True)
    if st.session_state.get(APPLIED) == sig:
        return  # the same report again (a rerun for another reason)
    st.session_state[APPLIED] = sig
    try:
        changes = drawing.drawing_changes(
            drawing.scenario_drawings(sc), all_drawings, crs_metric=sc.metric_crs()
        )
    except InputError as exc:
        st.error(f"The drawing could not be read; nothing was changed.\n\n{plain(exc)}")
        return
    st.session_state[PENDING] = changes.new.reset_index(drop=True)
    if changes.edited or changes.deleted:
        try:
            _save_changes(sc, changes)
        except PermissionDenied as exc:  # the store refuses, whatever the page showed
            st.error(f"Not saved: {plain(exc)}")
            return
        st.rerun(scope="app")
    if len(changes.new):
        st.rerun(scope="app")  # the form below the map asks what the new shape is


def _save_changes(sc: scen.Scenario, changes: drawing.DrawingChanges) -> None:
    store = state.store()
    if store is None:
        state.replace(drawing.apply_changes(state.scenario_of_session(), changes))
        return
    who = state.actor()
    for fid in changes.deleted:
        kind = "cordons" if fid in set(sc.layer("cordons")["id"]) else "incidents"
        store.remove(kind, fid, source="drawing", actor=who)
    moved = drawing.apply_changes(sc, changes)
    for kind in ("incidents", "cordons"):
        layer = moved.layer(kind)
        rows = layer[layer["id"].isin(changes.edited)]
        if len(rows):
            store.register_layer(kind, rows, at=_utc_now(), source="drawing", actor=who)


def pending_form(sc: scen.Scenario) -> None:
    """Beside the map: what each new shape becomes (or discard it)."""
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(plain(flash))
    if state.store() is None:
        st.caption(
            "Drawings are kept in this session's scenario and exported with it. To share them "
            "with the wall screen and other analysts, start CityOps with an operations store "
            "(`make run STORE=sqlite:///ops.sqlite`)."
        )
    pending = st.session_state.get(PENDING)
    if pending is None or len(pending) == 0:
        return
    st.markdown(f"**New drawing{'s' if len(pending) > 1 else ''}: what is it?**")
    metric = pending.to_crs(sc.metric_crs())
    for i, row in pending.iterrows():
        area = metric.geometry.iloc[i].area / 1e6
        point = row.geometry.geom_type == "Point"
        shape_text = "a point" if point else f"{area:,.3f} km²"
        # A point is an incident; an outline is most often a zone, so that is the default.
        roles = (
            ["incident"] if point else [*[r for r in drawing.ROLES if r != "incident"], "incident"]
        )
        # Outside the form, so that choosing "Incident" shows its kind and severity at once.
        role = st.selectbox(
            f"Shape {i + 1} ({shape_text}) is",
            roles,
            format_func=lambda k: str(drawing.ROLES[k]),
            key=f"new-drawing-role-{i}",
        )
        with st.form(f"new-drawing-{i}", border=True):
            name = st.text_input("Name", max_chars=120)
            kind, severity = "other", 4
            if role == "incident":
                c3, c4 = st.columns([2, 1])
                kind = c3.selectbox("Incident kind", INCIDENT_KINDS, index=len(INCIDENT_KINDS) - 1)
                severity = int(c4.number_input("Severity", 1, 5, 4))
            c_save, c_discard = st.columns(2)
            save = c_save.form_submit_button("Save", type="primary", width="stretch")
            discard = c_discard.form_submit_button("Discard", width="stretch")
        if save:
            _save_new(sc, row.geometry, role, name.strip() or None, kind, int(severity))
            st.session_state[PENDING] = pending.drop(index=i).reset_index(drop=True)
            st.session_state.pop(f"new-drawing-role-{i}", None)
            st.rerun(scope="app")
        if discard:
            st.session_state[PENDING] = pending.drop(index=i).reset_index(drop=True)
            st.session_state.pop(f"new-drawing-role-{i}", None)
            st.rerun(scope="app")


def _save_new(sc, geometry, role, name, kind, severity) -> None:
    try:
        layer, row = drawing.new_feature(
            sc, geometry, role, name=name, kind=kind, severity=severity, at=_now(sc)
        )
    except InputError as exc:
        st.error(f"Not saved.\n\n{plain(exc)}")
        return
    store = state.store()
    if store is not None:
        try:
            store.register_layer(layer, row, at=_utc_now(), source="drawing", actor=state.actor())
        except PermissionDenied as exc:  # the store refuses, whatever the page showed
            st.session_state[FLASH] = None
            st.error(f"Not saved: {plain(exc)}")
            return
        st.session_state[FLASH] = f"Saved {row['id'].iloc[0]} as {drawing.ROLES[role].lower()}."
        return
    st.session_state[FLASH] = f"Saved {row['id'].iloc[0]} as {drawing.ROLES[role].lower()}."
    own = state.scenario_of_session()
    merged = gpd.GeoDataFrame(pd.concat([own.layer(layer), row], ignore_index=True), crs=4326)
    state.replace(own.with_layer(layer, merged))


def _utc_now() -> pd.Timestamp:
    # Store events are stamped when they happen, so a later edit supersedes an earlier one.
    return pd.Timestamp.now(tz="UTC")


def _now(sc: scen.Scenario) -> pd.Timestamp:
    # A drawing made while the scenario's clock says 18:40 is reported at 18:40 (the demo);
    # on a live store it is reported now.
    return state.now(sc)
