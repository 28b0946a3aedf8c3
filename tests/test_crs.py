"""WGS-84 <-> GCJ-02 <-> BD-09 conversions and the local metric CRS (geo.crs)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from geo import crs
from geo.errors import InputError

# Shanghai's extent (WGS-84), as the brief gives it.
SH_LON = (120.85, 122.2)
SH_LAT = (30.67, 31.88)
TO_UTM51 = Transformer.from_crs(4326, 32651, always_xy=True)


def metres(a: tuple, b: tuple) -> np.ndarray:
    """Distance in metres between lon/lat points a and b, measured in UTM 51N (EPSG:32651)."""
    ax, ay = TO_UTM51.transform(*a)
    bx, by = TO_UTM51.transform(*b)
    return np.hypot(np.subtract(ax, bx), np.subtract(ay, by))


def shanghai_grid(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(*SH_LON, n), np.linspace(*SH_LAT, n))
    return lon.ravel(), lat.ravel()


# --- published reference pairs ------------------------------------------------------------------

# (WGS-84 lon, lat) -> (GCJ-02 lon, lat), all from the public formula in other libraries' tests:
WGS_GCJ = [
    # googollee/eviltransform go/transform_test.go and python/test.py ("shanghai", "shenzhen",
    # "beijing"; given there as lat, lon)
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # feiquan123/coordtransform-go coordtransform_test.go (expWGS84toGCJ02, Wuhan)
    ((114.363089, 30.517411), (114.36861383019243, 30.515078352018758)),
    # wandergis/coordtransform README.md (wgs84togcj02(116.404, 39.915))
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]

# (GCJ-02 lon, lat) -> (BD-09 lon, lat), exact to the digits given:
GCJ_BD = [
    # feiquan123/coordtransform-go coordtransform_test.go (expGCJ02toBD09)
    ((114.363089, 30.517411), (114.36951652929112, 30.523754384540837)),
    # wandergis/coordtransform README.md (gcj02tobd09(116.404, 39.915))
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
]

# hujiulong/gcoord test/fixtures/china-cities.json: GCJ02 and BD09 columns, rounded to 7
# decimals (Zhumadian, Taizhou, Jinhua, Nagqu). Its WGS84 column is *not* used: it sits a
# systematic ~0.6 m off the public formula (checked while writing these tests).
GCJ_BD_ROUNDED = [
    ((114.022306, 33.0115324), (114.0287781, 33.0176697)),
    ((119.9231242, 32.4557802), (119.9296902, 32.4615531)),
    ((119.6474509, 29.0790641), (119.6538875, 29.0854003)),
    ((92.0512438, 31.4762063), (92.0576832, 31.4824421)),
]

# feiquan123/coordtransform-go coordtransform_test.go (expWGS84toBD09, WGS-84 -> BD-09).
WGS_BD = [((114.363089, 30.517411), (114.3750500836037, 30.521392123098003))]

# Published BD-09 -> GCJ-02 results of Baidu's *one-step* approximate inverse (good to ~1e-7
# degrees); our iterated inverse must agree with them to that accuracy.
BD_GCJ_APPROX = [
    # feiquan123/coordtransform-go coordtransform_test.go (expBD09toGCJ02)
    ((114.363089, 30.517411), (114.356659806424, 30.511068245460944)),
    # wandergis/coordtransform README.md (bd09togcj02(116.404, 39.915))
    ((116.404, 39.915), (116.39762729119315, 39.90865673957631)),
]


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj):
    assert np.allclose(crs.wgs84_to_gcj02(*wgs), gcj, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_gcj02_to_wgs84_recovers_published_pairs(wgs, gcj):
    # A one-step inverse would be off by up to metres here; the iterated one is exact.
    assert np.allclose(crs.gcj02_to_wgs84(*gcj), wgs, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("gcj", "bd"), GCJ_BD)
def test_gcj02_to_bd09_matches_published_pairs(gcj, bd):
    assert np.allclose(crs.gcj02_to_bd09(*gcj), bd, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("gcj", "bd"), GCJ_BD + GCJ_BD_ROUNDED)
def test_bd09_gcj02_both_ways_on_published_pairs(gcj, bd):
    tol = 1e-10 if (gcj, bd) in GCJ_BD else 1e-7  # 7-decimal rounding is 5e-8
    assert np.allclose(crs.gcj02_to_bd09(*gcj), bd, rtol=0, atol=tol)
    assert np.allclose(crs.bd09_to_gcj02(*bd), gcj, rtol=0, atol=tol)


@pytest.mark.parametrize(("wgs", "bd"), WGS_BD)
def test_wgs84_bd09_both_ways_on_published_pair(wgs, bd):
    assert np.allclose(crs.wgs84_to_bd09(*wgs), bd, rtol=0, atol=1e-10)
    assert np.allclose(crs.bd09_to_wgs84(*bd), wgs, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("bd", "gcj_approx"), BD_GCJ_APPROX)
def test_bd09_to_gcj02_close_to_baidu_one_step_inverse(bd, gcj_approx):
    assert np.allclose(crs.bd09_to_gcj02(*bd), gcj_approx, rtol=0, atol=5e-7)


# --- Shanghai: size of the offset, round trips ---------------------------------------------------

SHANGHAI_PLACES = {  # WGS-84, approximate
    "People's Square": (121.4737, 31.2304),
    "Shanghai Disneyland": (121.6570, 31.1440),
    "Pudong airport": (121.8050, 31.1430),
    "Hongqiao": (121.3360, 31.1970),
    "Chongming": (121.4000, 31.6200),
    "Jinshan": (121.3400, 30.7400),
}


@pytest.mark.parametrize("place", SHANGHAI_PLACES)
def test_gcj02_offset_in_shanghai_is_450_to_500_m(place):
    wgs = SHANGHAI_PLACES[place]
    assert 450 <= metres(crs.wgs84_to_gcj02(*wgs), wgs) <= 500


def test_gcj02_offset_over_the_shanghai_box():
    lon, lat = shanghai_grid(100)
    d = metres(crs.wgs84_to_gcj02(lon, lat), (lon, lat))
    # The box's southern edge, in Hangzhou Bay, reaches 500.9 m.
    assert d.min() > 455 and d.max() < 502


def test_bd09_is_a_further_offset_from_gcj02():
    lon, lat = shanghai_grid(50)
    d = metres(crs.gcj02_to_bd09(lon, lat), (lon, lat))
    assert d.min() > 500 and d.max() < 1200  # ~0.0065 deg east, 0.006 deg north, plus noise


PAIRS = [
    ("wgs84", "gcj02"),
    ("gcj02", "wgs84"),
    ("gcj02", "bd09"),
    ("bd09", "gcj02"),
    ("wgs84", "bd09"),
    ("bd09", "wgs84"),
]


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_round_trip_under_1_cm_over_shanghai(src, dst):
    lon, lat = shanghai_grid(200)  # 40,000 points, ~700 m apart
    back = crs.convert(*crs.convert(lon, lat, src, dst), dst, src)
    assert metres(back, (lon, lat)).max() < 0.01
    # and the inverse really inverts: the forward map of the result reproduces the input
    fwd = crs.convert(lon, lat, src, dst)
    assert metres(crs.convert(*fwd, dst, src), (lon, lat)).max() < 1e-3


def test_one_step_inverse_would_not_be_enough():
    # Guards the test above: the naive inverse g - (f(g) - g) is metres off in Shanghai,
    # so a sub-centimetre round trip really needs the iteration.
    lon, lat = shanghai_grid(100)
    gx, gy = crs.wgs84_to_gcj02(lon, lat)
    naive = (2 * lon - gx, 2 * lat - gy)
    assert metres(crs.wgs84_to_gcj02(*naive), (lon, lat)).max() > 1.0


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(*SH_LON),
    lat=st.floats(*SH_LAT),
    pair=st.sampled_from(PAIRS),
)
def test_round_trip_property(lon, lat, pair):
    src, dst = pair
    back = crs.convert(*crs.convert(lon, lat, src, dst), dst, src)
    assert metres(back, (lon, lat)) < 0.01


# --- outside China, shapes, scalars, errors ------------------------------------------------------

OUTSIDE = np.array(
    [
        (-0.1276, 51.5072),  # London
        (151.2093, -33.8688),  # Sydney
        (-74.0060, 40.7128),  # New York
        (139.80, 35.68),  # Tokyo: east of the box
        (100.50, 0.50),  # south of the box
    ]
)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_points_outside_china_are_unchanged(src, dst):
    x, y = crs.convert(OUTSIDE[:, 0], OUTSIDE[:, 1], src, dst)
    assert np.array_equal(x, OUTSIDE[:, 0]) and np.array_equal(y, OUTSIDE[:, 1])


def test_mixed_inside_and_outside_in_one_array():
    lon = np.array([121.4737, -0.1276])
    lat = np.array([31.2304, 51.5072])
    x, y = crs.wgs84_to_gcj02(lon, lat)
    assert (x[1], y[1]) == (lon[1], lat[1])
    assert metres((x[0], y[0]), (lon[0], lat[0])) > 400


def test_scalars_in_scalars_out():
    x, y = crs.wgs84_to_gcj02(121.5272106, 31.1774276)
    assert np.ndim(x) == 0 and np.ndim(y) == 0
    assert isinstance(x, float)  # numpy float64 is a float
    x2, y2 = crs.gcj02_to_wgs84(x, y)
    assert np.ndim(x2) == 0 and abs(x2 - 121.5272106) < 1e-9


def test_arrays_keep_shape_broadcast_and_do_not_mutate_input():
    lon = np.full((3, 4), 121.47)
    lat = np.linspace(30.8, 31.8, 4)  # broadcasts against lon
    lon0 = lon.copy()
    x, y = crs.wgs84_to_bd09(lon, lat)
    assert x.shape == y.shape == (3, 4)
    assert np.array_equal(lon, lon0)
    # element-wise equal to scalar calls
    assert np.allclose(x[1, 2], crs.wgs84_to_bd09(121.47, lat[2])[0], rtol=0, atol=0)
    # lists work too
    lx, ly = crs.wgs84_to_gcj02([121.47, 121.48], [31.23, 31.23])
    assert isinstance(lx, np.ndarray) and lx.shape == (2,)
    assert (lx[0], ly[0]) == crs.wgs84_to_gcj02(121.47, 31.23)


def test_nan_passes_through():
    x, y = crs.gcj02_to_wgs84(np.array([np.nan, 121.5]), np.array([31.2, 31.2]))
    assert np.isnan(x[0]) and np.isfinite(x[1]) and np.isfinite(y).all()


def test_convert_same_datum_and_aliases():
    x, y = crs.convert(121.5, 31.2, "gcj02", "gcj02")
    assert (x, y) == (121.5, 31.2)
    assert crs.convert(121.5, 31.2, "WGS-84", "GCJ-02") == crs.wgs84_to_gcj02(121.5, 31.2)


@pytest.mark.parametrize("bad", ["nad27", "", "gcj", "EPSG:4326"])
def test_unknown_datum_is_an_input_error(bad):
    with pytest.raises(InputError) as info:
        crs.convert(121.5, 31.2, bad, "wgs84")
    assert info.value.field == "datum"
    assert info.value.expected == "wgs84, gcj02 or bd09"
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(121.5, 31.2)], crs=4326)
    for fn in (crs.to_wgs84_gdf, crs.from_wgs84_gdf):
        with pytest.raises(InputError) as info:
            fn(gdf, bad)
        assert info.value.field == "datum" and info.value.expected == "wgs84, gcj02 or bd09"


# --- GeoDataFrames -------------------------------------------------------------------------------


@pytest.fixture
def mixed_gdf() -> gpd.GeoDataFrame:
    square = shapely.box(121.60, 31.10, 121.70, 31.20)
    hole = shapely.box(121.63, 31.13, 121.66, 31.16)
    return gpd.GeoDataFrame(
        {"id": ["p", "l", "poly", "multi", "none", "z"], "n": [1, 2, 3, 4, 5, 6]},
        geometry=[
            shapely.Point(121.657, 31.144),
            shapely.LineString([(121.60, 31.10), (121.65, 31.15), (121.70, 31.12)]),
            shapely.Polygon(square.exterior.coords, [hole.exterior.coords]),
            shapely.MultiPolygon([square, shapely.box(121.80, 31.00, 121.85, 31.05)]),
            None,
            shapely.Point(121.5, 31.2, 12.5),
        ],
        crs=4326,
        index=[10, 11, 12, 13, 14, 15],
    )


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_gdf_conversion_moves_every_coordinate(mixed_gdf, datum):
    out = crs.to_wgs84_gdf(mixed_gdf, datum)
    assert out is not mixed_gdf
    assert out.crs.equals(CRS.from_epsg(4326))
    assert list(out.index) == list(mixed_gdf.index)
    assert out[["id", "n"]].equals(mixed_gdf[["id", "n"]])
    assert out.geometry.iloc[4] is None
    assert list(out.geom_type) == list(mixed_gdf.geom_type)
    # coordinate by coordinate, the same as the array function
    src = shapely.get_coordinates(mixed_gdf.geometry.values)
    got = shapely.get_coordinates(out.geometry.values)
    ex, ey = crs.convert(src[:, 0], src[:, 1], datum, "wgs84")
    assert np.array_equal(got, np.column_stack([ex, ey]))
    # interiors (holes) are converted too, z is kept
    assert np.allclose(
        shapely.get_coordinates(out.geometry.iloc[2].interiors[0]),
        np.column_stack(
            crs.convert(*np.array(mixed_gdf.geometry.iloc[2].interiors[0].coords).T, datum, "wgs84")
        ),
    )
    assert out.geometry.iloc[5].has_z and out.geometry.iloc[5].z == 12.5
    # the input is untouched
    assert mixed_gdf.geometry.iloc[0].equals(shapely.Point(121.657, 31.144))


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_gdf_round_trip(mixed_gdf, datum):
    back = crs.to_wgs84_gdf(crs.from_wgs84_gdf(mixed_gdf, datum), datum)
    a = shapely.get_coordinates(mixed_gdf.geometry.values)
    b = shapely.get_coordinates(back.geometry.values)
    assert metres(tuple(a.T), tuple(b.T)).max() < 0.01
    moved = shapely.get_coordinates(crs.from_wgs84_gdf(mixed_gdf, datum).geometry.values)
    assert metres(tuple(a.T), tuple(moved.T)).min() > 400


def test_gdf_wgs84_is_an_unchanged_copy(mixed_gdf):
    out = crs.to_wgs84_gdf(mixed_gdf, "wgs84")
    assert out is not mixed_gdf
    assert out.geom_equals_exact(mixed_gdf, tolerance=0).iloc[:4].all()


def test_gdf_empty_and_wrong_crs():
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    assert len(crs.to_wgs84_gdf(empty, "gcj02")) == 0
    projected = gpd.GeoDataFrame(geometry=[shapely.Point(350000, 3450000)], crs=32651)
    with pytest.raises(InputError) as info:
        crs.to_wgs84_gdf(projected, "gcj02")
    assert info.value.field == "geometry" and "4326" in info.value.expected


def test_layers_validate_converts_declared_gcj02():
    from geo import layers

    wgs = (121.4737, 31.2304)
    gcj = crs.wgs84_to_gcj02(*wgs)
    gdf = gpd.GeoDataFrame(
        {"id": ["h1"], "kind": ["hospital"]}, geometry=[shapely.Point(*gcj)], crs=4326
    )
    out, _ = layers.validate(gdf, "facilities", source="amap.geojson", datum="gcj02")
    pt = out.geometry.iloc[0]
    assert metres((pt.x, pt.y), wgs) < 0.01


# --- local_crs -----------------------------------------------------------------------------------


def utm_from_pyproj(lon: float, lat: float) -> int:
    """The UTM EPSG code pyproj's database gives for a point (an independent reference)."""
    infos = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    return int(infos[0].code)


def test_local_crs_shanghai():
    area = shapely.box(*SH_LON[:1], SH_LAT[0], SH_LON[1], SH_LAT[1])
    assert crs.local_crs(area) == CRS.from_epsg(32651)
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(121.657, 31.144)], crs=4326)
    assert crs.local_crs(gdf) == CRS.from_epsg(32651)
    # a projected input is taken back to lon/lat first
    assert crs.local_crs(gdf.to_crs(3857)) == CRS.from_epsg(32651)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (151.2093, -33.8688),  # Sydney: southern hemisphere
        (-43.1729, -22.9068),  # Rio de Janeiro
        (-0.1276, 51.5072),  # London: zone 30, just west of Greenwich
        (-74.0060, 40.7128),  # New York
        (18.4241, -33.9249),  # Cape Town
    ],
)
def test_local_crs_other_places_match_pyproj_database(lon, lat):
    area = shapely.Point(lon, lat).buffer(0.05)
    assert crs.local_crs(gpd.GeoSeries([area], crs=4326)).to_epsg() == utm_from_pyproj(lon, lat)


def test_local_crs_polar_and_empty():
    assert crs.local_crs(shapely.box(10, 85, 20, 86)).to_epsg() == 32661
    assert crs.local_crs(shapely.box(10, -86, 20, -85)).to_epsg() == 32761
    with pytest.raises(InputError):
        crs.local_crs(gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326)))
    with pytest.raises(InputError):
        crs.local_crs(shapely.Polygon())
