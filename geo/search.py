"""Find a place by name: every named feature of every layer (and analysis result) in one index.

Offline and in memory: names are matched by their parts, case- and width-insensitively (full-width
letters and digits, as Chinese keyboards type them, match their ASCII twins), in Chinese or
English; no pinyin. The index is built once per scenario content.

Examples
--------
>>> from geo import scenario
>>> hits = find(index(scenario.demo()), "resort station")
>>> hits[0].label, hits[0].layer
('Disney Resort station (Metro Line 11)', 'facilities')
>>> [p.label for p in find(index(scenario.demo()), "ＷＥＳＴ hub")][:2]  # full-width letters
['West hub coach bays', 'West hub police post']
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo.fingerprint import scenario_hash
from geo.layers import LAYER_KINDS, SCHEMAS

if TYPE_CHECKING:
    from geo.scenario import Scenario

__all__ = ["Place", "find", "index"]

#: Columns whose text names a feature, in the order they are tried.
NAME_COLUMNS = ("name", "address", "band_zh", "id")


@dataclass(frozen=True)
class Place:
    """One searchable feature: what it is called, where it is, which layer it is in."""

    label: str  # the name shown in the search box
    layer: str  # the layer kind (or result) it comes from
    feature_id: str
    geometry: BaseGeometry  # EPSG:4326
    key: str  # the normalised text the search matches against

    @property
    def title(self) -> str:
        """The name and the layer, as the search box lists it."""
        kind = SCHEMAS[self.layer].title if self.layer in SCHEMAS else self.layer
        return f"{self.label} · {kind}"


def normalise(text: str) -> str:
    """Text as the search compares it: NFKC (full-width to ASCII), case-folded, spaces folded."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).casefold().split())


_INDEXES: dict[str, list[Place]] = {}


def index(sc: Scenario, extra: dict[str, gpd.GeoDataFrame] | None = None) -> list[Place]:
    """Every named feature of the scenario's layers (and of ``extra`` result layers), built once
    per content of the scenario."""
    key = scenario_hash(sc, LAYER_KINDS, extra=sorted(extra or {}))
    if extra is None and key in _INDEXES:
        return _INDEXES[key]
    places: list[Place] = []
    for kind, gdf in [*((k, sc.layer(k)) for k in LAYER_KINDS), *(extra or {}).items()]:
        if len(gdf) == 0 or kind == "roads" and "name" not in gdf.columns:
            continue
        places.extend(_places(kind, gdf))
    if extra is None:
        _INDEXES[key] = places
        while len(_INDEXES) > 4:
            _INDEXES.pop(next(iter(_INDEXES)))
    return places


def _places(kind: str, gdf: gpd.GeoDataFrame) -> list[Place]:
    # Unnamed roads are not places; other features are found by their id too.
    cols = [c for c in NAME_COLUMNS if c in gdf.columns and not (kind == "roads" and c == "id")]
    if not cols:
        return []
    text = gdf[cols].astype(object).where(gdf[cols].notna(), None)
    label = text.bfill(axis=1).iloc[:, 0]
    keep = label.notna() & gdf.geometry.notna().to_numpy() & ~gdf.geometry.is_empty.to_numpy()
    rows = gdf[keep.to_numpy()]
    label = label[keep]
    if kind == "roads":  # a road is many segments with one name: one entry per name
        first = ~label.map(normalise).duplicated()
        rows, label = rows[first.to_numpy()], label[first]
    ids = rows["id"].astype(str) if "id" in rows.columns else rows.index.astype(str)
    keys = text[keep].loc[rows.index].fillna("").astype(str).agg(" ".join, axis=1)
    return [
        Place(str(lab), kind, str(i), geom, normalise(k))
        for lab, i, geom, k in zip(label, ids, rows.geometry, keys)
    ]


def find(places: list[Place], query: str, limit: int = 20) -> list[Place]:
    """The places whose name holds every word of ``query`` (any order), best first: a name that
    starts with the query, then whole-word matches, then the rest; earlier matches and shorter
    names first."""
    words = normalise(query).split()
    if not words:
        return []
    hits = [p for p in places if all(w in p.key for w in words)]
    q = " ".join(words)

    def rank(p: Place) -> tuple[int, int, int, str]:
        name = normalise(p.label)
        first = 0 if name.startswith(q) else 1 if f" {q}" in f" {name}" else 2
        at = name.find(q)  # the earlier the words stand in the name, the better the match
        return (first, at if at >= 0 else len(name), len(name), name)

    return sorted(hits, key=rank)[:limit]
