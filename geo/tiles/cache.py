"""Tile sets on disk, keyed by the content hash of what they show, and built in the background.

``ensure(source)`` returns at once: a tile set already on disk (``ready``; reopening the app
reuses it), or one being built by a background worker (``building``, with its progress), or
one whose build failed (``failed``, with the layer and the cause). The web routes
(:mod:`geo.web.tiles`) read tiles, status and tooltips from here by hash. One build at a time:
the machine's cores are shared with the page.

The cache lives in ``$CITYOPS_CACHE/tiles`` (default ``~/.cache/cityops/tiles``): one PMTiles
archive per hash. The hash covers the geometries, the styles, the generalisation inputs and
:data:`TILES_VERSION` (bumped when the builder changes what it writes).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely

from geo.tiles import pyramid
from geo.tiles.pyramid import TileSource

TILES_VERSION = "2"
Status = Literal["building", "ready", "failed"]


def cache_dir() -> Path:
    """Where tile archives are kept: ``$CITYOPS_CACHE/tiles`` or ``~/.cache/cityops/tiles``.

    Examples
    --------
    >>> cache_dir().name
    'tiles'
    """
    root = os.environ.get("CITYOPS_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "cityops"
    return base / "tiles"


def _hash_array(h: Any, values: np.ndarray | None) -> None:
    if values is None:
        h.update(b"-")
        return
    h.update(pd.util.hash_array(np.asarray(values, dtype=object)).tobytes())


def content_hash(src: TileSource) -> str:
    """A short hex digest of everything the tiles of ``src`` depend on.

    Examples
    --------
    >>> a = TileSource("p", shapely.points([1.0], [2.0]), np.array(["{}"]), "points")
    >>> b = TileSource("p", shapely.points([1.0], [2.5]), np.array(["{}"]), "points")
    >>> content_hash(a) == content_hash(a), content_hash(a) == content_hash(b)
    (True, False)
    """
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{TILES_VERSION}|{src.key}|{src.title}|{src.max_zoom}|".encode())
    h.update(b"".join(shapely.to_wkb(src.geometry, output_dimension=2)))
    for values in (src.styles, src.min_zoom, src.weight, src.area_km2, src.group):
        _hash_array(h, values)
    return h.hexdigest()


class Archive:
    """A PMTiles archive opened for reading: its whole directory in memory, tiles by mmap."""

    def __init__(self, path: str | os.PathLike) -> None:
        from pmtiles.reader import Reader
        from pmtiles.tile import deserialize_directory, deserialize_header

        self.path = Path(path)
        self._file = open(self.path, "rb")  # noqa: SIM115 - kept open for the mmap
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.header = deserialize_header(self._map[0:127])
        self.meta = Reader(lambda o, n: self._map[o : o + n]).metadata()
        self._index: dict[int, tuple[int, int]] = {}
        stack = [(self.header["root_offset"], self.header["root_length"])]
        while stack:
            off, length = stack.pop()
            for e in deserialize_directory(self._map[off : off + length]):
                if e.run_length == 0:  # a leaf directory
                    stack.append((self.header["leaf_directory_offset"] + e.offset, e.length))
                else:
                    for i in range(e.run_length):
                        self._index[e.tile_id + i] = (e.offset, e.length)
        self.min_zoom = int(self.header["min_zoom"])
        self.max_zoom = int(self.header["max_zoom"])

    def __len__(self) -> int:
        return len(self._index)

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's stored (gzip-compressed) bytes, or None when it holds nothing."""
        from pmtiles.tile import zxy_to_tileid

        hit = self._index.get(zxy_to_tileid(z, x, y))
        if hit is None:
            return None
        start = self.header["tile_data_offset"] + hit[0]
        return self._map[start : start + hit[1]]

    def close(self) -> None:
        self._map.close()
        self._file.close()


@dataclass
class TileSet:
    """One layer's tiles: where they are, how their build goes, and what the map must say."""

    hash: str
    key: str
    path: Path
    features: int
    status: Status = "building"
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    notes: list[tuple[int, str]] = field(default_factory=list)
    max_zoom: int = pyramid.gen.MAX_ZOOM
    tip: Callable[[int], str] | None = None  # a feature's tooltip by its row position
    _archive: Archive | None = None

    def archive(self) -> Archive | None:
        """The archive, opened on first use (None until the build is done)."""
        if self.status != "ready":
            return None
        if self._archive is None:
            self._archive = Archive(self.path)
        return self._archive

    def state(self) -> dict:
        """What the map's status poll gets (JSON-safe)."""
        return {
            "hash": self.hash,
            "layer": self.key,
            "status": self.status,
            "progress": round(self.progress, 3),
            "message": self.message,
            "error": self.error,
            "features": self.features,
            "max_zoom": self.max_zoom,
        }


_SETS: dict[str, TileSet] = {}
_LOCK = threading.Lock()
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityops-tiles")


def ensure(
    src: TileSource,
    tip: Callable[[int], str] | None = None,
    *,
    wait: bool = False,
    content: str | None = None,
) -> TileSet:
    """The tile set of ``src``: from the cache, or built (in the background unless ``wait``).

    Parameters
    ----------
    src : the layer to tile.
    tip : a feature's pre-escaped tooltip by its row position (served at ``.../tip/{id}``).
    wait : build in this thread and return when done (scripts, benchmarks, tests).
    content : the content hash when the caller already has it (else computed).

    Examples
    --------
    >>> import tempfile
    >>> old = os.environ.get("CITYOPS_CACHE")
    >>> os.environ["CITYOPS_CACHE"] = tempfile.mkdtemp()  # not the user's cache
    >>> src = TileSource("pts", shapely.points([121.5], [31.2]), np.array(["{}"]), "points",
    ...                  max_zoom=2)
    >>> ensure(src, wait=True).status
    'ready'
    >>> _ = os.environ.pop("CITYOPS_CACHE") if old is None else os.environ.update(CITYOPS_CACHE=old)
    """
    h = content or content_hash(src)
    with _LOCK:
        ts = _SETS.get(h)
        if ts is not None and ts.status != "failed":
            if tip is not None:
                ts.tip = tip
            return ts
        path = cache_dir() / f"{h}.pmtiles"
        ts = TileSet(h, src.key, path, len(src), tip=tip, max_zoom=src.max_zoom)
        ts.notes = pyramid.zoom_notes(src)
        _SETS[h] = ts
        if path.exists():
            ts.status, ts.progress, ts.message = "ready", 1.0, "from the cache"
            return ts
    if wait:
        _build(ts, src)
    else:
        _POOL.submit(_build, ts, src)
    return ts


def _build(ts: TileSet, src: TileSource) -> None:
    def progress(fraction: float, message: str) -> None:
        ts.progress, ts.message = fraction, message

    try:
        _test_hooks(src, progress)
        pyramid.build(src, ts.path, progress)
    except Exception as exc:  # the page says which layer failed and why; the rest goes on
        ts.status = "failed"
        ts.error = f"the {src.title} tiles could not be built: {type(exc).__name__}: {exc}"
        ts.message = ts.error
        traceback.print_exc()
        return
    ts.status = "ready"


# For the browser tests of the build states: builds that take a while, builds that fail.
DELAY_ENV, FAIL_ENV = "CITYOPS_TILES_DELAY_S", "CITYOPS_TILES_FAIL"


def _test_hooks(src: TileSource, progress: pyramid.Progress) -> None:
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    for i in range(10 if delay > 0 else 0):
        progress(0.05 * i / 10, f"{src.key}: preparing")
        time.sleep(delay / 10)
    if src.key in os.environ.get(FAIL_ENV, "").split(","):
        raise RuntimeError(f"failure asked for by {FAIL_ENV}")


def get(h: str) -> TileSet | None:
    """The tile set of hash ``h``: registered in this process, or found in the cache."""
    ts = _SETS.get(h)
    if ts is not None:
        return ts
    if not (len(h) == 24 and all(c in "0123456789abcdef" for c in h)):
        return None
    path = cache_dir() / f"{h}.pmtiles"
    if not path.exists():
        return None
    with _LOCK:
        ts = _SETS.get(h)
        if ts is None:
            try:
                arc = Archive(path)
            except Exception:  # a damaged file is not a tile set
                return None
            key = str(arc.meta.get("name", ""))
            ts = TileSet(h, key, path, int(arc.meta.get("cityops", {}).get("features", 0)))
            ts.status, ts.progress, ts._archive = "ready", 1.0, arc
            ts.max_zoom = arc.max_zoom
            _SETS[h] = ts
    return ts
