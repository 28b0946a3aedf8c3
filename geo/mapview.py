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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from geo.io import to_geojson
from geo.tiles import leaflet as tiled

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LEAFLET_DIR = "vendor/leaflet-1.9.4"
Assets = Literal["static", "inline"]

# Crowd density classes (people per km²) and their fills, light to dark.
DENSITY_BREAKS = (0, 1_000, 5_000, 10_000, 20_000, 50_000)
DENSITY_COLORS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")

ROAD_WEIGHT = {
    "motorway": 5,
    "trunk": 4.5,
    "primary": 4,
    "secondary": 3,
    "tertiary": 2.5,
    "residential": 1.6,
    "unclassified": 1.6,
    "service": 1.2,
}
THEMES = {
    "dark": {
        "background": "#0d1117",
        "road": "#8b949e",
        "major_road": "#d0d7de",
        "boundary": "#a371f7",
        "text": "#e6edf3",
        "panel": "rgba(13,17,23,0.88)",
    },
    "light": {
        "background": "#f4f1ea",
        "road": "#9a9a9a",
        "major_road": "#555555",
        "boundary": "#1f6feb",
        "text": "#1f2328",
        "panel": "rgba(255,255,255,0.92)",
    },
}
POINT_PANE = "co-points"
INCIDENT_COLOR = "#ff3b30"
SITE_COLOR = "#2ecc71"
SITE_CLOSED_COLOR = "#7f8c8d"  # a site not open (yet, or any more) in a replay
# A site whose queue takes longer than this (minutes of its throughput) to clear shows it.
SITE_WAIT_COLORS = ((45.0, "#f5a623"), (90.0, "#ff5fa2"))


def _site_color(r: pd.Series) -> str:
    if r.get("status") in ("not open yet", "closed"):
        return SITE_CLOSED_COLOR
    color = SITE_COLOR
    for limit, c in SITE_WAIT_COLORS:
        if float(r.get("wait_min", 0.0)) > limit:
            color = c
    return color


HOSPITAL_COLOR = "#4aa3ff"
FACILITY_COLOR = "#b0b0b0"


@dataclass
class MapLayer:
    """A layer ready for the map: features, how to draw them, what the tooltip says."""

    name: str
    key: str
    gdf: gpd.GeoDataFrame
    style: Callable[[pd.Series], dict[str, Any]]
    tooltip: Callable[[pd.Series], str]
    point_radius: Callable[[pd.Series], float] | None = None
    show: bool = True
    legend: list[tuple[str, str]] = field(default_factory=list)
    label: Callable[[pd.Series], str] | None = None  # short text drawn on each point (numbers)
    # Set (to the theme) for a scenario layer drawn as it is: its styled features are then built
    # once per layer object (a live refresh or a replay tick shares the unchanged layers).
    cache: str | None = None


def asset_urls(base_url: str = "") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(js, css) links to the vendored Leaflet as served by the app (``/app/static/...``)."""
    root = "/" + "/".join(p for p in (base_url.strip("/"), "app/static", LEAFLET_DIR) if p)
    return [("leaflet", f"{root}/leaflet.js")], [("leaflet_css", f"{root}/leaflet.css")]


def _inline_assets(m: folium.Map) -> None:
    """Put Leaflet's JS and CSS into the page itself (self-contained HTML, no server)."""
    js = (STATIC_DIR / LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    css = (STATIC_DIR / LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    m.default_js, m.default_css = [], []
    header = m.get_root().header
    header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")


def esc(value: Any) -> str:
    """Text for HTML: escaped, with missing values shown as an en dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, pd.Timestamp):
        return "–" if pd.isna(value) else value.strftime("%d %b %H:%M")
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return html.escape(str(value))


def tooltip_table(title: Any, rows: Sequence[tuple[str, Any]]) -> str:
    """A small HTML table: an escaped title and label/value rows (values escaped)."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<div class='co-tip'><b>{esc(title)}</b><table>{body}</table></div>"


def density_color(per_km2: float) -> str:
    idx = int(np.searchsorted(DENSITY_BREAKS, per_km2, side="right")) - 1
    return DENSITY_COLORS[max(0, min(idx, len(DENSITY_COLORS) - 1))]


def scenario_layers(scenario: Any, theme: str = "dark") -> list[MapLayer]:
    """The standard layers of a scenario, bottom to top."""
    t = THEMES[theme]
    metric = scenario.metric_crs()
    out: list[MapLayer] = []

    boundary = scenario.layer("boundary")
    out.append(
        MapLayer(
            "Boundary",
            "boundary",
            boundary,
            cache=theme,
            style=lambda r: {
                "color": t["boundary"],
                "weight": 2,
                "dashArray": "6 4",
                "fillOpacity": 0.0,
            },
            tooltip=lambda r: tooltip_table(r.get("name") or "Boundary", [("id", r["id"])]),
            legend=[(t["boundary"], "Study area")],
        )
    )

    zones = scenario.layer("crowd_zones").copy()
    if len(zones):
        zones["area_km2"] = zones.to_crs(metric).area.to_numpy() / 1e6
        zones["per_km2"] = zones["people"] / zones["area_km2"].where(zones["area_km2"] > 0)
    else:
        zones["area_km2"] = pd.Series(dtype=float)
        zones["per_km2"] = pd.Series(dtype=float)
    out.append(
        MapLayer(
            "Crowd zones (people/km²)",
            "crowd_zones",
            zones,
            style=lambda r: {
                "color": "#000000",
                "weight": 0.6,
                "fillOpacity": 0.55,
                "fillColor": density_color(float(r["per_km2"] or 0)),
            },
            tooltip=lambda r: tooltip_table(
                r.get("name") or r["id"],
                [
                    ("people", r["people"]),
                    ("per km²", r["per_km2"]),
                    ("area km²", r["area_km2"]),
                    ("capacity", r.get("capacity")),
                    ("source", r.get("source")),
                    ("observed", r["observed_at"]),
                ],
            ),
            legend=[(c, f"≥ {b:,} /km²") for b, c in zip(DENSITY_BREAKS, DENSITY_COLORS)],
        )
    )

    roads = scenario.layer("roads")
    out.append(
        MapLayer(
            "Roads",
            "roads",
            roads,
            cache=theme,
            style=lambda r: {
                "color": t["major_road"]
                if r["road_class"] in ("motorway", "trunk", "primary")
                else t["road"],
                "weight": ROAD_WEIGHT.get(r["road_class"], 1.0),
                "opacity": 0.9,
                "dashArray": "2 4"
                if r["road_class"] in ("footway", "path", "pedestrian")
                else None,
            },
            tooltip=lambda r: tooltip_table(
                r.get("name") or r["road_class"],
                [
                    ("class", r["road_class"]),
                    ("one-way", "yes" if r.get("oneway") is True else "no"),
                    ("speed km/h", r.get("speed_kmh")),
                    ("id", r["id"]),
                ],
            ),
            legend=[(t["major_road"], "Major road"), (t["road"], "Street / path")],
        )
    )

    fac = scenario.layer("facilities")
    is_hosp = fac["kind"] == "hospital"
    out.append(
        MapLayer(
            "Hospitals",
            "hospitals",
            fac[is_hosp],
            style=lambda r: {
                "color": "#ffffff",
                "weight": 2,
                "fillColor": HOSPITAL_COLOR,
                "fillOpacity": 1.0,
            },
            tooltip=lambda r: tooltip_table(
                r.get("name") or r["id"], [("kind", r["kind"]), ("beds", r.get("capacity"))]
            ),
            point_radius=lambda r: 9,
            legend=[(HOSPITAL_COLOR, "Hospital")],
        )
    )
    out.append(
        MapLayer(
            "Other facilities",
            "facilities",
            fac[~is_hosp],
            style=lambda r: {
                "color": FACILITY_COLOR,
                "weight": 1,
                "fillColor": FACILITY_COLOR,
                "fillOpacity": 0.6,
            },
            tooltip=lambda r: tooltip_table(
                r.get("name") or r["id"], [("kind", r["kind"]), ("capacity", r.get("capacity"))]
            ),
            point_radius=lambda r: 4,
            show=False,
            legend=[(FACILITY_COLOR, "Facility / staging candidate")],
        )
    )

    sites = scenario.layer("testing_sites").copy()
    sites["per_h"] = sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)
    queue = sites["queue"].astype(float).fillna(0.0)
    sites["wait_min"] = (queue / sites["per_h"].where(sites["per_h"] > 0) * 60.0).fillna(0.0)
    out.append(
        MapLayer(
            "Testing sites",
            "testing_sites",
            sites,
            style=lambda r: {
                "color": "#ffffff",
                "weight": 2,
                "fillColor": _site_color(r),
                "fillOpacity": 0.95,
            },
            tooltip=lambda r: tooltip_table(
                r["name"],
                [
                    *([("status", r["status"])] if "status" in r else []),
                    ("lanes", r["lanes"]),
                    ("tests per hour", r["per_h"]),
                    ("queue", r.get("queue")),
                    ("queue (min)", r.get("wait_min")),
                    ("tested", r.get("tested")),
                    ("opens", r.get("opens_at")),
                    ("closes", r.get("closes_at")),
                    ("kind", r.get("kind")),
                ],
            ),
            point_radius=lambda r: float(np.clip(5 + 1.2 * np.sqrt(float(r["lanes"])), 6, 16)),
            legend=[(SITE_COLOR, "Testing site (size: lanes)")]
            # always listed: a legend that changed with the data would rebuild the live map
            + [
                (SITE_WAIT_COLORS[0][1], "Site queue > 45 min"),
                (SITE_WAIT_COLORS[1][1], "> 90 min"),
            ]
            + ([(SITE_CLOSED_COLOR, "Testing site not open")] if "status" in sites.columns else []),
        )
    )

    inc = scenario.layer("incidents")
    out.append(
        MapLayer(
            "Incidents",
            "incidents",
            inc,
            style=lambda r: {
                "color": INCIDENT_COLOR,
                "weight": 3,
                "fillColor": INCIDENT_COLOR,
                "fillOpacity": 0.18 if r.geometry.geom_type != "Point" else 0.9,
            },
            tooltip=lambda r: tooltip_table(
                r.get("name") or r["kind"],
                [
                    ("kind", r["kind"]),
                    ("severity", r["severity"]),
                    ("status", r.get("status")),
                    ("reported", r["reported_at"]),
                    ("id", r["id"]),
                ],
            ),
            point_radius=lambda r: 6 + 2 * float(r["severity"]),
            legend=[(INCIDENT_COLOR, "Incident")],
        )
    )

    cordons = scenario.layer("cordons")
    if len(cordons):  # outlines drawn by hand; none in most scenarios, so no empty entry
        out.insert(
            len(out) - 2,  # under the sites and incidents
            MapLayer(
                "Cordon outlines (drawn)",
                "cordons",
                cordons,
                style=lambda r: {
                    "color": BAND_FILL.get(r["band"], "#ffffff"),
                    "weight": 3,
                    "dashArray": "10 6",
                    "fillColor": BAND_FILL.get(r["band"], "#ffffff"),
                    "fillOpacity": 0.06,
                },
                tooltip=lambda r: tooltip_table(
                    r.get("name") or f"{r['band']} outline",
                    [("zone", r["band"]), ("drawn", r.get("drawn_at")), ("id", r["id"])],
                ),
                legend=[(BAND_FILL["lockdown"], "Cordon outline (drawn, dashed)")],
            ),
        )
    return out


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
    group = folium.FeatureGroup(name=layer.name, show=layer.show)
    if not layer.show:
        group.add_child(_StartHidden())
    if tiles and tiled.should_tile(layer):
        points = bool(len(layer.gdf)) and (layer.gdf.geom_type == "Point").all()
        pane = POINT_PANE if points else "overlayPane"
        group.add_child(tiled.tiled_element(layer, tooltip_table, pane))
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
        if row.geometry.geom_type == "Point":
            style["pane"] = POINT_PANE  # points above every polygon, so they stay hoverable
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
                var div = L.DomUtil.create('div', 'co-legend');
                div.innerHTML = {{ this.html|tojson }};
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
        self.html = f"<b>{html.escape(title)}</b>{rows}"


def _page_css(theme: str) -> str:
    t = THEMES[theme]
    return f"""<style>
    .leaflet-container {{ background: {t["background"]}; font: 15px/1.35 system-ui, sans-serif; }}
    .co-legend {{ background: {t["panel"]}; color: {t["text"]}; padding: 8px 10px;
        border-radius: 6px; font-size: 14px; line-height: 1.5; max-width: 240px; }}
    .co-legend b {{ display: block; margin-bottom: 4px; }}
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
        if layer.key in STATIC_KEYS:
            add_layer(m, layer, tiles)
        else:
            groups.append(layer_group(layer, tiles))
    return LiveMap(m, groups)


STATIC_KEYS = frozenset({"boundary", "roads", "hospitals", "facilities"})


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
) -> tuple[folium.Map, list[MapLayer]]:
    bounds = scenario.extent().total_bounds
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        tiles=None,
        zoom_control=True,
        control_scale=True,
        prefer_canvas=False,
        max_zoom=19,
        # The wall's map fills a frame of any size: quarter zoom steps let the scenario fill it.
        **({"zoom_snap": 0.25} if full_height else {}),
    )
    if assets == "inline":
        _inline_assets(m)
    else:
        m.default_js, m.default_css = asset_urls(base_url)
        # Always linked in the app: a layer that grows past the limit (a live refresh) must
        # not change the base map (its iframe would be rebuilt and the view lost).
        tiled.add_assets(m, base_url)
    m.get_root().header.add_child(Element(_page_css(theme)), name="cityops_css")
    if full_height:
        m.get_root().header.add_child(Element(FILL_CSS), name="cityops_fill")
    folium.map.CustomPane(POINT_PANE, z_index=450).add_to(m)
    if online_tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", max_zoom=19).add_to(m)

    layers = [*scenario_layers(scenario, theme), *extra]
    if hidden is not None:
        layers = [replace(layer, show=layer.key not in hidden) for layer in layers]
    # The legend depends on which layers exist, not on their data, so a refresh keeps it.
    if legend:
        items = [item for layer in layers if layer.show for item in layer.legend]
        m.add_child(Legend(scenario.name, items))
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


def to_html(scenario: Any, extra: Sequence[MapLayer] = (), **kwargs: Any) -> str:
    """A self-contained HTML page of the map (Leaflet inlined; opens offline)."""
    kwargs.setdefault("assets", "inline")
    return build_map(scenario, extra, **kwargs).get_root().render()


# --- result layers --------------------------------------------------------------------------------

CATEGORY_COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#17becf",
)
BAND_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027")


def catchment_layer(sites: gpd.GeoDataFrame, title: str = "Catchments") -> MapLayer:
    """Catchment polygons (one per site), coloured by site; load and finish time in the tooltip."""
    colors = {
        sid: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, sid in enumerate(sites["site_id"])
    }
    geoms = np.asarray(sites.geometry.array, dtype=object)
    gdf = sites[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))].copy()
    gdf["id"] = gdf["site_id"]

    def tip(r: pd.Series) -> str:
        return tooltip_table(
            r.get("name") or r["site_id"],
            [
                ("people", r.get("people")),
                ("load", r.get("load")),
                ("mean min", r.get("mean_min")),
                ("max min", r.get("max_min")),
                ("untested", r.get("untested")),
                ("finishes", r.get("finish_at")),
                ("status", r.get("status")),
            ],
        )

    return MapLayer(
        title,
        "catchments",
        gdf,
        style=lambda r: {
            "color": colors[r["site_id"]],
            "weight": 2,
            "fillColor": colors[r["site_id"]],
            "fillOpacity": 0.35,
        },
        tooltip=tip,
    )


def isochrone_layer(iso: gpd.GeoDataFrame, title: str = "Isochrones") -> MapLayer:
    """Travel-time bands, green (near) to red (far)."""
    gdf = iso.copy()
    gdf["id"] = [
        f"{s}:{a:g}-{b:g}" for s, a, b in zip(gdf["site_id"], gdf["min_from"], gdf["min_to"])
    ]
    limits = sorted(set(gdf["min_to"]))
    color = {m: BAND_COLORS[min(i, len(BAND_COLORS) - 1)] for i, m in enumerate(limits)}
    return MapLayer(
        title,
        "isochrones",
        gdf,
        style=lambda r: {
            "color": color[r["min_to"]],
            "weight": 0.5,
            "fillColor": color[r["min_to"]],
            "fillOpacity": 0.3,
        },
        tooltip=lambda r: tooltip_table(
            r["site_id"],
            [("minutes", f"{r['min_from']:g}–{r['min_to']:g}"), ("area km²", r["area_km2"])],
        ),
        legend=[(color[m], f"≤ {m:g} min") for m in limits],
    )


BAND_FILL = {"lockdown": "#ff1744", "control": "#ff9100", "prevention": "#ffd600"}


def cordon_layers(bands: gpd.GeoDataFrame, checkpoints: gpd.GeoDataFrame) -> list[MapLayer]:
    """The cordon's bands (red, orange, yellow) and its checkpoints (sized by staff)."""
    b = bands[~bands.geometry.is_empty & bands.geometry.notna()].copy()
    b["id"] = b["band"]
    bands_layer = MapLayer(
        "Cordon bands",
        "cordon",
        b,
        style=lambda r: {
            "color": BAND_FILL.get(r["band"], "#ffffff"),
            "weight": 3,
            "fillColor": BAND_FILL.get(r["band"], "#ffffff"),
            "fillOpacity": 0.18,
        },
        tooltip=lambda r: tooltip_table(
            f"{r['band']} {r['band_zh']}",
            [
                ("people", r.get("people")),
                ("area km²", r["area_km2"]),
                ("incidents", r.get("incident_ids")),
            ],
        ),
        legend=[(c, f"{band} zone") for band, c in BAND_FILL.items()],
    )
    cp_layer = MapLayer(
        "Checkpoints",
        "checkpoints",
        checkpoints,
        style=lambda r: {
            "color": "#000000",
            "weight": 1.5,
            "fillColor": "#ffffff"
            if r["band"] == "venue_exit"
            else BAND_FILL.get(r["band"], "#ffffff"),
            "fillOpacity": 1.0,
        },
        tooltip=lambda r: tooltip_table(
            r.get("name") or r["road_id"],
            [
                ("band", r["band"]),
                ("road class", r["road_class"]),
                ("direction", r["direction"]),
                ("staff", r["staff"]),
                ("id", r["id"]),
            ],
        ),
        point_radius=lambda r: float(4 + 1.5 * np.sqrt(float(r["staff"]))),
        legend=[("#ffffff", "Checkpoint (size: staff)")],
    )
    return [bands_layer, cp_layer]


def staging_layer(sites: gpd.GeoDataFrame, title: str = "Suggested sites") -> MapLayer:
    """Chosen staging sites as numbered markers (1 = most important) with their reason."""
    gdf = sites.copy()
    gdf["id"] = gdf["candidate_id"].astype(str)
    return MapLayer(
        title,
        "staging",
        gdf,
        style=lambda r: {
            "color": "#ffffff",
            "weight": 2,
            "fillColor": "#ff9f1c",
            "fillOpacity": 0.9,
        },
        tooltip=lambda r: tooltip_table(
            f"#{r['rank']} {r['candidate_id']}",
            [
                ("people", r.get("people")),
                ("mean min", r.get("mean_cost")),
                ("max min", r.get("max_cost")),
                ("why", r.get("reason")),
            ],
        ),
        point_radius=lambda r: 14,
        label=lambda r: str(int(r["rank"])),
        legend=[("#ff9f1c", "Suggested site (number: rank)")],
    )
