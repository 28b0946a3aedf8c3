"""Mapbox Vector Tile (MVT 2.1) encoding of a whole zoom level at once, vectorised with numpy.

One call encodes one layer at one zoom for every tile it touches: features are assigned to
tiles, clipped to each tile plus a buffer (only those that cross its edge), quantised to the
tile's integer grid (``extent`` units), cleaned (repeated points dropped, rings that collapse
dropped, rings wound as the spec says) and written as protobuf. Everything per feature or per
vertex is numpy; Python loops only over tiles (to join each tile's bytes).

Encoding a feature per Python call (``mapbox-vector-tile``) costs tens of microseconds; a city
of a million roads is several million (feature, tile) pairs over the zoom levels, hence this.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely

EXTENT = 4096
BUFFER = 64  # extent units drawn beyond each tile edge (strokes and markers across edges)
POINT, LINE, POLYGON = 1, 2, 3
_MOVE_TO, _LINE_TO, _CLOSE = 1, 2, 7


def _vsize(v: np.ndarray) -> np.ndarray:
    """Bytes of each unsigned value as a protobuf varint."""
    shape = v.shape
    v = v.astype(np.uint64).ravel()
    n = np.ones(v.shape, dtype=np.int64)
    big = np.flatnonzero(v >= 128)
    for shift in range(7, 64, 7):
        n[big] += 1
        big = big[v[big] >= np.uint64(1) << np.uint64(shift + 7)]
        if not len(big):
            break
    return n.reshape(shape)


def varints(v: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Unsigned values as concatenated protobuf varints, and each value's byte offset.

    Examples
    --------
    >>> data, at = varints(np.array([1, 300, 0]))
    >>> data.hex(), at.tolist()
    ('01ac0200', [0, 1, 3])
    """
    v = np.asarray(v).astype(np.uint64)
    size = _vsize(v)
    at = np.cumsum(size) - size
    out = np.zeros(int(size.sum()), dtype=np.uint8)
    out[at] = (v & np.uint64(0x7F)).astype(np.uint8) | np.where(size > 1, 0x80, 0).astype(np.uint8)
    idx = np.flatnonzero(size > 1)  # most values take one byte: the rest, byte by byte
    for k in range(1, int(size.max()) if len(size) else 0):
        idx = idx[size[idx] > k]
        byte = (v[idx] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = np.where(size[idx] > k + 1, 0x80, 0).astype(np.uint8)
        out[at[idx] + k] = byte.astype(np.uint8) | more
    return out.tobytes(), at


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(d: np.ndarray) -> np.ndarray:
    d = d.astype(np.int64)
    return ((d << 1) ^ (d >> 63)).astype(np.uint64)


def _value_message(value: object) -> bytes:
    """One MVT ``Value``: strings, booleans, integers (sint) and floats (double)."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"\x0a" + _varint(len(raw)) + raw
    if isinstance(value, bool | np.bool_):
        return b"\x38" + _varint(int(bool(value)))
    if isinstance(value, int | np.integer):
        v = int(value)
        return b"\x30" + _varint((v << 1) ^ (v >> 63))
    return b"\x19" + struct.pack("<d", float(value))  # type: ignore[arg-type]


def _parts(geoms: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Single parts of dimension ``dim`` and the index of the geometry each comes from."""
    if (shapely.get_type_id(geoms) < 4).all():  # single parts already (most tiles' features)
        parts, idx = geoms, np.arange(len(geoms))
    else:
        parts, idx = shapely.get_parts(geoms, return_index=True)
    while len(parts):
        multi = shapely.get_type_id(parts) >= 4
        if not multi.any():
            break
        sub, sidx = shapely.get_parts(parts[multi], return_index=True)
        keep_p, keep_i = parts[~multi], idx[~multi]
        parts = np.concatenate([keep_p, sub])
        idx = np.concatenate([keep_i, idx[multi][sidx]])
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
    ok = (shapely.get_dimensions(parts) == dim) & ~shapely.is_empty(parts)
    return parts[ok], idx[ok]


def _assign(
    geoms: np.ndarray, z: int, buffer: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(feature index, tile x, tile y, needs clipping) for every tile each feature touches,
    sorted by tile."""
    k = 2**z
    b = shapely.bounds(geoms) * k
    lo = np.floor(b[:, :2] - buffer).astype(np.int64).clip(0, k - 1)
    hi = np.floor(b[:, 2:] + buffer).astype(np.int64).clip(0, k - 1)
    nx, ny = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    cnt = nx * ny
    fi = np.repeat(np.arange(len(geoms)), cnt)
    j = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    tx = lo[fi, 0] + j // ny[fi]
    ty = lo[fi, 1] + j % ny[fi]
    inside = (
        (b[fi, 0] >= tx - buffer)
        & (b[fi, 2] <= tx + 1 + buffer)
        & (b[fi, 1] >= ty - buffer)
        & (b[fi, 3] <= ty + 1 + buffer)
    )
    order = np.lexsort((fi, ty, tx))
    return fi[order], tx[order], ty[order], ~inside[order]


def encode_layer(
    name: str,
    z: int,
    geoms: np.ndarray,
    ids: np.ndarray,
    props: Mapping[str, np.ndarray | pd.Series] | None = None,
    *,
    extent: int = EXTENT,
    buffer: int = BUFFER,
    columns: tuple[int, int] | None = None,
) -> dict[tuple[int, int], bytes]:
    """Every tile of zoom ``z`` that the features touch, as an MVT with one layer ``name``.

    Parameters
    ----------
    name : the layer's name in the tile.
    z : the zoom level.
    geoms : shapely geometries in world units (:func:`geo.tiles.mercator.to_world`), all of
        one dimension (points, lines or polygons; parts of other dimensions are dropped).
    ids : non-negative integer feature ids (the MVT ``id`` field).
    props : property name -> one value per feature (str, int, float or bool; no missing).
    extent, buffer : the tile's integer grid and the margin drawn around it, in grid units.
    columns : only the tiles of columns ``x0 <= x < x1`` (a big zoom encoded in strips, to
        bound memory; each tile is still whole).

    Returns
    -------
    ``{(x, y): tile bytes}`` for the tiles that hold at least one feature.

    Examples
    --------
    >>> from geo.tiles.mercator import to_world
    >>> g = to_world(np.array([shapely.LineString([(121.50, 31.20), (121.51, 31.21)])]))
    >>> tiles = encode_layer("roads", 12, g, np.array([7]), {"c": np.array(["primary"])})
    >>> list(tiles)  # the line crosses a tile edge
    [(3430, 1673), (3430, 1674)]
    """
    geoms = np.asarray(geoms, dtype=object)
    ids = np.asarray(ids, dtype=np.uint64)
    props = {k: np.asarray(v) for k, v in (props or {}).items()}
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not keep.all():
        geoms, ids = geoms[keep], ids[keep]
        props = {k: v[keep] for k, v in props.items()}
    if not len(geoms):
        return {}
    dim = int(shapely.get_dimensions(geoms).max())
    k = 2**z
    bf = buffer / extent
    fi, tx, ty, clip = _assign(geoms, z, bf)
    if columns is not None:
        keep_pair = (tx >= columns[0]) & (tx < columns[1])
        fi, tx, ty, clip = fi[keep_pair], tx[keep_pair], ty[keep_pair], clip[keep_pair]
        if not len(fi):
            return {}

    pair_geoms = geoms[fi]
    if clip.any():  # clip_by_rect takes one rectangle: one call per tile (pairs are by tile)
        c = np.flatnonzero(clip)
        tk = tx[c] * k + ty[c]
        cuts = np.flatnonzero(np.r_[True, tk[1:] != tk[:-1], True])
        for a, e in zip(cuts[:-1], cuts[1:]):
            sel = c[a:e]
            x0, y0 = int(tx[sel[0]]), int(ty[sel[0]])
            pair_geoms[sel] = shapely.clip_by_rect(
                pair_geoms[sel], (x0 - bf) / k, (y0 - bf) / k, (x0 + 1 + bf) / k, (y0 + 1 + bf) / k
            )
    parts, pidx = _parts(pair_geoms, dim)

    # Sequences: the pair's points (one MoveTo), each line part, or each polygon ring.
    if dim == 0:
        coords = shapely.get_coordinates(parts)
        seq_of_pt = pidx
        seq_pair = np.arange(len(fi))
        is_ext = np.ones(len(fi), dtype=bool)
    elif dim == 1:
        coords, seq_of_pt = shapely.get_coordinates(parts, return_index=True)
        seq_pair = pidx
        is_ext = np.ones(len(parts), dtype=bool)
    else:
        rings, ring_poly = shapely.get_rings(parts, return_index=True)
        coords, seq_of_pt = shapely.get_coordinates(rings, return_index=True)
        seq_pair = pidx[ring_poly]
        is_ext = np.r_[True, ring_poly[1:] != ring_poly[:-1]] if len(rings) else np.zeros(0, bool)
        ring_of_poly = ring_poly
    origin = np.column_stack([tx, ty])[seq_pair[seq_of_pt]]
    q = np.rint((coords * k - origin) * extent).astype(np.int64)

    if dim >= 1:  # repeated points (quantisation merges near ones) and closing points go
        same = np.zeros(len(q), dtype=bool)
        same[1:] = (q[1:] == q[:-1]).all(axis=1) & (seq_of_pt[1:] == seq_of_pt[:-1])
        q, seq_of_pt = q[~same], seq_of_pt[~same]
        if dim == 2 and len(q):
            ring, ring_first = np.unique(seq_of_pt, return_index=True)
            first_at = np.zeros(len(is_ext), dtype=np.int64)
            first_at[ring] = ring_first
            f = first_at[seq_of_pt]
            last = np.r_[seq_of_pt[1:] != seq_of_pt[:-1], True]
            closing = last & (q == q[f]).all(axis=1) & (np.arange(len(q)) != f)
            q, seq_of_pt = q[~closing], seq_of_pt[~closing]
    nseq = len(seq_pair)
    npts = np.bincount(seq_of_pt, minlength=nseq)
    valid = npts >= (1 if dim == 0 else 2 if dim == 1 else 3)
    if dim == 2:
        # Surveyor's formula in tile coordinates (y down): exterior > 0, holes < 0.
        start = np.cumsum(npts) - npts
        pos = np.arange(len(q)) - start[seq_of_pt]
        nxt = np.where(pos + 1 < npts[seq_of_pt], np.arange(len(q)) + 1, start[seq_of_pt])
        cross = q[:, 0] * q[nxt, 1] - q[nxt, 0] * q[:, 1]
        area2 = np.bincount(seq_of_pt, weights=cross.astype(np.float64), minlength=nseq)
        valid &= area2 != 0
        poly_ok = np.zeros(int(ring_of_poly.max()) + 1 if nseq else 0, dtype=bool)
        poly_ok[ring_of_poly[is_ext & valid]] = True
        valid &= poly_ok[ring_of_poly]
        flip = valid & ((area2 > 0) != is_ext)
        fp = flip[seq_of_pt]
        src = np.arange(len(q))
        src[fp] = (start[seq_of_pt] + npts[seq_of_pt] - 1 - pos)[fp]
        q = q[src]
    keep_pt = valid[seq_of_pt]
    q, seq_of_pt = q[keep_pt], seq_of_pt[keep_pt]
    new_id = np.cumsum(valid) - 1
    seq_of_pt = new_id[seq_of_pt]
    seq_pair, npts = seq_pair[valid], npts[valid]
    if not len(seq_pair):
        return {}

    # Geometry commands, one run of uint32 per sequence; the cursor runs on across a feature.
    seq_len = 1 + 2 * npts if dim == 0 else 2 * npts + (2 if dim == 1 else 3)
    seq_start = np.cumsum(seq_len) - seq_len
    geom = np.zeros(int(seq_len.sum()), dtype=np.uint64)
    rank = np.arange(len(q)) - (np.cumsum(npts) - npts)[seq_of_pt]
    if dim == 0:
        geom[seq_start] = _MOVE_TO | (npts.astype(np.uint64) << np.uint64(3))
        at = seq_start[seq_of_pt] + 1 + 2 * rank
    else:
        geom[seq_start] = _MOVE_TO | (1 << 3)
        geom[seq_start + 3] = _LINE_TO | ((npts - 1).astype(np.uint64) << np.uint64(3))
        at = seq_start[seq_of_pt] + np.where(rank == 0, 1, 2 + 2 * rank)
        if dim == 2:
            geom[seq_start + seq_len - 1] = _CLOSE | (1 << 3)
    pair_of_pt = seq_pair[seq_of_pt]
    prev = np.zeros_like(q)
    prev[1:] = q[:-1]
    prev[np.r_[True, pair_of_pt[1:] != pair_of_pt[:-1]]] = 0
    d = q - prev
    geom[at] = _zigzag(d[:, 0])
    geom[at + 1] = _zigzag(d[:, 1])

    # The features that kept a geometry, and their geometry run.
    pairs, first_seq = np.unique(seq_pair, return_index=True)
    geom_start = seq_start[first_seq]
    geom_len = np.add.reduceat(seq_len, first_seq)
    gsize = _vsize(geom)
    geom_bytes = np.add.reduceat(gsize, geom_start) if len(geom) else gsize

    # Tiles and, per property, each feature's index into its tile's value table.
    tile_key = tx[pairs] * k + ty[pairs]
    tiles, tile_of = np.unique(tile_key, return_inverse=True)
    ntiles = len(tiles)
    keys = list(props)
    tags = np.zeros((len(pairs), 2 * len(keys)), dtype=np.uint64)
    offset = np.zeros(ntiles, dtype=np.int64)
    tables: list[tuple[np.ndarray, np.ndarray, list[bytes]]] = []
    for ki, key in enumerate(keys):
        codes, uniques = pd.factorize(props[key][fi[pairs]], use_na_sentinel=False)
        u = max(len(uniques), 1)
        combo, local = np.unique(tile_of.astype(np.int64) * u + codes, return_inverse=True)
        combo_tile = combo // u
        first = np.searchsorted(combo_tile, np.arange(ntiles))
        nvals = np.bincount(combo_tile, minlength=ntiles)
        tags[:, 2 * ki] = ki
        tags[:, 2 * ki + 1] = offset[tile_of] + (local - first[tile_of])
        offset += nvals
        msgs = [_value_message(v) for v in uniques]
        tables.append((first, combo % u, msgs))
    ntag = 2 * len(keys)
    tag_bytes = _vsize(tags).sum(axis=1) if ntag else np.zeros(len(pairs), np.int64)
    fid = ids[fi[pairs]]
    gtype = np.full(len(pairs), dim + 1, dtype=np.uint64)
    feat_bytes = (
        1 + _vsize(fid) + 2 + 1 + _vsize(geom_bytes) + geom_bytes
        + ((1 + _vsize(tag_bytes) + tag_bytes) if ntag else 0)
    )  # fmt: skip

    # Every feature as varint tokens: [2:len] {[1:id] [2:len tags] [3:type] [4:len geom]}.
    head = 2 + 2 + (2 + ntag if ntag else 0) + 2 + 2
    tok_len = head + geom_len
    tok_start = np.cumsum(tok_len) - tok_len
    tok = np.zeros(int(tok_len.sum()), dtype=np.uint64)
    cols = [np.full(len(pairs), 18), feat_bytes, np.full(len(pairs), 8), fid]
    if ntag:
        cols += [np.full(len(pairs), 18), tag_bytes, *tags.T]
    cols += [np.full(len(pairs), 24), gtype, np.full(len(pairs), 34), geom_bytes]
    for j, col in enumerate(cols):
        tok[tok_start + j] = col
    gpair = np.repeat(np.arange(len(pairs)), geom_len)
    tok[tok_start[gpair] + head + (np.arange(len(geom)) - geom_start[gpair])] = geom
    data, at_byte = varints(tok)
    feat_at = at_byte[tok_start]
    tile_first = np.searchsorted(tile_of, np.arange(ntiles))
    tile_end = np.r_[tile_first[1:], len(pairs)]
    byte_end = np.r_[feat_at[1:], len(data)]

    name_b = name.encode("utf-8")
    key_b = b"".join(b"\x1a" + _varint(len(kb)) + kb for kb in (k_.encode() for k_ in keys))
    fixed = b"\x78\x02" + b"\x0a" + _varint(len(name_b)) + name_b + b"\x28" + _varint(extent)
    out: dict[tuple[int, int], bytes] = {}
    for t in range(ntiles):
        a, e = tile_first[t], tile_end[t]
        values = []
        for first, codes, msgs in tables:
            s = first[t]
            s_end = first[t + 1] if t + 1 < ntiles else len(codes)
            values += [b"\x22" + _varint(len(msgs[c])) + msgs[c] for c in codes[s:s_end]]
        layer = fixed + key_b + b"".join(values) + data[feat_at[a] : byte_end[e - 1]]
        x, y = divmod(int(tiles[t]), k)
        out[(x, y)] = b"\x1a" + _varint(len(layer)) + layer
    return out
