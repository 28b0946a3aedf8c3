"""Session state: the scenario this browser session works on, and its version counter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from geo import config, live
from geo import scenario as scen
from geo.errors import InputError
from geo.layers import LayerReport
from geo.store import Store
from geo.ui.widgets import plain

_CONFIG: dict[str, Any] = {"scenario": None, "store": None, "refresh_s": None}
DEFAULT_REFRESH_S = 10.0


def configure(
    scenario_path: str | None, store_url: str | None, refresh_s: float | None = None
) -> None:
    """Where the scenario comes from and, optionally, the operations store feeding it.

    With a store the tiles and the map refresh every ``refresh_s`` seconds (default 10).
    """
    _CONFIG["scenario"] = scenario_path
    _CONFIG["store"] = store_url
    _CONFIG["refresh_s"] = (refresh_s or DEFAULT_REFRESH_S) if store_url else None


def actor():  # noqa: ANN201 - geo.auth.Actor (imported lazily: signin imports this module)
    """Who acts in this run: the signed-in user, role, session and client (set by the server
    from the verified session, never by the client). Every write to the store names it."""
    from geo.ui import signin

    return signin.actor()


def refresh_s() -> float | None:
    """Seconds between live refreshes (None: the picture only changes when the user acts)."""
    return _CONFIG["refresh_s"]


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Store:
    return config.open_shared_store(url)  # one per process, shared with the routes


def store() -> Store | None:
    url = _CONFIG["store"]
    return _open_store(url) if url else None


def scenario_of_session() -> scen.Scenario:
    """The session's own scenario (files and uploads), without the store's live layers."""
    return scenario(_CONFIG["scenario"])


def live_scenario() -> scen.Scenario:
    """The session's scenario, with its live layers as the store has them now."""
    sc = scenario(_CONFIG["scenario"])
    st_ = store()
    return live.overlay(sc, st_) if st_ is not None else sc


@st.cache_resource(show_spinner="Loading scenario…")
def _load(path: str | None) -> scen.Scenario:
    # Cached once per process: scenarios are never mutated (with_layer returns a new one).
    return config.load_scenario(path)  # the copy the routes (geo.web) serve


def scenario(path: str | None) -> scen.Scenario:
    """The session's scenario: the one loaded from ``path`` plus whatever was uploaded since."""
    key = str(Path(path).resolve()) if path else None
    if st.session_state.get("scenario_path", "unset") != key:
        st.session_state["scenario"] = _load(key)
        st.session_state["scenario_path"] = key
        st.session_state["scenario_version"] = 0
    return st.session_state["scenario"]


def replace(new: scen.Scenario) -> None:
    """Make ``new`` the session's scenario (after a successful upload)."""
    st.session_state["scenario"] = new
    st.session_state["scenario_version"] = version() + 1


def version() -> int:
    return int(st.session_state.get("scenario_version", 0))


def load_error() -> InputError | None:
    """The error loading the scenario (or opening the store) gives, if any."""
    try:
        live_scenario()
    except InputError as exc:
        return exc
    except Exception as exc:  # a store that cannot be opened: say so, never a traceback
        return InputError(f"{type(exc).__name__}: {exc}", file=_CONFIG["store"], field="store")
    return None


def remember(report: LayerReport) -> None:
    st.session_state.setdefault("upload_log", []).append(report.summary())


def upload_log() -> list[str]:
    return list(st.session_state.get("upload_log", []))


def now(sc: scen.Scenario):
    """The time the picture is for: the wall clock when live, else the scenario's own 'now'."""
    import pandas as pd

    t = sc.settings.time("now")
    if store() is not None or t is None:
        return pd.Timestamp.now(tz=sc.settings.timezone)
    return t


def scenario_or_stop() -> scen.Scenario:
    """The live scenario, or a message saying why it cannot be opened (and the page stops)."""
    err = load_error()
    if err is not None:
        st.error(f"Could not open the scenario.\n\n{plain(err)}")
        st.stop()
    return live_scenario()


def keep_result(key: str, **data: Any) -> None:
    """Remember an analysis result for this session, stamped with the scenario's version."""
    st.session_state[key] = {"version": version(), **data}


def forget(key: str) -> None:
    """Drop the result kept under ``key`` (a failed run must not leave the old one on screen)."""
    st.session_state.pop(key, None)


def show_result(panel: str) -> None:
    """Say that ``panel`` has just computed a result: it is shown first beside the map, and the
    map fits it once (see :func:`results_order` and :func:`fit_request`)."""
    seq = int(st.session_state.get("result_seq", 0)) + 1
    st.session_state["result_seq"] = seq
    st.session_state.setdefault("result_stamp", {})[panel] = seq


def results_order(panels: list[str]) -> list[str]:
    """``panels`` with the most recently computed result first."""
    stamp = st.session_state.get("result_stamp", {})
    return sorted(panels, key=lambda p: -stamp.get(p, 0))


def latest_result() -> str | None:
    """The panel that computed the last result in this session, if any."""
    stamp = st.session_state.get("result_stamp", {})
    return max(stamp, key=stamp.get) if stamp else None


def result(key: str) -> dict | None:
    """The result kept under ``key``, if it was computed on the current scenario."""
    res = st.session_state.get(key)
    return res if res and res["version"] == version() else None


def clear_button(key: str, label: str) -> bool:
    """A button that forgets the result kept under ``key`` (shown only when there is one)."""
    if st.session_state.get(key) and st.button(label):
        st.session_state.pop(key)
        return True
    return False
