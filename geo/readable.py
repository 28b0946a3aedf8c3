"""The last pass before a person reads a table or a figure on paper: no raw numbers, no raw
timestamps, no raw column names, whatever the caller handed over.

:func:`geo.tables.present` shapes the known result tables; :func:`table` makes any table fit to
print (tables already presented go through unchanged in meaning): ``28514.938562`` becomes
``28,515``, the LP's ``1.818989e-12`` becomes ``0``, ``2021-10-31 23:00:00.000000000+08:00`` becomes
``Sun 23:00``, ``area_km2`` becomes ``Area (km²)``, ``None``/``nan`` become an en dash. Numbers
that arrive as text (a table passed through ``astype(str)``) are read back as numbers first.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"band_zh": ["封控区"], "people": [28514.938562], "untested": [1.818989e-12],
...                    "finish_at": ["2021-10-31 23:00:00.000000000+08:00"]})
>>> table(df).to_dict("records")
[{'Zone (中文)': '封控区', 'People': '28,515', 'Untested (people)': '0', 'Finishes': 'Sun 23:00'}]
"""

from __future__ import annotations

import math
import re
from datetime import datetime

import numpy as np
import pandas as pd

from geo.tables import SPECS, clock

__all__ = ["NUMERIC", "header", "table", "value"]

#: Known column names -> their headers, from the result tables' specs (the first spec that
#: names a column wins: ``people`` is "People", not the staging table's "People served").
_LABELS: dict[str, str] = {}
for _spec in SPECS.values():
    for _name, _col in _spec.items():
        _LABELS.setdefault(_name, _col.label)
#: Unit suffixes of the project's column names (docs/design.md) and how a header says them.
_UNITS = (
    ("_per_km2", " (per km²)"),
    ("_km2", " (km²)"),
    ("_per_h", " per hour"),
    ("_kmh", " (km/h)"),
    ("_pct", " (%)"),
    ("_min", " (min)"),
    ("_m", " (m)"),
    ("_s", " (s)"),
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
_MISSING = {"", "none", "nan", "nat", "<na>", "null"}
#: A cell :func:`value` printed as a number (right-aligned in tables).
NUMERIC = re.compile(r"^[+-]?[\d,]+(\.\d+)?( ?%| min)?$")


def header(name: object) -> str:
    """A column's header: its label in :data:`geo.tables.SPECS`, else the name in words with
    its unit (``wait_min`` -> ``Wait (min)``); a header already in words is kept.

    >>> header("area_km2"), header("tests_per_h"), header("Zone"), header("B - A")
    ('Area (km²)', 'Tests per hour', 'Zone', 'B - A')
    """
    text = str(name)
    if text in _LABELS:
        return _LABELS[text]
    if "_" not in text and not (text.islower() and text.isidentifier()):
        return text
    unit = ""
    for suffix, said in _UNITS:
        if text.endswith(suffix) and len(text) > len(suffix):
            text, unit = text[: -len(suffix)], said
            break
    words = text.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else str(name)


def _number(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    if abs(x) < 0.005:  # solver residues (1e-12) and -0.0
        return "0"
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    if round(x, 2) == x:  # already rounded by geo.tables (km² to 0.01)
        return f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{x:,.1f}"


def value(v: object, tz: str | None = None) -> str:
    """One cell as a person reads it: whole numbers with separators, at most two decimals
    below 100, times as ``Sun 23:00`` (in ``tz``), missing as an en dash.

    >>> value(29135), value(8.5612), value(8.56), value("87.34567"), value(None), value("None")
    ('29,135', '8.6', '8.56', '87.3', '–', '–')
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return "–"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        return _number(float(v))
    if isinstance(v, pd.Timestamp | datetime | np.datetime64):
        return clock(v, tz)
    if isinstance(v, pd.Timedelta):
        return f"{v.total_seconds() / 60:,.0f} min"
    text = str(v).strip()
    if text.lower() in _MISSING:
        return "–"
    if _NUMBER.match(text):
        return _number(float(text)) if ("." in text or "e" in text.lower()) else f"{int(text):,}"
    if _TIME.match(text):
        try:
            return clock(pd.Timestamp(text), tz)
        except ValueError:
            return text
    return text


def table(df: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """``df`` with readable headers (:func:`header`) and every cell as text (:func:`value`);
    the geometry column, if any, is left out."""
    cols = [c for c in df.columns if c != "geometry"]
    out = pd.DataFrame({header(c): [value(v, tz) for v in df[c]] for c in cols}, dtype=object)
    return out.reset_index(drop=True)
