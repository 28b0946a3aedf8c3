"""People per square cell of a metric grid: cell keys, per-chunk sums, the crowd_zones layer."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.constants import WGS84
from geo.crowd.clean import PointChunk, _Tally
from geo.crowd.read import PointsInput, Progress, read_points
from geo.crs import local_crs
from geo.errors import InputError

__all__ = [
    "CRS_SAMPLE",
    "DEFAULT_TZ",
    "MIN_CELL_M",
    "GridSums",
    "aggregate_grid",
    "cell_ids",
    "check_cell",
    "choose_crs",
    "grid_frame",
    "grid_partial",
    "reduce_keys",
    "split_keys",
    "to_metric",
]


#: points used to choose the local CRS when none is given (the first ones of the input, so the
#: choice does not depend on chunk or partition sizes).
CRS_SAMPLE = 10_000
MIN_CELL_M = 1.0
DEFAULT_TZ = "Asia/Shanghai"


# Grid keys pack (row, col) into one int64: row * 2**32 + (col + 2**31).
_KEY_SHIFT = 32
_COL_OFFSET = 2**31
_MAX_INDEX = 2**31 - 1
# Dense bincount per chunk while the chunk's cell box has at most this many cells.
_DENSE_MAX_CELLS = 8_000_000
# Re-reduce accumulated per-chunk grid sums when they exceed this many rows (a city has up to
# about a million occupied 100 m cells; each chunk adds up to that many rows).
_REDUCE_AT = 3_000_000


def choose_crs(chunks: Iterable[PointChunk], crs: Any = None) -> CRS:
    """The metric CRS of the grid: ``crs`` if given, else :func:`geo.crs.local_crs` of the
    bounding box of the first :data:`CRS_SAMPLE` usable points of the input, in input order
    (the same points whatever the chunk or partition sizes, so every path picks the same CRS).
    """
    if crs is not None:
        out = CRS.from_user_input(crs)
        if not out.is_projected:
            raise InputError(
                f"the grid needs a metric CRS, got {out.name}",
                field="crs",
                expected="a projected CRS in metres, e.g. EPSG:32651",
            )
        return out
    lons, lats, have = [], [], 0
    for c in chunks:
        lons.append(c.lon[: CRS_SAMPLE - have])
        lats.append(c.lat[: CRS_SAMPLE - have])
        have += len(lons[-1])
        if have >= CRS_SAMPLE:
            break
    if have == 0:
        raise InputError("no usable points to place the grid", expected="at least one point")
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    return local_crs(shapely.box(lon.min(), lat.min(), lon.max(), lat.max()))


def check_cell(cell_m: float) -> float:
    """``cell_m`` as a float, or InputError if it is not a usable cell size."""
    try:
        c = float(cell_m)
    except (TypeError, ValueError) as exc:
        raise InputError(f"'{cell_m}' is not a number", field="cell_m", expected="metres") from exc
    if not math.isfinite(c) or c < MIN_CELL_M:
        raise InputError(
            f"cell size {cell_m} m is too small",
            field="cell_m",
            expected=f"a cell size of at least {MIN_CELL_M:g} m",
        )
    return c


def to_metric(crs: CRS) -> Transformer:
    """WGS-84 lon/lat -> ``crs`` (x east, y north)."""
    return Transformer.from_crs(WGS84, crs, always_xy=True)


def grid_partial(
    lon: np.ndarray,
    lat: np.ndarray,
    weight: np.ndarray,
    transformer: Transformer,
    cell_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell sums of one chunk: (sorted cell keys, people, points).

    Keys pack ``(row, col)`` as ``row * 2**32 + col + 2**31`` (see :func:`split_keys`).
    """
    if len(lon) == 0:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
    x, y = transformer.transform(lon, lat)
    col = np.floor(np.asarray(x) / cell_m)
    row = np.floor(np.asarray(y) / cell_m)
    if not (np.all(np.abs(col) < _MAX_INDEX) and np.all(np.abs(row) < _MAX_INDEX)):
        raise InputError(
            "points fall outside the grid's projection",
            field="cell_m",
            expected="points within a few thousand km of the area, and cells of at least 1 m",
        )
    col = col.astype(np.int64)
    row = row.astype(np.int64)
    r0, r1, c0, c1 = row.min(), row.max(), col.min(), col.max()
    nr, nc = int(r1 - r0 + 1), int(c1 - c0 + 1)
    if nr * nc <= max(_DENSE_MAX_CELLS, 2 * len(row)):
        # A city's cells in one box: two bincounts beat sorting millions of keys.
        lin = (row - r0) * nc + (col - c0)
        points = np.bincount(lin, minlength=nr * nc)
        people = np.bincount(lin, weights=weight, minlength=nr * nc)
        nz = np.flatnonzero(points)
        keys = (nz // nc + r0) * (1 << _KEY_SHIFT) + (nz % nc + c0 + _COL_OFFSET)
        return keys.astype(np.int64), people[nz], points[nz].astype(np.int64)
    keys = row * (1 << _KEY_SHIFT) + (col + _COL_OFFSET)
    return reduce_keys(keys, weight, np.ones(len(keys), np.int64))


def reduce_keys(
    keys: np.ndarray, people: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``people`` and ``points`` over equal ``keys``; keys come out sorted and unique."""
    if len(keys) == 0:
        return keys.astype(np.int64), people.astype(float), points.astype(np.int64)
    uniq, inv = np.unique(keys, return_inverse=True)
    return (
        uniq,
        np.bincount(inv, weights=people, minlength=len(uniq)),
        np.bincount(inv, weights=points, minlength=len(uniq)).astype(np.int64),
    )


class GridSums:
    """Per-cell sums accumulated over chunks (or partitions), reduced now and then."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._size = 0

    def add(self, keys: np.ndarray, people: np.ndarray, points: np.ndarray) -> None:
        self._parts.append((keys, people, points))
        self._size += len(keys)
        if self._size > _REDUCE_AT and len(self._parts) > 1:
            self._parts = [self.result()]
            self._size = len(self._parts[0][0])

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, people, points), keys sorted and unique."""
        if not self._parts:
            return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
        if len(self._parts) == 1:
            return self._parts[0]
        return reduce_keys(*(np.concatenate(a) for a in zip(*self._parts)))


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of packed cell keys."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> _KEY_SHIFT, (keys & 0xFFFFFFFF) - _COL_OFFSET


def cell_ids(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Cell ids ``r{row}c{col}``."""
    # A comprehension over Python ints is faster here than numpy's string functions.
    ids = [f"r{r}c{c}" for r, c in zip(np.asarray(row).tolist(), np.asarray(col).tolist())]
    return np.array(ids, dtype=object)


def _observed(observed_at: Any, tz: str) -> pd.Timestamp:
    if observed_at is None:
        return pd.Timestamp.now(tz=tz).floor("s")
    try:
        t = pd.Timestamp(observed_at)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"'{observed_at}' is not a time",
            field="observed_at",
            expected="an ISO 8601 time such as 2021-10-31T20:00:00+08:00",
        ) from exc
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


def _times(t: pd.Timestamp, n: int, tz: str, index: pd.Index | None = None) -> pd.Series:
    # One timestamp repeated: building it from a list of n Timestamps takes seconds per million.
    values = pd.DatetimeIndex([t]).astype(f"datetime64[ns, {tz}]").repeat(n)
    return pd.Series(values, index=index)


def grid_frame(
    keys: np.ndarray,
    people: np.ndarray,
    points: np.ndarray,
    cell_m: float,
    crs: CRS,
    *,
    observed_at: Any = None,
    source: str | None = "telecom",
    tz: str = DEFAULT_TZ,
) -> gpd.GeoDataFrame:
    """The ``crowd_zones`` layer of grid sums: one square (in ``crs``) per cell, in EPSG:4326.

    Adjacent cells share their corner coordinates exactly (each corner is transformed from the
    same metric numbers), so the grid has no gaps or overlaps.
    """
    row, col = split_keys(keys)
    n = len(keys)
    x0, y0 = col.astype(float) * cell_m, row.astype(float) * cell_m
    x1, y1 = (col + 1).astype(float) * cell_m, (row + 1).astype(float) * cell_m
    # Four corners per cell, counter-clockwise (RFC 7946); the ring is closed after projecting.
    xs = np.stack([x0, x1, x1, x0], axis=1).ravel()
    ys = np.stack([y0, y0, y1, y1], axis=1).ravel()
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(xs, ys)
    ring = np.empty((n, 5, 2))
    ring[:, :4, 0] = np.asarray(lon).reshape(n, 4)
    ring[:, :4, 1] = np.asarray(lat).reshape(n, 4)
    ring[:, 4] = ring[:, 0]
    # from_ragged_array builds the polygons in one pass (twice as fast as shapely.polygons).
    offsets = (np.arange(0, 5 * n + 1, 5), np.arange(n + 1))
    geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, ring.reshape(-1, 2), offsets)
    t = _observed(observed_at, tz)
    data: dict[str, Any] = {
        "id": cell_ids(row, col),
        "people": np.asarray(people, dtype=float),
        "observed_at": _times(t, n, tz),
    }
    if source is not None:
        data["source"] = source
    data["points"] = np.asarray(points, dtype=np.int64)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)


def aggregate_grid(
    points: PointsInput,
    cell_m: float = 100.0,
    crs: Any = None,
    *,
    observed_at: Any = None,
    source: str | None = "telecom",
    tz: str = DEFAULT_TZ,
    progress: Progress | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """People per square cell of ``cell_m`` metres: a ``crowd_zones`` layer.

    Parameters
    ----------
    points : a GeoParquet/Parquet or CSV path, a DataFrame with lon/lat columns, a point
        GeoDataFrame, or PointChunks (see :func:`read_points`); read chunk by chunk.
    cell_m : cell side in metres (>= 1).
    crs : the metric CRS of the grid; default :func:`geo.crs.local_crs` of the first points.
    observed_at : time of the counts (tz-aware or read in ``tz``); default: now.
    source : value of the layer's ``source`` column (``None`` leaves it out).
    progress : ``progress(done, total)`` after each chunk (see :func:`read_points`).
    **options : :class:`ReadOptions` fields: lon, lat, weight, datum, swap_xy, on_bad,
        chunk_rows.

    Returns
    -------
    GeoDataFrame (EPSG:4326) with columns id (``r{row}c{col}``), people (sum of weights),
    observed_at, source, points (input rows in the cell), one row per non-empty cell, sorted by
    row then column. ``attrs["crowd"]`` holds counts: rows_read, points_used, skipped_rows,
    people, cells, crs, cell_m.

    Raises
    ------
    InputError : bad input (file, row and field named), bad cell size or CRS.
    """
    cell = check_cell(cell_m)
    tally = _Tally()
    sums = GridSums()
    chunks = iter(read_points(points, progress=progress, **options))
    # Hold the first chunks back until enough points are seen to choose the CRS.
    head: list[PointChunk] = []
    if crs is None:
        for chunk in chunks:
            head.append(chunk)
            if sum(len(c) for c in head) >= CRS_SAMPLE:
                break
    metric = choose_crs(head, crs)
    tr = to_metric(metric)
    for chunk in itertools.chain(head, chunks):
        tally.add(chunk)
        sums.add(*grid_partial(chunk.lon, chunk.lat, chunk.weight, tr, cell))
    out = grid_frame(*sums.result(), cell, metric, observed_at=observed_at, source=source, tz=tz)
    out.attrs["crowd"] = tally.stats(cells=len(out), crs=metric.to_string(), cell_m=cell)
    return out
