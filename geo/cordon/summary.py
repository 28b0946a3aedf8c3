"""A cordon's figures (:func:`summarize`), its result tuple, and choosing the incidents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, NotRequired, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.cordon.common import _ids
from geo.cordon.posts import _CLASS_RANK, CLASS_ORDER
from geo.errors import InputError, Problem

__all__ = ["CordonResult", "CordonSummary", "select_incidents", "summarize"]


class CordonSummary(TypedDict):
    """The figures of a cordon (:func:`summarize`), plus the request when it comes from
    :func:`geo.analyses.cordon`."""

    #: People per band (only when the bands carry ``people``).
    people: NotRequired[dict[str, float]]
    people_total: NotRequired[float]
    area_km2: dict[str, float]
    checkpoints: int
    checkpoints_by_class: dict[str, int]
    checkpoints_by_band: dict[str, int]
    staff_total: int
    staff_by_band: dict[str, int]
    staff_if_separate: int
    # The request, added by geo.analyses.cordon.
    by: NotRequired[str]
    unit: NotRequired[str]
    mode: NotRequired[str | None]
    rings: NotRequired[list[float]]
    incident_ids: NotRequired[list[str]]


class CordonResult(NamedTuple):
    """What :func:`geo.analyses.cordon` returns (unpacks as ``bands, checkpoints, summary``)."""

    bands: gpd.GeoDataFrame
    checkpoints: gpd.GeoDataFrame
    summary: CordonSummary


def summarize(bands: gpd.GeoDataFrame, cps: gpd.GeoDataFrame) -> CordonSummary:
    """Counts for a panel: people and area per band, checkpoints by class and band, staff.

    Parameters
    ----------
    bands : the bands (``band``, ``area_km2``; ``people`` when counted).
    cps : their checkpoints (:func:`geo.cordon.checkpoints`).

    Returns
    -------
    CordonSummary: ``people`` {band: people} and ``people_total`` (when ``bands`` has
    ``people``), ``area_km2`` {band: km²}, ``checkpoints`` (count), ``checkpoints_by_class``,
    ``checkpoints_by_band``, ``staff_total``, ``staff_by_band``, ``staff_if_separate``.
    """
    by_class = cps.groupby("road_class").size() if len(cps) else pd.Series(dtype=int)
    order = sorted(by_class.index, key=lambda c: (_CLASS_RANK.get(c, len(CLASS_ORDER)), c))
    out = CordonSummary(
        area_km2={str(b): float(a) for b, a in zip(bands["band"], bands["area_km2"])},
        checkpoints=int(len(cps)),
        checkpoints_by_class={str(c): int(by_class[c]) for c in order},
        checkpoints_by_band={
            str(b): int(n) for b, n in cps.groupby("band", sort=False).size().items()
        },
        staff_total=int(cps["staff"].sum()) if len(cps) else 0,
        staff_by_band={
            str(b): int(n) for b, n in cps.groupby("band", sort=False)["staff"].sum().items()
        },
        staff_if_separate=int(cps["staff_if_separate"].sum()) if len(cps) else 0,
    )
    if "people" in bands.columns:
        # First, as before: the panels list the keys in this order.
        out = CordonSummary(
            people={str(b): float(p) for b, p in zip(bands["band"], bands["people"])},
            people_total=float(bands["people"].sum()),
            **out,
        )
    return out


def select_incidents(
    incidents: gpd.GeoDataFrame, wanted: Iterable[str] | None, source: str | None
) -> gpd.GeoDataFrame:
    """The incidents with ids in ``wanted`` (all when None), or an InputError naming the
    unknown ids (``source`` is the file named in the message)."""
    if incidents is None or len(incidents) == 0:
        raise InputError(
            "there are no incidents to cordon",
            file=source,
            field="incidents",
            expected="at least one incident (a point or a polygon)",
        )
    ids = _ids(incidents)
    if wanted is None:
        return incidents
    wanted = [wanted] if isinstance(wanted, str) else [str(w) for w in wanted]
    if not wanted:
        raise InputError(
            "no incident chosen", field="incident_ids", expected="one or more incident ids"
        )
    known = set(ids.tolist())
    unknown = [w for w in wanted if w not in known]
    if unknown:
        shown = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
        raise InputError(
            problems=[
                Problem("unknown incident id", "incidents", w, "incident_ids", f"one of {shown}")
                for w in unknown
            ]
        )
    keep = np.isin(ids, wanted)
    return incidents[keep]
