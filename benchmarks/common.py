"""Shared helpers for the benchmarks: synthetic but city-like inputs, generated fast with numpy.

Nothing here is real data: the road network is a perturbed grid with arterials and one-way streets,
placed near Shanghai (UTM zone 51N) only so that the local metric CRS is the demo's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd

from geo.synthetic import (  # noqa: F401 - re-exported: the generators live in geo.synthetic
    ORIGIN,
    UTM51N,
    _to_wgs84,
    city_bounds_m,
    random_points,
    sites_near_people,
    synthetic_zones,
    testing_sites,
)
from geo.synthetic import synthetic_city as _synthetic_city


def synthetic_city(n_edges: int = 250_000, **kwargs) -> gpd.GeoDataFrame:
    """The benchmarks' road network (``geo.synthetic.synthetic_city`` without trunks, as the
    figures in benchmarks/README.md were measured)."""
    kwargs.setdefault("trunk_every", 0)
    return _synthetic_city(n_edges, **kwargs)


@contextmanager
def timed(label: str, out: dict[str, float]) -> Iterator[None]:
    """Time a block (wall clock) into ``out[label]``."""
    t0 = time.perf_counter()
    yield
    out[label] = time.perf_counter() - t0
