"""A map's legend as HTML beside the map (the report, the print sheet), drawn from the layers'
own styles: each entry's symbol (circle, line or area; stroke, width, dash, fill, opacity) is
what the map draws for a feature of that colour, read from the same style table
(:mod:`geo.mapstyle`), so paper and screen cannot disagree.

Examples
--------
>>> from geo import scenario, mapstyle
>>> sc = scenario.demo()
>>> gs = groups(mapstyle.scenario_layers(sc, "light"))
>>> [g.title for g in gs][:3]
['Boundary', 'Crowd zones (people/km²)', 'Roads']
>>> s = gs[0].entries[0].symbol
>>> s.shape, s.stroke, s.dash
('area', '#1f6feb', '6 4')
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from geo.mapstyle import MapLayer, in_order
from geo.palette import THEMES

__all__ = ["Entry", "Group", "Symbol", "groups", "legend_html", "symbol_svg"]

Shape = Literal["point", "line", "area"]
#: Rows read to find the feature whose style an entry shows (the roads layer has thousands).
SCAN_ROWS = 5000


@dataclass(frozen=True)
class Symbol:
    """How the map draws one kind of feature (Leaflet path options, SVG units)."""

    shape: Shape
    stroke: str | None
    weight: float
    dash: str | None
    opacity: float
    fill: str | None
    fill_opacity: float
    radius: float = 0.0
    text: str | None = None  # the number drawn on a point (staging ranks)


@dataclass(frozen=True)
class Entry:
    """One legend line: a symbol and what it means."""

    symbol: Symbol
    label: str


@dataclass(frozen=True)
class Group:
    """The entries of one map layer, under its switcher title."""

    key: str
    title: str
    entries: tuple[Entry, ...]


def _shape(geom: Any) -> Shape:
    kind = geom.geom_type
    if kind in ("Point", "MultiPoint"):
        return "point"
    return "line" if kind in ("LineString", "MultiLineString", "LinearRing") else "area"


def _symbol(layer: MapLayer, color: str) -> Symbol:
    """The style of the first feature drawn in ``color`` (as stroke or fill), in that feature's
    shape (incidents may be points or areas); with none, the first feature's style and shape in
    that colour (a class the data does not reach yet)."""
    rows = layer.gdf.head(SCAN_ROWS)
    rows = rows[rows.geometry.notna() & ~rows.geometry.is_empty]
    chosen: tuple[Any, dict[str, Any]] | None = None
    first: tuple[Any, dict[str, Any]] | None = None
    want = color.lower()
    for _, row in rows.iterrows():
        style = {k: v for k, v in layer.style(row).items() if v is not None}
        if first is None:
            first = (row, style)
        if want in (str(style.get("fillColor", "")).lower(), str(style.get("color", "")).lower()):
            chosen = (row, style)
            break
    if chosen is None:
        assert first is not None  # the layer has features (groups() skips empty ones)
        row, style = first
        shape = _shape(row.geometry)
        style = dict(style)
        if shape == "line" or style.get("color") == style.get("fillColor"):
            style["color"] = color
        if shape != "line":
            style["fillColor"] = color
    else:
        row, style = chosen
        shape = _shape(row.geometry)
    fill = style.get("fillColor", style.get("color")) if shape != "line" else None
    # folium's circle markers are filled (mapview sets fill); areas default to Leaflet's 0.2
    fill_opacity = float(style.get("fillOpacity", 1.0 if shape == "point" else 0.2))
    radius = float(layer.point_radius(row)) if shape == "point" and layer.point_radius else 6.0
    return Symbol(
        shape=shape,
        stroke=style.get("color"),
        weight=float(style.get("weight", 3)),
        dash=style.get("dashArray"),
        opacity=float(style.get("opacity", 1.0)),
        fill=fill,
        fill_opacity=fill_opacity,
        radius=radius,
        text=layer.label(row) if shape == "point" and layer.label is not None else None,
    )


def _first_color(layer: MapLayer) -> str:
    style = layer.style(layer.gdf.iloc[0])
    return str(style.get("fillColor") or style.get("color") or "#000000")


def groups(layers: Sequence[MapLayer]) -> list[Group]:
    """The legend of ``layers`` as drawn: shown layers with features, in drawing order, each
    with its legend entries (the layer's ``legend``; a layer without any, such as catchments
    coloured by site, gets one entry: its first feature under the layer's name) and their
    symbols.

    Examples
    --------
    >>> from geo import scenario, mapstyle
    >>> gs = groups(mapstyle.scenario_layers(scenario.demo(), "light"))
    >>> hosp = next(g for g in gs if g.key == "hospitals").entries[0]
    >>> hosp.label, hosp.symbol.shape, hosp.symbol.fill, hosp.symbol.radius
    ('Hospital', 'point', '#4aa3ff', 9.0)
    """
    out = []
    for layer in in_order(layers):
        geoms = layer.gdf.geometry
        if not layer.show or not (geoms.notna() & ~geoms.is_empty).any():
            continue
        items = layer.legend or [(_first_color(layer), layer.name)]  # e.g. catchments
        entries = tuple(Entry(_symbol(layer, c), label) for c, label in items)
        out.append(Group(layer.key, layer.name, entries))
    return out


def symbol_svg(s: Symbol, background: str, width: int = 30, height: int = 20) -> str:
    """``s`` as a small inline SVG on the map's ``background`` (point radius capped to fit).

    >>> symbol_svg(Symbol("line", "#555555", 4, None, 1.0, None, 0.0), "#fff")[:4]
    '<svg'
    """
    e = html.escape
    stroke = (
        f' stroke="{e(s.stroke)}" stroke-width="{s.weight:g}" stroke-opacity="{s.opacity:g}"'
        if s.stroke
        else ' stroke="none"'
    )
    if s.dash:
        stroke += f' stroke-dasharray="{e(s.dash)}"'
    fill = f' fill="{e(s.fill)}" fill-opacity="{s.fill_opacity:g}"' if s.fill else ' fill="none"'
    cx, cy = width / 2, height / 2
    if s.shape == "point":
        r = min(max(s.radius, 3.0), height / 2 - 1.5)
        body = f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}"{fill}{stroke}/>'
        if s.text:
            body += (
                f'<text x="{cx:g}" y="{cy + 3.5:g}" text-anchor="middle" font-size="10" '
                f'font-weight="700" fill="#000">{e(s.text)}</text>'
            )
    elif s.shape == "line":
        body = f'<line x1="2" y1="{cy:g}" x2="{width - 2}" y2="{cy:g}"{stroke} fill="none"/>'
    else:
        w = min(s.weight, 3.0)
        body = (
            f'<rect x="{1 + w / 2:g}" y="{1 + w / 2:g}" width="{width - 2 - w:g}" '
            f'height="{height - 2 - w:g}"{fill}{stroke}/>'
        )
    return (
        f'<svg class="co-sym co-sym-{s.shape}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<rect width="{width}" height="{height}" fill="{e(background)}"/>{body}</svg>'
    )


def legend_html(layers: Sequence[MapLayer], theme: str = "light") -> str:
    """The legend of ``layers`` as an HTML block (class ``co-legend-sheet``): one titled list
    per layer, each line a symbol (:func:`symbol_svg`) and its label; all text escaped.

    Examples
    --------
    >>> from geo import scenario, mapstyle
    >>> legend_html(mapstyle.scenario_layers(scenario.demo(), "light")).count("<h4>")
    6
    """
    bg = THEMES[theme]["background"]
    parts = []
    for g in groups(layers):
        rows = "".join(
            f"<li>{symbol_svg(en.symbol, bg)}<span>{html.escape(en.label)}</span></li>"
            for en in g.entries
        )
        parts.append(
            f"<div class='co-lg' data-layer='{html.escape(g.key)}'>"
            f"<h4>{html.escape(g.title)}</h4><ul>{rows}</ul></div>"
        )
    return f"<div class='co-legend-sheet'>{''.join(parts)}</div>"
