"""Networks cached on the content of their roads layer: build once per scenario, not per click."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.network.road_network import RoadNetwork

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["NetworkOptions", "clear_cache", "network_for", "roads_fingerprint"]


class NetworkOptions(TypedDict, total=False):
    """The build options of :meth:`RoadNetwork.from_roads` that :func:`network_for` takes."""

    crs: CRS | str | int | None
    speeds: dict[str, float] | None
    walk_kmh: float
    tolerance_m: float
    join_m: float
    source: str


_CACHE: OrderedDict[str, RoadNetwork] = OrderedDict()
_CACHE_SIZE = 4


def roads_fingerprint(roads: gpd.GeoDataFrame, **params: object) -> str:
    """A content hash of a roads layer (geometry, routing attributes) and build parameters."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(sorted(params.items())).encode())
    h.update(str(roads.crs).encode())
    geoms = np.asarray(roads.geometry.array, dtype=object)
    for wkb in shapely.to_wkb(geoms):
        h.update(wkb if wkb is not None else b"-")
    for col in ("id", "road_class", "oneway", "speed_kmh"):
        if col in roads.columns:
            h.update(col.encode())
            h.update(pd.util.hash_pandas_object(roads[col].astype(str), index=False).to_numpy())
    return h.hexdigest()


def network_for(roads: gpd.GeoDataFrame, **kwargs: Unpack[NetworkOptions]) -> RoadNetwork:
    """:meth:`RoadNetwork.from_roads`, cached on the roads' content (the last few networks)."""
    key = roads_fingerprint(roads, **kwargs)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    net = RoadNetwork.from_roads(roads, **kwargs)
    _CACHE[key] = net
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return net


def clear_cache() -> None:
    """Forget cached networks."""
    _CACHE.clear()
