"""Small presentation helpers shared by the panels (Streamlit only here and in the pages)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import streamlit as st

from geo import tables

__all__ = ["metric_grid", "plain", "table"]

DeltaColor = Literal["normal", "inverse", "off"]

# Characters that Markdown (as Streamlit renders it) reads as markup, and "<" for raw HTML.
_MARKDOWN = set("\\`*_{}[]()#+-.!|<>~$:")
# GitHub-flavoured Markdown turns bare URLs and e-mail addresses into links *after* parsing
# (escapes do not stop it, measured in chromium): a word joiner (U+2060, invisible) breaks the
# patterns it looks for ("http://", "www.", "name@host").
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=[\w.+-])(?=@)")
_JOINER = "\u2060"


def plain(text: object) -> str:
    """User text for a Markdown element, shown literally: every Markdown and HTML character is
    escaped, so ``![x](http://host/p.png)`` in a name prints as itself instead of fetching an
    image, and bare URLs and addresses get an invisible word joiner so they are not made links
    (a link cannot be faked in a message).

    >>> print(plain("**b** <i>"))
    \\*\\*b\\*\\* \\<i\\>
    >>> plain("see http://h") == "see http\\u2060\\\\://h"
    True
    """
    joined = _AUTOLINK.sub(_JOINER, str(text))
    return "".join("\\" + c if c in _MARKDOWN else c for c in joined)


def metric_grid(items: Sequence[tuple[Any, ...]], per_row: int = 2) -> None:
    """Metrics in rows of ``per_row`` (the results column beside the map is narrow: four in a
    row cut their labels and values). Each item is ``(label, value[, delta[, delta_color]])``."""
    for start in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, item in zip(cols, items[start : start + per_row]):
            label, value, *rest = item
            delta = rest[0] if rest else None
            color: DeltaColor = rest[1] if len(rest) > 1 else "normal"
            col.metric(label, value, delta, delta_color=color)


def table(df: pd.DataFrame, spec: str, tz: str | None = None, **kwargs: Any) -> None:
    """A result table as people read it (:func:`geo.tables.present`): names, units in the
    headers, whole people, clock times; thousands separated."""
    shown = tables.present(df, spec, tz)
    whole = st.column_config.NumberColumn(format="localized")
    config = {c.label: whole for c in tables.SPECS[spec].values() if c.kind in ("people", "count")}
    config.update(
        {
            c.label: st.column_config.NumberColumn(format="%.1f")
            for c in tables.SPECS[spec].values()
            if c.kind == "minutes"
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kwargs)
