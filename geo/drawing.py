"""Drawing on the map, offline: polygons, rectangles, circles and markers, edited and deleted.

The map side is Leaflet.Draw 1.0.4, vendored under ``static/vendor/leaflet-draw-1.0.4`` and
either linked from the app's static route (``assets="static"``) or inlined into the page
(``assets="inline"``, self-contained HTML). :func:`add_draw_control` puts the saved drawings on
the map as editable layers; what comes back from the browser (streamlit-folium's
``all_drawings``, i.e. ``drawnItems.toGeoJSON().features``) is read by :func:`parse_drawings`
and compared with what was saved by :func:`diff_drawings`.

Wiring with streamlit-folium 0.27 (checked in its source): ``st_folium`` renames the JS variable
``drawnItems_draw_control_div_<n>`` to ``drawnItems`` and reads ``window.drawnItems`` on
``draw:created`` / ``draw:edited`` / ``draw:deleted``. That name only comes out right when the
draw control is a direct child of the map passed as ``fig`` (not of a feature group, not in
``feature_group_to_add``), which is how :func:`add_draw_control` adds it.
"""

from __future__ import annotations

import base64
import json
import math
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from pyproj import CRS
from shapely.geometry import shape

from geo.constants import WGS84
from geo.crs import local_crs
from geo.errors import InputError, Problem
from geo.io import to_geojson
from geo.mapstyle import tooltip_table
from geo.mapview import LEAFLET_DIR, STATIC_DIR
from geo.palette import BAND_FILL, INCIDENT_COLOR

if TYPE_CHECKING:
    from geo.scenario import Scenario

__all__ = [
    "BASE_STYLE",
    "CIRCLE_QUAD_SEGS",
    "DRAWN",
    "DRAW_DIR",
    "DRAW_PANE",
    "DRAW_PANE_Z",
    "GEOMETRY_EXPECTED",
    "MARKER_ICON",
    "NEW_COLOR",
    "ROLES",
    "ROLE_STYLES",
    "Assets",
    "DrawingChanges",
    "add_draw_control",
    "apply_changes",
    "diff_drawings",
    "draw_asset_urls",
    "drawing_changes",
    "empty_drawings",
    "new_feature",
    "next_id",
    "parse_drawings",
    "role_style",
    "scenario_drawings",
    "without_drawings",
]

DRAW_DIR = "leaflet-draw-1.0.4"
# A circle becomes a polygon of 4 * CIRCLE_QUAD_SEGS = 64 segments: its area is 0.16 % under
# pi r^2 (a regular n-gon inscribed in the circle), well inside any use we make of it.
CIRCLE_QUAD_SEGS = 16
NEW_COLOR = "#29b6f6"  # shapes being drawn, before they have a role
ROLE_STYLES: dict[str, dict[str, Any]] = {
    "lockdown": {"color": BAND_FILL["lockdown"], "fillColor": BAND_FILL["lockdown"]},
    "control": {"color": BAND_FILL["control"], "fillColor": BAND_FILL["control"]},
    "prevention": {"color": BAND_FILL["prevention"], "fillColor": BAND_FILL["prevention"]},
    # An incident area is an outline; a faint fill keeps its inside clickable (delete mode).
    "incident": {"color": INCIDENT_COLOR, "fillColor": INCIDENT_COLOR, "fillOpacity": 0.04},
}
# Every drawn path carries class co-drawn, like mapview's co-<layer> (the browser test finds it).
BASE_STYLE: dict[str, Any] = {
    "weight": 3,
    "opacity": 0.95,
    "fillOpacity": 0.18,
    "className": "co-drawn",
    "pane": "co-drawn",  # DRAW_PANE
}
# Drawings lie above every other area layer (feature groups the live map swaps in are added
# after them), else those would catch the clicks of the edit and delete tools; points stay on top.
DRAW_PANE = "co-drawn"
DRAW_PANE_Z = 440
# L.Icon.Default's geometry: the markers look like Leaflet's own, with explicit image URLs.
MARKER_ICON: dict[str, Any] = {
    "iconSize": [25, 41],
    "iconAnchor": [12, 41],
    "popupAnchor": [1, -34],
    "tooltipAnchor": [16, -28],
    "shadowSize": [41, 41],
    "className": "co-drawn-marker",
}
GEOMETRY_EXPECTED = "a Polygon (polygon, rectangle), a Point (marker) or a circle"

Assets = Literal["static", "inline"]


# --- the map side -------------------------------------------------------------------------------


def draw_asset_urls(base_url: str = "") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(js, css) links to the vendored Leaflet.Draw as served by the app.

    Parameters
    ----------
    base_url : Streamlit's ``server.baseUrlPath`` when the app is served under a prefix.
    """
    root = _static_root(base_url) + f"/vendor/{DRAW_DIR}"
    return (
        [("leaflet_draw_js", f"{root}/leaflet.draw.js")],
        [("leaflet_draw_css", f"{root}/leaflet.draw.css")],
    )


def _static_root(base_url: str) -> str:
    return "/" + "/".join(p for p in (base_url.strip("/"), "app/static") if p)


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css() -> str:
    """leaflet.draw.css with its sprite images as data: URIs (relative URLs would not resolve
    in a file opened from disk or in a srcdoc iframe, and the toolbar icons would vanish)."""
    folder = STATIC_DIR / "vendor" / DRAW_DIR
    css = (folder / "leaflet.draw.css").read_text(encoding="utf-8")

    def embed(match: re.Match) -> str:
        return f"url('{_data_uri(folder / match.group(1))}')"

    return re.sub(r"""url\(['"]?(images/[^'")]+)['"]?\)""", embed, css)


def _marker_icon(assets: Assets, base_url: str) -> dict[str, Any]:
    """Options of an ``L.icon`` that looks like the default marker and always finds its images.

    ``L.Icon.Default`` guesses its image folder once, from leaflet.css; in streamlit-folium's
    iframe that stylesheet may not be loaded yet when the first marker is made, and inlined CSS
    gives a path relative to the page. Explicit URLs avoid both and change no global state.
    """
    folder = STATIC_DIR / LEAFLET_DIR / "images"
    names = {
        "iconUrl": "marker-icon.png",
        "iconRetinaUrl": "marker-icon-2x.png",
        "shadowUrl": "marker-shadow.png",
    }
    if assets == "inline":
        urls = {k: _data_uri(folder / v) for k, v in names.items()}
    else:
        root = f"{_static_root(base_url)}/{LEAFLET_DIR}/images"
        urls = {k: f"{root}/{v}" for k, v in names.items()}
    return {**MARKER_ICON, **urls}


def role_style(role: Any) -> dict[str, Any]:
    """Leaflet path options for a drawing of ``role`` (lockdown, control, prevention, incident).

    Parameters
    ----------
    role : the drawing's role; anything else gets the colour of new drawings.
    """
    key = role if isinstance(role, str) else ""
    return {**BASE_STYLE, "color": NEW_COLOR, "fillColor": NEW_COLOR, **ROLE_STYLES.get(key, {})}


class _SavedDrawings(MacroElement):
    """The saved drawings, each added to the parent group as its own Leaflet layer.

    Leaflet.Draw edits and deletes the direct children of its feature group only (a
    ``L.GeoJSON`` inside it would be edited as one unit, or not at all), so every feature
    becomes one ``L.Polygon`` / ``L.Marker``. ``layer.feature`` keeps the feature's
    properties, so ``toGeoJSON()`` returns them (id, role, ...) with the edited geometry.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var icon = L.icon({{ this.icon|tojson }});
            {{ this.drawings|tojson }}.forEach(function (item) {
                // Path options go in at creation: className cannot be set later.
                var layer = L.GeoJSON.geometryToLayer(item.feature, L.extend({
                    pointToLayer: function (f, latlng) { return L.marker(latlng, {icon: icon}); }
                }, item.style));
                layer.feature = item.feature;
                layer.bindTooltip(item.tip, {sticky: true});
                group.addLayer(layer);
            });
        })();
        {% endmacro %}"""
    )

    def __init__(self, drawings: list[dict[str, Any]], icon: dict[str, Any]) -> None:
        super().__init__()
        self._name = "SavedDrawings"
        self.drawings = drawings
        self.icon = icon


class _OfflineDraw(folium.plugins.Draw):
    """folium's Draw with local assets, a marker icon that loads offline, and circle radii.

    The template keeps folium's variable names (``drawnItems_<this.get_name()>`` with
    ``_name == "DrawControl"``): streamlit-folium finds the drawings by that name.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
            var options = {
              position: {{ this.position|tojson }},
              draw: {{ this.draw_options|tojson }},
              edit: {{ this.edit_options|tojson }},
            };
            if (options.draw.marker !== false) {
                options.draw.marker = L.extend(
                    {icon: L.icon({{ this.icon|tojson }})}, options.draw.marker || {});
            }
            var drawnItems_{{ this.get_name() }} = {{ this.feature_group.get_name() }};
            options.edit.featureGroup = drawnItems_{{ this.get_name() }};
            var {{ this.get_name() }} = new L.Control.Draw(options).addTo(
                {{ this._parent.get_name() }});
            {{ this._parent.get_name() }}.on(L.Draw.Event.CREATED, function (e) {
                if (e.layerType === 'circle') {
                    // A circle's GeoJSON is its centre; the radius (m) rides in properties.
                    e.layer.feature = {type: 'Feature',
                                       properties: {radius: e.layer.getRadius()}};
                }
                drawnItems_{{ this.get_name() }}.addLayer(e.layer);
            });
            {{ this._parent.get_name() }}.on(L.Draw.Event.EDITED, function (e) {
                // streamlit-folium stamps the radius on creation only; keep it true after a
                // resize. This handler runs before streamlit-folium's (registered later).
                e.layers.eachLayer(function (layer) {
                    if (!(layer instanceof L.Circle)) return;
                    layer.feature = layer.feature || {type: 'Feature'};
                    layer.feature.properties = layer.feature.properties || {};
                    layer.feature.properties.radius = layer.getRadius();
                });
            });
        {% endmacro %}"""
    )

    def __init__(self, *, icon: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.icon = icon


def add_draw_control(
    m: folium.Map,
    saved: gpd.GeoDataFrame | None,
    *,
    base_url: str = "",
    assets: Assets = "static",
    name: str = "Drawings (editable)",
    tools: Literal["drawing", "measure"] = "drawing",
) -> folium.FeatureGroup:
    """Add the drawing toolbar and the saved drawings (editable) to ``m``.

    The toolbar offers polygon, rectangle, circle and marker, plus edit and delete; it edits
    only the drawings in the returned group, never another layer. Each saved feature is its own
    Leaflet layer with ``layer.feature = {type, properties, geometry}``, so the browser's
    ``drawnItems.toGeoJSON()`` returns its id and role with the (edited) geometry. Styles come
    from ``role`` (lockdown red, control orange, prevention yellow, incident red outline); the
    tooltip shows the escaped name, role and id. Circles come back as a centre point with
    ``properties.radius`` in metres.

    If ``m`` already holds a ``LayerControl`` it is moved after the new group: its script
    names every overlay, and a group defined after it would break the whole map script.

    Parameters
    ----------
    m : the map (built with the same ``assets`` mode, e.g. by ``mapview.build_map``).
    saved : the saved drawings (any CRS): Point, Polygon or MultiPolygon, with ``id`` and
        optionally ``role`` and ``name``; ``None`` or empty for none.
    base_url : Streamlit's ``server.baseUrlPath`` when the app is served under a prefix.
    assets : ``"static"`` links Leaflet.Draw from ``/app/static``; ``"inline"`` embeds its JS
        and CSS (sprites as data: URIs) for self-contained HTML. Inline scripts in the header
        do not run inside streamlit-folium (it adds the header via ``innerHTML``): use
        ``"static"`` in the app.
    name : the group's name in the layer switcher.
    tools : ``"drawing"`` (polygon, rectangle, circle, marker) or ``"measure"`` (a line or a
        polygon to measure; nothing is saved).

    Returns
    -------
    folium.FeatureGroup : the group holding the drawings (Leaflet.Draw's ``featureGroup``).

    Raises
    ------
    InputError : if a saved drawing has no geometry or one the toolbar cannot edit.
    """
    icon = _marker_icon(assets, base_url)
    folium.map.CustomPane(DRAW_PANE, z_index=DRAW_PANE_Z).add_to(m)
    group = folium.FeatureGroup(name=name, show=True)
    items = _saved_items(saved)
    if items:
        group.add_child(_SavedDrawings(items, icon))
    m.add_child(group)

    draw = _OfflineDraw(
        icon=icon,
        feature_group=group,
        export=False,
        show_geometry_on_click=False,
        position="topleft",
        draw_options=_MEASURE_TOOLS if tools == "measure" else _DRAWING_TOOLS,
        edit_options={"poly": {"allowIntersection": False}},
    )
    if assets == "inline":
        draw.default_js, draw.default_css = [], []
        js = (STATIC_DIR / "vendor" / DRAW_DIR / "leaflet.draw.js").read_text(encoding="utf-8")
        root = m.get_root()
        assert isinstance(root, Figure)  # a folium Map's root is always its Figure
        header = root.header
        header.add_child(Element(f"<style>{_inline_css()}</style>"), name="leaflet_draw_css")
        header.add_child(Element(f"<script>{js}</script>"), name="leaflet_draw_js")
    else:
        draw.default_js, draw.default_css = draw_asset_urls(base_url)
    m.add_child(draw)

    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            m._children.move_to_end(key)
    return group


# showArea is off: Leaflet.Draw 1.0.4's readableArea assigns an undeclared `type`, leaking a
# global into the page on every rectangle drawn (the measure panel gives the area instead).
_DRAWING_TOOLS: dict[str, Any] = {
    "polyline": False,
    "circlemarker": False,
    "polygon": {"allowIntersection": False, "showArea": False, "shapeOptions": role_style(None)},
    "rectangle": {"showArea": False, "shapeOptions": role_style(None)},
    "circle": {"shapeOptions": role_style(None)},
    "marker": {},
}
_MEASURE_LOOK = {"color": "#ffffff", "weight": 3, "dashArray": "6 6", "fillOpacity": 0.08}
_MEASURE_TOOLS: dict[str, Any] = {
    "polyline": {"metric": True, "shapeOptions": _MEASURE_LOOK},
    "polygon": {"allowIntersection": False, "showArea": False, "shapeOptions": _MEASURE_LOOK},
    "rectangle": False,
    "circle": False,
    "circlemarker": False,
    "marker": False,
}


def _saved_items(saved: gpd.GeoDataFrame | None) -> list[dict[str, Any]]:
    """The saved drawings as (GeoJSON feature, style, escaped tooltip) for the browser."""
    if saved is None or len(saved) == 0:
        return []
    geoms = saved.geometry
    problems = []
    for i, (label, geom) in enumerate(zip(_labels(saved), geoms)):
        if geom is None or geom.is_empty:
            problems.append(Problem("drawing has no geometry", None, label, "geometry"))
        elif geom.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            problems.append(
                Problem(
                    f"geometry is a {geom.geom_type}, which the toolbar cannot edit",
                    None,
                    label if label is not None else i,
                    "geometry",
                    GEOMETRY_EXPECTED,
                )
            )
    if problems:
        raise InputError(problems=problems)
    # Only plain JSON reaches the page; jinja's tojson escapes <, >, & and ' inside the script.
    features = json.loads(to_geojson(saved))["features"]
    items = []
    for feature in features:
        # A saved marker must not come back as a circle: "radius" is what marks one.
        props = {k: v for k, v in feature["properties"].items() if k != "radius"}
        items.append(
            {
                "feature": {
                    "type": "Feature",
                    "properties": props,
                    "geometry": feature["geometry"],
                },
                "style": role_style(props.get("role")),
                "tip": tooltip_table(
                    props.get("name") or props.get("role") or "Drawing",
                    [("role", props.get("role")), ("id", props.get("id"))],
                ),
            }
        )
    return items


def _labels(gdf: gpd.GeoDataFrame) -> list[Any]:
    if "id" in gdf.columns:
        return [None if _missing(v) else str(v) for v in gdf["id"]]
    return list(range(len(gdf)))


# --- what comes back -----------------------------------------------------------------------------


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str | dict | list) and bool(pd.isna(v)))


def _text(v: Any) -> str | None:
    """A property as text, or None when missing or blank."""
    if _missing(v):
        return None
    s = str(v).strip()
    return s or None


def empty_drawings() -> gpd.GeoDataFrame:
    """A frame of no drawings, with the columns :func:`parse_drawings` returns."""
    return gpd.GeoDataFrame(
        {
            "id": pd.Series(dtype=object),
            "role": pd.Series(dtype=object),
            "name": pd.Series(dtype=object),
            "radius_m": pd.Series(dtype=float),
            "repaired": pd.Series(dtype=bool),
        },
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )


def parse_drawings(
    features: list[dict] | None, crs_metric: CRS | str | int | None = None
) -> gpd.GeoDataFrame:
    """The drawings returned by the map (``all_drawings``) as a GeoDataFrame in EPSG:4326.

    One row per feature: ``id`` (from properties; ``None`` for a new drawing), ``role`` and
    ``name`` (from properties when present), ``radius_m`` (circles only), ``repaired`` and
    ``geometry``. A circle (a Point with ``properties.radius`` in metres) becomes a polygon
    buffered by its radius in ``crs_metric``, with 64 segments (area 0.16 % under pi r^2).
    A self-intersecting polygon (possible after editing) is repaired with
    ``shapely.make_valid`` (its polygonal parts kept) and flagged ``repaired``.

    Parameters
    ----------
    features : GeoJSON features (``drawnItems.toGeoJSON().features``, or a whole
        FeatureCollection); ``None`` or ``[]`` give an empty frame. Caution: ``None`` from
        ``st_folium`` means "nothing reported yet" (not "everything deleted"): see
        :func:`drawing_changes`.
    crs_metric : the scenario's metric CRS for buffering circles; ``None`` picks the local
        UTM zone of the drawings.

    Raises
    ------
    InputError : naming each bad feature (0-based index) and field: a geometry that is not a
        Polygon, MultiPolygon or Point (e.g. a LineString), unreadable or out-of-range
        coordinates, a polygon without area, a bad ``radius``, a repeated ``id``.
    """
    if isinstance(features, dict) and features.get("type") == "FeatureCollection":
        features = features.get("features")
    if not features:
        return empty_drawings()
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    for i, feat in enumerate(features):
        row = _parse_feature(i, feat, problems)
        if row is not None:
            rows.append(row)
    seen: dict[str, int] = {}
    for row in rows:
        if row["id"] is None:
            continue
        if row["id"] in seen:
            problems.append(
                Problem(
                    f"id {row['id']!r} is also used by feature {seen[row['id']]}",
                    None,
                    row["index"],
                    "id",
                    "a unique id per drawing",
                )
            )
        else:
            seen[row["id"]] = row["index"]
    if problems:
        raise InputError(problems=problems)

    geoms = np.array([r["geometry"] for r in rows], dtype=object)
    radius = np.array([r["radius_m"] for r in rows], dtype=float)
    circles = ~np.isnan(radius)
    if circles.any():
        metric = CRS.from_user_input(crs_metric) if crs_metric is not None else None
        if metric is None:
            metric = local_crs(gpd.GeoSeries(geoms, crs=WGS84))
        centres = gpd.GeoSeries(geoms[circles], crs=WGS84).to_crs(metric)
        discs = centres.buffer(radius[circles], quad_segs=CIRCLE_QUAD_SEGS).to_crs(WGS84)
        geoms[circles] = discs.to_numpy()
    return gpd.GeoDataFrame(
        {
            "id": pd.Series([r["id"] for r in rows], dtype=object),
            "role": pd.Series([r["role"] for r in rows], dtype=object),
            "name": pd.Series([r["name"] for r in rows], dtype=object),
            "radius_m": radius,
            "repaired": np.array([r["repaired"] for r in rows], dtype=bool),
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84),
        crs=WGS84,
    )


def _parse_feature(i: int, feat: Any, problems: list[Problem]) -> dict[str, Any] | None:
    """One feature as a row dict, or None after appending what is wrong with it."""

    def bad(message: str, field: str = "geometry", expected: str | None = None) -> None:
        problems.append(Problem(message, None, i, field, expected))

    if not isinstance(feat, dict):
        bad(f"is a {type(feat).__name__}, not a GeoJSON Feature", "geometry", "a Feature object")
        return None
    props = feat.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        bad("properties is not an object", "properties", "a JSON object")
        return None
    gj = feat.get("geometry")
    if not isinstance(gj, dict) or "type" not in gj:
        bad("missing geometry", expected=GEOMETRY_EXPECTED)
        return None
    kind = gj.get("type")
    if kind not in ("Point", "Polygon", "MultiPolygon"):
        bad(f"geometry is a {kind}", expected=GEOMETRY_EXPECTED)
        return None
    try:
        geom = shape(gj)
        xy = shapely.get_coordinates(geom)
    except Exception as exc:  # shapely/GEOS say what broke; the analyst needs where
        bad(f"unreadable {kind} coordinates ({exc})", expected="[longitude, latitude] pairs")
        return None
    if geom.is_empty or not len(xy):
        bad(f"empty {kind}", expected=GEOMETRY_EXPECTED)
        return None
    if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        bad(
            f"coordinates out of range ({_first_bad(xy)})",
            expected="longitude in [-180, 180] and latitude in [-90, 90]",
        )
        return None

    radius = math.nan
    if kind == "Point" and "radius" in props and not _missing(props["radius"]):
        r = props["radius"]
        if isinstance(r, bool) or not isinstance(r, int | float) or not math.isfinite(r) or r <= 0:
            bad(f"circle radius {r!r} is not a positive number", "radius", "metres > 0")
            return None
        radius = float(r)

    repaired = False
    if kind != "Point" and not geom.is_valid:
        fixed = _polygonal(shapely.make_valid(geom))
        if fixed is None:
            bad(
                f"polygon has no area ({shapely.is_valid_reason(geom)})",
                expected="a polygon enclosing an area",
            )
            return None
        geom, repaired = fixed, True
    return {
        "index": i,
        "id": _text(props.get("id", feat.get("id"))),
        "role": _text(props.get("role")),
        "name": _text(props.get("name")),
        "radius_m": radius,
        "repaired": repaired,
        "geometry": geom,
    }


def _first_bad(xy: np.ndarray) -> str:
    ok = np.isfinite(xy).all(axis=1)
    ok &= np.abs(np.nan_to_num(xy[:, 0])) <= 180
    ok &= np.abs(np.nan_to_num(xy[:, 1])) <= 90
    x, y = xy[np.flatnonzero(~ok)[0]]
    return f"{x}, {y}"


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal parts of ``make_valid``'s result (it may add stray lines or points)."""
    parts = [
        p for p in getattr(geom, "geoms", [geom]) if p.geom_type in ("Polygon", "MultiPolygon")
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return None if merged.is_empty or merged.area == 0 else merged


# --- what changed -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawingChanges:
    """What the user did to the drawings since they were saved.

    Attributes
    ----------
    new : drawn rows without an id (to be given ids and saved).
    edited : ids of saved drawings whose geometry moved by more than the tolerance.
    deleted : ids of saved drawings no longer on the map.
    edited_rows : the drawn rows of ``edited``, with their new geometry.
    unknown : ids on the map that are not among the saved drawings (e.g. removed elsewhere
        while the map was open); reported, not applied.
    """

    new: gpd.GeoDataFrame
    edited: list[str]
    deleted: list[str]
    edited_rows: gpd.GeoDataFrame
    unknown: list[str]

    @property
    def changed(self) -> bool:
        """Whether there is anything to save."""
        return bool(len(self.new) or self.edited or self.deleted)


def _no_changes() -> DrawingChanges:
    return DrawingChanges(empty_drawings(), [], [], empty_drawings(), [])


def diff_drawings(
    saved: gpd.GeoDataFrame | None,
    drawn: gpd.GeoDataFrame | None,
    tol_m: float = 0.5,
    crs_metric: CRS | str | int | None = None,
) -> DrawingChanges:
    """Compare the drawings on the map with the saved ones.

    A saved drawing counts as edited when its outline moved by more than ``tol_m``: the
    Hausdorff distance between the outlines in the metric CRS, taken from every vertex of
    each outline to the other outline (not vertex to vertex, so a vertex added on a straight
    edge, which Leaflet.Draw does when a midpoint handle is clicked, is no change). The
    tolerance absorbs the browser's rounding (``toGeoJSON`` keeps 6 decimals, about 0.1 m).

    Parameters
    ----------
    saved : the saved drawings, with an ``id`` column (any CRS); ``None`` for none.
    drawn : :func:`parse_drawings` of what the map returned; ``None`` (the component sent
        null, e.g. after its iframe was rebuilt) means no changes, never "all deleted".
    tol_m : movement in metres below which a drawing is unchanged.
    crs_metric : the metric CRS to measure in; ``None`` picks the local UTM zone.
    """
    if drawn is None:
        return _no_changes()
    if saved is None or len(saved) == 0:
        saved = empty_drawings()
    # A saved row without an id cannot be matched to anything on the map: leave it out.
    saved = saved.loc[np.array([not _missing(v) for v in saved["id"]], dtype=bool)]
    saved_ids = [str(v) for v in saved["id"]]
    drawn = drawn.to_crs(WGS84) if drawn.crs is not None else drawn.set_crs(WGS84)
    has_id = drawn["id"].notna().to_numpy() if len(drawn) else np.zeros(0, dtype=bool)
    new = drawn[~has_id]
    with_id = drawn[has_id]
    drawn_ids = [str(v) for v in with_id["id"]]
    saved_set, drawn_set = set(saved_ids), set(drawn_ids)
    deleted = [i for i in saved_ids if i not in drawn_set]
    unknown = [i for i in drawn_ids if i not in saved_set]
    common = [i for i in saved_ids if i in drawn_set]

    edited: list[str] = []
    if common:
        s = saved.assign(id=saved_ids).drop_duplicates("id").set_index("id").loc[common]
        d = with_id.assign(id=drawn_ids).set_index("id").loc[common]
        metric = CRS.from_user_input(crs_metric) if crs_metric is not None else None
        if metric is None:
            both = pd.concat([s.geometry.to_crs(WGS84), d.geometry.to_crs(WGS84)])
            metric = local_crs(gpd.GeoSeries(both.to_numpy(), crs=WGS84))
        a = s.geometry.to_crs(metric).to_numpy()
        b = d.geometry.to_crs(metric).to_numpy()
        dist = _outline_distance(a, b)
        edited = [i for i, moved in zip(common, dist > tol_m) if moved]
    moved = set(edited)
    edited_rows = with_id.loc[np.array([i in moved for i in drawn_ids], dtype=bool)]
    return DrawingChanges(new, edited, deleted, edited_rows, unknown)


def _outline(geoms: np.ndarray) -> np.ndarray:
    """Polygons by their boundary (so a shrink inside counts), points as themselves."""
    areal = shapely.get_dimensions(geoms) == 2
    out = geoms.copy()
    out[areal] = shapely.boundary(geoms[areal])
    return out


def _outline_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Symmetric vertex-to-outline Hausdorff distance of aligned geometry arrays."""
    oa, ob = _outline(a), _outline(b)
    return np.maximum(_directed(oa, ob), _directed(ob, oa))


def _directed(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    xy, idx = shapely.get_coordinates(src, return_index=True)
    d = shapely.distance(shapely.points(xy), dst[idx])
    out = np.zeros(len(src))
    np.maximum.at(out, idx, d)
    return out


def drawing_changes(
    saved: gpd.GeoDataFrame | None,
    all_drawings: list[dict] | None,
    *,
    tol_m: float = 0.5,
    crs_metric: CRS | str | int | None = None,
) -> DrawingChanges:
    """:func:`diff_drawings` of ``st_folium``'s ``all_drawings``, keeping ``None`` apart.

    ``None`` (nothing reported yet, or a rebuilt iframe) gives no changes; ``[]`` (the user
    deleted every drawing) deletes every saved one.

    Raises
    ------
    InputError : from :func:`parse_drawings`.
    """
    if all_drawings is None:
        return _no_changes()
    return diff_drawings(saved, parse_drawings(all_drawings, crs_metric), tol_m, crs_metric)


# --- drawings in a scenario ----------------------------------------------------------------------

#: What a new drawing can become: an incident, or the outline of one cordon tier.
ROLES: dict[str, str] = {
    "incident": "Incident",
    "lockdown": "Cordon outline · lockdown",
    "control": "Cordon outline · control",
    "prevention": "Cordon outline · prevention",
}
DRAWN = "drawn"


def scenario_drawings(sc: Scenario) -> gpd.GeoDataFrame:
    """The editable drawings of a scenario: every cordon outline (role = its band) and the
    incidents drawn on the map (``origin == "drawn"``, role ``incident``)."""
    cordons = sc.layer("cordons")
    inc = sc.layer("incidents")
    inc = inc[(inc["origin"] == DRAWN).fillna(False).to_numpy(dtype=bool)] if len(inc) else inc
    parts = [
        gpd.GeoDataFrame(
            {"id": cordons["id"], "role": cordons["band"], "name": cordons["name"]},
            geometry=cordons.geometry,
            crs=WGS84,
        ),
        gpd.GeoDataFrame(
            {"id": inc["id"], "role": "incident", "name": inc["name"]},
            geometry=inc.geometry,
            crs=WGS84,
        ),
    ]
    out = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else empty_drawings()[["id", "role", "name", "geometry"]]
    )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def without_drawings(sc: Scenario) -> Scenario:
    """``sc`` without its editable drawings (the map shows those in the drawing group)."""
    inc = sc.layer("incidents")
    keep = ~(inc["origin"] == DRAWN).fillna(False).to_numpy(dtype=bool) if len(inc) else None
    sc = sc.with_layer("incidents", inc[keep]) if keep is not None and not keep.all() else sc
    cordons = sc.layer("cordons")
    return sc.with_layer("cordons", cordons.iloc[:0]) if len(cordons) else sc


def next_id(sc: Scenario) -> str:
    """A fresh id for a drawing: ``drawn-<n>``, unused in incidents and cordons."""
    used = set(sc.layer("incidents")["id"]) | set(sc.layer("cordons")["id"])
    n = 1
    while f"drawn-{n}" in used:
        n += 1
    return f"drawn-{n}"


def new_feature(
    sc: Scenario,
    geometry: shapely.Geometry,
    role: str,
    *,
    name: str | None = None,
    kind: str = "other",
    severity: int = 3,
    at: pd.Timestamp | None = None,
) -> tuple[str, gpd.GeoDataFrame]:
    """A drawn shape as a one-row layer: ``("incidents" | "cordons", row)``, validated.

    Raises
    ------
    InputError : an unknown role, or a point as a cordon outline (field ``role``).
    """
    if role not in ROLES:
        raise InputError(f"unknown role '{role}'", field="role", expected=", ".join(ROLES))
    if role != "incident" and geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(
            "a cordon outline must be an area",
            field="role",
            expected="a polygon, rectangle or circle (a marker can only be an incident)",
        )
    from geo import layers  # late: layers imports nothing from here, but keep the top light

    when = at if at is not None else pd.Timestamp.now(tz=sc.settings.timezone)
    fid = next_id(sc)
    if role == "incident":
        data = {
            "id": [fid],
            "kind": [kind],
            "severity": [int(severity)],
            "reported_at": [when],
            "name": [name],
            "status": ["open"],
            "notes": [None],
            "origin": [DRAWN],
        }
        kind_ = "incidents"
    else:
        data = {
            "id": [fid],
            "band": [role],
            "name": [name],
            "drawn_at": [when],
            "notes": [None],
            "origin": [DRAWN],
        }
        kind_ = "cordons"
    row = gpd.GeoDataFrame(data, geometry=[geometry], crs=WGS84)
    row, _ = layers.validate(row, kind_, source="drawing", tz=sc.settings.timezone)
    return kind_, row


def apply_changes(sc: Scenario, changes: DrawingChanges) -> Scenario:
    """``sc`` with edited drawings moved and deleted ones removed (new ones are not added:
    they need a role first, see :func:`new_feature`)."""
    moved = {str(i): g for i, g in zip(changes.edited_rows["id"], changes.edited_rows.geometry)}
    gone = set(changes.deleted)
    for kind in ("incidents", "cordons"):
        layer = sc.layer(kind)
        if len(layer) == 0:
            continue
        ids = layer["id"].astype(str)
        hit = ids.isin(gone) | ids.isin(list(moved))
        if not hit.any():
            continue
        out = layer[~ids.isin(gone).to_numpy()].copy()
        for i in out.index[out["id"].astype(str).isin(list(moved)).to_numpy()]:
            out.loc[[i], "geometry"] = gpd.GeoSeries(
                [moved[str(out.at[i, "id"])]], crs=WGS84
            ).values
        sc = sc.with_layer(kind, out)
    return sc
