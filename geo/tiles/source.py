"""A map layer (``geo.mapview.MapLayer``: features, style and tooltip functions) as a
:class:`~geo.tiles.pyramid.TileSource`, and the tooltip of one tiled feature.

The layer's own style and tooltip functions stay the one truth: each feature's style is the
layer's ``style(row)`` (computed once per distinct combination of the row's values, so a
million roads of a few classes cost a few calls), and a tiled feature's tooltip is the layer's
``tooltip(row)`` of that row, served by the app when the pointer is on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.tiles.pyramid import TileSource, style_json

Table = Callable[[Any, Sequence[tuple[str, Any]]], str]


class Row(dict):
    """A feature's values as a mapping with attribute access (``r["x"]``, ``r.get``,
    ``r.geometry``); a value the row lacks reads as None (aggregates have few values)."""

    def __missing__(self, key: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return self[name]


class _Reads(Row):
    """A row that notes which values a style function reads."""

    def __init__(self, data: dict, seen: set[str]) -> None:
        super().__init__(data)
        self._seen = seen

    def __getitem__(self, key: str) -> Any:
        self._seen.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._seen.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._seen.add(str(key))
        return super().__contains__(key)


def _rows(gdf: gpd.GeoDataFrame, at: np.ndarray) -> list[Row]:
    sub = gdf.iloc[at]  # only these rows are converted (times to Timestamps are slow)
    cols = {c: sub[c].to_numpy() for c in gdf.columns}
    return [Row({c: v[i] for c, v in cols.items()}) for i in range(len(at))]


def styles_of(
    gdf: gpd.GeoDataFrame,
    style: Callable[[Any], dict],
    key: str,
    radius: Callable[[Any], float] | None = None,
) -> np.ndarray:
    """Each feature's style as compact JSON, as :func:`geo.mapview` puts it on the map
    (``className`` ``co-<key>``; points filled, with their radius; the pane is the tiled
    layer's).

    The style (and radius) function runs once per distinct combination of the values it
    reads (found by running it on a sample of rows), so a million roads of a few classes
    cost a few calls.

    Examples
    --------
    >>> g = gpd.GeoDataFrame({"id": ["a", "b", "c"], "c": ["x", "y", "x"]},
    ...     geometry=shapely.points([0, 1, 2], [0, 0, 0]), crs=4326)
    >>> s = styles_of(g, lambda r: {"color": "#f00" if r["c"] == "x" else "#00f"}, "p")
    >>> [json.loads(v)["color"] for v in s]
    ['#f00', '#00f', '#f00']
    """
    n = len(gdf)
    if not n:
        return np.array([], dtype=object)
    geoms = gdf.geometry.to_numpy()
    seen: set[str] = set()
    sample = np.unique(np.r_[np.arange(min(n, 20)), np.linspace(0, n - 1, 20).astype(int)])
    for row in _rows(gdf, sample):
        reads = _Reads(row, seen)
        style(reads)
        if radius is not None:
            radius(reads)
    geom_col = gdf.geometry.name
    cols = [c for c in gdf.columns if c in seen and c != geom_col]
    if cols or geom_col in seen or "geometry" in seen:
        frame = pd.DataFrame({c: gdf[c].astype(str).to_numpy() for c in cols})
        frame["__type"] = shapely.get_type_id(geoms)
        codes = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    else:
        codes = shapely.get_type_id(geoms)
    _, first, inv = np.unique(codes, return_index=True, return_inverse=True)
    out = np.empty(len(first), dtype=object)
    for i, row in enumerate(_rows(gdf, first)):
        s = {k: v for k, v in style(row).items() if v is not None}
        s["className"] = f"co-{key}"
        if geoms[first[i]].geom_type in ("Polygon", "MultiPolygon"):
            s.setdefault("fill", True)  # VectorGrid starts from L.Path's options (no fill)
        if geoms[first[i]].geom_type == "Point":
            s["fill"] = True
            s["radius"] = float(radius(row)) if radius else 6.0
        out[i] = style_json(s)
    return out[inv.ravel()]


def from_layer(layer: Any, table: Table, title: str | None = None) -> TileSource:
    """A tile source from a ``MapLayer`` (``key``, ``name``, ``gdf``, ``style``, ``tooltip``,
    ``point_radius``), with the generalisation inputs its columns give: a road's class (its
    first zoom), a crowd cell's people (the heat grid), a checkpoint's band (clusters apart).

    ``table(title, rows)`` builds an aggregate's tooltip (``geo.mapview.tooltip_table``).
    """
    from geo.tiles import generalise as gen

    gdf = layer.gdf
    title = title or layer.name.split(" (")[0].lower()
    styles = styles_of(gdf, layer.style, layer.key, layer.point_radius)
    geoms = gdf.geometry.to_numpy()
    src = TileSource(layer.key, geoms, styles, title)
    dim = int(shapely.get_dimensions(geoms).max()) if len(gdf) else 0
    if dim == 1 and "road_class" in gdf.columns:
        src.min_zoom = gen.road_min_zoom(gdf["road_class"].to_numpy())
    if dim == 2 and "people" in gdf.columns:
        src.weight = gdf["people"].astype(float).fillna(0.0).to_numpy()
        if "area_km2" in gdf.columns:
            src.area_km2 = gdf["area_km2"].astype(float).fillna(0.0).to_numpy()
        else:
            from geo.crs import local_crs

            src.area_km2 = gdf.to_crs(local_crs(gdf.geometry)).area.to_numpy() / 1e6

        def heat_style(fig: dict) -> str:
            row = Row(people=fig["weight"], per_km2=fig["per_km2"], area_km2=fig["area_km2"])
            s = {k: v for k, v in layer.style(row).items() if v is not None}
            s["className"] = f"co-{layer.key}"
            s.setdefault("fill", True)
            return style_json(s)

        def heat_tip(fig: dict) -> str:
            return table(
                f"{fig['count']:,} {title}",
                [
                    ("people", fig["weight"]),
                    ("per km²", fig["per_km2"]),
                    ("area km²", fig["area_km2"]),
                    ("zoom in", "to see each"),
                ],
            )

        src.aggregate_style, src.aggregate_tip = heat_style, heat_tip
    if dim == 0:
        if "band" in gdf.columns:
            src.group = gdf["band"].astype(str).to_numpy()

        def cluster_style(fig: dict) -> str:
            s = json.loads(fig["style"])
            s["radius"] = float(min(8.0 + 3.0 * np.log2(fig["count"]), 24.0))
            s["weight"] = 3
            return style_json(s)

        def cluster_tip(fig: dict) -> str:
            rows = [("zoom in", "to see each")]
            if src.group is not None:
                rows.insert(0, ("band", fig["group"]))
            return table(f"{fig['count']:,} {title}", rows)

        src.aggregate_style, src.aggregate_tip = cluster_style, cluster_tip
    return src


def tip_of(layer: Any) -> Callable[[int], str]:
    """The tooltip of the tiled feature at row position ``i`` (the layer's own tooltip)."""
    gdf = layer.gdf

    def tip(i: int) -> str:
        return str(layer.tooltip(gdf.iloc[i]))

    return tip
