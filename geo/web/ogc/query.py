"""Which features of a collection a request selects: ``bbox`` and ``datetime`` filters (the
spec's semantics: features without a geometry or without a time always match) and the page.

Examples
--------
>>> import geopandas as gpd
>>> import pandas as pd
>>> from shapely.geometry import Point
>>> g = gpd.GeoDataFrame(
...     {"id": ["a", "b"], "t": pd.to_datetime(["2021-10-31T10:00Z", "2021-10-31T12:00Z"])},
...     geometry=[Point(121.66, 31.14), Point(0, 0)], crs="EPSG:4326")
>>> select(g, bbox=(121, 31, 122, 32)).tolist()
[0]
>>> select(g, interval=(pd.Timestamp("2021-10-31T11:00Z"), None), time=("t", None)).tolist()
[1]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.web.ogc.catalogue import TimeSpec
from geo.web.ogc.params import Bbox, Interval

__all__ = ["select", "time_extent", "to_utc"]


def select(
    gdf: gpd.GeoDataFrame,
    bbox: Bbox | None = None,
    interval: Interval | None = None,
    time: TimeSpec | None = None,
) -> np.ndarray:
    """Positions (ascending, so pages keep the layer's order) of the features that match.

    ``bbox`` keeps features whose geometry intersects the box (and those without geometry);
    ``interval`` keeps features whose time (instant or interval, per ``time``) intersects it
    (and those without a time); a collection without ``time`` ignores ``interval``.
    """
    keep = np.ones(len(gdf), dtype=bool)
    if bbox is not None and len(gdf):
        keep &= _in_bbox(gdf, bbox)
    if interval is not None and time is not None and len(gdf):
        keep &= _in_interval(gdf, interval, time)
    return np.flatnonzero(keep)


def _in_bbox(gdf: gpd.GeoDataFrame, bbox: Bbox) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    # A box whose west edge is east of its east edge crosses the antimeridian: two boxes.
    boxes = (
        [shapely.box(x0, y0, x1, y1)]
        if x0 <= x1
        else [
            shapely.box(x0, y0, 180, y1),
            shapely.box(-180, y0, x1, y1),
        ]
    )
    hit = np.zeros(len(gdf), dtype=bool)
    for box in boxes:
        hit[gdf.sindex.query(box, predicate="intersects")] = True
    geoms = gdf.geometry.to_numpy()
    hit |= shapely.is_missing(geoms) | shapely.is_empty(geoms)
    return hit


def to_utc(values: pd.Series) -> pd.Series:
    """A time column as UTC timestamps (NaT where empty or not a time)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def _in_interval(gdf: gpd.GeoDataFrame, interval: Interval, time: TimeSpec) -> np.ndarray:
    qs, qe = interval
    first, second = time
    if first not in gdf.columns:
        return np.ones(len(gdf), dtype=bool)
    start = to_utc(gdf[first])
    end = to_utc(gdf[second]) if second is not None and second in gdf.columns else start
    # A feature [start, end] meets the query [qs, qe] when start <= qe and end >= qs; an empty
    # end of either is open. A feature with no time at all matches (spec: /req/core/fc-time-
    # response C).
    ok = pd.Series(True, index=gdf.index)
    if qe is not None:
        ok &= ~(start > qe)
    if qs is not None:
        ok &= ~(end < qs)
    return ok.to_numpy(dtype=bool)


def time_extent(gdf: gpd.GeoDataFrame, time: TimeSpec) -> list[str | None] | None:
    """[first, last] time of the collection as ISO 8601 UTC (None: open), or None when it has
    no time values at all."""
    cols = [c for c in time if c is not None and c in gdf.columns]
    if not cols or not len(gdf):
        return None
    values = [to_utc(gdf[c]) for c in cols]
    lo = min((v.min() for v in values if v.notna().any()), default=None)
    hi = max((v.max() for v in values if v.notna().any()), default=None)
    if lo is None:
        return None
    # An interval layer whose features have open ends has an open extent on that side.
    if len(cols) == 2 and values[0].isna().any():
        lo = None
    if len(cols) == 2 and values[1].isna().any():
        hi = None
    return [_iso(lo), _iso(hi)]


def _iso(t: pd.Timestamp | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
