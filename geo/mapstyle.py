"""How each kind of layer looks on the map: one table, one row per kind, in drawing order.

A row (:class:`LayerKind`) says where the features come from (a scenario layer, or an analysis
result), the title in the layer switcher, the drawing order, the style and tooltip of each
feature, the legend entries, and whether the layer belongs to the base map (it does not change
between live refreshes) or is swapped in place. :func:`scenario_layers` and :func:`result_layer`
read it; nothing else in the project knows how a kind is drawn.

Adding a layer kind is one row in :data:`KINDS` (see ``docs/design.md``).

All user text is HTML-escaped here, before it reaches a tooltip or a legend.

Examples
--------
>>> [k.key for k in KINDS.values()][:3]
['boundary', 'crowd_zones', 'catchments']
>>> KINDS["roads"].base, KINDS["incidents"].base
(True, False)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.palette import (
    BAND_COLORS,
    BAND_FILL,
    CATEGORY_COLORS,
    DENSITY_BREAKS,
    DENSITY_COLORS,
    FACILITY_COLOR,
    HOSPITAL_COLOR,
    INCIDENT_COLOR,
    SITE_CLOSED_COLOR,
    SITE_COLOR,
    SITE_WAIT_COLORS,
    STAGING_COLOR,
    THEMES,
    density_color,
)

if TYPE_CHECKING:
    from pyproj import CRS

    from geo.scenario import Scenario

__all__ = [
    "KINDS",
    "LayerKind",
    "MapLayer",
    "esc",
    "found_layer",
    "result_layer",
    "scenario_layers",
    "tooltip_table",
]

Row: TypeAlias = pd.Series
Theme: TypeAlias = dict[str, str]
Legend: TypeAlias = list[tuple[str, str]]


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
    order: int = 500  # drawing order, bottom to top (the kind's)
    base: bool = False  # part of the base map: does not change between live refreshes
    open_tooltip: bool = False  # the tooltip opens as soon as the layer is on the map


# --- text ------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    """Text for HTML: escaped, with missing values shown as an en dash.

    >>> esc("<b>Gate</b>"), esc(None), esc(1234.5), esc(3)
    ('&lt;b&gt;Gate&lt;/b&gt;', '–', '1,234', '3')
    """
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


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a kind may need besides its rows: the theme and the scenario's metric CRS."""

    theme: Theme
    metric: CRS | None = None


def _same(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    return gdf


@dataclass(frozen=True)
class LayerKind:
    """How one kind of layer is drawn.

    Attributes
    ----------
    key : the layer's key (URL ``hide=``, CSS class ``co-<key>`` on every drawn path).
    title : its entry in the layer switcher.
    order : drawing order, bottom to top (polygons; points always sit above polygons).
    style, tooltip : per feature, from its row (after ``prepare``) and the theme.
    legend : legend entries (colour, label), from the theme and the prepared rows.
    source : the scenario layer drawn, or None for an analysis result.
    select : which rows of ``source`` (e.g. hospitals among the facilities).
    prepare : derived columns the style or tooltip read (e.g. people per km²).
    point_radius, label : for point layers: circle radius, short text on the point.
    show : shown at first (else listed in the switcher, unchecked).
    base : part of the base map (does not change between live refreshes).
    cache : the styled features are built once per layer object (scenario layers drawn as
        they are; not for layers whose rows change between refreshes).
    only_when_present : no switcher entry while the layer is empty.
    """

    key: str
    title: str
    order: int
    style: Callable[[Row, Theme], dict[str, Any]]
    tooltip: Callable[[Row], str]
    legend: Callable[[Theme, gpd.GeoDataFrame], Legend] = lambda t, g: []
    source: str | None = None
    select: Callable[[gpd.GeoDataFrame], Any] | None = None
    prepare: Callable[[gpd.GeoDataFrame, Context], gpd.GeoDataFrame] = _same
    point_radius: Callable[[Row], float] | None = None
    label: Callable[[Row], str] | None = None
    show: bool = True
    base: bool = False
    cache: bool = False
    only_when_present: bool = False
    open_tooltip: bool = False

    def layer(self, gdf: gpd.GeoDataFrame, ctx: Context, title: str | None = None) -> MapLayer:
        """The rows ``gdf`` drawn as this kind."""
        rows = gdf[self.select(gdf)] if self.select is not None else gdf
        rows = self.prepare(rows, ctx)
        theme = ctx.theme
        return MapLayer(
            title or self.title,
            self.key,
            rows,
            style=lambda r: self.style(r, theme),
            tooltip=self.tooltip,
            point_radius=self.point_radius,
            show=self.show,
            legend=self.legend(theme, rows),
            label=self.label,
            cache=_theme_name(theme) if self.cache else None,
            order=self.order,
            base=self.base,
            open_tooltip=self.open_tooltip,
        )


def _theme_name(theme: Theme) -> str:
    return next((k for k, v in THEMES.items() if v is theme), "custom")


# --- per kind: derived columns and styles ------------------------------------------------------


def _zones(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    zones = gdf.copy()
    if len(zones) and ctx.metric is not None:
        zones["area_km2"] = zones.to_crs(ctx.metric).area.to_numpy() / 1e6
        zones["per_km2"] = zones["people"] / zones["area_km2"].where(zones["area_km2"] > 0)
    else:
        zones["area_km2"] = pd.Series(dtype=float)
        zones["per_km2"] = pd.Series(dtype=float)
    return zones


def _sites(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    sites = gdf.copy()
    sites["per_h"] = sites["lanes"].astype(float) * sites["per_lane_per_h"].astype(float)
    queue = sites["queue"].astype(float).fillna(0.0)
    sites["wait_min"] = (queue / sites["per_h"].where(sites["per_h"] > 0) * 60.0).fillna(0.0)
    return sites


def _site_color(r: Row) -> str:
    if r.get("status") in ("not open yet", "closed"):
        return SITE_CLOSED_COLOR
    color = SITE_COLOR
    for limit, c in SITE_WAIT_COLORS:
        if float(r.get("wait_min", 0.0)) > limit:
            color = c
    return color


def _site_legend(t: Theme, rows: gpd.GeoDataFrame) -> Legend:
    # Always listed: a legend that changed with the data would rebuild the live map.
    return [
        (SITE_COLOR, "Testing site (size: lanes)"),
        (SITE_WAIT_COLORS[0][1], "Site queue > 45 min"),
        (SITE_WAIT_COLORS[1][1], "> 90 min"),
        *([(SITE_CLOSED_COLOR, "Testing site not open")] if "status" in rows.columns else []),
    ]


def _catchments(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    colors = {
        sid: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, sid in enumerate(gdf["site_id"])
    }
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    out = gdf[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))].copy()
    out["id"] = out["site_id"]
    out["_color"] = out["site_id"].map(colors)
    return out


def _isochrones(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["id"] = [
        f"{s}:{a:g}-{b:g}" for s, a, b in zip(out["site_id"], out["min_from"], out["min_to"])
    ]
    limits = sorted(set(out["min_to"]))
    color = {m: BAND_COLORS[min(i, len(BAND_COLORS) - 1)] for i, m in enumerate(limits)}
    out["_color"] = out["min_to"].map(color)
    return out


def _isochrone_legend(t: Theme, rows: gpd.GeoDataFrame) -> Legend:
    pairs = rows[["min_to", "_color"]].drop_duplicates().sort_values("min_to")
    return [(c, f"≤ {m:g} min") for m, c in zip(pairs["min_to"], pairs["_color"])]


def _bands(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    b = gdf[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))].copy()
    b["id"] = b["band"]
    return b


def _staging(gdf: gpd.GeoDataFrame, ctx: Context) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["id"] = out["candidate_id"].astype(str)
    return out


def _band_style(
    weight: float, fill: float, dash: str | None = None
) -> Callable[[Row, Theme], dict]:
    def style(r: Row, t: Theme) -> dict[str, Any]:
        c = BAND_FILL.get(r["band"], "#ffffff")
        return {
            "color": c,
            "weight": weight,
            "dashArray": dash,
            "fillColor": c,
            "fillOpacity": fill,
        }

    return style


_MAJOR = ("motorway", "trunk", "primary")
_FOOT = ("footway", "path", "pedestrian")
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

_ROWS = [
    LayerKind(
        "boundary",
        "Boundary",
        10,
        source="boundary",
        base=True,
        cache=True,
        style=lambda r, t: {
            "color": t["boundary"],
            "weight": 2,
            "dashArray": "6 4",
            "fillOpacity": 0.0,
        },
        tooltip=lambda r: tooltip_table(r.get("name") or "Boundary", [("id", r["id"])]),
        legend=lambda t, g: [(t["boundary"], "Study area")],
    ),
    LayerKind(
        "crowd_zones",
        "Crowd zones (people/km²)",
        20,
        source="crowd_zones",
        prepare=_zones,
        style=lambda r, t: {
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
        legend=lambda t, g: [(c, f"≥ {b:,} /km²") for b, c in zip(DENSITY_BREAKS, DENSITY_COLORS)],
    ),
    LayerKind(
        "catchments",
        "Catchments",
        30,
        prepare=_catchments,
        style=lambda r, t: {
            "color": r["_color"],
            "weight": 2,
            "fillColor": r["_color"],
            "fillOpacity": 0.35,
        },
        tooltip=lambda r: tooltip_table(
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
        ),
    ),
    LayerKind(
        "isochrones",
        "Isochrones",
        35,
        prepare=_isochrones,
        style=lambda r, t: {
            "color": r["_color"],
            "weight": 0.5,
            "fillColor": r["_color"],
            "fillOpacity": 0.3,
        },
        tooltip=lambda r: tooltip_table(
            r["site_id"],
            [("minutes", f"{r['min_from']:g}–{r['min_to']:g}"), ("area km²", r["area_km2"])],
        ),
        legend=_isochrone_legend,
    ),
    LayerKind(
        "roads",
        "Roads",
        40,
        source="roads",
        base=True,
        cache=True,
        style=lambda r, t: {
            "color": t["major_road"] if r["road_class"] in _MAJOR else t["road"],
            "weight": ROAD_WEIGHT.get(r["road_class"], 1.0),
            "opacity": 0.9,
            "dashArray": "2 4" if r["road_class"] in _FOOT else None,
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
        legend=lambda t, g: [(t["major_road"], "Major road"), (t["road"], "Street / path")],
    ),
    LayerKind(
        "cordon",
        "Cordon bands",
        50,
        prepare=_bands,
        style=_band_style(3, 0.18),
        tooltip=lambda r: tooltip_table(
            f"{r['band']} {r['band_zh']}",
            [
                ("people", r.get("people")),
                ("area km²", r["area_km2"]),
                ("incidents", r.get("incident_ids")),
            ],
        ),
        legend=lambda t, g: [(c, f"{band} zone") for band, c in BAND_FILL.items()],
    ),
    LayerKind(
        "cordons",
        "Cordon outlines (drawn)",
        55,
        source="cordons",
        only_when_present=True,  # none in most scenarios: no empty entry
        style=_band_style(3, 0.06, "10 6"),
        tooltip=lambda r: tooltip_table(
            r.get("name") or f"{r['band']} outline",
            [("zone", r["band"]), ("drawn", r.get("drawn_at")), ("id", r["id"])],
        ),
        legend=lambda t, g: [(BAND_FILL["lockdown"], "Cordon outline (drawn, dashed)")],
    ),
    LayerKind(
        "hospitals",
        "Hospitals",
        60,
        source="facilities",
        select=lambda g: g["kind"] == "hospital",
        base=True,
        style=lambda r, t: {
            "color": "#ffffff",
            "weight": 2,
            "fillColor": HOSPITAL_COLOR,
            "fillOpacity": 1.0,
        },
        tooltip=lambda r: tooltip_table(
            r.get("name") or r["id"], [("kind", r["kind"]), ("beds", r.get("capacity"))]
        ),
        point_radius=lambda r: 9,
        legend=lambda t, g: [(HOSPITAL_COLOR, "Hospital")],
    ),
    LayerKind(
        "facilities",
        "Other facilities",
        61,
        source="facilities",
        select=lambda g: g["kind"] != "hospital",
        base=True,
        show=False,
        style=lambda r, t: {
            "color": FACILITY_COLOR,
            "weight": 1,
            "fillColor": FACILITY_COLOR,
            "fillOpacity": 0.6,
        },
        tooltip=lambda r: tooltip_table(
            r.get("name") or r["id"], [("kind", r["kind"]), ("capacity", r.get("capacity"))]
        ),
        point_radius=lambda r: 4,
        legend=lambda t, g: [(FACILITY_COLOR, "Facility / staging candidate")],
    ),
    LayerKind(
        "testing_sites",
        "Testing sites",
        70,
        source="testing_sites",
        prepare=_sites,
        style=lambda r, t: {
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
        legend=_site_legend,
    ),
    LayerKind(
        "incidents",
        "Incidents",
        80,
        source="incidents",
        style=lambda r, t: {
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
        legend=lambda t, g: [(INCIDENT_COLOR, "Incident")],
    ),
    LayerKind(
        "checkpoints",
        "Checkpoints",
        90,
        style=lambda r, t: {
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
        legend=lambda t, g: [("#ffffff", "Checkpoint (size: staff)")],
    ),
    LayerKind(
        "staging",
        "Suggested sites",
        100,
        prepare=_staging,
        style=lambda r, t: {
            "color": "#ffffff",
            "weight": 2,
            "fillColor": STAGING_COLOR,
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
        legend=lambda t, g: [(STAGING_COLOR, "Suggested site (number: rank)")],
    ),
]

_ROWS.append(
    LayerKind(
        "found",
        "Found",
        110,
        style=lambda r, t: {
            "color": "#ffffff",
            "weight": 5,
            "dashArray": "4 6",
            "fillColor": "#ffffff",
            "fillOpacity": 0.15,
        },
        tooltip=lambda r: str(r["_tip"]),
        point_radius=lambda r: 18,
        open_tooltip=True,
    )
)

#: Every layer kind the map draws, bottom to top.
KINDS: dict[str, LayerKind] = {k.key: k for k in sorted(_ROWS, key=lambda k: k.order)}


def scenario_layers(scenario: Scenario, theme: str = "dark") -> list[MapLayer]:
    """The scenario's own layers (every kind with a ``source``), bottom to top."""
    ctx = Context(THEMES[theme], scenario.metric_crs())
    out = []
    for kind in KINDS.values():
        if kind.source is None:
            continue
        gdf = scenario.layer(kind.source)
        if kind.only_when_present and len(gdf) == 0:
            continue
        out.append(kind.layer(gdf, ctx))
    return out


def result_layer(
    key: str, gdf: gpd.GeoDataFrame, title: str | None = None, theme: str = "dark"
) -> MapLayer:
    """An analysis result drawn as the kind ``key`` (e.g. ``"catchments"``, ``"cordon"``)."""
    return KINDS[key].layer(gdf, Context(THEMES[theme]), title)


def found_layer(scenario: Scenario, layer: str, feature_id: str) -> MapLayer | None:
    """The feature ``feature_id`` of the scenario's ``layer``, ringed in white, with the tooltip
    its own kind gives it (the search result; its tooltip opens by itself)."""
    ctx = Context(THEMES["dark"], scenario.metric_crs())
    for kind in KINDS.values():
        if kind.source != layer:
            continue
        drawn = kind.layer(scenario.layer(layer), ctx)
        rows = drawn.gdf[drawn.gdf["id"].astype(str) == str(feature_id)]
        if len(rows):
            rows = rows.copy()
            rows["_tip"] = [drawn.tooltip(r) for _, r in rows.iterrows()]
            return KINDS["found"].layer(rows[["id", "_tip", "geometry"]], ctx)
    return None


def in_order(layers: Sequence[MapLayer]) -> list[MapLayer]:
    """``layers`` in drawing order (stable: equal orders keep their given order)."""
    return sorted(layers, key=lambda lay: lay.order)
