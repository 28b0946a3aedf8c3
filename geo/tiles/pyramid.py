"""Build every tile of one heavy layer, zoom by zoom, into a PMTiles archive.

A :class:`TileSource` is what the builder needs of a layer: lon/lat geometries, each
feature's pre-escaped style (JSON text) and what the generalisation rules need (a road's first
zoom, a crowd cell's people and area, a checkpoint's band). Tiles carry, per feature:
``_s`` the style, ``_n`` how many features it stands for (1, or a cluster's count) and ``_t``
an aggregate's pre-escaped tooltip (empty for a single feature, whose tooltip the app serves by
its MVT id: the row's position plus one).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely

from geo.tiles import generalise as gen
from geo.tiles import mercator, mvt

Progress = Callable[[float, str], None]


@dataclass
class TileSource:
    """One heavy layer, ready to be tiled."""

    key: str  # the layer's key (its name in the tiles and in the URL)
    geometry: np.ndarray  # shapely geometries, lon/lat (EPSG:4326)
    styles: np.ndarray  # each feature's style as JSON text
    title: str  # what the features are, plural ("testing sites"), for aggregates' tooltips
    min_zoom: np.ndarray | None = None  # lines: the first zoom each feature is drawn at
    weight: np.ndarray | None = None  # polygons: summed into a heat grid at low zoom
    area_km2: np.ndarray | None = None  # polygons with a weight: their real area
    group: np.ndarray | None = None  # points: clusters keep these values apart
    # An aggregate's style (JSON text) and pre-escaped tooltip, from its figures:
    # {"count", "weight", "per_km2", "area_km2", "group", "style"} as they apply.
    aggregate_style: Callable[[dict], str] | None = None
    aggregate_tip: Callable[[dict], str] | None = None
    max_zoom: int = gen.MAX_ZOOM
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.geometry)

    @property
    def dimension(self) -> int:
        if not len(self.geometry):
            return 0
        return int(shapely.get_dimensions(self.geometry).max())


@dataclass
class Level:
    """What one zoom shows of a layer: geometries (world units), MVT ids and properties."""

    geoms: np.ndarray
    ids: np.ndarray
    styles: np.ndarray
    counts: np.ndarray
    tips: np.ndarray
    note: str = ""  # what is aggregated or left out at this zoom (for the map's message)


def level(
    src: TileSource, world: np.ndarray, z: int, detail: int = 0, anchors: np.ndarray | None = None
) -> Level:
    """The features (or aggregates) of ``src`` at zoom ``z`` (``world``: its geometries in
    world units; ``detail``: the zoom from which weighted polygons are shown one by one,
    :func:`geo.tiles.generalise.detail_zoom`; ``anchors``: a point inside each polygon, world
    units, computed once per build)."""
    n = len(world)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    ones = np.ones(n, dtype=np.int64)
    empty = np.full(n, "", dtype=object)
    dim = src.dimension
    if dim == 0 and z < gen.CLUSTER_BELOW:
        uv = shapely.get_coordinates(world)
        c = gen.cluster_points(uv, z, src.group)
        single = c.count == 1
        styles = src.styles[c.first].astype(object)
        tips = np.full(len(c.count), "", dtype=object)
        for ci in np.flatnonzero(~single):
            fig = {
                "count": int(c.count[ci]),
                "group": c.group[ci],
                "style": src.styles[c.first[ci]],  # a member's style (the cluster's look)
            }
            if src.aggregate_style is not None:
                styles[ci] = src.aggregate_style(fig)
            tips[ci] = src.aggregate_tip(fig) if src.aggregate_tip else f"{c.count[ci]:,}"
        cids = np.where(single, c.first + 1, 0).astype(np.uint64)
        note = f"{n:,} {src.title} in {len(c.count):,} groups: zoom in to see each"
        return Level(c.geoms, cids, styles, c.count, tips, note if (~single).any() else "")
    if dim == 2 and src.weight is not None and z < detail:
        pts = anchors if anchors is not None else shapely.point_on_surface(world)
        uv = shapely.get_coordinates(pts)
        area = src.area_km2 if src.area_km2 is not None else np.ones(n)
        h = gen.heat_grid(uv, src.weight, area, z)
        per = np.divide(h.weight, h.area_km2, out=np.zeros_like(h.weight), where=h.area_km2 > 0)
        styles = np.empty(len(h.count), dtype=object)
        tips = np.empty(len(h.count), dtype=object)
        for i in range(len(h.count)):
            fig = {
                "count": int(h.count[i]),
                "weight": float(h.weight[i]),
                "per_km2": float(per[i]),
                "area_km2": float(h.area_km2[i]),
            }
            styles[i] = src.aggregate_style(fig) if src.aggregate_style else src.styles[0]
            tips[i] = src.aggregate_tip(fig) if src.aggregate_tip else f"{h.count[i]:,}"
        note = f"{n:,} {src.title} shown as a density grid: zoom in to see each"
        return Level(h.geoms, np.zeros(len(h.count), np.uint64), styles, h.count, tips, note)
    keep = np.ones(n, dtype=bool) if src.min_zoom is None else src.min_zoom <= z
    geoms = world[keep]
    if dim >= 1 and z < src.max_zoom - 1:  # near the top zoom it would save no bytes
        many = shapely.get_num_coordinates(geoms) > (3 if dim == 1 else 5)
        if many.any():
            geoms = geoms.copy()
            geoms[many] = gen.simplify(geoms[many], z)
    note = ""
    if not keep.all():
        note = f"zoom in to see the other {int((~keep).sum()):,} {src.title}"
    return Level(geoms, ids[keep], src.styles[keep], ones[keep], empty[keep], note)


def zoom_notes(src: TileSource) -> list[tuple[int, str]]:
    """``(zoom, text)``: below ``zoom`` the map says ``text`` (what it does not show one by
    one), from the generalisation rules (cheap: no geometry work)."""
    n = len(src)
    dim = src.dimension
    if dim == 0:
        return [(gen.CLUSTER_BELOW, f"{n:,} {src.title} grouped: zoom in to see each")]
    if dim == 2 and src.weight is not None:
        z = gen.detail_zoom(mercator.to_world(src.geometry[: min(n, 2000)]))
        return [(z, f"{n:,} {src.title} shown as a density grid: zoom in to see each")]
    if src.min_zoom is not None and n:
        out = []
        for z in sorted(set(src.min_zoom.tolist()) - {0}):
            hidden = int((src.min_zoom >= z).sum())
            out.append((int(z), f"zoom in to see {hidden:,} more {src.title}"))
        return out
    return []


def build(src: TileSource, path: str | os.PathLike, progress: Progress | None = None) -> Path:
    """Write every tile of ``src`` (zoom 0 to ``src.max_zoom``) to a PMTiles archive at
    ``path`` (gzip-compressed MVT; written to a temporary file, then moved in place).

    Examples
    --------
    >>> import tempfile
    >>> src = TileSource("pts", shapely.points([121.5, 121.6], [31.2, 31.3]),
    ...                  np.array(['{"color": "#fff"}'] * 2), "points", max_zoom=3)
    >>> p = build(src, Path(tempfile.mkdtemp()) / "pts.pmtiles")
    >>> p.stat().st_size > 0
    True
    """
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda f, m: None)
    report(0.0, f"{src.key}: preparing {len(src):,} features")
    world = mercator.to_world(src.geometry)
    detail = gen.detail_zoom(world) if len(world) else 0
    zooms = list(range(0, src.max_zoom + 1))
    # Work grows with the zoom (more features, more tiles): weight progress by 2**z, capped.
    weights = np.array([min(2.0**z, 2.0**12) for z in zooms])
    done = 0.0
    tiles: dict[int, bytes] = {}
    notes: dict[int, str] = {}
    parts = _by_dimension(src)
    anchors: dict[str, np.ndarray | None] = {}
    for z in zooms:
        for name, sub, rows in parts:
            if name not in anchors:
                weighted = sub.dimension == 2 and sub.weight is not None
                anchors[name] = shapely.point_on_surface(world[rows]) if weighted else None
            lv = level(sub, world[rows], z, detail, anchors[name])
            if z not in notes or lv.note:
                notes[z] = lv.note
            ids = np.where(lv.ids > 0, rows[np.maximum(lv.ids, 1).astype(np.int64) - 1] + 1, 0)
            props = {"_s": lv.styles, "_n": lv.counts, "_t": lv.tips}
            for (x, y), data in _encode(name, z, lv, ids, props):
                tid = zxy_to_tileid(z, x, y)
                # Two Tile messages one after the other are one Tile with both layers.
                tiles[tid] = tiles.get(tid, b"") + data
        done += weights[z]
        report(0.05 + 0.9 * done / weights.sum(), f"{src.key}: zoom {z} of {src.max_zoom}")
    tiles = {t: gzip.compress(d, compresslevel=4, mtime=0) for t, d in tiles.items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    w, s, e, n = shapely.total_bounds(src.geometry) if len(src) else (0.0, 0.0, 0.0, 0.0)
    with open(tmp, "wb") as f:
        writer = Writer(f)
        for tid in sorted(tiles):
            writer.write_tile(tid, tiles[tid])
        header = {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_lon_e7": int(w * 1e7),
            "min_lat_e7": int(s * 1e7),
            "max_lon_e7": int(e * 1e7),
            "max_lat_e7": int(n * 1e7),
            "center_zoom": 12,
            "center_lon_e7": int((w + e) / 2 * 1e7),
            "center_lat_e7": int((s + n) / 2 * 1e7),
        }
        meta = {
            "name": src.key,
            "vector_layers": [{"id": src.key, "fields": {"_s": "String", "_n": "Number"}}],
            "cityops": {"features": len(src), "notes": notes, **src.meta},
        }
        if not tiles:  # an archive needs one entry: an empty tile at zoom 0
            writer.write_tile(0, gzip.compress(b"", mtime=0))
        writer.finalize(header, meta)
    os.replace(tmp, path)
    report(1.0, f"{src.key}: {len(tiles):,} tiles")
    return path


STRIP_FEATURES = 200_000  # a zoom with more features is encoded in strips of tile columns


def _encode(
    name: str, z: int, lv: Level, ids: np.ndarray, props: dict
) -> list[tuple[tuple[int, int], bytes]]:
    """A level's tiles; a big level in strips of columns (memory stays bounded)."""
    n = len(lv.geoms)
    if n <= STRIP_FEATURES:
        return list(mvt.encode_layer(name, z, lv.geoms, ids, props).items())
    k = 2**z
    b = shapely.bounds(lv.geoms) * k
    pad = mvt.BUFFER / mvt.EXTENT
    lo = np.floor(b[:, 0] - pad).clip(0, k - 1)
    hi = np.floor(b[:, 2] + pad).clip(0, k - 1)
    x0, x1 = int(lo.min()), int(hi.max()) + 1
    strips = int(np.ceil(n / STRIP_FEATURES))
    edges = np.linspace(x0, x1, strips + 1).round().astype(int)
    out: list[tuple[tuple[int, int], bytes]] = []
    for a, e in zip(edges[:-1], edges[1:]):
        if e <= a:
            continue
        m = (hi >= a) & (lo < e)  # features reaching these columns
        sub = {key: v[m] for key, v in props.items()}
        tiles = mvt.encode_layer(name, z, lv.geoms[m], ids[m], sub, columns=(int(a), int(e)))
        out.extend(tiles.items())
    return out


def layer_names(src: TileSource) -> list[str]:
    """The MVT layer names the tiles of ``src`` use: its key for its main dimension, and
    ``key:dim`` for features of another (an incidents layer of points and polygons).

    Examples
    --------
    >>> g = np.array([shapely.Point(0, 0), shapely.Point(1, 1), shapely.box(0, 0, 1, 1)])
    >>> layer_names(TileSource("incidents", g, np.array(["{}"] * 3), "incidents"))
    ['incidents', 'incidents:2']
    """
    return [name for name, _, _ in _by_dimension(src, with_data=False)]


def _by_dimension(
    src: TileSource, with_data: bool = True
) -> list[tuple[str, TileSource, np.ndarray]]:
    if not len(src):
        return [(src.key, src, np.arange(0))]
    dims = shapely.get_dimensions(src.geometry)
    present = sorted(set(dims.tolist()))
    if len(present) == 1:
        return [(src.key, src, np.arange(len(src)))]
    main = int(np.bincount(dims).argmax())
    out = []
    for d in present:
        rows = np.flatnonzero(dims == d)
        name = src.key if d == main else f"{src.key}:{d}"
        if not with_data:
            out.append((name, src, rows))
            continue
        sub = replace(
            src,
            geometry=src.geometry[rows],
            styles=src.styles[rows],
            **{
                f: getattr(src, f)[rows]
                for f in ("min_zoom", "weight", "area_km2", "group")
                if getattr(src, f) is not None
            },
        )
        out.append((name, sub, rows))
    return out


def style_json(style: dict) -> str:
    """A style dict as compact JSON text (None values dropped), the form tiles carry.

    Examples
    --------
    >>> style_json({"color": "#fff", "weight": 2, "dashArray": None})
    '{"color":"#fff","weight":2}'
    """
    return json.dumps({k: v for k, v in style.items() if v is not None}, separators=(",", ":"))
