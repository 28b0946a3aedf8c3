"""Reading crowd points lazily, chunk by chunk: GeoParquet/Parquet by record batches, CSV in
chunks, frames in memory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.constants import WGS84
from geo.crowd.clean import (
    WEIGHT_NAMES,
    Columns,
    PointChunk,
    ReadOptions,
    _nrows,
    bad_rows_error,
    clean_chunk,
    read_options,
    resolve_columns,
)
from geo.errors import InputError

__all__ = [
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "PointsInput",
    "Progress",
    "read_points",
]

#: ``progress(done, total)``: called after each chunk (rows, or bytes for CSV) or partition.
Progress: TypeAlias = Callable[[int, int], None]
#: What the aggregations read: a file path, a DataFrame with lon/lat, a point GeoDataFrame, or
#: PointChunks.
PointsInput: TypeAlias = (
    str | os.PathLike[str] | pd.DataFrame | gpd.GeoDataFrame | Iterable[PointChunk]
)


PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.xz")
_FORMATS = "GeoParquet/Parquet (.parquet, .geoparquet) or CSV (.csv, .csv.gz, .tsv)"


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
