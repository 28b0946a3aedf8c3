"""Coordinate reference systems: the local metric CRS of an area; WGS-84 <-> GCJ-02 <-> BD-09."""

from __future__ import annotations

import geopandas as gpd
import shapely
from pyproj import CRS


def local_crs(area: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry) -> CRS:
    """A metric CRS for ``area`` (EPSG:4326 lon/lat): the UTM zone of its centre.

    UTM keeps scale error under 0.04 % inside a zone, far below what any analysis here needs;
    for Shanghai it is EPSG:32651.
    """
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        if area.crs is not None and not CRS.from_user_input(area.crs).is_geographic:
            area = area.to_crs(4326)
        xmin, ymin, xmax, ymax = area.total_bounds
    else:
        xmin, ymin, xmax, ymax = area.bounds
    lon, lat = (xmin + xmax) / 2, (ymin + ymax) / 2
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
