"""Results as tables a person reads: names, units in the headers, whole people, clock times.

One spec per kind of result table (:data:`SPECS`), read by the workbench's panels and the
situation report alike, so a table says the same thing on screen and on paper.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"band": ["lockdown"], "band_zh": ["封控区"], "people": [29135.49],
...                    "area_km2": [8.5612]})
>>> present(df, "cordon_bands").to_dict("records")
[{'Zone': 'lockdown', 'Zone (中文)': '封控区', 'People': 29135, 'Area (km²)': 8.56}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["SPECS", "Column", "present", "clock"]

Kind = Literal["people", "minutes", "km2", "clock", "text", "count", "percent"]


@dataclass(frozen=True)
class Column:
    """One column of a table a person reads: its header (with the unit) and its kind."""

    label: str
    kind: Kind = "text"


#: Each result table: source column -> how it is shown, in order.
SPECS: dict[str, dict[str, Column]] = {
    "cordon_bands": {
        "band": Column("Zone"),
        "band_zh": Column("Zone (中文)"),
        "people": Column("People", "people"),
        "area_km2": Column("Area (km²)", "km2"),
    },
    "checkpoints_by_class": {
        "road_class": Column("Road class"),
        "checkpoints": Column("Checkpoints", "count"),
    },
    "catchment_sites": {
        "name": Column("Site"),
        "people": Column("People", "people"),
        "load": Column("Load (people)", "people"),
        "throughput_per_h": Column("Tests per hour", "people"),
        "mean_min": Column("Mean travel (min)", "minutes"),
        "max_min": Column("Worst travel (min)", "minutes"),
        "untested": Column("Untested (people)", "people"),
        "finish_at": Column("Finishes", "clock"),
        "status": Column("Status"),
    },
    "staging_sites": {
        "rank": Column("#", "count"),
        "name": Column("Site"),
        "people": Column("People served", "people"),
        "mean_cost": Column("Mean travel (min)", "minutes"),
        "max_cost": Column("Worst travel (min)", "minutes"),
        "teams": Column("Teams", "count"),
        "reason": Column("Why"),
    },
}


def clock(t: object, tz: str | None = None) -> str:
    """A time as a person reads it on a night's board: ``Sun 23:00`` ("–" when missing)."""
    if t is None or (not isinstance(t, str) and pd.isna(t)):
        return "–"
    ts = pd.Timestamp(t)
    if tz is not None and ts.tzinfo is not None:
        ts = ts.tz_convert(tz)
    return f"{ts:%a %H:%M}"


def present(
    df: pd.DataFrame, spec: str | Mapping[str, Column], tz: str | None = None
) -> pd.DataFrame:
    """``df``'s columns of ``spec`` (a key of :data:`SPECS`, or a spec), renamed to their
    headers and shown as their kind says: people and counts as whole numbers, minutes to 0.1,
    km² to 0.01, times as ``Sun 23:00``; missing columns are left out."""
    cols = SPECS[spec] if isinstance(spec, str) else spec
    out = pd.DataFrame(index=df.index)
    for name, col in cols.items():
        if name not in df.columns:
            continue
        values = df[name]
        if col.kind in ("people", "count"):
            # Whole people: the LP leaves 1e-12 residues and shares of a person.
            num = pd.to_numeric(values, errors="coerce").astype(float)
            out[col.label] = pd.array(np.rint(num), dtype="Int64")
        elif col.kind == "minutes":
            out[col.label] = pd.to_numeric(values, errors="coerce").astype(float).round(1)
        elif col.kind == "km2":
            out[col.label] = pd.to_numeric(values, errors="coerce").astype(float).round(2)
        elif col.kind == "percent":
            out[col.label] = pd.to_numeric(values, errors="coerce").astype(float).round(1)
        elif col.kind == "clock":
            out[col.label] = [clock(v, tz) for v in values]
        else:
            out[col.label] = values.astype(object).where(values.notna(), None)
    return out.reset_index(drop=True)
