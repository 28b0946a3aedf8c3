"""Checkpoints: where roads cross the zones' outer boundaries, merged into staffed posts."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from geo.constants import DEFAULT_STAFF, WGS84
from geo.cordon.common import (
    BAND_ZH,
    CHECKPOINT_COLUMNS,
    VENUE_EXIT,
    _crossings,
    _need_crs,
    _ring_segments,
)
from geo.crs import local_crs
from geo.errors import InputError
from geo.network import (
    NOT_ROUTABLE,
    ONEWAY_BY_DEFAULT,
    WALK_ONLY,
)

__all__ = ["CLASS_ORDER", "DEFAULT_STAFF_UNKNOWN", "checkpoints"]


#: Staff at a checkpoint on a road class the table does not name (and that is not a ``_link``).
DEFAULT_STAFF_UNKNOWN = 1
#: Road classes from the most to the least important (for "the highest class" of a merge).
CLASS_ORDER: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "road",
    "living_street",
    "service",
    "track",
    "pedestrian",
    "footway",
    "cycleway",
    "path",
    "bridleway",
    "steps",
)
_CLASS_RANK = {c: i for i, c in enumerate(CLASS_ORDER)}


_BOUNDARY_TOL_M = 0.5  # slack when picking roads near a boundary in the roads' own CRS
_GRID_MM = 0.001  # precision (m) of the zone unions the checkpoints are computed on


# --- checkpoints --------------------------------------------------------------------------------


def checkpoints(
    bands: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    staff: Mapping[str, int] | None = None,
    merge_m: float = 30.0,
    include_footpaths: bool = True,
    incidents: gpd.GeoDataFrame | None = None,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Checkpoints where roads cross the zones' outer boundaries (and leave polygon incidents).

    Parameters
    ----------
    bands : disjoint bands with ``band`` and ``rank`` (from :func:`zones_by_distance` or
        :func:`zones_by_network`); the zone of rank k is the union of the bands of rank <= k.
    roads : a roads layer (``id``, ``road_class``; optional ``name``, ``oneway``).
    staff : people per checkpoint by road class; default ``Settings.checkpoint_staff``
        (:data:`geo.scenario.DEFAULT_STAFF`).
    merge_m : crossings of the same boundary closer than this merge into one checkpoint
        (0 = never merge).
    include_footpaths : also post staff where footways, paths, steps, cycleways ... cross.
    incidents : the incidents; the outlines of polygon incidents give ``venue_exit`` checkpoints.
    crs : metric CRS; default the UTM zone of the bands.

    Returns
    -------
    GeoDataFrame (EPSG:4326) of points, ordered by rank then position: ``id`` ("cp-1", ...),
    ``band`` (the zone whose boundary it is on, or "venue_exit"), ``band_zh``, ``rank`` (0 for
    venue exits), ``road_id`` / ``name`` / ``road_class`` (of the highest-class merged road),
    ``road_ids`` (all merged, comma-separated), ``direction`` ("in" / "out" / "both"),
    ``staff``, ``staff_if_separate``, ``crossings`` (how many crossings merged).

    Raises
    ------
    InputError : bands or roads without the needed columns, a bad staff table or ``merge_m``.

    Examples
    --------
    A primary road straight through the incident crosses each zone's edge twice; the default
    staffing table posts 4 people on a primary road:

    >>> import geopandas as gpd, shapely
    >>> from geo.cordon import checkpoints, zones_by_distance
    >>> def layer(geoms, **cols):  # drawn in UTM 51N metres, stored in EPSG:4326
    ...     return gpd.GeoDataFrame(cols, geometry=geoms, crs=32651).to_crs(4326)
    >>> incident = layer([shapely.Point(380_000, 3_440_000)], id=["inc-1"])
    >>> bands = zones_by_distance(incident, [100, 200, 300])
    >>> road = shapely.LineString([(379_000, 3_440_000), (381_000, 3_440_000)])
    >>> roads = layer([road], id=["r1"], road_class=["primary"], name=["East Road"])
    >>> cps = checkpoints(bands, roads)
    >>> cps["band"].tolist()
    ['lockdown', 'lockdown', 'control', 'control', 'prevention', 'prevention']
    >>> cps[["road_id", "name", "direction", "staff"]].values.tolist()[0]
    ['r1', 'East Road', 'both', 4]
    """
    if not (np.isfinite(merge_m) and merge_m >= 0):
        raise InputError(
            "the merge distance must be zero or more metres", field="merge_m", expected=">= 0"
        )
    table = _staff_table(staff)
    for c in ("band", "rank"):
        if c not in bands.columns:
            raise InputError(
                "required column is missing",
                file="bands",
                field=c,
                expected="bands from zones_by_distance or zones_by_network",
            )
    _need_crs(bands, "bands")
    crs = CRS.from_user_input(crs) if crs is not None else local_crs(bands)
    # The boundaries to watch: each zone (union of the bands up to its rank), then the venues.
    rings: list[tuple[str, int, shapely.Geometry]] = []
    bg = np.asarray(bands.geometry.to_crs(crs).array, dtype=object)
    rank = pd.to_numeric(bands["rank"], errors="coerce").to_numpy(dtype=float)
    names = bands["band"].astype(str).to_numpy()
    live = ~(shapely.is_missing(bg) | shapely.is_empty(bg))
    zone = None
    for r in np.unique(rank[np.isfinite(rank)]):
        at = np.flatnonzero((rank == r) & live)
        if len(at) == 0:
            continue
        # At 1 mm precision: bands that went through EPSG:4326 and back may meet along edges
        # that are no longer exactly collinear; slivers thinner than that must not become holes.
        piece = shapely.union_all(bg[at], grid_size=_GRID_MM)
        zone = piece if zone is None else shapely.union(zone, piece, grid_size=_GRID_MM)
        rings.append((str(names[at[0]]), int(r), zone))
    if incidents is not None and len(incidents):
        _need_crs(incidents, "incidents")
        ig = np.asarray(incidents.geometry.to_crs(crs).array, dtype=object)
        ig = ig[~(shapely.is_missing(ig) | shapely.is_empty(ig))]
        polys = ig[np.isin(shapely.get_type_id(ig), (3, 6))]
        if len(polys):
            rings.insert(0, (VENUE_EXIT, 0, shapely.union_all(polys)))
    empty = _empty_checkpoints()
    if not rings or roads is None or len(roads) == 0:
        return empty
    for c in ("id", "road_class"):
        if c not in roads.columns:
            raise InputError(
                "required column is missing", file="roads", field=c, expected="a roads layer"
            )
    _need_crs(roads, "roads")

    rgeo = np.asarray(roads.geometry.array, dtype=object)
    rb = shapely.bounds(rgeo)  # NaN for empty geometries: never a candidate
    to_road = Transformer.from_crs(crs, roads.crs, always_xy=True)
    to_metric = Transformer.from_crs(roads.crs, crs, always_xy=True)

    # Pass 1: the roads touching each boundary (bounding boxes, then a prepared intersection
    # with the boundary widened by a hair, in the roads' own CRS so that only these few roads
    # are projected and looked at).
    hits = []
    for _, _, zone in rings:
        x0, y0, x1, y1 = shapely.bounds(zone)
        bx = to_road.transform_bounds(x0, y0, x1, y1, densify_pts=21)
        cand = np.flatnonzero(
            (rb[:, 0] <= bx[2]) & (rb[:, 2] >= bx[0]) & (rb[:, 1] <= bx[3]) & (rb[:, 3] >= bx[1])
        )
        if len(cand):
            edge = shapely.buffer(shapely.boundary(zone), _BOUNDARY_TOL_M, quad_segs=1)
            edge = shapely.transform(edge, lambda c: np.column_stack(to_road.transform(*c.T)))
            shapely.prepare(edge)
            cand = cand[shapely.intersects(edge, rgeo[cand])]
        hits.append(cand)
    near = np.unique(np.concatenate(hits)) if hits else np.zeros(0, dtype=np.int64)
    attrs = _road_attrs(roads, near, table)
    keep = ~np.isin(attrs["class"], list(NOT_ROUTABLE))
    if not include_footpaths:
        keep &= ~np.isin(attrs["class"], list(WALK_ONLY))
    usable = np.zeros(len(roads), dtype=bool)
    usable[near[keep]] = True

    # Pass 2: exact crossings in the metric CRS, then merging.
    frames = []
    for (label, r, zone), cand in zip(rings, hits):
        cand = cand[usable[cand]]
        zone = shapely.orient_polygons(zone, exterior_cw=False)  # inside on each ring's left
        q0, q1 = _ring_segments(zone)
        if len(cand) == 0 or len(q0) == 0:
            continue
        parts, pidx = shapely.get_parts(rgeo[cand], return_index=True)
        xy, vpart = shapely.get_coordinates(parts, return_index=True)
        xy = np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1]))
        s = np.flatnonzero(vpart[1:] == vpart[:-1])
        si, _, _, pxy, entering = _crossings(xy[s], xy[s + 1], q0, q1)
        if len(si) == 0:
            continue
        ri = cand[pidx[vpart[s[si]]]]
        k = np.searchsorted(near, ri)
        direction = np.where(attrs["oneway"][k], np.where(entering, "in", "out"), "both")
        frames.append(
            _merge(label, r, pxy, k, direction, attrs["class_rank"], attrs["staff"], merge_m)
        )
    if not frames:
        return empty
    cp = pd.concat(frames, ignore_index=True)
    cp = cp.sort_values(["rank", "x", "y"], kind="stable").reset_index(drop=True)
    ri = cp["road"].to_numpy()
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(
        cp["x"].to_numpy(), cp["y"].to_numpy()
    )
    out = gpd.GeoDataFrame(
        {
            "id": [f"cp-{i + 1}" for i in range(len(cp))],
            "band": cp["band"].to_numpy(dtype=object),
            "band_zh": [BAND_ZH.get(b, "") for b in cp["band"]],
            "rank": cp["rank"].to_numpy(dtype=np.int64),
            "road_id": attrs["id"][ri],
            "road_ids": [",".join(attrs["id"][m]) for m in cp["members"]],
            "name": attrs["name"][ri],
            "road_class": attrs["class"][ri],
            "direction": cp["direction"].to_numpy(dtype=object),
            "staff": cp["staff"].to_numpy(dtype=np.int64),
            "staff_if_separate": cp["staff_sum"].to_numpy(dtype=np.int64),
            "crossings": cp["n"].to_numpy(dtype=np.int64),
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
    return out


def _merge(
    label: str,
    rank: int,
    pxy: np.ndarray,
    road: np.ndarray,
    direction: np.ndarray,
    class_rank: np.ndarray,
    road_staff: np.ndarray,
    merge_m: float,
) -> pd.DataFrame:
    """Merge the crossings of one boundary lying within ``merge_m`` of a higher-class one."""
    n = len(pxy)
    # Highest class first, then most staff, then position (deterministic).
    order = np.lexsort((pxy[:, 1], pxy[:, 0], -road_staff[road], class_rank[road]))
    group = np.full(n, -1, dtype=np.int64)
    if merge_m > 0 and n > 1:
        near = cKDTree(pxy).query_ball_point(pxy[order], r=merge_m)
        for i, nb in zip(order.tolist(), near):
            if group[i] < 0:
                nb = np.asarray(nb, dtype=np.int64)
                group[nb[group[nb] < 0]] = i
    else:
        group[:] = np.arange(n)
    # Members of each group, anchor first (sort by group, then priority).
    prio = np.empty(n, dtype=np.int64)
    prio[order] = np.arange(n)
    by = np.lexsort((prio, prio[group]))
    g = group[by]
    first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    anchors = by[first]
    members = np.split(by, first[1:])
    cnt = np.diff(np.r_[first, n])
    st = road_staff[road[by]]
    code = np.select([direction[by] == "in", direction[by] == "out"], [1, 2], 4)
    dirs = np.bitwise_or.reduceat(code, first)
    return pd.DataFrame(
        {
            "band": label,
            "rank": rank,
            "x": pxy[anchors, 0],
            "y": pxy[anchors, 1],
            "road": road[anchors],
            "members": [list(dict.fromkeys(road[m].tolist())) for m in members],
            "direction": np.select([dirs == 1, dirs == 2], ["in", "out"], "both"),
            "staff": np.maximum.reduceat(st, first),
            "staff_sum": np.add.reduceat(st, first),
            "n": cnt,
        }
    )


def _road_attrs(roads: gpd.GeoDataFrame, idx: np.ndarray, table: Mapping[str, int]) -> dict:
    """Id, name, class, one-way flag, class rank and staff of the roads at positions ``idx``."""
    sub = roads.iloc[idx]
    cls = np.array(
        [str(v).strip().lower() if pd.notna(v) else "" for v in sub["road_class"]], dtype=object
    )
    default_ow = np.isin(cls, list(ONEWAY_BY_DEFAULT))
    if "oneway" in sub.columns:
        ow = sub["oneway"].astype("boolean")
        oneway = ow.fillna(pd.Series(default_ow, index=sub.index)).to_numpy(dtype=bool)
    else:
        oneway = default_ow
    if "name" in sub.columns:
        names = np.array([v if pd.notna(v) else None for v in sub["name"]], dtype=object)
    else:
        names = np.full(len(sub), None, dtype=object)
    return {
        "id": sub["id"].astype(str).to_numpy(dtype=object),
        "name": names,
        "class": cls,
        "oneway": oneway,
        "class_rank": np.array([_CLASS_RANK.get(c, len(CLASS_ORDER)) for c in cls], dtype=int),
        "staff": np.array([_staff_of(c, table) for c in cls], dtype=np.int64),
    }


def _empty_checkpoints() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in CHECKPOINT_COLUMNS},
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )


def _staff_table(staff: Mapping[str, int] | None) -> dict[str, int]:
    table = dict(DEFAULT_STAFF if staff is None else staff)
    out = {}
    for k, v in table.items():
        try:
            val = float(v)
        except (TypeError, ValueError):
            val = float("nan")
        if not (np.isfinite(val) and val >= 0 and val == int(val)):
            raise InputError(
                f"staff for road class '{k}' is {v!r}",
                field="checkpoint_staff",
                expected="a whole number of people >= 0 per road class",
            )
        out[str(k).strip().lower()] = int(val)
    return out


def _staff_of(road_class: str, table: Mapping[str, int]) -> int:
    if road_class in table:
        return table[road_class]
    if road_class.endswith("_link") and road_class[:-5] in table:
        return table[road_class[:-5]]
    return DEFAULT_STAFF_UNKNOWN
