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

Progress
--------
Every reader and aggregation takes ``progress(done, total)``, called after each chunk (rows for
Parquet and frames, bytes for CSV) or, on a cluster, each partition: ``done / total`` is the
fraction done. The library draws nothing: the terminal's progress bar is ``geo.cli``'s, the
app's is the crowd panel's.

Layout: :mod:`~geo.crowd.clean` (chunks, columns, row checks), :mod:`~.read` (the readers),
:mod:`~.grid` (:func:`aggregate_grid`), :mod:`~.zones` (:func:`aggregate_zones`,
:func:`assign_to_catchments`) and :mod:`~.files` (writing a layer, synthetic points).
"""

from __future__ import annotations

from geo._settable import forward_settings
from geo.constants import WGS84
from geo.crowd import clean, grid, zones
from geo.crowd.clean import (
    DEFAULT_CHUNK_ROWS,
    LAT_NAMES,
    LON_NAMES,
    WEIGHT_NAMES,
    Columns,
    Datum,
    OnBad,
    PointChunk,
    ReadOptions,
    bad_rows_error,
    clean_chunk,
    read_options,
    resolve_columns,
)
from geo.crowd.files import SYNTH_CENTRE, synthetic_points, write_layer, write_synthetic_parquet
from geo.crowd.grid import (
    CRS_SAMPLE,
    DEFAULT_TZ,
    MIN_CELL_M,
    GridSums,
    aggregate_grid,
    cell_ids,
    check_cell,
    choose_crs,
    grid_frame,
    grid_partial,
    reduce_keys,
    split_keys,
    to_metric,
)
from geo.crowd.read import CSV_SUFFIXES, PARQUET_SUFFIXES, PointsInput, Progress, read_points
from geo.crowd.zones import (
    ZoneIndex,
    aggregate_zones,
    assign_to_catchments,
    grid_points,
    is_polygon_layer,
    prepare_zones,
    zones_frame,
)

__all__ = [
    "CRS_SAMPLE",
    "CSV_SUFFIXES",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_TZ",
    "LAT_NAMES",
    "LON_NAMES",
    "MIN_CELL_M",
    "PARQUET_SUFFIXES",
    "SYNTH_CENTRE",
    "WEIGHT_NAMES",
    "WGS84",
    "Columns",
    "Datum",
    "GridSums",
    "OnBad",
    "PointChunk",
    "PointsInput",
    "Progress",
    "ReadOptions",
    "ZoneIndex",
    "aggregate_grid",
    "aggregate_zones",
    "assign_to_catchments",
    "bad_rows_error",
    "cell_ids",
    "check_cell",
    "choose_crs",
    "clean_chunk",
    "grid_frame",
    "grid_partial",
    "grid_points",
    "is_polygon_layer",
    "prepare_zones",
    "read_options",
    "read_points",
    "reduce_keys",
    "resolve_columns",
    "split_keys",
    "synthetic_points",
    "to_metric",
    "write_layer",
    "write_synthetic_parquet",
    "zones_frame",
]

# The constants the code reads at run time, settable here as before the split.
forward_settings(
    __name__,
    {
        "CRS_SAMPLE": grid,
        "_DENSE_MAX_CELLS": grid,
        "_REDUCE_AT": grid,
        "_MAX_PROBLEMS": clean,
        "_ZONE_BINS": zones,
    },
)
