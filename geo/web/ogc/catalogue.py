"""What the OGC API serves: the configured scenario's layers (the live ones as the store has
them now) and the published results (:mod:`geo.results`), each as a :class:`Collection`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd

from geo import config, live, results
from geo.layers import LAYER_KINDS, LIVE_LAYERS, SCHEMAS
from geo.store import Store

__all__ = ["LAYER_TIME", "Collection", "TimeSpec", "collection", "collections"]

#: A feature's time: one instant column, or (start, end) interval columns (end None: instant).
TimeSpec = tuple[str, str | None]

#: The column(s) ``datetime`` filters on, per layer (the layers without time ignore it).
LAYER_TIME: dict[str, TimeSpec] = {
    "incidents": ("reported_at", None),
    "testing_sites": ("opens_at", "closes_at"),
    "crowd_zones": ("observed_at", None),
    "cordons": ("drawn_at", None),
}

_DESCRIPTIONS = {
    "incidents": "Incidents (kind, severity 1-5, status); time: reported_at.",
    "testing_sites": "Testing sites (lanes, throughput, queue, tested); time: opens_at to "
    "closes_at.",
    "crowd_zones": "Crowd zones (people, capacity, source); time: observed_at.",
    "roads": "The road network (OSM highway class, speed, one-way).",
    "facilities": "Hospitals, police and staging candidates.",
    "boundary": "The area of operations.",
    "cordons": "Cordon outlines drawn in the app (band); time: drawn_at.",
}


@dataclass(frozen=True)
class Collection:
    """One collection: its features (EPSG:4326, text ``id``, a stable order) and metadata."""

    id: str
    title: str
    description: str
    features: gpd.GeoDataFrame
    time: TimeSpec | None
    source: Literal["scenario", "store", "result"]
    #: ISO 8601 time of the newest update (store) or of the publication (result), if known.
    updated: str | None = None
    #: Who ran the result (once sign-in exists).
    user: str | None = None


def collections() -> list[Collection]:
    """Every collection, scenario layers first (in the schema's order), then the results."""
    out = [_layer(kind) for kind in LAYER_KINDS]
    return out + [_result(r) for r in results.collections()]


def collection(collection_id: str) -> Collection | None:
    """The collection ``collection_id``, or None when there is none by that id."""
    if collection_id in LAYER_KINDS:
        return _layer(collection_id)
    published = results.get(collection_id)
    return _result(published) if published is not None else None


def _layer(kind: str) -> Collection:
    sc = config.scenario()
    store = config.store()
    title, desc = SCHEMAS[kind].title, _DESCRIPTIONS.get(kind, "")
    if store is not None and kind in LIVE_LAYERS:
        gdf, newest = _live(store, kind)
        desc += " Live: as the operations store has it now."
        return Collection(kind, title, desc, gdf, LAYER_TIME.get(kind), "store", newest)
    return Collection(kind, title, desc, sc.layer(kind), LAYER_TIME.get(kind), "scenario")


def _result(r: results.Published) -> Collection:
    desc = f"{r.description} Published {r.published_at.isoformat()}"
    desc += f" by {r.user}." if r.user else "."
    return Collection(
        r.id, r.title, desc, r.features, r.time, "result", r.published_at.isoformat(), r.user
    )


# A live layer is read again only when the store has new events: reading a large layer costs
# far more than counting events, and the pages of one unchanged picture come from one read.
_live_lock = threading.Lock()
_live_cache: dict[tuple[int, str], tuple[int, gpd.GeoDataFrame, str | None]] = {}


def _live(store: Store, kind: str) -> tuple[gpd.GeoDataFrame, str | None]:
    key = (id(store), kind)
    n = store.count()
    with _live_lock:
        hit = _live_cache.get(key)
    if hit is not None and hit[0] == n:
        return hit[1], hit[2]
    gdf, newest = live.live_layer(config.scenario(), store, kind)
    gdf = gdf.sort_values("id", kind="stable").reset_index(drop=True) if len(gdf) else gdf
    with _live_lock:
        _live_cache[key] = (n, gdf, newest)  # the count before the read: never newer than it
    return gdf, newest
