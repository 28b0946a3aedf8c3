"""Web Mercator tile arithmetic: lon/lat to "world" units and XYZ tile bounds.

World units put the whole Web Mercator square in ``[0, 1] x [0, 1]`` with ``v`` growing
southwards (as tile rows and MVT tile coordinates do). Tile ``(z, x, y)`` covers
``[x / 2**z, (x + 1) / 2**z] x [y / 2**z, (y + 1) / 2**z]``.
"""

from __future__ import annotations

import numpy as np
import shapely

MAX_LAT = 85.05112877980659  # the Web Mercator square's edge


def lonlat_to_world(xy: np.ndarray) -> np.ndarray:
    """``(n, 2)`` lon/lat degrees to world units (``u`` east, ``v`` south, both in 0..1).

    Examples
    --------
    >>> lonlat_to_world(np.array([[0.0, 0.0], [-180.0, MAX_LAT]])).round(6).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    lon = xy[:, 0]
    lat = np.radians(np.clip(xy[:, 1], -MAX_LAT, MAX_LAT))
    u = (lon + 180.0) / 360.0
    v = (1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / np.pi) / 2.0
    return np.column_stack([u, v])


def world_to_lonlat(uv: np.ndarray) -> np.ndarray:
    """The inverse of :func:`lonlat_to_world`.

    Examples
    --------
    >>> world_to_lonlat(np.array([[0.5, 0.5]])).tolist()
    [[0.0, 0.0]]
    """
    lon = uv[:, 0] * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * uv[:, 1]))))
    return np.column_stack([lon, lat])


def to_world(geoms: np.ndarray) -> np.ndarray:
    """Shapely geometries in lon/lat to world units (vectorised)."""
    return shapely.transform(np.asarray(geoms, dtype=object), lonlat_to_world)


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Shapely geometries in world units back to lon/lat (vectorised)."""
    return shapely.transform(np.asarray(geoms, dtype=object), world_to_lonlat)


def tile_bounds_world(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(umin, vmin, umax, vmax)`` of tile ``(z, x, y)`` in world units."""
    n = float(2**z)
    return x / n, y / n, (x + 1) / n, (y + 1) / n


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of tile ``(z, x, y)`` in degrees.

    Examples
    --------
    >>> [round(b, 6) for b in tile_bounds_lonlat(1, 1, 0)]
    [0.0, 0.0, 180.0, 85.051129]
    """
    u0, v0, u1, v1 = tile_bounds_world(z, x, y)
    (w, n), (e, s) = world_to_lonlat(np.array([[u0, v0], [u1, v1]]))
    return float(w), float(s), float(e), float(n)


def tiles_covering(bounds_lonlat: tuple[float, float, float, float], z: int) -> range | list:
    """Every ``(x, y)`` tile of zoom ``z`` that the lon/lat box touches.

    Examples
    --------
    >>> tiles_covering((121.5, 31.1, 121.6, 31.2), 10)
    [(857, 418)]
    """
    w, s, e, n = bounds_lonlat
    (u0, v0), (u1, v1) = lonlat_to_world(np.array([[w, n], [e, s]]))
    k = 2**z
    x0, x1 = int(np.floor(u0 * k)), min(int(np.floor(u1 * k)), k - 1)
    y0, y1 = int(np.floor(v0 * k)), min(int(np.floor(v1 * k)), k - 1)
    return [(x, y) for x in range(max(x0, 0), x1 + 1) for y in range(max(y0, 0), y1 + 1)]
