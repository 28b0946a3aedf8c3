"""What a heavy layer shows at each zoom: the generalisation rules and the low-zoom aggregates.

- Lines (roads): each feature has a first zoom (by road class: arterials from the city view,
  minor streets once zoomed in) and is simplified to half a pixel of its zoom.
- Points (sites, facilities, checkpoints): below :data:`CLUSTER_BELOW` they are clustered on a
  grid of :data:`CLUSTER_PX` pixels, apart by a group column (a checkpoint's band), each
  cluster with its count; a cluster of one is the point itself.
- Polygons with a weight (crowd cells): below the zoom where a cell is a few pixels wide, a
  heat grid of :data:`HEAT_PX`-pixel squares, people summed and density recomputed; other
  polygons (catchments, isochrones) are simplified at every zoom.

Every function here is pure: arrays in world units (:mod:`geo.tiles.mercator`) in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

MAX_ZOOM = 15  # tiles are built to here; the map over-zooms them beyond
CLUSTER_BELOW = 13
CLUSTER_PX = 56.0
HEAT_PX = 14.0
SIMPLIFY_PX = 0.5
DETAIL_PX = 4.0  # polygons are shown one by one from the zoom where they are this wide

# The first zoom at which a road of each class is drawn (OSM highway values); others: minor.
ROAD_MIN_ZOOM = {
    "motorway": 0,
    "trunk": 0,
    "motorway_link": 10,
    "trunk_link": 10,
    "primary": 9,
    "primary_link": 12,
    "secondary": 11,
    "secondary_link": 12,
    "tertiary": 12,
}
MINOR_ROAD_ZOOM = 14


def px(z: int) -> float:
    """One screen pixel at zoom ``z`` in world units (256-pixel tiles).

    Examples
    --------
    >>> px(0) == 1 / 256
    True
    """
    return 1.0 / (256.0 * 2**z)


def road_min_zoom(road_class: np.ndarray) -> np.ndarray:
    """The first zoom at which each road is drawn.

    Examples
    --------
    >>> road_min_zoom(np.array(["trunk", "residential", "primary"])).tolist()
    [0, 14, 9]
    """
    cls = np.asarray(road_class, dtype=object)
    out = np.full(len(cls), MINOR_ROAD_ZOOM, dtype=np.int64)
    for name, z in ROAD_MIN_ZOOM.items():
        out[cls == name] = z
    return out


def detail_zoom(geoms: np.ndarray) -> int:
    """The first zoom at which the typical (median) feature is :data:`DETAIL_PX` pixels wide.

    Examples
    --------
    >>> from geo.tiles.mercator import to_world
    >>> cells = to_world(shapely.box([121.5, 121.6], 31.2, [121.503, 121.603], 31.203))
    >>> detail_zoom(cells)  # 300 m cells: 4 px wide from zoom 11
    11
    """
    b = shapely.bounds(geoms)
    size = float(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])))
    if not np.isfinite(size) or size <= 0:
        return 0
    return int(np.clip(np.ceil(np.log2(DETAIL_PX / (256.0 * size))), 0, MAX_ZOOM))


def simplify(geoms: np.ndarray, z: int) -> np.ndarray:
    """Geometries simplified to :data:`SIMPLIFY_PX` of a pixel at zoom ``z``."""
    return shapely.simplify(geoms, SIMPLIFY_PX * px(z), preserve_topology=True)


@dataclass
class Clusters:
    """Points merged on a pixel grid: where each cluster is drawn, what it holds."""

    geoms: np.ndarray  # Point per cluster (world units), at the mean of its members
    count: np.ndarray  # members per cluster
    first: np.ndarray  # index of one member (the point itself when count == 1)
    group: np.ndarray  # the group value the cluster holds (all members share it)
    weight: np.ndarray  # sum of the members' weights


def cluster_points(
    uv: np.ndarray,
    z: int,
    group: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    cell_px: float = CLUSTER_PX,
) -> Clusters:
    """Grid clusters of points (world units) at zoom ``z``, members of different groups apart.

    Examples
    --------
    >>> uv = np.array([[0.5, 0.5], [0.5000001, 0.5], [0.6, 0.6]])
    >>> c = cluster_points(uv, 10)
    >>> sorted(c.count.tolist())
    [1, 2]
    """
    n = len(uv)
    cell = cell_px * px(z)
    gx = np.floor(uv[:, 0] / cell).astype(np.int64)
    gy = np.floor(uv[:, 1] / cell).astype(np.int64)
    grp = np.zeros(n, dtype=np.int64) if group is None else _codes(group)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    key = np.stack([grp, gx, gy], axis=1)
    _, first, inv, count = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    inv = inv.ravel()
    mu = np.bincount(inv, weights=uv[:, 0]) / count
    mv = np.bincount(inv, weights=uv[:, 1]) / count
    groups = np.asarray(group, dtype=object)[first] if group is not None else np.zeros(len(first))
    return Clusters(shapely.points(mu, mv), count, first, groups, np.bincount(inv, weights=w))


def _codes(values: np.ndarray) -> np.ndarray:
    _, codes = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return codes.ravel()


@dataclass
class HeatGrid:
    """Polygons merged into pixel squares: weights summed, area summed (for densities)."""

    geoms: np.ndarray  # square polygons (world units)
    weight: np.ndarray  # e.g. people
    area_km2: np.ndarray  # real area of the members
    count: np.ndarray  # members per square


def heat_grid(
    uv: np.ndarray, weight: np.ndarray, area_km2: np.ndarray, z: int, cell_px: float = HEAT_PX
) -> HeatGrid:
    """Squares of ``cell_px`` pixels at zoom ``z`` holding the features whose representative
    point (``uv``, world units) falls in them.

    Examples
    --------
    >>> g = heat_grid(np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([3.0, 4.0]), np.ones(2), 4)
    >>> g.weight.tolist(), g.count.tolist()
    ([7.0], [2])
    """
    cell = cell_px * px(z)
    gx = np.floor(uv[:, 0] / cell).astype(np.int64)
    gy = np.floor(uv[:, 1] / cell).astype(np.int64)
    key, inv, count = np.unique(
        np.stack([gx, gy], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    inv = inv.ravel()
    x0, y0 = key[:, 0] * cell, key[:, 1] * cell
    return HeatGrid(
        shapely.box(x0, y0, x0 + cell, y0 + cell),
        np.bincount(inv, weights=np.asarray(weight, dtype=float)),
        np.bincount(inv, weights=np.asarray(area_km2, dtype=float)),
        count,
    )
