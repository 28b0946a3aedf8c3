"""Heavy layers on the folium map as vector tiles: which layers, the element, the assets.

A layer is tiled when it would weigh too much in the page (:func:`should_tile`): many
features or many vertices.
Its feature group then holds a :class:`TiledLayer` instead of GeoJSON: a few hundred bytes of
script naming the tile set by content hash; the tiles come from the app's own ``/tiles``
routes. Everything a tile shows comes from the layer's own style and tooltip functions.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from typing import Any

import folium
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geo.tiles import cache, pyramid, source

VECTORGRID_JS = "vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"
TILES_JS = "cityops/tiles.js"
# The roads stay GeoJSON up to this many features (the demo's 1,578 do: the browser tests
# count their paths). Any other layer is tiled past LIMIT features or VERTEX_LIMIT vertices
# (~900 bytes a feature in the page, its tooltip and its style twice; ~25 a vertex): a live
# refresh re-sends the whole map component, base map included, when anything in it changed,
# so what stays in the page must stay small (a city's cordon bands: 3 shapes, 2,000 vertices).
ROADS_LIMIT = 2_000
LIMIT = 300
VERTEX_LIMIT = 1_000

CSS = """<style>
.co-tilenotes { background: rgba(13,17,23,0.85); color: #e6edf3; padding: 4px 8px;
  border-radius: 5px; font: 13px/1.4 system-ui, sans-serif; max-width: 420px; }
.co-tiletip { font: 14px/1.35 system-ui, sans-serif; }
</style>"""


def should_tile(layer: Any) -> bool:
    """Whether ``layer`` (a ``MapLayer``) goes to the map as tiles (never numbered markers).

    ``$CITYOPS_TILE_MIN=N`` replaces the rules by "more than N features" (0: every non-empty
    layer; a huge N switches tiling off, as the benchmark's reference does)."""
    if layer.label is not None or not len(layer.gdf):
        return False
    n = len(layer.gdf)
    env = os.environ.get("CITYOPS_TILE_MIN")
    if env is not None and env.strip().isdigit():
        return n > int(env)
    if layer.key == "roads":
        return n > ROADS_LIMIT
    if n > LIMIT:
        return True
    return int(shapely.get_num_coordinates(layer.gdf.geometry.to_numpy()).sum()) > VERTEX_LIMIT


def frame_hash(gdf: Any) -> str:
    """A fast hash of a frame's content (geometry WKB and every column's values), for the
    rerun memo (``geo.fingerprint.layer_hash`` turns values into text: seconds for 100k rows).

    Examples
    --------
    >>> import geopandas as gpd
    >>> a = gpd.GeoDataFrame({"id": ["a"]}, geometry=shapely.points([1.0], [2.0]), crs=4326)
    >>> frame_hash(a) == frame_hash(a.copy()), frame_hash(a) == frame_hash(a.assign(id=["b"]))
    (True, False)
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(repr([str(c) for c in gdf.columns]).encode())
    geom = gdf.geometry.name
    wkb = shapely.to_wkb(gdf.geometry.to_numpy(), output_dimension=2)
    h.update(b"\x00".join(w if w is not None else b"-" for w in wkb))
    for col in gdf.columns:
        if col == geom:
            continue
        try:
            values = pd.util.hash_pandas_object(gdf[col], index=False).to_numpy()
        except TypeError:  # unhashable cells (lists, dicts)
            values = pd.util.hash_pandas_object(gdf[col].astype(str), index=False).to_numpy()
        h.update(values.tobytes())
    return h.hexdigest()


_MEMO: dict[tuple[str, int], tuple[weakref.ref, cache.TileSet, list[str]]] = {}
# By content too: layers derived afresh on every run (crowd zones with their densities, sites
# with their waits) have new frames but, mostly, the same content. Bounded, newest last.
_BY_CONTENT: dict[tuple[str, str, str], tuple[cache.TileSet, list[str]]] = {}
_BY_CONTENT_MAX = 64


def tileset(layer: Any, table: source.Table) -> tuple[cache.TileSet, list[str]]:
    """The tile set of ``layer`` (built in the background when new) and its MVT layer names.

    Memoised per layer object (an unchanged layer costs a lookup on a rerun) and per content
    (a layer rebuilt with the same rows and the same looks costs one hash of its rows)."""
    memo_key = (layer.key, id(layer.gdf))
    hit = _MEMO.get(memo_key)
    if hit is not None and hit[0]() is layer.gdf:
        ts = hit[1]
        ts.tip = source.tip_of(layer)  # this layer object's rows, same content
        return ts, hit[2]
    # The looks are part of the content: a style of a few sample rows stands for the theme.
    looks = source.styles_of(layer.gdf.iloc[:3], layer.style, layer.key, layer.point_radius)
    content_key = (layer.key, frame_hash(layer.gdf), "|".join(looks))
    found = _BY_CONTENT.pop(content_key, None)
    if found is not None and found[0].status != "failed":
        ts, names = found
        ts.tip = source.tip_of(layer)
    else:
        src = source.from_layer(layer, table)
        ts = cache.ensure(src, source.tip_of(layer))
        names = pyramid.layer_names(src)
    _BY_CONTENT[content_key] = (ts, names)
    while len(_BY_CONTENT) > _BY_CONTENT_MAX:
        _BY_CONTENT.pop(next(iter(_BY_CONTENT)))
    for k in [k for k, (ref, _, _) in _MEMO.items() if ref() is None]:
        del _MEMO[k]
    _MEMO[memo_key] = (weakref.ref(layer.gdf), ts, names)
    return ts, names


# A self-contained page (the HTML report) cannot fetch tiles: past these sizes a layer is left
# out of it (named in the switcher) rather than written into it whole.
PAGE_FEATURES = 50_000
PAGE_VERTICES = 1_000_000


def too_big_for_page(layer: Any) -> bool:
    """Whether ``layer`` is too heavy to be written whole into a self-contained page."""
    n = len(layer.gdf)
    if n > PAGE_FEATURES:
        return True
    return n > 0 and int(shapely.get_num_coordinates(layer.gdf.geometry.to_numpy()).sum()) > (
        PAGE_VERTICES
    )


class TiledLayer(MacroElement):
    """The script that draws a tile set inside its feature group (``static/cityops/tiles.js``)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        cityopsTiles.add({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, options: dict) -> None:
        super().__init__()
        self._name = "TiledLayer"
        self.options = options


def tiled_element(layer: Any, table: source.Table, pane: str) -> TiledLayer:
    """The element drawing ``layer`` from its tiles (starting its build when needed)."""
    ts, names = tileset(layer, table)
    title = layer.name.split(" (")[0].lower()
    return TiledLayer(
        {
            "url": f"/tiles/{ts.hash}/{layer.key}",
            "key": layer.key,
            "names": names,
            "title": title,
            "maxZoom": ts.max_zoom,
            "pane": pane,
            "notes": [[z, text] for z, text in ts.notes],
            "status": ts.status,
            "message": ts.error or f"Preparing the {title} for the map…",
        }
    )


class TileAssets(JSCSSMixin, MacroElement):
    """Links Leaflet.VectorGrid and the tiles script like any folium plugin (streamlit-folium
    loads a map's ``default_js`` in order, after Leaflet)."""

    _template = Template("")

    def __init__(self, base_url: str = "") -> None:
        super().__init__()
        self._name = "TileAssets"
        root = "/" + "/".join(p for p in (base_url.strip("/"), "app/static") if p)
        self.default_js = [
            ("co_vectorgrid", f"{root}/{VECTORGRID_JS}"),
            ("co_tiles", f"{root}/{TILES_JS}"),
        ]
        self.default_css = []


def add_assets(m: folium.Map, base_url: str = "") -> None:
    """Link Leaflet.VectorGrid and the tiles script (served by the app at ``/app/static``)."""
    m.add_child(TileAssets(base_url), name="co_tile_assets")
    root: Any = m.get_root()
    root.header.add_child(Element(CSS), name="co_tiles_css")
