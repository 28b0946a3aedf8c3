"""Distances and areas of shapes drawn on the map, measured in the scenario's metric CRS.

Examples
--------
>>> from shapely.geometry import LineString
>>> from geo.crs import local_crs
>>> import geopandas as gpd
>>> from pyproj import Geod
>>> lon2, lat2, _ = Geod(ellps="WGS84").fwd(121.65, 31.14, 90, 1000)  # 1 km due east
>>> line = LineString([(121.65, 31.14), (lon2, lat2)])
>>> crs = local_crs(gpd.GeoSeries([line], crs=4326))
>>> m = measure([line], crs)[0]
>>> m.kind, round(m.length_m)
('line', 1000)
>>> m.text
'1.00 km'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.constants import WGS84

__all__ = ["Measurement", "from_drawings", "measure"]


@dataclass(frozen=True)
class Measurement:
    """One shape's size: a line's length, or an area's area and perimeter."""

    kind: Literal["line", "area"]
    length_m: float  # a line's length, an area's perimeter
    area_km2: float = 0.0

    @property
    def text(self) -> str:
        """As a person reads it: metres below 1 km, km above; km² (and hectares when small)."""
        if self.kind == "line":
            return _distance(self.length_m)
        ha = f" ({self.area_km2 * 100:,.1f} ha)" if self.area_km2 < 1 else ""
        return f"{self.area_km2:,.3f} km²{ha} · perimeter {_distance(self.length_m)}"


def _distance(m: float) -> str:
    return f"{m:,.0f} m" if m < 999.5 else f"{m / 1000:,.2f} km"


def measure(geometries: Sequence[BaseGeometry], crs: CRS | str) -> list[Measurement]:
    """Each line's length and each polygon's area and perimeter, in ``crs`` (metric; the
    geometries are lon/lat). Points and empty shapes measure nothing and are left out."""
    out: list[Measurement] = []
    if not geometries:
        return out
    metric = gpd.GeoSeries(list(geometries), crs=WGS84).to_crs(crs)
    for g in metric:
        if g is None or g.is_empty:
            continue
        if g.geom_type in ("LineString", "MultiLineString"):
            out.append(Measurement("line", float(g.length)))
        elif g.geom_type in ("Polygon", "MultiPolygon"):
            out.append(
                Measurement(
                    "area",
                    float(
                        g.exterior.length
                        if g.geom_type == "Polygon"
                        else shapely.length(g.boundary)
                    ),
                    float(g.area) / 1e6,
                )
            )
    return out


def from_drawings(drawings: Sequence[dict[str, Any]] | None) -> list[BaseGeometry]:
    """The geometries of what Leaflet.Draw sends back (GeoJSON features)."""
    out = []
    for f in drawings or []:
        geom = f.get("geometry") if isinstance(f, dict) else None
        if geom:
            try:
                out.append(shape(geom))
            except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError):
                continue  # not a shape: nothing to measure
    return out
