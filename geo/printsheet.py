"""The print sheet: an A3 landscape page of the current map for the wall of a command post.

Title, situation time, the map with every layer and result (fitted to what is drawn), a
north arrow, a scale bar in metres true at the map's centre latitude, the legend (symbols from
the style table, :mod:`geo.legend`), headline figures, data sources and the classification line
at the top and bottom (scenario.json ``classification``). The page is one HTML document sized
in millimetres and printed by headless Chromium (:mod:`geo.pdfprint`) once every layer is drawn.

Examples
--------
>>> s = scale_bar(31.15, 13.4, max_px=190)
>>> s.label, s.bar_m, round(s.bar_px), s.denominator
('2 km', 2000.0, 161, 46900)
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from pyproj import Geod

from geo import fonts, legend, pdfprint, readable, report, reportmap
from geo.mapstyle import MapLayer

__all__ = ["A3_MM", "LAYOUT_MM", "Scale", "Sheet", "fit", "pdf", "scale_bar", "sheet_html"]

A3_MM = (420.0, 297.0)
PX_PER_MM = pdfprint.PX_PER_MM
#: Where things are on the sheet: (left, top, width, height) in mm.
LAYOUT_MM: dict[str, tuple[float, float, float, float]] = {
    "top": (8, 8, 404, 7),
    "head": (8, 17, 404, 15),
    "map": (8, 35, 312, 226),
    "side": (324, 35, 88, 226),
    "sources": (8, 263, 404, 17),
    "bottom": (8, 282, 404, 7),
}
_GEOD = Geod(ellps="WGS84")
_TILE_PX = 256  # Web Mercator: the world is 256 * 2**zoom CSS pixels wide


@dataclass(frozen=True)
class Scale:
    """A scale bar: ground metres per CSS pixel at the map's centre, the bar's length in metres
    and in pixels, its label, and the representative fraction on paper (1 : denominator)."""

    metres_per_px: float
    bar_m: float
    bar_px: float
    label: str
    denominator: int


def fit(
    bounds: tuple[float, float, float, float], width_px: float, height_px: float, pad: float = 0.04
) -> tuple[float, float, float]:
    """(lat, lon, zoom) at which ``bounds`` (west, south, east, north) fill a Web Mercator map
    of that size, ``pad`` of each side left free; the zoom is fractional (the sheet's map snaps
    to nothing).

    >>> lat, lon, z = fit((121.60, 31.10, 121.70, 31.20), 1000, 700)
    >>> round(lat, 3), round(lon, 2), round(z, 2)
    (31.15, 121.65, 12.92)
    """
    w, s, e, n = bounds

    def merc_y(lat: float) -> float:
        r = math.radians(min(max(lat, -85.0), 85.0))
        return math.log(math.tan(math.pi / 4 + r / 2))

    dx = max(math.radians(e - w), 1e-9)
    dy = max(merc_y(n) - merc_y(s), 1e-9)
    usable = 1.0 - 2 * pad
    zx = math.log2(width_px * usable * 2 * math.pi / (_TILE_PX * dx))
    zy = math.log2(height_px * usable * 2 * math.pi / (_TILE_PX * dy))
    zoom = float(np.clip(min(zx, zy), 1.0, 19.0))
    lat = math.degrees(2 * math.atan(math.exp((merc_y(s) + merc_y(n)) / 2)) - math.pi / 2)
    return lat, (w + e) / 2, zoom


def _nice(limit: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``limit``."""
    k = math.floor(math.log10(limit))
    for m in (5, 2, 1):
        if m * 10**k <= limit:
            return float(m * 10**k)
    return float(10 ** (k - 1) * 5)


def scale_bar(lat: float, zoom: float, max_px: float = 190.0) -> Scale:
    """The scale bar of a Web Mercator map at ``zoom`` around latitude ``lat``: metres per CSS
    pixel measured on the WGS 84 ellipsoid along the parallel (Mercator stretches east-west and
    north-south alike, by 1/cos(lat)), the longest round length that fits ``max_px``.

    >>> s = scale_bar(0.0, 10)
    >>> round(s.metres_per_px, 2)  # 40,075 km / (256 * 2**10) on the equator
    152.87
    """
    phi = math.radians(lat)
    # the parallel's radius on the ellipsoid times one pixel's longitude (radians)
    radius = _GEOD.a * math.cos(phi) / math.sqrt(1 - _GEOD.es * math.sin(phi) ** 2)
    mpp = radius * 2 * math.pi / (_TILE_PX * 2**zoom)
    bar_m = _nice(max_px * mpp)
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    denominator = mpp / (0.0254 / 96)  # one CSS pixel is 1/96 inch on paper
    digits = max(0, int(math.floor(math.log10(denominator))) - 2)
    return Scale(mpp, bar_m, bar_m / mpp, label, int(round(denominator, -digits)))


class _View(MacroElement):
    """The sheet's exact view (fractional zoom), and ``window.coSheetReady`` once every layer's
    paths are on the map and the fonts are loaded: what the printer waits for."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            map.options.zoomSnap = 0;
            map.invalidateSize(false);
            map.setView({{ this.center|tojson }}, {{ this.zoom }}, {animate: false});
            var want = {{ this.expected|tojson }};
            function drawn() {
                return Object.keys(want).every(function (k) {
                    return document.querySelectorAll('path.co-' + k).length >= want[k];
                });
            }
            function check() {
                if (!drawn()) { setTimeout(check, 50); return; }
                document.fonts.ready.then(function () {
                    requestAnimationFrame(function () { requestAnimationFrame(function () {
                        window.coSheetReady = true;
                    }); });
                });
            }
            check();
        })();
        {% endmacro %}"""
    )

    def __init__(self, center: tuple[float, float], zoom: float, expected: dict[str, int]) -> None:
        super().__init__()
        self.center, self.zoom, self.expected = list(center), zoom, expected


def _expected_paths(layers: Sequence[MapLayer]) -> dict[str, int]:
    """How many ``path.co-<key>`` each shown layer draws (one per non-empty feature)."""
    out: dict[str, int] = {}
    for layer in layers:
        geoms = layer.gdf.geometry
        n = int((geoms.notna() & ~geoms.is_empty).sum()) if len(geoms) else 0
        if layer.show and n:
            out[layer.key] = out.get(layer.key, 0) + n
    return out


NORTH_ARROW = """<svg class="north" width="46" height="64" viewBox="0 0 46 64" role="img"
 aria-label="North"><rect x="1" y="1" width="44" height="62" rx="4" fill="rgba(255,255,255,.9)"
 stroke="#1f2328"/><path d="M23 8 L34 44 L23 37 L12 44 Z" fill="#1f2328"/>
<path d="M23 8 L12 44 L23 37 Z" fill="#fff" stroke="#1f2328" stroke-width="1"/>
<text x="23" y="59" text-anchor="middle" font-size="13" font-weight="700"
 font-family="system-ui, sans-serif">N</text></svg>"""


def _box(name: str, important: bool = False) -> str:
    x, y, w, h = LAYOUT_MM[name]
    imp = " !important" if important else ""
    return f"left:{x}mm{imp};top:{y}mm{imp};width:{w}mm{imp};height:{h}mm{imp}"


def _scale_html(s: Scale) -> str:
    half = s.bar_px / 2
    quarter = s.bar_px / 4
    segs = "".join(
        f'<rect x="{10 + i * quarter:.2f}" y="14" width="{quarter:.2f}" height="6" '
        f'fill="{"#1f2328" if i % 2 == 0 else "#fff"}" stroke="#1f2328" stroke-width="1"/>'
        for i in range(4)
    )
    half_label = f"{s.bar_m / 2000:g}" if s.bar_m >= 1000 else f"{s.bar_m / 2:g}"
    w = s.bar_px + 50
    return (
        f'<div class="scale" data-bar-m="{s.bar_m:g}" data-bar-px="{s.bar_px:.3f}">'
        f'<svg width="{w:.0f}" height="26" viewBox="0 0 {w:.2f} 26">{segs}'
        f'<text x="10" y="11" text-anchor="middle">0</text>'
        f'<text x="{10 + half:.2f}" y="11" text-anchor="middle">{half_label}</text>'
        f'<text x="{10 + s.bar_px:.2f}" y="11" text-anchor="middle">{html.escape(s.label)}'
        f"</text></svg><div class='rf'>Scale 1 : {s.denominator:,} on A3 · "
        f"true at the centre latitude</div></div>"
    )


SHEET_CSS = """
@page { size: 420mm 297mm; margin: 0; }
html, body { width: 420mm !important; height: 297mm !important; margin: 0; padding: 0;
  overflow: hidden; background: #fff; color: #1f2328; font-family: __STACK__; }
.sheet > * { position: absolute; box-sizing: border-box; }
.folium-map { position: absolute !important; __MAPIMP__;
  border: 0.4mm solid #1f2328; box-sizing: border-box; }
.leaflet-control-zoom, .leaflet-control-scale, .leaflet-control-layers { display: none; }
.cls { background: #1f2328; color: #fff; font: 700 11pt/7mm __STACK__; text-align: center;
  letter-spacing: .06em; }
.head { display: flex; justify-content: space-between; align-items: baseline; gap: 8mm;
  border-bottom: 0.4mm solid #1f2328; }
.head h1 { font-size: 22pt; margin: 0; line-height: 1.1; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.head .when { font-size: 13pt; white-space: nowrap; }
.head .kind { font-size: 10pt; color: #57606a; text-transform: uppercase; letter-spacing: .08em; }
.side { overflow: hidden; font-size: 9pt; line-height: 1.25; }
.side h3 { font-size: 11pt; margin: 0 0 1.5mm; border-bottom: 0.3mm solid #1f2328; }
.figs { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5mm; margin-bottom: 3mm; }
.fig { border: 0.3mm solid #d0d7de; padding: 1mm 2mm; }
.fig .v { font-size: 13pt; font-weight: 700; font-variant-numeric: tabular-nums; }
.fig .l { font-size: 8pt; color: #57606a; }
.co-legend-sheet { font-size: 8.5pt; line-height: 1.2; }
.co-lg h4 { margin: 1.6mm 0 .5mm; font-size: 9pt; }
.co-lg ul { list-style: none; margin: 0; padding: 0; }
.co-lg li { display: flex; align-items: center; gap: 1.5mm; margin: 0; }
.co-sym { flex: none; }
.sources { font-size: 7.5pt; line-height: 1.3; color: #1f2328; overflow: hidden; }
.sources b { font-weight: 700; }
.north { position: absolute; right: 4mm; top: 4mm; z-index: 1000; }
.scale { position: absolute; left: 4mm; bottom: 4mm; z-index: 1000; background:
  rgba(255,255,255,.9); border: 0.3mm solid #1f2328; padding: 1mm 2mm 1mm 0; font-size: 8pt; }
.scale svg { display: block; font-size: 9pt; font-family: system-ui, sans-serif; }
.scale .rf { padding-left: 2mm; }
.overlay { position: absolute; __MAP__; pointer-events: none; z-index: 1000; }
"""


@dataclass(frozen=True)
class Sheet:
    """A print sheet's HTML (A3 landscape, self-contained), its scale, and the wide characters
    the embedded font lacks."""

    html: str
    scale: Scale
    missing: str


def sheet_html(
    sc: Any,
    extra: Sequence[MapLayer] = (),
    *,
    figures: Mapping[str, object] | None = None,
    title: str | None = None,
    hidden: Collection[str] | None = None,
) -> Sheet:
    """The print sheet of ``sc`` with ``extra`` result layers as one HTML document (A3
    landscape, sized in mm), ready for :func:`geo.pdfprint.html_to_pdf`.

    Parameters
    ----------
    sc : the scenario (its ``now`` is the situation time; scenario.json ``classification`` the
        line at the top and bottom).
    extra : result layers drawn on the map (cordon, catchments, staging...).
    figures : more headline figures (label -> value) beside the scenario's own.
    title : the sheet's title (default: the scenario's name).
    hidden : keys of the layers left off the sheet (the workbench's hidden layers); None: each
        layer's default.

    Examples
    --------
    >>> from geo import scenario
    >>> s = sheet_html(scenario.demo())
    >>> "Legend" in s.html and s.scale.label
    '2 km'
    """
    layers = reportmap.drawn_layers(sc, extra, hidden=hidden)
    _, _, mw, mh = LAYOUT_MM["map"]
    bounds = reportmap.content_bounds(
        sc, [lay for lay in extra if not hidden or lay.key not in hidden]
    )
    lat, lon, zoom = fit(bounds, mw * PX_PER_MM, mh * PX_PER_MM)
    scale = scale_bar(lat, zoom, max_px=50 * PX_PER_MM)

    m = reportmap.report_map(sc, extra, switcher=False, hidden=hidden)
    # No animations: an animated fit still running when the sheet's view is set ends later on
    # its own zoom (seen: 13.25 for 13.34, a scale bar 2 % off).
    m.options.update(zoom_animation=False, fade_animation=False, marker_zoom_animation=False)
    m.add_child(_View((lat, lon), zoom, _expected_paths(layers)))

    tz = sc.settings.timezone
    k = sc.kpis()
    figs = {
        "Open incidents": k["open_incidents"],
        "People in crowd zones": round(k["people_in_crowd_zones"]),
        "Testing sites": k["testing_sites"],
        "Tests per hour": round(k["tests_per_hour"]),
        **(figures or {}),
    }
    fig_html = "".join(
        f"<div class='fig'><div class='v'>{html.escape(readable.value(v, tz))}</div>"
        f"<div class='l'>{html.escape(label)}</div></div>"
        for label, v in figs.items()
    )
    cls = html.escape(report.classification(sc))
    src = "".join(
        f"<div>{'<b>Sources.</b> ' if i == 0 else ''}{html.escape(line)}</div>"
        for i, line in enumerate(report.sources(sc, extra))
    )
    furniture = f"""<div class="sheet">
<div class="cls" style="{_box("top")}">{cls}</div>
<div class="head" style="{_box("head")}"><div><div class="kind">Situation map</div>
<h1>{html.escape(title or sc.name)}</h1></div>
<div class="when">Situation at {html.escape(report.situation_time(sc))}</div></div>
<div class="overlay">{NORTH_ARROW}{_scale_html(scale)}</div>
<div class="side" style="{_box("side")}"><h3>Key figures</h3><div class="figs">{fig_html}</div>
<h3>Legend</h3>{legend.legend_html(layers)}</div>
<div class="sources" style="{_box("sources")}">{src}
<div>Map: CityOps, no basemap (offline); WGS 84 shown in Web Mercator.</div></div>
<div class="cls" style="{_box("bottom")}">{cls}</div>
</div>"""
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium Map's root is always its Figure
    root.html.add_child(Element(furniture), name="cityops_sheet")
    css = (
        SHEET_CSS.replace("__STACK__", fonts.STACK)
        .replace("__MAPIMP__", _box("map", important=True))
        .replace("__MAP__", _box("map"))
    )
    doc, emb = reportmap.map_document(m, css)
    return Sheet(doc, scale, emb.missing)


def pdf(
    sc: Any,
    extra: Sequence[MapLayer] = (),
    *,
    figures: Mapping[str, object] | None = None,
    title: str | None = None,
    hidden: Collection[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """The print sheet of ``sc`` (see :func:`sheet_html`) as an A3 landscape PDF, printed
    offline by headless Chromium once the map is drawn.

    Examples
    --------
    >>> from geo import scenario
    >>> pdf(scenario.demo())[:5]  # doctest: +SKIP
    b'%PDF-'
    """
    sheet = sheet_html(sc, extra, figures=figures, title=title, hidden=hidden)
    return pdfprint.html_to_pdf(sheet.html, size_mm=A3_MM, env=env)
