"""The folium map of a scenario: layer styles, tooltips, legend, and offline assets.

Offline first: Leaflet is vendored under ``static/vendor`` and either served by the app
(``assets="static"``, Streamlit's static serving at ``/app/static``) or inlined into the page
(``assets="inline"``, for self-contained HTML). Nothing is loaded from a CDN unless asked for.
All user text is HTML-escaped before it reaches a tooltip or a legend.
"""

from __future__ import annotations

import html
import json
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from geo import maplabels
from geo.io import to_geojson
from geo.mapstyle import (
    KINDS,
    MapLayer,
    esc,
    in_order,
    result_layer,
    scenario_layers,
    tooltip_table,
)
from geo.palette import BAND_FILL, DENSITY_COLORS, INCIDENT_COLOR, THEMES, density_color
from geo.tiles import leaflet as tiled

__all__ = [
    "BAND_FILL",
    "DENSITY_COLORS",
    "INCIDENT_COLOR",
    "LEAFLET_DIR",
    "STATIC_DIR",
    "THEMES",
    "Legend",
    "LiveMap",
    "MapLayer",
    "add_layer",
    "asset_urls",
    "build_live_map",
    "build_map",
    "catchment_layer",
    "cordon_layers",
    "density_color",
    "esc",
    "fit_view",
    "isochrone_layer",
    "layer_group",
    "pane",
    "scenario_layers",
    "staging_layer",
    "to_html",
    "tooltip_table",
]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LEAFLET_DIR = "vendor/leaflet-1.9.4"
Assets = Literal["static", "inline"]


def pane(key: str, point: bool) -> str:
    """The map pane a kind's features are drawn in. Every kind has its own pane, stacked in the
    table's drawing order whatever order the layers reach the map in (the base map's layers
    first, the swapped feature groups later); every point pane sits above every polygon pane,
    so points stay hoverable."""
    return f"pane-pt-{key}" if point else f"pane-{key}"


def _panes() -> list[folium.map.CustomPane]:
    out = []
    for rank, kind in enumerate(KINDS.values(), start=1):
        # Leaflet's overlay pane is at z 400 and its marker pane at 600; drawings sit at 440.
        out.append(
            folium.map.CustomPane(pane(kind.key, False), z_index=400 + rank, pointer_events=True)
        )
        if kind.point_radius is not None:
            out.append(
                folium.map.CustomPane(pane(kind.key, True), z_index=450 + rank, pointer_events=True)
            )
    return out


def asset_urls(base_url: str = "") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(js, css) links to the vendored Leaflet as served by the app (``/app/static/...``)."""
    root = "/" + "/".join(p for p in (base_url.strip("/"), "app/static", LEAFLET_DIR) if p)
    return [("leaflet", f"{root}/leaflet.js")], [("leaflet_css", f"{root}/leaflet.css")]


def _figure(m: folium.Map) -> Figure:
    """The page a map belongs to (a folium Map's root is always its Figure)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    return root


def _inline_assets(m: folium.Map) -> None:
    """Put Leaflet's JS and CSS into the page itself (self-contained HTML, no server)."""
    js = (STATIC_DIR / LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    css = (STATIC_DIR / LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    m.default_js, m.default_css = [], []
    header = _figure(m).header
    header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")


def add_layer(
    m: folium.Map | folium.FeatureGroup, layer: MapLayer, tiles: bool = False
) -> folium.FeatureGroup:
    """Add ``layer`` as one toggleable feature group; every path gets class ``co-<key>``."""
    group = layer_group(layer, tiles)
    group.add_to(m)
    return group


def layer_group(layer: MapLayer, tiles: bool = False) -> folium.FeatureGroup:
    """``layer`` as one toggleable feature group (not yet on a map). With ``tiles``, a layer
    too heavy for the page (:func:`geo.tiles.leaflet.should_tile`) is drawn from the app's
    vector tiles instead of GeoJSON inside the page."""
    if not tiles and tiled.too_big_for_page(layer):  # a self-contained page: left out, named
        name = f"{layer.name}: {len(layer.gdf):,} features, too many for this page (see the data)"
        return folium.FeatureGroup(name=html.escape(name), show=False)
    group = folium.FeatureGroup(name=layer.name, show=layer.show)
    if not layer.show:
        group.add_child(_StartHidden())
    if tiles and tiled.should_tile(layer):
        points = bool(len(layer.gdf)) and bool((layer.gdf.geom_type == "Point").all())
        where = pane(layer.key, points) if layer.key in KINDS else _OVERLAY
        group.add_child(tiled.tiled_element(layer, tooltip_table, where))
        return group
    if len(layer.gdf):
        gdf = layer.gdf
        data = _features(layer)
        folium.GeoJson(
            data,
            name=layer.name,
            style_function=_style_from_props,
            marker=folium.CircleMarker(radius=6) if layer.point_radius else None,
            tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False, sticky=True),
        ).add_to(group)
        if layer.point_radius:
            _set_point_radii(group)
        if layer.open_tooltip:
            group.add_child(_OpenTooltip())
        if layer.label:
            for _, row in gdf.iterrows():
                pt = row.geometry.representative_point()
                folium.Marker(
                    [pt.y, pt.x],
                    icon=folium.DivIcon(
                        html=f"<div class='co-label co-label-{layer.key}'>"
                        f"{html.escape(layer.label(row))}</div>",
                        icon_size=(28, 28),
                        icon_anchor=(14, 14),
                        class_name="co-label-icon",
                    ),
                    tooltip=folium.Tooltip(layer.tooltip(row), sticky=True),
                ).add_to(group)
    return group


_FEATURES: dict[tuple[str, str, int], tuple[weakref.ref, str]] = {}
_OVERLAY = "overlayPane"  # a layer of no known kind: Leaflet's own pane


def _features(layer: MapLayer) -> dict:
    """The layer's GeoJSON with only pre-escaped, pre-styled display properties (``_style``,
    ``_tip``, ``_r``): nothing else goes to the browser. Cached per layer object when
    ``layer.cache`` is set (a fresh copy each call: folium keeps a reference)."""
    key = (layer.key, layer.cache or "", id(layer.gdf))
    if layer.cache is not None:
        hit = _FEATURES.get(key)
        if hit is not None and hit[0]() is layer.gdf:
            return json.loads(hit[1])  # a fresh copy (C speed; deepcopy is 5x slower)
    styles, tips, radii = [], [], []
    for _, row in layer.gdf.iterrows():
        style = {k: v for k, v in layer.style(row).items() if v is not None}
        style["className"] = f"co-{layer.key}"
        point = row.geometry.geom_type == "Point"
        style["pane"] = pane(layer.key, point) if layer.key in KINDS else _OVERLAY
        if point:
            style["fill"] = True  # folium's CircleMarker template defaults to no fill
        styles.append(style)
        tips.append(layer.tooltip(row))
        radii.append(layer.point_radius(row) if layer.point_radius else 6)
    data = json.loads(to_geojson(layer.gdf[["id", "geometry"]]))
    for feat, style, tip, radius in zip(data["features"], styles, tips, radii):
        feat["properties"] = {"_style": style, "_tip": tip, "_r": radius}
    if layer.cache is not None:
        for k in [k for k, (ref, _) in _FEATURES.items() if ref() is None]:
            del _FEATURES[k]  # layers that are gone
        _FEATURES[key] = (weakref.ref(layer.gdf), json.dumps(data))
    return data


def _style_from_props(feature: dict) -> dict:
    style = dict(feature["properties"]["_style"])
    if "_r" in feature["properties"]:
        style["radius"] = feature["properties"]["_r"]
    return style


def _set_point_radii(group: folium.FeatureGroup) -> None:
    """folium's style mapper ignores ``radius``; set it from each feature after creation."""
    js = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.eachLayer(function (gj) {
            if (gj.eachLayer) gj.eachLayer(function (l) {
                if (l.setRadius && l.feature) l.setRadius(l.feature.properties._r);
            });
        });
        {% endmacro %}"""
    )
    el = MacroElement()
    el._template = js
    group.add_child(el)


class Legend(MacroElement):
    """A legend control (bottom right) built from escaped (colour, label) pairs."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: 'bottomright'});
            legend.onAdd = function () {
                // A <details>: open on a screen, folded to its title on a phone.
                var div = L.DomUtil.create('details', 'co-legend');
                div.innerHTML = {{ this.html|tojson }};
                if (window.innerWidth > 600) div.setAttribute('open', '');
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}"""
    )

    def __init__(self, title: str, items: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        rows = "".join(
            f"<div><span class='co-swatch' style='background:{html.escape(c)}'></span>"
            f"{html.escape(label)}</div>"
            for c, label in items
        )
        self.html = f"<summary><b>{html.escape(title)}</b></summary>{rows}"


def _page_css(theme: str) -> str:
    t = THEMES[theme]
    return f"""<style>
    .leaflet-container {{ background: {t["background"]}; font: 15px/1.35 system-ui, sans-serif; }}
    .co-legend {{ background: {t["panel"]}; color: {t["text"]}; padding: 8px 10px;
        border-radius: 6px; font-size: 14px; line-height: 1.5; max-width: 240px; }}
    .co-legend b {{ display: inline; }}
    .co-legend summary {{ cursor: pointer; margin-bottom: 4px; }}
    .co-swatch {{ display: inline-block; width: 14px; height: 14px; margin-right: 6px;
        vertical-align: -2px; border: 1px solid rgba(0,0,0,.4); }}
    .co-tip table {{ border-collapse: collapse; margin-top: 3px; }}
    .co-tip th {{ text-align: left; font-weight: normal; opacity: .75; padding-right: 10px; }}
    .co-tip td {{ text-align: right; font-variant-numeric: tabular-nums; }}
    .leaflet-control-layers {{ font-size: 15px; }}
    .co-label {{ width: 28px; height: 28px; border-radius: 50%; background: #ff9f1c;
        color: #000; font: 700 16px/28px system-ui, sans-serif; text-align: center;
        border: 2px solid #fff; box-shadow: 0 0 4px #000; }}
    .co-label-icon {{ background: none; border: none; }}
    .co-maplabel {{ background: none; border: none; white-space: nowrap; }}
    .co-maplabel span {{ display: inline-block; transform-origin: center; translate: -50% -50%;
        color: {t["text"]}; font: 600 13px/1.1 system-ui, "Noto Sans CJK SC", sans-serif;
        text-shadow: 0 0 3px {t["background"]}, 0 0 3px {t["background"]},
                     0 0 2px {t["background"]}; }}
    .co-maplabel-venue span {{ font-size: 16px; font-weight: 800; letter-spacing: .02em; }}
    .co-beside span {{ translate: 14px -50%; }}
    .co-maplabel-road span {{ font-weight: 500; font-style: italic; opacity: .9; }}
    </style>"""


def build_map(
    scenario: Any,
    extra: Sequence[MapLayer] = (),
    *,
    theme: Literal["dark", "light"] = "dark",
    assets: Assets = "static",
    base_url: str = "",
    online_tiles: bool = False,
    full_height: bool = False,
    hidden: Collection[str] | None = None,
    compact: bool = False,
) -> folium.Map:
    """A folium map of ``scenario`` with every layer, ``extra`` result layers, legend and switcher.

    For a map that refreshes in place see :func:`build_live_map`.

    Parameters
    ----------
    scenario : a :class:`geo.scenario.Scenario`.
    extra : more layers (analysis results) drawn above the scenario's.
    theme : page colours; the map has no basemap offline, so the theme sets its background.
    assets : ``"static"`` links Leaflet from the app's static route; ``"inline"`` embeds it.
    base_url : Streamlit's ``server.baseUrlPath`` when the app is served under a prefix.
    online_tiles : add OpenStreetMap tiles (needs internet; off by default).
    full_height : the map fills its frame's height (the wall screen sizes the frame by CSS).
    hidden : keys of the layers listed in the layer switcher but not shown at first; the others
        are shown. None: each layer's default (e.g. other facilities start hidden).
    compact : a small map (side by side with another): no legend, the switcher collapsed.
    """
    m, layers = _base(
        scenario, extra, theme, assets, base_url, online_tiles, full_height, hidden, not compact
    )
    for layer in layers:
        add_layer(m, layer, tiles=assets == "static")
    folium.LayerControl(collapsed=compact, position="topright").add_to(m)
    return m


@dataclass
class LiveMap:
    """A base map that stays the same between refreshes, and the layers that change on it."""

    base: folium.Map
    groups: list[folium.FeatureGroup]

    def control(self, collapsed: bool = False) -> folium.LayerControl:
        """The layer switcher (collapsed to an icon on the wall, where nobody clicks)."""
        return folium.LayerControl(collapsed=collapsed, position="topright")


def build_live_map(scenario: Any, extra: Sequence[MapLayer] = (), **kwargs: Any) -> LiveMap:
    """Like :func:`build_map`, split for in-place refresh: the base map holds only what does not
    change (boundary, roads, facilities, legend); incidents, sites, crowd zones and results are
    feature groups that ``st_folium(feature_group_to_add=...)`` swaps without rebuilding the map,
    so the user's zoom and pan survive a refresh."""
    m, layers = _base(scenario, extra, **kwargs)
    tiles = kwargs.get("assets", "static") == "static"
    groups = []
    for layer in layers:
        if layer.base:
            add_layer(m, layer, tiles)
        else:
            groups.append(layer_group(layer, tiles))
    return LiveMap(m, groups)


def _base(
    scenario: Any,
    extra: Sequence[MapLayer] = (),
    theme: Literal["dark", "light"] = "dark",
    assets: Assets = "static",
    base_url: str = "",
    online_tiles: bool = False,
    full_height: bool = False,
    hidden: Collection[str] | None = None,
    legend: bool = True,
    labels: bool = True,
    fit_to: Collection[str] = (),
) -> tuple[folium.Map, list[MapLayer]]:
    bounds = scenario.extent().total_bounds
    # The view also takes in these result layers (the wall: the whole standing cordon).
    for layer in extra:
        if layer.key in fit_to and len(layer.gdf):
            b = layer.gdf.total_bounds
            bounds = np.r_[np.minimum(bounds[:2], b[:2]), np.maximum(bounds[2:], b[2:])]
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        tiles=None,
        zoom_control=True,
        control_scale=True,
        prefer_canvas=False,
        max_zoom=19,
    )
    if full_height:  # the wall's map fills a frame of any size: quarter zoom steps fill it
        m.options["zoomSnap"] = 0.25
    if assets == "inline":
        _inline_assets(m)
    else:
        m.default_js, m.default_css = asset_urls(base_url)
        # Always linked in the app: a layer that grows past the limit (a live refresh) must
        # not change the base map (its iframe would be rebuilt and the view lost).
        tiled.add_assets(m, base_url)
    _figure(m).header.add_child(Element(_page_css(theme)), name="cityops_css")
    if full_height:
        _figure(m).header.add_child(Element(FILL_CSS), name="cityops_fill")
    for p in _panes():
        p.add_to(m)
    if online_tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", max_zoom=19).add_to(m)

    layers = in_order([*scenario_layers(scenario, theme), *extra])
    if hidden is not None:
        layers = [replace(layer, show=layer.key not in hidden) for layer in layers]
    # The legend depends on which layers exist, not on their data, so a refresh keeps it.
    if legend:
        items = [item for layer in layers if layer.show for item in layer.legend]
        m.add_child(Legend(scenario.name, items))
    if labels:
        m.add_child(Labels(maplabels.labels(scenario)))
    box = [[bounds[1], bounds[0]], [bounds[3], bounds[2]]]
    m.fit_bounds(box)
    if full_height:
        m.add_child(_Refit(box))
    return m, layers


# The wall screen sizes the map's frame with CSS; the map fills it and scales its controls.
FILL_CSS = """<style>
#map_div, .folium-map { height: 100vh !important; }
.co-legend, .leaflet-control-layers { font-size: clamp(14px, 0.85vw, 30px) !important; }
.co-swatch { width: 1em; height: 1em; }
/* Readable from 5 m on a 1080p wall: no name under 24 px. */
.co-maplabel span { font-size: clamp(24px, 1.35vw, 48px) !important; }
.co-maplabel-venue span { font-size: clamp(30px, 1.7vw, 60px) !important; }
</style>"""


class _StartHidden(MacroElement):
    """Take a feature group off the map right after it is first added, so it starts unchecked in
    the layer switcher. folium's ``show=False`` does that for a map's own groups, but
    streamlit-folium adds ``feature_group_to_add`` groups unconditionally."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (group) {
            var initial = true;
            setTimeout(function () { initial = false; }, 0);
            group.once('add', function () {
                if (initial) setTimeout(function () { group.remove(); }, 0);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )


class Labels(MacroElement):
    """Names on the map (:func:`geo.maplabels.labels`): each shown from its zoom, in priority
    order, and hidden where it would overlap a more important one (checked after every zoom and
    pan, on screen, so a label never covers another). Texts are escaped here."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map) {
            var pane = map.createPane('co-labels');
            pane.style.zIndex = 640; pane.style.pointerEvents = 'none';
            var items = {{ this.items|tojson }};
            var marks = items.map(function (it) {
                var html = '<span style="transform: rotate(' + (-it.angle) + 'deg)">'
                    + it.html + '</span>';
                var icon = L.divIcon({className: 'co-maplabel co-maplabel-' + it.kind
                                      + (it.beside ? ' co-beside' : ''),
                                      html: html, iconSize: null});
                return {it: it, m: L.marker([it.lat, it.lon],
                    {icon: icon, pane: 'co-labels', interactive: false, keyboard: false})};
            });
            function place() {
                var z = map.getZoom(), kept = [];
                marks.forEach(function (k) {
                    if (z < k.it.min_zoom) { if (map.hasLayer(k.m)) map.removeLayer(k.m); return; }
                    if (!map.hasLayer(k.m)) k.m.addTo(map);
                    var el = k.m.getElement().firstChild, r = el.getBoundingClientRect();
                    var clash = kept.some(function (o) {
                        return r.left < o.right && r.right > o.left &&
                               r.top < o.bottom && r.bottom > o.top; });
                    k.m.getElement().style.visibility = clash ? 'hidden' : 'visible';
                    if (!clash) kept.push(r);
                });
            }
            map.on('zoomend moveend resize', place);
            map.whenReady(function () { setTimeout(place, 50); });
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, labels: Sequence[Any]) -> None:
        super().__init__()
        self.items = [
            {
                "html": html.escape(lab.text),
                "lon": round(lab.lon, 7),
                "lat": round(lab.lat, 7),
                "kind": lab.kind,
                "min_zoom": lab.min_zoom,
                "angle": round(lab.angle, 1),
                # a point's name stands beside it (the point stays visible); areas and roads
                # carry theirs on them
                "beside": lab.kind not in ("venue", "road"),
            }
            for lab in labels
        ]


class _OpenTooltip(MacroElement):
    """Open the group's tooltip once it is on the map (a search result says what it found)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (group) {
            function open() {
                group.eachLayer(function (gj) {
                    if (gj.openTooltip) { gj.openTooltip(); }
                });
            }
            group.on('add', function () { setTimeout(open, 300); });
            if (group._map) { setTimeout(open, 300); }
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )


class _Refit(MacroElement):
    """Re-measure the map and fit the scenario once its frame has its final size."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var box = {{ this.box|tojson }};
            var last = '';
            function refit() {
                var el = map.getContainer(), size = el.clientWidth + 'x' + el.clientHeight;
                if (size === last) return;
                last = size;
                map.invalidateSize(false);
                map.fitBounds(box, {animate: false});
            }
            new ResizeObserver(refit).observe(map.getContainer());
            setTimeout(refit, 250);
        })();
        {% endmacro %}"""
    )

    def __init__(self, box: list[list[float]]) -> None:
        super().__init__()
        self.box = box


def fit_view(
    frames: Sequence[gpd.GeoDataFrame],
    width_px: int,
    height_px: int,
    pad: float = 0.1,
    max_zoom: int = 18,
) -> tuple[tuple[float, float] | None, int | None]:
    """The centre (lat, lon) and whole zoom at which ``frames`` (EPSG:4326) fill a map of that
    size in Web Mercator, with ``pad`` (a share of each side) left free; (None, None) when they
    are empty.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> frame = gpd.GeoDataFrame(geometry=[box(121.60, 31.10, 121.70, 31.20)], crs=4326)
    >>> fit_view([frame], 1000, 700)
    ((31.150, 121.65), 12)
    """
    boxes = [f.total_bounds for f in frames if len(f) and not f.geometry.is_empty.all()]
    if not boxes:
        return None, None
    b = np.array(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()

    def merc_y(lat: float) -> float:
        r = np.radians(np.clip(lat, -85.0, 85.0))
        return float(np.log(np.tan(np.pi / 4 + r / 2)))

    # At zoom z the world is 256 * 2**z pixels wide: 2*pi of Mercator x and y.
    dx = np.radians(max(x1 - x0, 1e-9))
    dy = max(merc_y(y1) - merc_y(y0), 1e-9)
    usable = 1.0 - 2 * pad
    zx = np.log2(width_px * usable * 2 * np.pi / (256 * dx))
    zy = np.log2(height_px * usable * 2 * np.pi / (256 * dy))
    zoom = int(np.clip(np.floor(min(zx, zy)), 1, max_zoom))
    cy = float(np.degrees(2 * np.arctan(np.exp((merc_y(y0) + merc_y(y1)) / 2)) - np.pi / 2))
    return (cy, float((x0 + x1) / 2)), zoom


def to_html(scenario: Any, extra: Sequence[MapLayer] = (), **kwargs: Any) -> str:
    """A self-contained HTML page of the map (Leaflet inlined; opens offline)."""
    kwargs.setdefault("assets", "inline")
    return build_map(scenario, extra, **kwargs).get_root().render()


# --- result layers -------------------------------------------------------------------------------


def catchment_layer(sites: gpd.GeoDataFrame, title: str = "Catchments") -> MapLayer:
    """Catchment polygons (one per site), coloured by site; load and finish time in the tooltip."""
    return result_layer("catchments", sites, title)


def isochrone_layer(iso: gpd.GeoDataFrame, title: str = "Isochrones") -> MapLayer:
    """Travel-time bands, green (near) to red (far)."""
    return result_layer("isochrones", iso, title)


def cordon_layers(bands: gpd.GeoDataFrame, checkpoints: gpd.GeoDataFrame) -> list[MapLayer]:
    """The cordon's bands (red, orange, yellow) and its checkpoints (sized by staff)."""
    return [result_layer("cordon", bands), result_layer("checkpoints", checkpoints)]


def staging_layer(sites: gpd.GeoDataFrame, title: str = "Suggested sites") -> MapLayer:
    """Chosen staging sites as numbered markers (1 = most important) with their reason."""
    return result_layer("staging", sites, title)
