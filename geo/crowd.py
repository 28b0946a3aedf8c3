"""Crowd points at city scale: millions of device counts to a metric grid, zones or catchments.

Telecom operators deliver crowd data as points (or grid-cell centres) with a device count each.
This module reads such inputs lazily (GeoParquet by record batches, CSV in chunks, or a frame
in memory), checks every chunk with vectorised numpy, and accumulates:

- :func:`aggregate_grid` : people per square cell of ``cell_m`` metres in a metric CRS, as a
  ``crowd_zones`` layer (EPSG:4326 polygons, ids ``r{row}c{col}``);
- :func:`aggregate_zones` : people per given polygon (first zone wins on shared boundaries);
- :func:`assign_to_catchments` : the same for catchment polygons with a ``site_id`` column.

Memory stays bounded by the chunk size (``chunk_rows``, two million points by default, about
200 MB of working arrays) whatever the file size: only per-cell or per-zone sums are kept
between chunks. There is no Python loop over points; the zone path loops over zones.

The partitioned, multi-machine versions of the same operations are in :mod:`geo.crowd_dask`
(imported lazily: dask is an optional dependency); both share the per-chunk kernels here, so
they give the same cells and sums (exactly, for integer device counts).

Grid cells
----------
Cell ``(row, col)`` covers ``[col * cell_m, (col + 1) * cell_m) x [row * cell_m, (row + 1) *
cell_m)`` in the metric CRS: the origin is the CRS's own (0, 0), a multiple of every cell size,
so ids are stable across chunks, partitions, files and runs for one CRS and cell size. Rows grow
northwards. A point exactly on a cell edge belongs to the cell east / north of it.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.constants import WGS84
from geo.crs import convert, local_crs
from geo.errors import InputError, Problem

Progress = Callable[[int, int], None]
Datum = Literal["wgs84", "gcj02", "bd09"]
OnBad = Literal["raise", "skip"]
PointsInput = str | os.PathLike | pd.DataFrame | gpd.GeoDataFrame | Iterable["PointChunk"]

DEFAULT_CHUNK_ROWS = 2_000_000
#: points used to choose the local CRS when none is given (the first ones of the input, so the
#: choice does not depend on chunk or partition sizes).
CRS_SAMPLE = 10_000
MIN_CELL_M = 1.0
DEFAULT_TZ = "Asia/Shanghai"

# Column names recognised, compared lower-cased and stripped, in order of preference.
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WEIGHT_NAMES = ("devices", "device_count", "count", "people", "weight", "n")

PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.xz")
_FORMATS = "GeoParquet/Parquet (.parquet, .geoparquet) or CSV (.csv, .csv.gz, .tsv)"

# Grid keys pack (row, col) into one int64: row * 2**32 + (col + 2**31).
_KEY_SHIFT = 32
_COL_OFFSET = 2**31
_MAX_INDEX = 2**31 - 1
# Dense bincount per chunk while the chunk's cell box has at most this many cells.
_DENSE_MAX_CELLS = 8_000_000
# Re-reduce accumulated per-chunk grid sums when they exceed this many rows (a city has up to
# about a million occupied 100 m cells; each chunk adds up to that many rows).
_REDUCE_AT = 3_000_000
_MAX_PROBLEMS = InputError.MAX_SHOWN
# Longitude bins of the zone assignment (int16 keys: at most 32767).
_ZONE_BINS = 4096


# --- reading -----------------------------------------------------------------------------------


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
        lon, lat = convert(lon, lat, opts.datum, "wgs84")
        lon, lat = np.asarray(lon), np.asarray(lat)
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


def _source_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise InputError(f"unknown point file type '{path.suffix}'", file=str(path), expected=_FORMATS)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", file=str(path), expected="an existing file")
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path), expected=_FORMATS)
    if path.stat().st_size == 0:
        raise InputError("the file is empty", file=str(path), expected="crowd points")


def read_points(
    source: PointsInput,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> Iterator[PointChunk]:
    """Read crowd points lazily, chunk by chunk, cleaned and in WGS-84.

    Parameters
    ----------
    source : a GeoParquet/Parquet or CSV path, a DataFrame with lon/lat columns, a point
        GeoDataFrame (any CRS), or an iterable of :class:`PointChunk` (passed through).
    progress : called as ``progress(done, total)`` after each chunk. The unit is rows for
        Parquet and frames, bytes for CSV (its row count is unknown until read); ``done/total``
        is the fraction done either way.
    **options : :class:`ReadOptions` fields (lon, lat, weight, datum, swap_xy, on_bad,
        chunk_rows).

    Yields
    ------
    PointChunk : at most ``chunk_rows`` points each.

    Raises
    ------
    InputError : missing file or columns, empty or broken file, bad rows (naming the file, row
        and field).
    """
    opts = read_options(**options)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        _check_file(path)
        kind = _source_kind(path)
        if kind == "parquet":
            yield from _read_parquet(path, opts, progress)
        else:
            yield from _read_csv(path, opts, progress)
    elif isinstance(source, gpd.GeoDataFrame):
        yield from _read_geoframe(source, opts, progress)
    elif isinstance(source, pd.DataFrame):
        yield from _read_frame(source, opts, progress, "<frame>")
    else:
        for chunk in source:
            if not isinstance(chunk, PointChunk):
                raise InputError(
                    f"cannot read crowd points from {type(chunk).__name__}",
                    expected="a file path, a DataFrame, a GeoDataFrame or PointChunks",
                )
            yield chunk


def _emit(
    df: Mapping[str, Any],
    cols: Columns,
    opts: ReadOptions,
    file: str,
    first_row: int,
    line_offset: int | None,
) -> PointChunk:
    lon, lat, w, _, bad = clean_chunk(df, cols, opts)
    if bad.count and opts.on_bad == "raise":
        raise bad_rows_error(bad, file, first_row, line_offset)
    return PointChunk(lon, lat, w, first_row, _nrows(df), bad.count)


def _read_frame(
    df: pd.DataFrame, opts: ReadOptions, progress: Progress | None, file: str
) -> Iterator[PointChunk]:
    cols = resolve_columns(df.columns, opts, file)
    n = len(df)
    if n == 0:
        raise InputError("no points", file=file, expected="at least one point")
    for start in range(0, n, opts.chunk_rows):
        part = df.iloc[start : start + opts.chunk_rows]
        yield _emit(part, cols, opts, file, start, None)
        if progress:
            progress(min(start + opts.chunk_rows, n), n)


def _read_geoframe(
    gdf: gpd.GeoDataFrame, opts: ReadOptions, progress: Progress | None
) -> Iterator[PointChunk]:
    file = "<layer>"
    if len(gdf) == 0:
        raise InputError("no points", file=file, expected="at least one point")
    if gdf.crs is None:
        raise InputError(
            "the points declare no coordinate reference system",
            file=file,
            field="geometry",
            expected="a GeoDataFrame with a CRS (EPSG:4326 for lon/lat)",
        )
    geoms = gdf.geometry.values
    types = shapely.get_type_id(np.asarray(geoms))
    not_point = np.flatnonzero(types != shapely.GeometryType.POINT)
    if len(not_point):
        i = int(not_point[0])
        raise InputError(
            f"{len(not_point)} geometries are not points",
            file=file,
            feature=f"#{i}",
            field="geometry",
            expected="Point geometries (aggregate polygons with aggregate_zones)",
        )
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        gdf = gdf.to_crs(WGS84)
    frame = pd.DataFrame(
        {"lon": shapely.get_x(gdf.geometry.values), "lat": shapely.get_y(gdf.geometry.values)}
    )
    wcol = _weight_column(gdf, opts, file)
    if wcol is not None:
        frame["weight"] = gdf[wcol].to_numpy()
    sub = ReadOptions(
        lon="lon",
        lat="lat",
        weight="weight" if wcol is not None else False,
        datum=opts.datum,
        swap_xy=opts.swap_xy,
        on_bad=opts.on_bad,
        chunk_rows=opts.chunk_rows,
    )
    yield from _read_frame(frame, sub, progress, file)


def _weight_column(df: pd.DataFrame, opts: ReadOptions, file: str) -> str | None:
    if opts.weight is False:
        return None
    names = [str(c) for c in df.columns]
    lower = {n.strip().lower(): n for n in reversed(names)}
    if opts.weight is None:
        return next((lower[a] for a in WEIGHT_NAMES if a in lower), None)
    if opts.weight.strip().lower() in lower:
        return lower[opts.weight.strip().lower()]
    raise InputError(
        f"the weight (device count) column '{opts.weight}' is missing",
        file=file,
        field=opts.weight,
        expected=f"a column named '{opts.weight}'; columns found: {', '.join(names)}",
    )


def _parquet_geometry(pf: Any) -> tuple[str, CRS] | None:
    """(geometry column, its CRS) when the file is GeoParquet, else None."""
    import json

    meta = pf.schema_arrow.metadata or {}
    raw = meta.get(b"geo")
    if raw is None:
        return None
    try:
        geo = json.loads(raw)
        col = geo["primary_column"]
        crs_json = geo["columns"][col].get("crs", "OGC:CRS84")
    except (ValueError, KeyError, TypeError):
        return None
    # GeoParquet: an absent crs means OGC:CRS84 (lon/lat), null means unknown (taken as lon/lat).
    crs = CRS.from_user_input(crs_json) if crs_json is not None else CRS.from_epsg(4326)
    return col, crs


def _read_parquet(path: Path, opts: ReadOptions, progress: Progress | None) -> Iterator[PointChunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = str(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        total = pf.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(
            f"not a readable Parquet file ({exc})", file=file, expected=_FORMATS
        ) from exc
    if total == 0:
        raise InputError("the file has no points", file=file, expected="at least one row")
    geom = _parquet_geometry(pf)
    try:
        cols = resolve_columns(names, opts, file)
        geom = None
    except InputError:
        if geom is None or opts.lon is not None or opts.lat is not None:
            raise
        wcol = _weight_column(pd.DataFrame(columns=names), opts, file)
        cols = Columns(geom[0], geom[0], wcol)
    read_cols = cols.names
    to_wgs84 = None
    if geom is not None and not geom[1].equals(CRS.from_epsg(4326), ignore_axis_order=True):
        to_wgs84 = Transformer.from_crs(geom[1], WGS84, always_xy=True)
    done = 0
    batches = pf.iter_batches(batch_size=opts.chunk_rows, columns=read_cols)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(
                f"cannot read the Parquet data after row {done} ({exc})",
                file=file,
                feature=f"#{done}",
                expected="an intact Parquet file",
            ) from exc
        if geom is None:
            chunk = _emit(_arrow_columns(batch, read_cols), cols, opts, file, done, None)
        else:
            df = _geometry_frame(batch, geom[0], cols.weight, to_wgs84, file, done)
            sub = Columns("lon", "lat", "weight" if cols.weight else None)
            if opts.swap_xy:
                sub = Columns("lat", "lon", sub.weight)
            chunk = _emit(df, sub, opts, file, done, None)
        done += batch.num_rows
        yield chunk
        if progress:
            progress(done, total)


def _arrow_columns(batch: Any, names: list[str]) -> dict[str, Any]:
    """Columns of a record batch: numpy views when numeric and complete, else pandas."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    for name in names:
        col = batch.column(name)
        numeric = pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
        out[name] = col.to_numpy() if numeric and col.null_count == 0 else col.to_pandas()
    return out


def _geometry_frame(
    batch: Any,
    col: str,
    weight: str | None,
    to_wgs84: Transformer | None,
    file: str,
    first_row: int,
) -> pd.DataFrame:
    import pyarrow as pa

    arr = batch.column(col)
    if pa.types.is_struct(arr.type):  # GeoArrow "point" encoding: struct<x, y>
        x = arr.field("x").to_numpy(zero_copy_only=False).astype(float)
        y = arr.field("y").to_numpy(zero_copy_only=False).astype(float)
    else:
        geoms = shapely.from_wkb(arr.to_numpy(zero_copy_only=False), on_invalid="ignore")
        types = shapely.get_type_id(geoms)
        wrong = np.flatnonzero(types != shapely.GeometryType.POINT)
        if len(wrong):
            i = int(wrong[0])
            what = "missing or unreadable" if types[i] < 0 else f"a {geoms[i].geom_type}"
            raise InputError(
                f"geometry is {what} ({len(wrong)} such rows in this chunk)",
                file=file,
                feature=f"#{first_row + i}",
                field=col,
                expected="Point geometries",
            )
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    if to_wgs84 is not None:
        x, y = to_wgs84.transform(x, y)
    df = pd.DataFrame({"lon": x, "lat": y})
    if weight is not None:
        df["weight"] = batch.column(weight).to_pandas()
    return df


def _csv_sep(header: bytes) -> str:
    line = header.split(b"\n", 1)[0]
    counts = {s: line.count(s.encode()) for s in (",", ";", "\t", "|")}
    return max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","


def _csv_compression(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, comp in ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz")):
        if name.endswith(suffix):
            return comp
    return None


def _csv_head(path: Path, comp: str | None) -> bytes:
    import bz2
    import gzip
    import lzma

    opener: Any = {None: open, "gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[comp]
    try:
        with opener(path, "rb") as f:
            return f.read(65536)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"not a readable {comp} file ({exc})", file=str(path)) from exc


_CSV_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, ValueError, OSError)


def _read_csv(path: Path, opts: ReadOptions, progress: Progress | None) -> Iterator[PointChunk]:
    file = str(path)
    total = path.stat().st_size
    comp = _csv_compression(path)
    head = _csv_head(path, comp)
    if not head.strip():
        raise InputError("the file is empty", file=file, expected="crowd points")
    sep = _csv_sep(head)
    with open(path, "rb") as fh:
        try:
            names = list(pd.read_csv(fh, nrows=0, sep=sep, compression=comp).columns)
        except _CSV_ERRORS as exc:
            raise InputError(f"not a readable CSV file ({exc})", file=file) from exc
        cols = resolve_columns(names, opts, file)
        fh.seek(0)
        done = 0
        try:
            reader = pd.read_csv(
                fh,
                sep=sep,
                usecols=cols.names,
                chunksize=opts.chunk_rows,
                compression=comp,
            )
            for df in reader:
                if len(df) == 0:
                    continue
                # Line numbers assume one header line and no quoted line breaks.
                chunk = _emit(df, cols, opts, file, done, 2)
                done += len(df)
                yield chunk
                if progress:
                    progress(min(fh.tell(), total), total)
        except InputError:
            raise
        except _CSV_ERRORS as exc:
            raise InputError(
                f"cannot read the CSV after row {done} ({exc})",
                file=file,
                feature=f"#{done} (line {done + 2})",
                expected="one point per line, the same columns on every line",
            ) from exc
    if done == 0:
        raise InputError("the file has no points", file=file, expected="at least one row")
    if progress:
        progress(total, total)


# --- the grid ----------------------------------------------------------------------------------


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


# --- zones and catchments ----------------------------------------------------------------------


class ZoneIndex:
    """Polygons (EPSG:4326) to assign lon/lat points to, each point to at most one polygon.

    Points are tested in lon/lat, the coordinates the layers' straight edges are defined in
    (no projection per point). A point inside or on the boundary of several polygons (a shared
    edge, or overlapping zones) goes to the first of them in the given order, so every point
    counts once. Each polygon is tested only against the points in its bounding box (found
    through longitude bins), with prepared geometries: a loop over zones, never over points.
    """

    def __init__(self, geoms: np.ndarray) -> None:
        # Own copies: GEOS builds parts of a prepared geometry lazily, so two indexes used by
        # two threads (dask workers) must not share geometry objects.
        self.geoms = shapely.from_wkb(shapely.to_wkb(np.asarray(geoms, dtype=object)))
        shapely.prepare(self.geoms)
        self.bounds = shapely.bounds(self.geoms)

    def __len__(self) -> int:
        return len(self.geoms)

    def assign(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Position of each point's zone, or -1."""
        n = len(lon)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0 or len(self.geoms) == 0:
            return out
        # Group the points into narrow longitude bins with a radix sort (int16 keys sort in
        # linear time; a float argsort of two million points costs ten times more), so that
        # each zone looks only at the bins its bounding box spans.
        lo, hi = float(lon.min()), float(lon.max())
        scale = (_ZONE_BINS - 1) / (hi - lo) if hi > lo else 0.0
        bins = ((lon - lo) * scale).astype(np.int16)
        order = np.argsort(bins, kind="stable")
        starts = np.zeros(_ZONE_BINS + 1, dtype=np.int64)
        np.cumsum(np.bincount(bins, minlength=_ZONE_BINS), out=starts[1:])
        xs, ys = lon[order], lat[order]
        hit = np.full(n, -1, dtype=np.int64)
        for k, g in enumerate(self.geoms):
            xmin, ymin, xmax, ymax = self.bounds[k]
            if not (xmax >= lo and xmin <= hi):  # also skips empty zones (NaN bounds)
                continue
            # The same rounding as the points' bins: a point inside [xmin, xmax] is in a bin
            # between these two (subtracting and scaling are monotonic in floating point).
            b0 = max(int((xmin - lo) * scale), 0) if xmin > lo else 0
            b1 = min(int((xmax - lo) * scale), _ZONE_BINS - 1)
            a, e = int(starts[b0]), int(starts[b1 + 1])
            if a >= e:
                continue
            xx, yy = xs[a:e], ys[a:e]
            near = (xx >= xmin) & (xx <= xmax) & (yy >= ymin) & (yy <= ymax) & (hit[a:e] < 0)
            cand = np.flatnonzero(near) + a
            if len(cand) == 0:
                continue
            inside = shapely.intersects_xy(g, xs[cand], ys[cand])
            hit[cand[inside]] = k
        out[order] = hit
        return out

    def partial(
        self, lon: np.ndarray, lat: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float, int]:
        """(people per zone, points per zone, people outside all, points outside all)."""
        pos = self.assign(lon, lat)
        inside = pos >= 0
        m = len(self.geoms)
        people = np.bincount(pos[inside], weights=weight[inside], minlength=m)
        pts = np.bincount(pos[inside], minlength=m).astype(np.int64)
        return people, pts, float(weight[~inside].sum()), int((~inside).sum())


def prepare_zones(zones: gpd.GeoDataFrame, id_col: str, what: str = "zones") -> gpd.GeoDataFrame:
    """``zones`` in EPSG:4326 after checking the id column and the polygons."""
    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame", expected="polygons with an id column")
    if id_col not in zones.columns:
        raise InputError(
            f"{what} have no '{id_col}' column",
            field=id_col,
            expected=f"an id column; columns found: {', '.join(map(str, zones.columns))}",
        )
    if zones.crs is None:
        raise InputError(
            f"{what} declare no coordinate reference system",
            field="geometry",
            expected="a GeoDataFrame with a CRS",
        )
    z = (
        zones.to_crs(WGS84)
        if not CRS.from_user_input(zones.crs).equals(CRS.from_epsg(4326))
        else zones
    )
    types = shapely.get_type_id(np.asarray(z.geometry.values))
    polygonal = np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    bad = np.flatnonzero(~polygonal)
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"{len(bad)} of the {what} are not polygons",
            feature=str(z[id_col].iloc[i]),
            field="geometry",
            expected="Polygon or MultiPolygon geometries",
        )
    return z


def _zone_sums(
    chunks: Iterable[PointChunk], index: ZoneIndex, tally: _Tally
) -> tuple[np.ndarray, np.ndarray, float, int]:
    people = np.zeros(len(index))
    pts = np.zeros(len(index), dtype=np.int64)
    out_people, out_points = 0.0, 0
    for chunk in chunks:
        tally.add(chunk)
        p, c, op, oc = index.partial(chunk.lon, chunk.lat, chunk.weight)
        people += p
        pts += c
        out_people += op
        out_points += oc
    return people, pts, out_people, out_points


def zones_frame(
    zones: gpd.GeoDataFrame,
    people: np.ndarray,
    points: np.ndarray,
    observed_at: Any = None,
    tz: str = DEFAULT_TZ,
) -> gpd.GeoDataFrame:
    """``zones`` with its ``people`` and ``points`` columns set (observed_at if given)."""
    out = zones.copy()
    out["people"] = np.asarray(people, dtype=float)
    out["points"] = np.asarray(points, dtype=np.int64)
    if observed_at is not None:
        out["observed_at"] = _times(_observed(observed_at, tz), len(out), tz, index=out.index)
    return out


def aggregate_zones(
    points: PointsInput,
    zones: gpd.GeoDataFrame,
    *,
    id_col: str = "id",
    observed_at: Any = None,
    tz: str = DEFAULT_TZ,
    progress: Progress | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """People per given polygon.

    Every point counts at most once: a point on a shared boundary, or in overlapping zones,
    goes to the first zone (in ``zones`` order) that contains or touches it (see
    :class:`ZoneIndex`). Points outside every zone are counted in ``attrs["crowd"]``.

    Parameters
    ----------
    points : as for :func:`aggregate_grid`.
    zones : polygons (any CRS) with an id column.
    id_col : the id column of ``zones``.
    observed_at : if given, set as the ``observed_at`` column (to make a crowd_zones layer).
    progress, **options : as for :func:`aggregate_grid`.

    Returns
    -------
    ``zones`` in EPSG:4326, same rows and order, with ``people`` (float, replaced if present)
    and ``points`` (int) columns. ``attrs["crowd"]``: rows_read, points_used, skipped_rows,
    people, people_outside, points_outside.
    """
    z = prepare_zones(zones, id_col)
    index = ZoneIndex(z.geometry.values)
    tally = _Tally()
    people, pts, out_people, out_points = _zone_sums(
        read_points(points, progress=progress, **options), index, tally
    )
    out = zones_frame(z, people, pts, observed_at, tz)
    out.attrs["crowd"] = tally.stats(people_outside=out_people, points_outside=out_points)
    return out


def grid_points(grid: gpd.GeoDataFrame, weight: str = "people") -> PointChunk:
    """The cells of a grid (or any crowd zones) as weighted points at their centres.

    Centroids are taken in lon/lat: for cells of a few hundred metres they are within
    millimetres of the metric centroid.
    """
    if weight not in grid.columns:
        raise InputError(
            f"the grid has no '{weight}' column",
            field=weight,
            expected="a crowd_zones layer (people per polygon)",
        )
    g = grid.to_crs(WGS84) if grid.crs is not None else grid
    c = shapely.centroid(np.asarray(g.geometry.values))
    w = pd.to_numeric(g[weight], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0) | shapely.is_empty(c))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"{len(bad)} cells have no usable {weight} value or geometry",
            feature=f"#{i}",
            field=weight,
            expected="a number of people >= 0 and a polygon",
        )
    return PointChunk(shapely.get_x(c), shapely.get_y(c), w, 0, len(g), 0)


def assign_to_catchments(
    points_or_grid: PointsInput,
    catchments: gpd.GeoDataFrame,
    *,
    id_col: str = "site_id",
    progress: Progress | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """People per catchment: the load of each site.

    Parameters
    ----------
    points_or_grid : crowd points (anything :func:`read_points` reads), or a grid / crowd
        zones GeoDataFrame of polygons with a ``people`` column, whose cells are assigned by
        their centre (a cell straddling two catchments goes wholly to the one holding its
        centre: at most half a cell width of error along each boundary).
    catchments : polygons with ``id_col`` (from :mod:`geo.catchment`).
    id_col : the site id column.
    progress, **options : as for :func:`aggregate_grid`.

    Returns
    -------
    ``catchments`` in EPSG:4326 with ``people`` and ``points`` columns; shared boundaries and
    overlaps as in :func:`aggregate_zones`.
    """
    source: PointsInput = points_or_grid
    if isinstance(points_or_grid, gpd.GeoDataFrame) and len(points_or_grid):
        types = shapely.get_type_id(np.asarray(points_or_grid.geometry.values))
        if np.all(
            np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
        ):
            source = [grid_points(points_or_grid)]
    return aggregate_zones(source, catchments, id_col=id_col, progress=progress, **options)


# --- output, CLI -------------------------------------------------------------------------------


def write_layer(gdf: gpd.GeoDataFrame, out: str | os.PathLike, layer: str = "crowd_zones") -> Path:
    """Write ``gdf`` as GeoPackage (.gpkg, layer ``layer``, times in UTC) or GeoJSON
    (.geojson/.json, RFC 7946), chosen by the extension, with :mod:`geo.io`'s writers."""
    from geo import io

    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        io.write_gpkg({layer: gdf}, path)
    elif suffix in (".geojson", ".json"):
        io.write_geojson(gdf, path)
    else:
        raise InputError(
            f"unknown output type '{path.suffix}'", file=str(path), expected=".gpkg or .geojson"
        )
    return path


def _progress_bar(label: str) -> tuple[Progress, Callable[[], None]]:
    """A stderr progress bar (tqdm if installed) and a function that closes it."""
    import sys

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional

        def plain(done: int, total: int) -> None:
            print(f"\r{label}: {100 * done / max(total, 1):5.1f} %", end="", file=sys.stderr)

        return plain, lambda: print(file=sys.stderr)

    bar = tqdm(
        total=100,
        desc=label,
        unit="%",
        file=sys.stderr,
        leave=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
    )

    def update(done: int, total: int) -> None:
        pct = 100.0 * done / max(total, 1)
        bar.update(max(pct - bar.n, 0.0))

    return update, bar.close


def cli_crowd_aggregate(
    input: str | os.PathLike,  # noqa: A002 - the CLI's own word
    cell_m: float,
    out: str | os.PathLike,
    scheduler: str | None = None,
    *,
    show_progress: bool = True,
    observed_at: Any = None,
    **options: Any,
) -> int:
    """``cityops crowd aggregate INPUT --cell 100 --out grid.gpkg [--scheduler ADDRESS]``.

    Parameters
    ----------
    input : a GeoParquet/Parquet or CSV file of points.
    cell_m : cell size in metres.
    out : output .gpkg or .geojson.
    scheduler : ``None`` for the single-machine path; ``"local"`` for a dask LocalCluster;
        else the address of a running dask scheduler (``tcp://host:8786``).
    show_progress : draw a progress bar on stderr.
    observed_at, **options : as for :func:`aggregate_grid`.

    Returns
    -------
    0 on success (bad input raises InputError, which the CLI turns into exit status 1).
    """
    import sys
    import time

    t0 = time.perf_counter()
    progress, close = _progress_bar("reading") if show_progress else (None, lambda: None)
    try:
        if scheduler:
            from geo import crowd_dask

            grid = crowd_dask.aggregate_grid_dask(
                input,
                cell_m,
                scheduler=scheduler,
                observed_at=observed_at,
                progress=progress,
                **options,
            )
        else:
            grid = aggregate_grid(
                input, cell_m, observed_at=observed_at, progress=progress, **options
            )
    finally:
        close()
    path = write_layer(grid, out)
    s = grid.attrs.get("crowd", {})
    print(
        f"wrote {path}: {len(grid)} cells of {check_cell(cell_m):g} m, "
        f"{s.get('people', float(grid['people'].sum())):,.0f} people from "
        f"{s.get('points_used', 0):,} points"
        + (f" ({s['skipped_rows']:,} bad rows skipped)" if s.get("skipped_rows") else "")
        + f" in {time.perf_counter() - t0:.1f} s",
        file=sys.stdout,
    )
    return 0


# --- synthetic data ----------------------------------------------------------------------------

#: Centre of the synthetic city (People's Square, Shanghai, approximately).
SYNTH_CENTRE = (121.475, 31.232)


def synthetic_points(
    n: int,
    *,
    seed: int = 0,
    centre: tuple[float, float] = SYNTH_CENTRE,
    n_clusters: int = 400,
    background: float = 0.12,
    extent_m: float = 40_000.0,
) -> pd.DataFrame:
    """``n`` made-up crowd points clustered like a city (not real data).

    A mixture of ``n_clusters`` Gaussian clusters whose sizes follow a heavy-tailed
    (log-normal) law and whose spreads range from ~100 m (a station, a mall) to a few km (a
    district), centred on a broader Gaussian around ``centre``; plus a fraction ``background``
    spread uniformly over a square of ``extent_m`` half-width. Vectorised and seeded: about a
    second per 5 million points.

    Returns
    -------
    DataFrame with float64 ``lon``, ``lat`` (WGS-84) and int32 ``devices`` (1-10, mostly 1).
    """
    rng = np.random.default_rng(seed)
    crs = local_crs(shapely.Point(*centre))
    cx, cy = Transformer.from_crs(WGS84, crs, always_xy=True).transform(*centre)
    n_bg = int(round(n * background))
    n_cl = n - n_bg
    centres = rng.normal(0.0, extent_m / 4, (n_clusters, 2))
    sizes = rng.lognormal(0.0, 1.3, n_clusters)
    spread = np.exp(rng.uniform(np.log(100.0), np.log(3000.0), n_clusters))
    counts = rng.multinomial(n_cl, sizes / sizes.sum())
    which = np.repeat(np.arange(n_clusters), counts)
    x = np.empty(n)
    y = np.empty(n)
    x[:n_cl] = centres[which, 0] + rng.standard_normal(n_cl) * spread[which]
    y[:n_cl] = centres[which, 1] + rng.standard_normal(n_cl) * spread[which]
    x[n_cl:] = rng.uniform(-extent_m, extent_m, n_bg)
    y[n_cl:] = rng.uniform(-extent_m, extent_m, n_bg)
    # Shuffle so that chunks and partitions are not sorted by cluster.
    perm = rng.permutation(n)
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(
        x[perm] + cx, y[perm] + cy
    )
    devices = np.minimum(rng.geometric(0.7, n), 10).astype(np.int32)
    return pd.DataFrame({"lon": np.asarray(lon), "lat": np.asarray(lat), "devices": devices})


def write_synthetic_parquet(
    path: str | os.PathLike,
    n: int,
    *,
    seed: int = 0,
    chunk_rows: int = 5_000_000,
    row_group_rows: int = 1_000_000,
) -> Path:
    """Write ``n`` :func:`synthetic_points` to a Parquet file, ``chunk_rows`` at a time.

    Each chunk is drawn with seed ``(seed, chunk number)`` so the memory used stays that of one
    chunk; the clusters differ between chunks (the file is a sum of cities on one centre).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    writer: Any = None
    try:
        for k, start in enumerate(range(0, n, chunk_rows)):
            m = min(chunk_rows, n - start)
            df = synthetic_points(m, seed=seed * 1_000_003 + k)
            table = pa.Table.from_pandas(df, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group_rows)
    finally:
        if writer is not None:
            writer.close()
    return path
