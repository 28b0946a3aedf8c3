"""*Load a layer*: a file of any supported format into a layer of the session's scenario.

When a required field is not among the file's columns (nor their known aliases, see
:mod:`geo.columns`), the upload is not refused: a mapping step asks which column holds each
missing field, each select filled with the best guess, and the file is read again with that
mapping (written into the layer's data notes). The scenario only changes on success.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from geo import columns, io, live
from geo import scenario as scen
from geo.auth import PermissionDenied
from geo.errors import InputError
from geo.layers import LAYER_KINDS, SCHEMAS
from geo.ui import state
from geo.ui.widgets import plain

__all__ = ["DATUMS", "render"]

DATUMS = {
    "WGS-84 (GPS, OpenStreetMap)": "wgs84",
    "GCJ-02 (Amap/Gaode, Tencent)": "gcj02",
    "BD-09 (Baidu)": "bd09",
}
_PENDING = "upload_pending"
_NONE = "— none —"


@dataclass(frozen=True)
class _Upload:
    kind: str
    name: str
    data: bytes
    datum: str
    swap: bool
    assume: str | None
    mode: str


@dataclass(frozen=True)
class _Pending:
    """An upload waiting for the user to say which columns hold the missing fields."""

    upload: _Upload
    mapping: dict[str, str]  # chosen so far
    missing: list[str]
    columns: list[str]
    guesses: dict[str, str | None]
    nonce: int  # fresh widget keys for each new question


def render(sc: scen.Scenario) -> None:
    """The form, the mapping step when one is pending, and the last uploads' summaries."""
    st.header("Load a layer")
    with st.form("upload", clear_on_submit=False):
        kind = st.selectbox("Layer", LAYER_KINDS, format_func=lambda k: SCHEMAS[k].title)
        file = st.file_uploader(
            "File",
            type=io.UPLOAD_TYPES,
            help="GeoJSON, GeoPackage, zipped Shapefile, CSV or Excel with coordinate columns, "
            "GeoParquet, FlatGeobuf, KML/KMZ, or OpenStreetMap .osm/.osm.pbf (roads). "
            "OSM tags, English variants and Chinese headers (名称, 经度, 纬度, 车道数...) are "
            "recognised; anything else you can match to a field.",
        )
        datum = st.selectbox(
            "Coordinates",
            list(DATUMS),
            help="Chinese map providers publish "
            "offset coordinates; they are converted to WGS-84 on read.",
        )
        swap = st.checkbox("Latitude and longitude are swapped")
        assume = st.text_input("CRS if the file declares none", placeholder="e.g. EPSG:4326")
        mode = st.radio("Existing features", ["replace", "append"], horizontal=True)
        submitted = st.form_submit_button("Add to map", type="primary")
    if submitted:
        if file is None:
            st.warning("Choose a file first.")
        else:
            st.session_state.pop(_PENDING, None)
            upload = _Upload(
                kind,
                file.name,
                file.getvalue(),
                DATUMS[datum],
                swap,
                assume.strip() or None,
                mode,
            )
            _apply(sc, upload, {})
    _mapping_step(sc)
    for line in state.upload_log()[-5:]:
        st.caption(plain(line))


def _apply(sc: scen.Scenario, up: _Upload, mapping: dict[str, str]) -> None:
    st_ = state.store()
    who = state.actor()
    if st_ is not None and up.kind in live.LIVE_LAYERS and not who.may("write"):
        # With a store these layers are the shared record (the store's version is what every
        # session shows), so an upload would either change it or vanish under it.
        st.error(
            f"**{plain(up.name)} was not loaded.** {SCHEMAS[up.kind].title} are the shared "
            "record here: changing them needs the operator role (other layers go into your "
            "session)."
        )
        return
    try:
        gdf, report = io.read_layer(
            up.data,
            up.kind,
            name=up.name,
            datum=up.datum,  # type: ignore[arg-type]
            swap_xy=up.swap,
            assume_crs=up.assume,
            tz=sc.settings.timezone,
            mapping=mapping,
            defaults=columns.scenario_defaults(sc.settings),
        )
        new = sc.with_layer(up.kind, gdf, report, mode=up.mode)  # type: ignore[arg-type]
    except columns.ColumnsMissing as exc:
        before = st.session_state.get(_PENDING)
        st.session_state[_PENDING] = _Pending(
            up,
            mapping,
            list(exc.missing),
            list(exc.columns),
            dict(exc.guesses),
            (before.nonce + 1) if before else 0,
        )
        return
    except InputError as exc:
        st.error(f"**{plain(up.name)} was not loaded; the scenario is unchanged.**\n\n{plain(exc)}")
        return
    except Exception as exc:  # never a traceback in the UI; the message still names the file
        st.error(
            f"**{plain(up.name)} was not loaded; the scenario is unchanged.**\n\n"
            f"Unexpected problem reading it: {type(exc).__name__}: {plain(exc)}"
        )
        return
    if st_ is not None and up.kind in live.LIVE_LAYERS:
        # Feeds and other screens see it too. The source is the server's word ("upload:"
        # and the file's name), so a file named "scenario" cannot pass for the scenario; the
        # event also names the user, session and client.
        try:
            st_.register_layer(up.kind, gdf, source=f"upload:{up.name}", actor=who)
        except PermissionDenied as exc:
            st.error(f"**{plain(up.name)} was not shared.** {plain(exc)}")
            return
    state.replace(new)
    state.remember(report)
    st.success(plain(report.summary()))
    st.rerun()


def _field_label(kind: str, f: str) -> str:
    if f in ("lon", "lat"):
        return "Longitude (lon)" if f == "lon" else "Latitude (lat)"
    desc = SCHEMAS[kind].field(f).description
    return f"{f}" + (f" — {desc}" if desc else "")


def _mapping_step(sc: scen.Scenario) -> None:
    pending: _Pending | None = st.session_state.get(_PENDING)
    if pending is None:
        return
    up = pending.upload
    title = SCHEMAS[up.kind].title.lower()
    st.info(
        f"**{plain(up.name)}**: to read it as {title}, say which column holds "
        + ", ".join(f"**{plain(f)}**" for f in pending.missing)
        + ". The best guess is chosen; the choice is kept in the data notes."
    )
    options = [_NONE, *pending.columns]
    with st.form("upload-mapping"):
        chosen = {}
        for f in pending.missing:
            guess = pending.guesses.get(f)
            chosen[f] = st.selectbox(
                _field_label(up.kind, f),
                options,
                index=options.index(guess) if guess in options else 0,
                key=f"upload-map-{pending.nonce}-{f}",
                help="expected: " + columns.expected(up.kind, f),
            )
        ok = st.form_submit_button("Load with these columns", type="primary")
        cancel = st.form_submit_button("Cancel")
    if cancel:
        st.session_state.pop(_PENDING, None)
        st.rerun()
    if ok:
        picked = {f: c for f, c in chosen.items() if c != _NONE}
        if len(picked) < len(pending.missing):
            st.warning("Choose a column for every field (or Cancel).")
            return
        st.session_state.pop(_PENDING, None)
        _apply(sc, up, {**pending.mapping, **picked})
        if st.session_state.get(_PENDING) is not None:  # still a field to match: ask again
            st.rerun()
