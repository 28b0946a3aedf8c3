"""Session state: the scenario this browser session works on, and its version counter."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from geo import scenario as scen
from geo.errors import InputError
from geo.layers import LayerReport


@st.cache_resource(show_spinner="Loading scenario…")
def _load(path: str | None) -> scen.Scenario:
    # Cached once per process: scenarios are never mutated (with_layer returns a new one).
    return scen.demo() if path is None else scen.load(path)


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


def load_error(path: str | None) -> InputError | None:
    """The error loading ``path`` gives, if any (shown instead of a traceback)."""
    try:
        scenario(path)
    except InputError as exc:
        return exc
    return None


def remember(report: LayerReport) -> None:
    st.session_state.setdefault("upload_log", []).append(report.summary())


def upload_log() -> list[str]:
    return list(st.session_state.get("upload_log", []))
