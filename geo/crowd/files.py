"""Writing a crowd layer to a file, and made-up crowd points for tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.constants import WGS84
from geo.crs import local_crs
from geo.errors import InputError

__all__ = ["SYNTH_CENTRE", "synthetic_points", "write_layer", "write_synthetic_parquet"]


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
