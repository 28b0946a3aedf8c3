"""Content hashes of layers and scenarios: the keys of every cache that must follow the data.

A hash is computed once per GeoDataFrame object (layers are never changed in place: a scenario
change makes a new frame), so asking again on every rerun of a page costs a dictionary lookup.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> a = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(1, 2)], crs=4326)
>>> b = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(1, 2)], crs=4326)
>>> layer_hash(a) == layer_hash(b)
True
>>> layer_hash(a) == layer_hash(b.assign(id=["b"]))
False
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from geo.scenario import Scenario

__all__ = ["layer_hash", "scenario_hash"]

_MEMO: dict[int, tuple[weakref.ref, str]] = {}


def layer_hash(gdf: gpd.GeoDataFrame | pd.DataFrame) -> str:
    """A hash of a layer's content: geometry (WKB), every column's values, the CRS.

    Memoised per frame object (frames are treated as immutable, as the project's layers are).
    """
    key = id(gdf)
    hit = _MEMO.get(key)
    if hit is not None and hit[0]() is gdf:
        return hit[1]
    h = hashlib.blake2b(digest_size=16)
    h.update(str(getattr(gdf, "crs", None)).encode())
    h.update(repr(list(gdf.columns)).encode())
    h.update(str(len(gdf)).encode())
    if isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry.name in gdf.columns:
        wkb = shapely.to_wkb(np.asarray(gdf.geometry.array, dtype=object))
        h.update(b"\x00".join(w if w is not None else b"-" for w in wkb))
    for col in gdf.columns:
        if isinstance(gdf, gpd.GeoDataFrame) and col == gdf.geometry.name:
            continue
        values = gdf[col].astype(str)  # one hash for any dtype (times, nullable ints, text)
        h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
    digest = h.hexdigest()
    for k in [k for k, (ref, _) in _MEMO.items() if ref() is None]:
        del _MEMO[k]  # frames that are gone
    try:
        _MEMO[key] = (weakref.ref(gdf), digest)
    except TypeError:  # pragma: no cover - every pandas frame takes weak references
        pass
    return digest


def scenario_hash(sc: Scenario, kinds: Iterable[str] | None = None, extra: Any = None) -> str:
    """A hash of the scenario's layers ``kinds`` (default: all), its settings and ``extra``."""
    h = hashlib.blake2b(digest_size=16)
    for kind in sorted(kinds if kinds is not None else sc.layers):
        h.update(kind.encode())
        h.update(layer_hash(sc.layer(kind)).encode())
    h.update(json.dumps(sc.settings.to_dict(), sort_keys=True, default=str).encode())
    h.update(repr(extra).encode())
    return h.hexdigest()
