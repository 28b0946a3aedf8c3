"""The map of a report or a print sheet: every layer and result, fitted to what is drawn, as one
self-contained HTML document with its CJK font embedded.

The page around it carries the legend (:mod:`geo.legend`), so the map has none of its own and its
layer switcher starts collapsed: nothing on the map covers anything else.

Examples
--------
>>> from geo import scenario
>>> sc = scenario.demo()
>>> w, s, e, n = content_bounds(sc)
>>> bool(121.5 < w < e < 121.8 and 31.0 < s < n < 31.3)
True
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import folium
import numpy as np

from geo import fonts, mapview
from geo.mapstyle import MapLayer, in_order, scenario_layers

__all__ = ["content_bounds", "drawn_layers", "map_document", "report_map"]


def drawn_layers(
    sc: Any,
    extra: Sequence[MapLayer] = (),
    theme: str = "light",
    hidden: Collection[str] | None = None,
) -> list[MapLayer]:
    """The layers the map draws, bottom to top: the scenario's and ``extra`` (as
    :func:`geo.mapview.build_map` orders and hides them: ``hidden`` keys are not shown, None
    keeps each layer's default).

    Examples
    --------
    >>> from geo import scenario
    >>> [lay.key for lay in drawn_layers(scenario.demo(), hidden={"roads"}) if lay.show][:3]
    ['boundary', 'crowd_zones', 'hospitals']
    """
    layers = in_order([*scenario_layers(sc, theme), *extra])
    if hidden is not None:
        layers = [replace(layer, show=layer.key not in hidden) for layer in layers]
    return layers


def content_bounds(sc: Any, extra: Sequence[MapLayer] = ()) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the scenario's extent and every shown result: a cordon's
    outer ring reaches beyond the study area and must be on the map too."""
    boxes = [sc.extent().total_bounds]
    for layer in extra:
        geoms = layer.gdf.geometry
        geoms = geoms[geoms.notna() & ~geoms.is_empty]
        if layer.show and len(geoms):
            boxes.append(geoms.total_bounds)
    b = np.array(boxes, dtype=float)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def report_map(
    sc: Any,
    extra: Sequence[MapLayer] = (),
    *,
    theme: str = "light",
    switcher: bool = True,
    hidden: Collection[str] | None = None,
) -> folium.Map:
    """The scenario and ``extra`` results on a self-contained map (Leaflet inlined) without a
    legend (the page has one), the layer switcher collapsed (or none), fitted to the content;
    ``hidden`` layer keys start unchecked (None: each layer's default).

    Examples
    --------
    >>> from geo import scenario
    >>> m = report_map(scenario.demo(), switcher=False)
    >>> any(isinstance(c, folium.LayerControl) for c in m._children.values())
    False
    """
    m = mapview.build_map(
        sc,
        extra,
        theme=theme,  # type: ignore[arg-type]
        assets="inline",
        compact=True,
        hidden=hidden,
    )
    if not switcher:
        for name, child in list(m._children.items()):
            if isinstance(child, folium.LayerControl):
                del m._children[name]
    m.options["zoom_snap"] = 0.25  # quarter zoom steps: the content fills the map
    w, s, e, n = content_bounds(sc, [lay for lay in extra if not hidden or lay.key not in hidden])
    m.fit_bounds([[s, w], [n, e]])  # after build_map's own fit (the study area): this one wins
    return m


@lru_cache(maxsize=1)
def _switcher_icons() -> str:
    """Leaflet's layer-switcher icon as data URLs: its CSS names ``images/layers.png``, which a
    self-contained page does not have (the collapsed switcher was an empty white box)."""
    images = mapview.STATIC_DIR / mapview.LEAFLET_DIR / "images"
    one, two = (
        base64.b64encode((images / name).read_bytes()).decode("ascii")
        for name in ("layers.png", "layers-2x.png")
    )
    return (
        f".leaflet-control-layers-toggle {{ background-image: url(data:image/png;base64,{one}); }}"
        f"\n.leaflet-retina .leaflet-control-layers-toggle {{ "
        f"background-image: url(data:image/png;base64,{two}); }}"
    )


def map_document(m: folium.Map, css: str = "") -> tuple[str, fonts.Embedded]:
    """``m`` rendered as a whole HTML document with the CJK font its text needs (tooltips, the
    switcher's names) and ``css`` added at the end of its head.

    Examples
    --------
    >>> from geo import scenario
    >>> doc, font = map_document(report_map(scenario.demo()))
    >>> doc.startswith("<!DOCTYPE html>"), font.missing
    (True, '')
    """
    doc = m.get_root().render()
    emb = fonts.embed(fonts.page_text(doc))
    style = (
        f"<style>{emb.css}\n.leaflet-container {{ font-family: {fonts.STACK} !important; }}\n"
        f"{_switcher_icons()}\n{css}</style>"
    )
    head_end = doc.find("</head>")
    doc = doc[:head_end] + style + doc[head_end:] if head_end >= 0 else style + doc
    return doc, emb
