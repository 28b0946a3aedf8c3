"""Coordinate reference systems: the local metric CRS of an area; WGS-84 <-> GCJ-02 <-> BD-09.

GCJ-02 ("Mars coordinates", used by Amap/Gaode and Tencent) is WGS-84 plus a deliberate,
position-dependent offset of a few hundred metres (450-500 m in Shanghai); BD-09 (Baidu) adds a
second offset on top of GCJ-02. Both are lon/lat on top of EPSG:4326 and PROJ does not know them
(OSGeo/PROJ#982), so they are converted here, before or after any pyproj step.

The forward formulas are the public ones (as in PRCoords, public domain). Neither has a closed
inverse, so the inverses iterate on the forward formula until it reproduces the input to
``1e-9`` degrees (about 0.1 mm); round trips are then far below 1 cm.

"Inside China" is the customary bounding box :data:`CHINA_BBOX`. It is only a box: it also
covers Taiwan, Hong Kong, Macau and parts of neighbouring countries (Korea, Mongolia, Vietnam,
...), where published maps use plain WGS-84 and these conversions would wrongly move points by a
few hundred metres. Outside the box every function returns its input unchanged (BD-09 included:
this module treats all three datums as WGS-84 there). The inverses test the box on the offset
coordinates they are given, so within ~0.01 degrees of its edge the two directions may disagree;
the edge runs through sea, desert and Siberia, far from any city.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

from geo.errors import InputError

__all__ = [
    "CHINA_BBOX",
    "DATUMS",
    "Coord",
    "Datum",
    "Pair",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "from_wgs84_gdf",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_crs",
    "to_wgs84_gdf",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
_DATUM_EXPECTED = "wgs84, gcj02 or bd09"

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula uses for its metre -> degree step.
GCJ_A = 6378245.0
GCJ_EE = 0.00669342162296594323  # e^2 = 2f - f^2 with f = 1/298.3
# Baidu's constants: the angular "noise" frequency and the fixed lon/lat shift.
BD_X_PI = np.pi * 3000.0 / 180.0
BD_DLON = 0.0065
BD_DLAT = 0.006
# lon_min, lat_min, lon_max, lat_max of the usual "in China" box (eviltransform, PRCoords).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

INVERSE_TOL_DEG = 1e-9
INVERSE_MAX_ITER = 30

Coord = float | npt.ArrayLike
Pair = tuple[np.ndarray | np.float64, np.ndarray | np.float64]


def local_crs(area: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry) -> CRS:
    """A metric CRS for ``area`` (EPSG:4326 lon/lat): the UTM zone of its centre.

    UTM keeps scale error under 0.04 % inside a zone, far below what any analysis here needs;
    for Shanghai it is EPSG:32651. Beyond UTM's latitude range (84 N, 80 S) it is the polar
    stereographic UPS (EPSG:32661 / 32761). Areas crossing the antimeridian are not handled
    (their bounding-box centre is on the wrong side of the globe).

    Raises
    ------
    InputError : if ``area`` is empty (it has no centre).
    """
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        if area.crs is not None and not CRS.from_user_input(area.crs).equals(CRS.from_epsg(4326)):
            area = area.to_crs(4326)
        xmin, ymin, xmax, ymax = area.total_bounds
    else:
        xmin, ymin, xmax, ymax = area.bounds
    if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
        raise InputError(
            "cannot choose a metric CRS for an empty area",
            field="geometry",
            expected="an area with at least one non-empty geometry",
        )
    lon, lat = (xmin + xmax) / 2, (ymin + ymax) / 2
    if lat >= 84:
        return CRS.from_epsg(32661)
    if lat < -80:
        return CRS.from_epsg(32761)
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


# --- point conversions -------------------------------------------------------------------------


def _arrays(lon: Coord, lat: Coord) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return x.copy(), y.copy()


def _out(x: np.ndarray, y: np.ndarray) -> Pair:
    # 0-d in, numpy scalars out; arrays keep their shape.
    return (x[()], y[()]) if x.ndim == 0 else (x, y)


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    # NaN compares False, so missing coordinates count as "outside" and pass through untouched.
    return (lon >= lon_min) & (lon <= lon_max) & (lat >= lat_min) & (lat <= lat_max)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS-84 in degrees at WGS-84 (lon, lat), ignoring the China box."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    # The offsets in metres: a smooth trend plus sums of sines.
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
        + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
        + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0
    )
    # Metres -> degrees with the Krasovsky meridian and parallel radii of curvature.
    phi = np.radians(lat)
    w2 = 1.0 - GCJ_EE * np.sin(phi) ** 2
    m_per_rad_lat = GCJ_A * (1.0 - GCJ_EE) / (w2 * np.sqrt(w2))
    m_per_rad_lon = GCJ_A / np.sqrt(w2) * np.cos(phi)
    return np.degrees(dlon_m / m_per_rad_lon), np.degrees(dlat_m / m_per_rad_lat)


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.hypot(lon, lat) + 0.00002 * np.sin(lat * BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * BD_X_PI)
    return r * np.cos(theta) + BD_DLON, r * np.sin(theta) + BD_DLAT


def _bd_inverse_seed(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Baidu's own approximate inverse (~1e-7 deg); the iteration then makes it exact.
    x, y = lon - BD_DLON, lat - BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * BD_X_PI)
    return r * np.cos(theta), r * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from the guess (x, y).

    Both offsets change by well under 1 % of a step per step (their derivatives are ~1e-3 to
    2e-2), so each iteration shrinks the error by that factor: three or four iterations reach
    ``INVERSE_TOL_DEG`` from a metre-level guess.
    """
    for _ in range(INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        err = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(err > INVERSE_TOL_DEG):  # NaN > tol is False: NaNs do not block
            break
    return x, y


def wgs84_to_gcj02(lon: Coord, lat: Coord) -> Pair:
    """WGS-84 -> GCJ-02 (Amap/Gaode, Tencent). Points outside :data:`CHINA_BBOX` are unchanged.

    Parameters
    ----------
    lon, lat : degrees; scalars or arrays (broadcast against each other).

    Returns
    -------
    (lon, lat) : arrays of the broadcast shape, or numpy scalars for scalar input.
    """
    x, y = _arrays(lon, lat)
    m = _in_china(x, y)
    x[m], y[m] = _gcj_forward(x[m], y[m])
    return _out(x, y)


def gcj02_to_wgs84(lon: Coord, lat: Coord) -> Pair:
    """GCJ-02 -> WGS-84, iterated until the forward transform matches to 1e-9 degrees.

    Same arguments and return as :func:`wgs84_to_gcj02`.
    """
    x, y = _arrays(lon, lat)
    m = _in_china(x, y)
    gx, gy = x[m], y[m]
    dx, dy = _gcj_offset(gx, gy)
    x[m], y[m] = _invert(_gcj_forward, gx, gy, gx - dx, gy - dy)
    return _out(x, y)


def gcj02_to_bd09(lon: Coord, lat: Coord) -> Pair:
    """GCJ-02 -> BD-09 (Baidu), the standard formula. Points outside the China box unchanged.

    Same arguments and return as :func:`wgs84_to_gcj02`.
    """
    x, y = _arrays(lon, lat)
    m = _in_china(x, y)
    x[m], y[m] = _bd_forward(x[m], y[m])
    return _out(x, y)


def bd09_to_gcj02(lon: Coord, lat: Coord) -> Pair:
    """BD-09 -> GCJ-02: Baidu's approximate inverse, refined by iteration to 1e-9 degrees.

    Same arguments and return as :func:`wgs84_to_gcj02`.
    """
    x, y = _arrays(lon, lat)
    m = _in_china(x, y)
    bx, by = x[m], y[m]
    x[m], y[m] = _invert(_bd_forward, bx, by, *_bd_inverse_seed(bx, by))
    return _out(x, y)


def wgs84_to_bd09(lon: Coord, lat: Coord) -> Pair:
    """WGS-84 -> BD-09 (through GCJ-02). Same arguments and return as :func:`wgs84_to_gcj02`."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Coord, lat: Coord) -> Pair:
    """BD-09 -> WGS-84 (through GCJ-02). Same arguments and return as :func:`wgs84_to_gcj02`."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERSIONS: dict[tuple[str, str], Callable[[Coord, Coord], Pair]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _datum(name: object, field: str = "datum") -> str:
    """Normalise a datum name ("GCJ-02", "bd09", "WGS 84" ...) or raise InputError."""
    key = str(name).lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in DATUMS:
        raise InputError(
            f"unknown coordinate datum '{name}'", field=field, expected=_DATUM_EXPECTED
        )
    return key


def convert(lon: Coord, lat: Coord, src: str, dst: str) -> Pair:
    """Convert lon/lat from datum ``src`` to ``dst`` ("wgs84", "gcj02" or "bd09").

    Same arguments and return as :func:`wgs84_to_gcj02`; ``src == dst`` returns a copy.

    Raises
    ------
    InputError : for an unknown datum (field ``"datum"``).
    """
    s, d = _datum(src), _datum(dst)
    if s == d:
        return _out(*_arrays(lon, lat))
    return _CONVERSIONS[s, d](lon, lat)


# --- GeoDataFrames -----------------------------------------------------------------------------


def _convert_gdf(gdf: gpd.GeoDataFrame, src: str, dst: str) -> gpd.GeoDataFrame:
    if gdf.crs is not None and not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        raise InputError(
            f"GCJ-02/BD-09 conversion needs lon/lat, got CRS {CRS.from_user_input(gdf.crs).name}",
            field="geometry",
            expected="a GeoDataFrame in EPSG:4326",
        )
    out = gdf.copy()
    if src == dst or len(gdf) == 0:
        return out

    def fn(coords: np.ndarray) -> np.ndarray:
        res = coords.copy()
        res[:, 0], res[:, 1] = _CONVERSIONS[src, dst](coords[:, 0], coords[:, 1])
        return res

    # include_z=True keeps 3D geometries 3D (z untouched) and 2D ones 2D.
    new = shapely.transform(np.asarray(gdf.geometry.array), fn, include_z=True)
    out[gdf.geometry.name] = gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs)
    return out


def to_wgs84_gdf(gdf: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """Convert every coordinate of ``gdf`` from ``datum`` to WGS-84.

    Parameters
    ----------
    gdf : features in EPSG:4326 whose lon/lat are really in ``datum``.
    datum : "wgs84" (a copy is returned unchanged), "gcj02" or "bd09".

    Returns
    -------
    A new GeoDataFrame (EPSG:4326), same rows, columns and index; attributes untouched.

    Raises
    ------
    InputError : unknown ``datum`` (field "datum"), or ``gdf`` not in EPSG:4326.
    """
    return _convert_gdf(gdf, _datum(datum), "wgs84")


def from_wgs84_gdf(gdf: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """Convert every coordinate of ``gdf`` (WGS-84, EPSG:4326) to ``datum``.

    The inverse of :func:`to_wgs84_gdf`, e.g. to overlay layers on Amap (``"gcj02"``) or Baidu
    (``"bd09"``) tiles. Same parameters, return and errors.
    """
    return _convert_gdf(gdf, "wgs84", _datum(datum))
