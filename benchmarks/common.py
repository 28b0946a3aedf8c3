"""Shared helpers for the benchmarks: synthetic but city-like inputs, generated fast with numpy.

Nothing here is real data: the road network is a perturbed grid with arterials and one-way streets,
placed near Shanghai (UTM zone 51N) only so that the local metric CRS is the demo's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

UTM51N = "EPSG:32651"
# South-west corner of the synthetic city, in UTM 51N metres (about 31.09 N, 121.49 E).
ORIGIN = (380_000.0, 3_440_000.0)


def _to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = Transformer.from_crs(UTM51N, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def synthetic_city(
    n_edges: int = 250_000,
    *,
    spacing_m: float = 100.0,
    arterial_every: int = 10,
    drop: float = 0.06,
    oneway: float = 0.12,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """A roads layer (EPSG:4326) shaped like a city grid, with about ``n_edges`` street segments.

    Intersections sit on a jittered square grid. Every ``arterial_every``-th row and column is a
    ``primary`` road drawn as long lines through many intersections (so the network builder must
    split lines at shared vertices); the other blocks are ``residential`` segments with a bent
    middle vertex, a fraction ``drop`` of them removed and a fraction ``oneway`` one-way.
    """
    rng = np.random.default_rng(seed)
    n = int(np.ceil(np.sqrt(n_edges / (2 * (1 - drop * 0.9))))) + 1
    gx, gy = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    jitter = spacing_m * 0.18
    nx_ = ORIGIN[0] + gx * spacing_m + rng.uniform(-jitter, jitter, gx.shape)
    ny_ = ORIGIN[1] + gy * spacing_m + rng.uniform(-jitter, jitter, gy.shape)

    frames = []
    # Residential segments: horizontal (i,j)-(i+1,j) not on an arterial row, vertical likewise.
    for horizontal in (True, False):
        i, j = (gx[:-1, :], gy[:-1, :]) if horizontal else (gx[:, :-1], gy[:, :-1])
        i, j = i.ravel(), j.ravel()
        on_arterial = (j if horizontal else i) % arterial_every == 0
        keep = ~on_arterial & (rng.random(i.size) >= drop)
        i, j = i[keep], j[keep]
        i2, j2 = (i + 1, j) if horizontal else (i, j + 1)
        x0, y0, x1, y1 = nx_[i, j], ny_[i, j], nx_[i2, j2], ny_[i2, j2]
        bend = rng.normal(0, spacing_m * 0.06, (2, i.size))
        xm, ym = (x0 + x1) / 2 + bend[0], (y0 + y1) / 2 + bend[1]
        ow = rng.random(i.size) < oneway
        flip = ow & (rng.random(i.size) < 0.5)
        xs = np.stack([x0, xm, x1], 1)
        ys = np.stack([y0, ym, y1], 1)
        xs[flip] = xs[flip, ::-1]
        ys[flip] = ys[flip, ::-1]
        frames.append(
            pd.DataFrame(
                {
                    "xs": list(xs),
                    "ys": list(ys),
                    "road_class": np.where(rng.random(i.size) < 0.1, "service", "residential"),
                    "oneway": ow,
                }
            )
        )
    # Arterials: long lines along every arterial row/column, cut into pieces of ~20 blocks.
    piece = 20
    art_xs, art_ys = [], []
    for k in range(0, n, arterial_every):
        for start in range(0, n - 1, piece):
            stop = min(start + piece, n - 1) + 1
            art_xs += [nx_[start:stop, k], nx_[k, start:stop]]
            art_ys += [ny_[start:stop, k], ny_[k, start:stop]]
    frames.append(
        pd.DataFrame({"xs": art_xs, "ys": art_ys, "road_class": "primary", "oneway": False})
    )
    df = pd.concat(frames, ignore_index=True)
    counts = df["xs"].map(len).to_numpy()
    x = np.concatenate(df["xs"].to_list())
    y = np.concatenate(df["ys"].to_list())
    lon, lat = _to_wgs84(x, y)
    idx = np.repeat(np.arange(len(df)), counts)
    geoms = shapely.linestrings(np.column_stack([lon, lat]), indices=idx)
    return gpd.GeoDataFrame(
        {
            "id": [f"r{k}" for k in range(len(df))],
            "road_class": df["road_class"].to_numpy(dtype=object),
            "name": None,
            "oneway": pd.array(df["oneway"].to_numpy(), dtype="boolean"),
            "speed_kmh": np.nan,
            "lanes": pd.array([pd.NA] * len(df), dtype="Int64"),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def city_bounds_m(roads: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Bounds of a synthetic city in UTM 51N metres."""
    return tuple(roads.to_crs(UTM51N).total_bounds)  # type: ignore[return-value]


def random_points(
    n: int, bounds_m: tuple[float, float, float, float], *, seed: int = 1, prefix: str = "p"
) -> gpd.GeoDataFrame:
    """``n`` uniform random points (EPSG:4326) inside metric bounds, ids ``prefix0..``."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds_m
    x = rng.uniform(xmin, xmax, n)
    y = rng.uniform(ymin, ymax, n)
    lon, lat = _to_wgs84(x, y)
    return gpd.GeoDataFrame(
        {"id": np.char.add(prefix, np.arange(n).astype(str)).astype(object)},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def testing_sites(
    n: int,
    bounds_m: tuple[float, float, float, float],
    *,
    seed: int = 2,
    opens_at: str = "2021-10-31T18:30:00+08:00",
    closes_at: str = "2021-11-01T06:00:00+08:00",
) -> gpd.GeoDataFrame:
    """``n`` testing sites (a valid ``testing_sites`` layer) at random places in the bounds."""
    pts = random_points(n, bounds_m, seed=seed, prefix="s")
    rng = np.random.default_rng(seed)
    tz = "Asia/Shanghai"
    pts["name"] = [f"Site {k}" for k in range(n)]
    pts["lanes"] = pd.array(rng.integers(2, 9, n), dtype="Int64")
    pts["per_lane_per_h"] = rng.uniform(100, 200, n).round()
    pts["opens_at"] = pd.Series(pd.Timestamp(opens_at).tz_convert(tz), index=pts.index)
    pts["closes_at"] = pd.Series(pd.Timestamp(closes_at).tz_convert(tz), index=pts.index)
    return pts


@contextmanager
def timed(label: str, out: dict[str, float]) -> Iterator[None]:
    """Time a block (wall clock) into ``out[label]``."""
    t0 = time.perf_counter()
    yield
    out[label] = time.perf_counter() - t0


def synthetic_zones(
    bounds_m: tuple[float, float, float, float],
    n_zones: int = 400,
    *,
    density_km2: float = 5000.0,
    sigma: float = 0.6,
    seed: int = 5,
) -> gpd.GeoDataFrame:
    """Crowd zones (a valid-looking ``crowd_zones`` layer, EPSG:4326) tiling the bounds.

    Voronoi cells of random seeds; people = area x a log-normal density around ``density_km2``.
    """
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds_m
    seeds = np.column_stack([rng.uniform(xmin, xmax, n_zones), rng.uniform(ymin, ymax, n_zones)])
    box = shapely.box(*bounds_m)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    vor = shapely.intersection(vor, box)
    people = np.round(rng.lognormal(0.0, sigma, len(vor)) * shapely.area(vor) / 1e6 * density_km2)
    return gpd.GeoDataFrame(
        {
            "id": [f"z{k}" for k in range(len(vor))],
            "people": people,
            "observed_at": pd.Timestamp("2021-10-31T19:00:00+08:00"),
        },
        geometry=vor,
        crs=UTM51N,
    ).to_crs(4326)


def sites_near_people(
    cells: gpd.GeoDataFrame, n: int, *, seed: int = 7, jitter_m: float = 30.0
) -> gpd.GeoDataFrame:
    """``n`` testing sites placed where people are (cells drawn in proportion to people)."""
    rng = np.random.default_rng(seed)
    pts = cells.to_crs(UTM51N).geometry.representative_point().to_numpy()
    w = cells["people"].to_numpy(dtype=float)
    pick = rng.choice(len(cells), n, replace=False, p=w / w.sum())
    xy = shapely.get_coordinates(pts[pick]) + rng.normal(0.0, jitter_m, (n, 2))
    lon, lat = _to_wgs84(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(
        {
            "id": [f"s{k}" for k in range(n)],
            "name": [f"Site {k}" for k in range(n)],
            "lanes": pd.array(rng.integers(2, 9, n), dtype="Int64"),
            "per_lane_per_h": rng.uniform(100, 200, n).round(),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
