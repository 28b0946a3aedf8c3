"""Crowd points cleaned: what a chunk of points is, which columns hold what, how rows are
checked (vectorised) and how bad rows are reported."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from geo.crs import convert
from geo.errors import InputError, Problem

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "LAT_NAMES",
    "LON_NAMES",
    "WEIGHT_NAMES",
    "Columns",
    "Datum",
    "OnBad",
    "PointChunk",
    "ReadOptions",
    "bad_rows_error",
    "clean_chunk",
    "read_options",
    "resolve_columns",
]

Datum = Literal["wgs84", "gcj02", "bd09"]
OnBad = Literal["raise", "skip"]


DEFAULT_CHUNK_ROWS = 2_000_000


# Column names recognised, compared lower-cased and stripped, in order of preference.
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WEIGHT_NAMES = ("devices", "device_count", "count", "people", "weight", "n")


_MAX_PROBLEMS = InputError.MAX_SHOWN


@dataclass(frozen=True)
class PointChunk:
    """A slice of crowd points, cleaned: WGS-84 lon/lat and a weight (people) per point.

    ``first_row`` is the 0-based row of the slice's first point in its source and ``rows`` the
    number of source rows the slice covers (more than ``len(lon)`` when bad rows were skipped).
    """

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    first_row: int = 0
    rows: int = -1
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.lon)


@dataclass(frozen=True)
class Columns:
    """Which source columns hold longitude, latitude and the optional weight (device count)."""

    lon: str
    lat: str
    weight: str | None = None

    @property
    def names(self) -> list[str]:
        # Each once: in GeoParquet lon and lat both come from the geometry column.
        return [c for c in dict.fromkeys((self.lon, self.lat, self.weight)) if c is not None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read crowd points (all readers and both execution paths take the same).

    Parameters
    ----------
    lon, lat : column names; ``None`` looks for the usual ones (lon/lng/longitude/x, lat/...).
    weight : column with the number of people (devices) per point; ``None`` looks for
        devices/count/people/weight and counts 1 per point if none exists; ``False`` ignores any.
    datum : "gcj02" (Amap, Tencent) or "bd09" (Baidu) coordinates are converted to WGS-84.
    swap_xy : the longitude column holds latitudes and vice versa.
    on_bad : "raise" (default) stops at the first chunk with bad rows and names them;
        "skip" drops them and counts them (``attrs["crowd"]["skipped_rows"]``).
    chunk_rows : points per chunk; bounds the memory used.
    """

    lon: str | None = None
    lat: str | None = None
    weight: str | None | Literal[False] = None
    datum: Datum = "wgs84"
    swap_xy: bool = False
    on_bad: OnBad = "raise"
    chunk_rows: int = DEFAULT_CHUNK_ROWS


def read_options(**kw: Any) -> ReadOptions:
    """:class:`ReadOptions` from keyword arguments, with errors an analyst can act on."""
    unknown = set(kw) - set(ReadOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown read option(s): {', '.join(sorted(unknown))}")
    opts = ReadOptions(**kw)
    if opts.on_bad not in ("raise", "skip"):
        raise InputError(
            f"unknown on_bad '{opts.on_bad}'", field="on_bad", expected="raise or skip"
        )
    if opts.chunk_rows < 1:
        raise InputError("chunk_rows must be positive", field="chunk_rows", expected=">= 1")
    return opts


def resolve_columns(names: Iterable[str], opts: ReadOptions, file: str) -> Columns:
    """Find the lon, lat and weight columns among ``names`` (case-insensitive).

    Raises
    ------
    InputError : naming the missing column and listing the columns found.
    """
    names = [str(n) for n in names]
    lower = {n.strip().lower(): n for n in reversed(names)}
    found = ", ".join(names) if names else "none"

    def pick(wanted: str | None, aliases: tuple[str, ...], what: str) -> str:
        if wanted is not None:
            if wanted in names:
                return wanted
            if wanted.strip().lower() in lower:
                return lower[wanted.strip().lower()]
            raise InputError(
                f"the {what} column '{wanted}' is missing",
                file=file,
                field=wanted,
                expected=f"a column named '{wanted}'; columns found: {found}",
            )
        for a in aliases:
            if a in lower:
                return lower[a]
        raise InputError(
            f"no {what} column",
            file=file,
            field=aliases[0],
            expected=f"a column named one of {', '.join(aliases)}; columns found: {found}",
        )

    lon = pick(opts.lon, LON_NAMES, "longitude")
    lat = pick(opts.lat, LAT_NAMES, "latitude")
    weight: str | None = None
    if opts.weight is not False:
        if opts.weight is None:
            weight = next((lower[a] for a in WEIGHT_NAMES if a in lower), None)
        else:
            weight = pick(opts.weight, WEIGHT_NAMES, "weight (device count)")
    if opts.swap_xy:
        lon, lat = lat, lon
    return Columns(lon, lat, weight)


def _numeric(raw: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, mask of values present but not numbers) of a column."""
    arr = np.asarray(raw) if not isinstance(raw, pd.Series) else raw.to_numpy()
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False), np.zeros(len(arr), dtype=bool)
    ser = pd.Series(raw) if not isinstance(raw, pd.Series) else raw
    num = pd.to_numeric(ser, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    blank = ser.isna().to_numpy() | ser.astype(str).str.strip().eq("").to_numpy()
    return num, np.isnan(num) & ~blank


@dataclass
class _Bad:
    """Rows of one chunk that cannot be used (relative row numbers)."""

    problems: list[tuple[int, str, str, str]] = field(default_factory=list)  # row, field, msg, exp
    count: int = 0


def _at(col: Any, i: int) -> Any:
    return col.iloc[i] if isinstance(col, pd.Series) else col[i]


def _nrows(df: Mapping[str, Any]) -> int:
    return len(df) if isinstance(df, pd.DataFrame) else len(df[next(iter(df))])


def clean_chunk(
    df: Mapping[str, Any], cols: Columns, opts: ReadOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Bad]:
    """Check and convert one chunk: (lon, lat, weight, bad-row mask, bad description).

    ``df`` is a DataFrame or a mapping of column name to array. Vectorised; a problem record is
    built only for the first few bad rows (the count says how many there are). Coordinates are
    converted from ``opts.datum`` to WGS-84.
    """
    n = _nrows(df)
    lon, lon_text = _numeric(df[cols.lon])
    lat, lat_text = _numeric(df[cols.lat])
    if cols.weight is not None:
        w, w_text = _numeric(df[cols.weight])
    else:
        w, w_text = np.ones(n), np.zeros(n, dtype=bool)
    # Swapped columns are the common mistake: say so rather than "out of range".
    with np.errstate(invalid="ignore"):
        lon_missing, lat_missing = np.isnan(lon) & ~lon_text, np.isnan(lat) & ~lat_text
        lon_range = np.isfinite(lon) & (np.abs(lon) > 180) | np.isinf(lon)
        lat_range = np.isfinite(lat) & (np.abs(lat) > 90) | np.isinf(lat)
        w_missing = np.isnan(w) & ~w_text
        w_range = np.isinf(w) | (w < 0)
    bad_any = lon_text | lat_text | lon_missing | lat_missing | lon_range | lat_range
    bad_any |= w_text | w_missing | w_range
    bad = _Bad()
    if bad_any.any():
        bad.count = int(bad_any.sum())
        idx = np.flatnonzero(bad_any)
        lon_exp = "longitude in degrees, -180 to 180"
        lat_exp = "latitude in degrees, -90 to 90"
        swap_exp = "longitude first; use swap_xy (--swap-xy) if the columns are swapped"
        for i in idx[: _MAX_PROBLEMS + 1]:
            if lon_text[i] or lon_missing[i]:
                msg = (
                    f"'{_at(df[cols.lon], i)}' is not a number"
                    if lon_text[i]
                    else "value is missing"
                )
                bad.problems.append((int(i), cols.lon, msg, lon_exp))
            elif lat_text[i] or lat_missing[i]:
                msg = (
                    f"'{_at(df[cols.lat], i)}' is not a number"
                    if lat_text[i]
                    else "value is missing"
                )
                bad.problems.append((int(i), cols.lat, msg, lat_exp))
            elif lat_range[i] and abs(lon[i]) <= 90 and not lon_range[i]:
                msg = f"latitude {lat[i]:g} is out of range; latitude and longitude look swapped"
                bad.problems.append((int(i), cols.lat, msg, swap_exp))
            elif lon_range[i]:
                bad.problems.append((int(i), cols.lon, f"{lon[i]:g} is out of range", lon_exp))
            elif lat_range[i]:
                bad.problems.append((int(i), cols.lat, f"{lat[i]:g} is out of range", lat_exp))
            else:
                assert cols.weight is not None
                raw = _at(df[cols.weight], i)
                msg = (
                    f"'{raw}' is not a number"
                    if w_text[i]
                    else "value is missing"
                    if w_missing[i]
                    else f"{w[i]:g} is out of range"
                )
                bad.problems.append((int(i), cols.weight, msg, "a count of people >= 0"))
        keep = ~bad_any
        lon, lat, w = lon[keep], lat[keep], w[keep]
    if opts.datum != "wgs84" and len(lon):
        x, y = convert(lon, lat, opts.datum, "wgs84")
        lon, lat = np.asarray(x), np.asarray(y)
    return lon, lat, np.asarray(w, dtype=np.float64), bad_any, bad


def bad_rows_error(bad: _Bad, file: str, first_row: int, line_offset: int | None) -> InputError:
    """The InputError for a chunk's bad rows, with source row (and CSV line) numbers."""

    def label(rel: int) -> str:
        row = first_row + rel
        return f"#{row} (line {row + line_offset})" if line_offset is not None else f"#{row}"

    problems = [Problem(m, file, label(r), f, e) for r, f, m, e in bad.problems[:_MAX_PROBLEMS]]
    if bad.count > len(problems):
        problems.append(
            Problem(
                f"{bad.count} unusable rows in all in the chunk from row {first_row} on "
                "(on_bad='skip' drops and counts them)",
                file,
            )
        )
    return InputError(problems=problems)


@dataclass
class _Tally:
    rows: int = 0
    used: int = 0
    skipped: int = 0
    people: float = 0.0

    def add(self, chunk: PointChunk) -> None:
        self.rows += chunk.rows if chunk.rows >= 0 else len(chunk)
        self.used += len(chunk)
        self.skipped += chunk.skipped
        self.people += float(chunk.weight.sum())

    def stats(self, **more: Any) -> dict[str, Any]:
        return {
            "rows_read": self.rows,
            "points_used": self.used,
            "skipped_rows": self.skipped,
            "people": self.people,
            **more,
        }
