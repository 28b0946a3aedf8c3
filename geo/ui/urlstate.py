"""What the page shows lives in the URL, so a reload (or a shared link) comes back to it.

Keys: ``view`` (``analyst`` or ``wall``), ``layers`` (the layers shown, comma-separated keys),
``t`` (the replay time, ``HH:MM``), ``replay`` (``1`` while the night's timeline is on) and, per
analysis, ``<panel>.<name>`` (e.g. ``cordon.rings=500,2000,5000``). A panel whose parameters are in
the URL recomputes its result when the session has none (a reload, a new wall screen).

Values in a URL are user input: a panel reads them with :func:`panel_params` and falls back to its
defaults (with a warning naming the parameter) when one is not valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import streamlit as st

from geo.ui.widgets import plain

T = TypeVar("T")


def get(key: str, default: str | None = None) -> str | None:
    """One URL parameter (its last value)."""
    return st.query_params.get(key, default)


def set_(key: str, value: Any) -> None:
    """Set (or, with None, remove) one URL parameter; unchanged values are not rewritten."""
    if value is None:
        if key in st.query_params:
            del st.query_params[key]
        return
    text = _text(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


class Panel:
    """The URL parameters of one panel: ``<panel>.<name>=value``."""

    def __init__(self, panel: str) -> None:
        self.prefix = panel + "."

    def keys(self) -> list[str]:
        return [k for k in st.query_params if k.startswith(self.prefix)]

    @property
    def present(self) -> bool:
        """Whether the URL holds this panel's parameters (the panel should show a result)."""
        return bool(self.keys())

    def get(
        self,
        name: str,
        parse: Callable[[str], T],
        default: T,
        *,
        choices: Iterable[Any] | None = None,
    ) -> T:
        """``parse(value)``, or ``default`` when missing or not valid (with a warning)."""
        raw = st.query_params.get(self.prefix + name)
        if raw is None:
            return default
        try:
            value = parse(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or (choices is not None and value not in list(choices)):
            _warn(self.prefix + name, raw)
            return default
        return value

    def seed(
        self,
        widget: str,
        name: str,
        parse: Callable[[str], T],
        default: T,
        *,
        choices: Iterable[Any] | None = None,
    ) -> T:
        """The value of the widget keyed ``widget``: taken from the URL (or ``default``) the first
        time in a session, then the widget's own.

        A widget whose default is re-read from the URL on every run changes identity when the
        URL changes (after a submit), and Streamlit then resets the user's next edit; so the URL
        seeds the widget's state once, and the widget owns it from then on.
        """
        if widget not in st.session_state:
            st.session_state[widget] = self.get(name, parse, default, choices=choices)
        return st.session_state[widget]

    def set(self, params: Mapping[str, Any]) -> None:
        """Replace the panel's parameters with ``params`` (None values are left out)."""
        wanted = {self.prefix + k: _text(v) for k, v in params.items() if v is not None}
        for k in self.keys():
            if k not in wanted:
                del st.query_params[k]
        for k, v in wanted.items():
            set_(k, v)

    def clear(self) -> None:
        for k in self.keys():
            del st.query_params[k]


def hidden_layers() -> set[str] | None:
    """The layers the URL hides (``hide=a,b``; ``hide=`` hides none), or None when it does not
    say (each layer's default)."""
    raw = get("hide")
    return None if raw is None else set(as_list(raw))


def as_list(text: str | None) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def restore_due(panel: Panel, result_key: str) -> bool:
    """Whether a panel should recompute its result from the URL now: the URL has parameters,
    the session has no result, and this very URL has not been tried (a failing link is tried
    once, not on every rerun)."""
    from geo.ui import state

    if not panel.present or state.result(result_key) is not None:
        return False
    sig = (
        result_key,
        state.version(),
        tuple(sorted((k, st.query_params.get(k)) for k in panel.keys())),
    )
    tried = st.session_state.setdefault("url_tried", set())
    if sig in tried:
        return False
    tried.add(sig)
    return True


def as_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def _warn(name: str, raw: str) -> None:
    # Shown once per session and parameter: a bad link must not nag on every rerun.
    seen = st.session_state.setdefault("url_warned", set())
    if name not in seen:
        seen.add(name)
        st.warning(
            f"The link's parameter '{plain(name)}={plain(raw)}' is not valid here; the default "
            "is used."
        )
