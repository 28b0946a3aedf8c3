"""The crowd aggregations of :mod:`geo.crowd`, partitioned over a dask.distributed cluster.

Optional: needs ``dask[distributed]`` and ``dask-geopandas`` (the ``scale`` extra). Import this
module only when a cluster is wanted; :mod:`geo.crowd` and the app start without dask.

How the work is split
---------------------
- Parquet / GeoParquet files: one task per group of row groups (about ``chunk_rows`` rows),
  read by the worker itself, so the file must be reachable from every worker under the same
  path (a shared or object-store mount on a real cluster).
- CSV files: one task per byte range of ``blocksize`` bytes, cut at line ends (compressed CSV
  cannot be cut: one task).
- DataFrames: ``dask.dataframe.from_pandas``; point GeoDataFrames:
  ``dask_geopandas.from_geopandas``; an existing dask (geo)DataFrame is used as partitioned.

Each task runs the same per-chunk kernels as the single-machine path (cleaning, grid keys,
zone assignment) and sends back only per-cell or per-zone sums; the client adds them up in
partition order. The cells, ids and counts are therefore those of :mod:`geo.crowd`, exactly so
for integer device counts (float weights may differ in the last bits, as their sums are taken
in another order). Bad rows are reported with their row number in the whole input.

Clusters
--------
``scheduler=None`` or ``"local"`` starts a :class:`distributed.LocalCluster` for the call and
closes it afterwards. Its default, for the 2-core machines this project targets, is one worker
with two threads inside the calling process (``processes=False``): no pickling of inputs, no
``if __name__ == "__main__"`` guard needed, works inside Streamlit; its dashboard listens on a
random local port. Pass ``cluster={"processes": True, "n_workers": 2, "threads_per_worker": 1}``
for separate worker processes (then the calling script needs the main guard). A string such
as ``"tcp://10.0.0.5:8786"`` connects to a running scheduler; a :class:`distributed.Client`
is used as is (and not closed).

On 2 cores neither kind of LocalCluster is faster than :mod:`geo.crowd` (see
``benchmarks/bench_crowd.py``): use this module for more cores or machines, or for data that
already lives on a cluster's storage.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo import crowd
from geo.constants import WGS84
from geo.crowd import clean, read
from geo.errors import InputError, Problem

__all__ = [
    "DEFAULT_BLOCKSIZE",
    "DEFAULT_PARTITION_ROWS",
    "aggregate_grid_dask",
    "aggregate_zones_dask",
    "assign_to_catchments_dask",
    "dask_client",
]

DEFAULT_BLOCKSIZE = 64 * 1024 * 1024  # bytes of CSV per task
# Rows per Parquet/frame task: smaller than the single path's chunks, so that a few workers get
# several tasks each and finish together.
DEFAULT_PARTITION_ROWS = 1_000_000


def _require() -> None:
    """Fail early, in words, when the optional dask packages are not installed."""
    import importlib.util

    missing = [
        m for m in ("dask", "distributed", "dask_geopandas") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise InputError(
            f"the distributed path needs {', '.join(missing)}, which is not installed",
            field="scheduler",
            expected="pip install 'cityops[scale]', or no scheduler (the single-machine path)",
        )


# --- clusters ----------------------------------------------------------------------------------


@contextlib.contextmanager
def dask_client(
    scheduler: Any = None,
    *,
    n_workers: int = 1,
    threads_per_worker: int | None = 2,
    processes: bool = False,
    memory_limit: str | float | None = "auto",
) -> Iterator[Any]:
    """A dask.distributed Client for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : ``None`` / ``"local"``: a new LocalCluster, closed on exit; an address string:
        connect to that scheduler; a ``Client``: used as is.
    n_workers, threads_per_worker, processes, memory_limit : the LocalCluster's settings.
    """
    _require()
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is None or str(scheduler).lower() == "local":
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                memory_limit=memory_limit,
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(str(scheduler), timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the dask scheduler ({exc})",
            field="scheduler",
            expected="the address of a running scheduler, e.g. tcp://host:8786, or 'local'",
        ) from exc
    try:
        yield client
    finally:
        client.close()


# --- partitions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """How a worker reads one partition: ``kind`` and what it needs."""

    kind: str  # "parquet", "csv", "frame"
    file: str
    first_row: int | None = None  # known for Parquet and frames; CSV counts on the client
    args: tuple = ()


@dataclass
class _PartResult:
    rows: int = 0
    used: int = 0
    skipped: int = 0
    people: float = 0.0
    bad: Any = None  # clean._Bad with rows relative to the partition, when on_bad="raise"
    error: str | None = None
    partial: Any = None


def _read_part(part: _Part, data: Any, opts: crowd.ReadOptions) -> tuple[crowd.PointChunk, Any]:
    """Read and clean one partition (on a worker); bad rows are left for the client to name."""
    if part.kind == "parquet":
        import pyarrow.parquet as pq

        row_groups, cols, geom_col, crs_wkt = part.args
        table = pq.ParquetFile(part.file).read_row_groups(row_groups, columns=cols.names)
        if geom_col is None:
            df, use = read._arrow_columns(table, cols.names), cols
        else:
            tr = None
            if crs_wkt is not None:
                from pyproj import Transformer

                tr = Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)
            batch = table.combine_chunks().to_batches()[0] if table.num_rows else table
            df = read._geometry_frame(batch, geom_col, cols.weight, tr, part.file, 0)
            use = _lonlat_columns(cols.weight, opts)
    elif part.kind == "csv":
        offset, length, names, sep, cols = part.args
        df, use = _read_csv_block(part.file, offset, length, names, sep, cols), cols
    else:
        df, use = data, part.args[0]
    lon, lat, w, _, bad = crowd.clean_chunk(df, use, opts)
    return crowd.PointChunk(lon, lat, w, 0, clean._nrows(df), bad.count), bad


def _read_csv_block(
    file: str, offset: int, length: int, names: list[str], sep: str, cols: crowd.Columns
) -> pd.DataFrame:
    """The whole lines that start in bytes ``[offset, offset + length)`` (after the header)."""
    comp = read._csv_compression(Path(file))
    if comp is not None:  # one block: the whole file
        return pd.read_csv(file, sep=sep, usecols=cols.names, compression=comp)
    with open(file, "rb") as fh:
        # A block owns the lines that start inside it. Reading from one byte before its start
        # and dropping everything up to the first line break drops the line cut by the start
        # (the previous block's), or just that byte when a line starts exactly there. At
        # offset 0 the dropped line is the header.
        start = max(offset - 1, 0)
        fh.seek(start)
        data = fh.read(length + (offset - start))
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
        if data and not data.endswith(b"\n"):
            rest = bytearray()
            while True:
                more = fh.read(1 << 16)
                if not more:
                    break
                nl = more.find(b"\n")
                if nl >= 0:
                    rest += more[: nl + 1]
                    break
                rest += more
            data += bytes(rest)
    if not data.strip():
        return pd.DataFrame({c: pd.Series(dtype=float) for c in dict.fromkeys(cols.names)})
    return pd.read_csv(
        io.BytesIO(data),
        sep=sep,
        header=None,
        names=names,
        usecols=cols.names,
    )


def _run(part: _Part, data: Any, opts: crowd.ReadOptions, op: str, payload: Any) -> _PartResult:
    """One task: read a partition, clean it, reduce it to sums."""
    res = _PartResult()
    try:
        chunk, bad = _read_part(part, data, opts)
    except InputError as exc:
        res.error = str(exc)
        return res
    except read._CSV_ERRORS as exc:
        res.error = f"{part.file}: cannot read this part of the file ({exc})"
        return res
    res.rows, res.used, res.skipped = chunk.rows, len(chunk), chunk.skipped
    res.people = float(chunk.weight.sum())
    if bad.count and opts.on_bad == "raise":
        res.bad = bad
        return res
    if op == "grid":
        crs_wkt, cell = payload
        tr = crowd.to_metric(CRS.from_wkt(crs_wkt))
        try:
            res.partial = crowd.grid_partial(chunk.lon, chunk.lat, chunk.weight, tr, cell)
        except InputError as exc:
            res.error = str(exc)
    else:
        index = crowd.ZoneIndex(payload)
        res.partial = index.partial(chunk.lon, chunk.lat, chunk.weight)
    return res


def _sample(source: Any, opts: crowd.ReadOptions, crs: Any) -> str:
    """WKT of the grid CRS chosen from the first points (run where the file is)."""
    kw = {k: getattr(opts, k) for k in crowd.ReadOptions.__dataclass_fields__}
    kw["chunk_rows"] = crowd.CRS_SAMPLE
    return crowd.choose_crs(crowd.read_points(source, **kw), crs).to_wkt()


def _partitions(source: Any, opts: crowd.ReadOptions, blocksize: int) -> list[tuple[_Part, Any]]:
    """(partition description, delayed data or None) for every partition of ``source``."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        read._check_file(path)
        kind = read._source_kind(path)
        return (
            _parquet_parts(path, opts) if kind == "parquet" else _csv_parts(path, opts, blocksize)
        )
    frame = _as_dask_frame(source, opts)
    if frame is None:
        raise InputError(
            f"cannot read crowd points from {type(source).__name__}",
            expected="a file path, a DataFrame, a GeoDataFrame or a dask DataFrame",
        )
    ddf, cols, file = frame
    parts = ddf.to_delayed()
    return [(_Part("frame", file, None, (cols,)), p) for p in parts]


def _as_dask_frame(source: Any, opts: crowd.ReadOptions) -> tuple[Any, crowd.Columns, str] | None:
    import dask.dataframe as dd

    nparts = None
    if isinstance(source, gpd.GeoDataFrame):
        # Reuse the single path's checks (CRS, point types, weight column) on the whole frame,
        # then partition its lon/lat/weight columns with dask-geopandas.
        import dask_geopandas

        if len(source) == 0:
            raise InputError("no points", file="<layer>", expected="at least one point")
        dgdf = dask_geopandas.from_geopandas(
            source, npartitions=max(1, -(-len(source) // opts.chunk_rows))
        )
        wcol = read._weight_column(source, opts, "<layer>")
        meta_crs = source.crs
        ddf = dgdf.map_partitions(
            _points_frame, wcol, meta_crs, meta=_points_meta(wcol is not None)
        )
        return ddf, _lonlat_columns(wcol, opts), "<layer>"
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise InputError("no points", file="<frame>", expected="at least one point")
        nparts = max(1, -(-len(source) // opts.chunk_rows))
        cols = crowd.resolve_columns(source.columns, opts, "<frame>")
        ddf = dd.from_pandas(source[cols.names], npartitions=nparts, sort=False)
        return ddf, cols, "<frame>"
    if isinstance(source, dd.DataFrame):
        file = "<dask frame>"
        if "geometry" in source.columns and hasattr(source, "crs"):
            wcol = read._weight_column(source._meta, opts, file)
            meta = _points_meta(wcol is not None)
            ddf = source.map_partitions(_points_frame, wcol, source.crs, meta=meta)
            return ddf, _lonlat_columns(wcol, opts), file
        cols = crowd.resolve_columns(source.columns, opts, file)
        return source[cols.names], cols, file
    return None


def _lonlat_columns(wcol: str | None, opts: crowd.ReadOptions) -> crowd.Columns:
    cols = crowd.Columns("lon", "lat", "weight" if wcol else None)
    return crowd.Columns("lat", "lon", cols.weight) if opts.swap_xy else cols


def _points_meta(weight: bool) -> pd.DataFrame:
    meta = {"lon": pd.Series(dtype=float), "lat": pd.Series(dtype=float)}
    if weight:
        meta["weight"] = pd.Series(dtype=float)
    return pd.DataFrame(meta)


def _points_frame(gdf: gpd.GeoDataFrame, wcol: str | None, crs: Any) -> pd.DataFrame:
    """lon/lat(/weight) of a partition of point geometries, in WGS-84."""
    if gdf.crs is None and crs is not None:
        gdf = gdf.set_crs(crs)
    if gdf.crs is None:
        raise InputError(
            "the points declare no coordinate reference system",
            field="geometry",
            expected="a GeoDataFrame with a CRS (EPSG:4326 for lon/lat)",
        )
    geoms = np.asarray(gdf.geometry.values)
    bad = np.flatnonzero(shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    if len(bad):
        raise InputError(
            f"{len(bad)} geometries are not points",
            field="geometry",
            expected="Point geometries",
        )
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        gdf = gdf.to_crs(WGS84)
        geoms = np.asarray(gdf.geometry.values)
    out = pd.DataFrame({"lon": shapely.get_x(geoms), "lat": shapely.get_y(geoms)})
    if wcol is not None:
        out["weight"] = gdf[wcol].to_numpy()
    return out


def _parquet_parts(path: Path, opts: crowd.ReadOptions) -> list[tuple[_Part, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = str(path)
    try:
        pf = pq.ParquetFile(path)
        meta = pf.metadata
        names = pf.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(
            f"not a readable Parquet file ({exc})", file=file, expected=read._FORMATS
        ) from exc
    if meta.num_rows == 0:
        raise InputError("the file has no points", file=file, expected="at least one row")
    geom = read._parquet_geometry(pf)
    try:
        cols = crowd.resolve_columns(names, opts, file)
        geom_col, crs_wkt = None, None
    except InputError:
        if geom is None or opts.lon is not None or opts.lat is not None:
            raise
        wcol = read._weight_column(pd.DataFrame(columns=names), opts, file)
        cols = crowd.Columns(geom[0], geom[0], wcol)
        geom_col = geom[0]
        lonlat = geom[1].equals(CRS.from_epsg(4326), ignore_axis_order=True)
        crs_wkt = None if lonlat else geom[1].to_wkt()
    parts: list[tuple[_Part, Any]] = []
    group: list[int] = []
    rows = first = 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if group and rows + n > opts.chunk_rows:
            parts.append((_Part("parquet", file, first, (group, cols, geom_col, crs_wkt)), None))
            first += rows
            group, rows = [], 0
        group.append(i)
        rows += n
    if group:
        parts.append((_Part("parquet", file, first, (group, cols, geom_col, crs_wkt)), None))
    return parts


def _csv_parts(path: Path, opts: crowd.ReadOptions, blocksize: int) -> list[tuple[_Part, Any]]:
    file = str(path)
    comp = read._csv_compression(path)
    head = read._csv_head(path, comp)
    if not head.strip():
        raise InputError("the file is empty", file=file, expected="crowd points")
    sep = read._csv_sep(head)
    try:
        names = list(pd.read_csv(io.BytesIO(head), nrows=0, sep=sep).columns)
    except read._CSV_ERRORS as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=file) from exc
    cols = crowd.resolve_columns(names, opts, file)
    size = path.stat().st_size
    if comp is not None:
        return [(_Part("csv", file, None, (0, size, names, sep, cols)), None)]
    return [
        (_Part("csv", file, None, (off, min(blocksize, size - off), names, sep, cols)), None)
        for off in range(0, size, blocksize)
    ]


# --- running -----------------------------------------------------------------------------------


def _compute(
    client: Any,
    parts: list[tuple[_Part, Any]],
    opts: crowd.ReadOptions,
    op: str,
    payload: Any,
    progress: crowd.Progress | None,
) -> list[_PartResult]:
    """Run one task per partition; results in partition order, bad rows raised with their
    row number in the whole input."""
    from dask import delayed
    from distributed import as_completed

    if op == "zones":
        [payload] = client.scatter([payload], broadcast=True)
    tasks = [delayed(_run, pure=False)(part, data, opts, op, payload) for part, data in parts]
    futures = client.compute(tasks)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[_PartResult | None] = [None] * len(futures)
    for done, fut in enumerate(as_completed(futures), start=1):
        results[index[fut.key]] = fut.result()
        if progress:
            progress(done, len(futures))
    out = [r for r in results if r is not None]
    row = 0
    for (part, _), res in zip(parts, out):
        first = part.first_row if part.first_row is not None else row
        if res.error is not None:
            raise InputError(
                problems=[Problem(f"{res.error} (in rows from {first} on)", part.file)]
            )
        if res.bad is not None:
            line = 2 if part.kind == "csv" else None
            raise crowd.bad_rows_error(res.bad, part.file, first, line)
        row = first + res.rows
    return out


def _tally(results: list[_PartResult]) -> clean._Tally:
    t = clean._Tally()
    for r in results:
        t.rows += r.rows
        t.used += r.used
        t.skipped += r.skipped
        t.people += r.people
    return t


def _opts(options: dict[str, Any]) -> crowd.ReadOptions:
    if "chunk_rows" not in options:
        options = {**options, "chunk_rows": DEFAULT_PARTITION_ROWS}
    return crowd.read_options(**options)


def aggregate_grid_dask(
    points: Any,
    cell_m: float = 100.0,
    crs: Any = None,
    *,
    scheduler: Any = None,
    observed_at: Any = None,
    source: str | None = "telecom",
    tz: str = crowd.DEFAULT_TZ,
    progress: crowd.Progress | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    cluster: dict[str, Any] | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """:func:`geo.crowd.aggregate_grid` on a dask cluster: same cells, ids and sums.

    Parameters
    ----------
    points : a Parquet/GeoParquet or CSV path (reachable by the workers), a DataFrame, a point
        GeoDataFrame, or a dask (geo)DataFrame.
    scheduler : ``None``/"local" (a LocalCluster for this call), an address, or a Client.
    progress : ``progress(done, total)`` in partitions.
    blocksize : bytes of CSV per task.
    cluster : LocalCluster settings for :func:`dask_client` (n_workers, threads_per_worker,
        processes, memory_limit).
    **options : :class:`geo.crowd.ReadOptions` fields; ``chunk_rows`` sets the rows per
        Parquet/frame partition.

    Returns
    -------
    The same layer as :func:`geo.crowd.aggregate_grid` (``attrs["crowd"]`` adds partitions).
    """
    _require()
    cell = crowd.check_cell(cell_m)
    opts = _opts(options)
    parts = _partitions(points, opts, blocksize)
    with dask_client(scheduler, **(cluster or {})) as client:
        if crs is None and isinstance(points, str | os.PathLike):
            wkt = client.submit(_sample, str(points), opts, None, pure=False).result()
        elif crs is None and isinstance(points, pd.DataFrame):
            wkt = _sample(points, opts, None)
        elif crs is None:  # a dask frame: the first partition holds the first points
            import dask.dataframe as dd

            head = points.head(crowd.CRS_SAMPLE, npartitions=-1)
            if isinstance(points, dd.DataFrame) and "geometry" in points.columns:
                head = gpd.GeoDataFrame(head, geometry="geometry", crs=points.crs)
            wkt = _sample(head, opts, None)
        else:
            wkt = crowd.choose_crs([], crs).to_wkt()
        metric = CRS.from_wkt(wkt)
        results = _compute(client, parts, opts, "grid", (wkt, cell), progress)
    sums = crowd.GridSums()
    for r in results:
        if r.partial is not None:
            sums.add(*r.partial)
    out = crowd.grid_frame(
        *sums.result(), cell, metric, observed_at=observed_at, source=source, tz=tz
    )
    tally = _tally(results)
    out.attrs["crowd"] = tally.stats(
        cells=len(out), crs=metric.to_string(), cell_m=cell, partitions=len(parts)
    )
    return out


def aggregate_zones_dask(
    points: Any,
    zones: gpd.GeoDataFrame,
    *,
    id_col: str = "id",
    scheduler: Any = None,
    observed_at: Any = None,
    tz: str = crowd.DEFAULT_TZ,
    progress: crowd.Progress | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    cluster: dict[str, Any] | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """:func:`geo.crowd.aggregate_zones` on a dask cluster (same arguments as
    :func:`aggregate_grid_dask` for the points and the cluster)."""
    _require()
    z = crowd.prepare_zones(zones, id_col)
    opts = _opts(options)
    parts = _partitions(points, opts, blocksize)
    geoms = np.asarray(z.geometry.values, dtype=object)
    with dask_client(scheduler, **(cluster or {})) as client:
        results = _compute(client, parts, opts, "zones", geoms, progress)
    people = np.zeros(len(z))
    pts = np.zeros(len(z), dtype=np.int64)
    out_people, out_points = 0.0, 0
    for r in results:
        if r.partial is None:
            continue
        p, c, op, oc = r.partial
        people += p
        pts += c
        out_people += op
        out_points += oc
    out = crowd.zones_frame(z, people, pts, observed_at, tz)
    out.attrs["crowd"] = _tally(results).stats(
        people_outside=out_people, points_outside=out_points, partitions=len(parts)
    )
    return out


def assign_to_catchments_dask(
    points_or_grid: Any,
    catchments: gpd.GeoDataFrame,
    *,
    id_col: str = "site_id",
    **kw: Any,
) -> gpd.GeoDataFrame:
    """:func:`geo.crowd.assign_to_catchments` on a dask cluster (grids of polygons are small
    enough for one machine and go to the single-machine path)."""
    if crowd.is_polygon_layer(points_or_grid):
        kw = {k: v for k, v in kw.items() if k not in ("scheduler", "blocksize", "cluster")}
        return crowd.assign_to_catchments(points_or_grid, catchments, id_col=id_col, **kw)
    return aggregate_zones_dask(points_or_grid, catchments, id_col=id_col, **kw)
