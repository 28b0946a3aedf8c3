"""Vector tiles (geo.tiles, geo.web.tiles): what a tile holds is the source clipped to the tile,
generalised as the rules say; the cache and the routes behave; bad requests get clear errors.

Tiles are decoded with mapbox-vector-tile, an independent MVT implementation."""

from __future__ import annotations

import gzip
import json

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from geo import mapstyle, synthetic
from geo.tiles import cache, generalise, mercator, mvt, pyramid, source
from geo.web import tiles as tile_routes
from tests.asgi import get

EXTENT = mvt.EXTENT


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def _to_tile(geom, z: int, x: int, y: int):
    """A lon/lat geometry in the tile's integer grid (as the encoder quantises it)."""
    w = mercator.to_world(np.array([geom]))[0]
    return shapely.transform(w, lambda c: (c * 2**z - [x, y]) * EXTENT)


def _hausdorff_ok(a, b, tol: float = 1.5) -> bool:
    return shapely.hausdorff_distance(a, b) <= tol


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_CACHE", str(tmp_path / "cache"))


def test_decoded_lines_equal_the_source_clipped_to_each_tile():
    roads = synthetic.synthetic_city(400, seed=4)
    geoms = roads.geometry.to_numpy()
    z = 15
    tiles = mvt.encode_layer("roads", z, mercator.to_world(geoms), np.arange(1, len(geoms) + 1))
    assert len(tiles) > 4  # the city spans several tiles: features are cut at tile edges
    b = mvt.BUFFER
    seen = set()
    for (x, y), data in tiles.items():
        layer = _decode(data)["roads"]
        assert layer["extent"] == EXTENT
        box = shapely.box(-b, -b, EXTENT + b, EXTENT + b)
        for f in layer["features"]:
            i = f["id"] - 1
            seen.add(i)
            got = shapely.geometry.shape(f["geometry"])
            want = shapely.intersection(_to_tile(geoms[i], z, x, y), box)
            # within the tile's quantisation (half a unit per axis, plus clipping rounding)
            assert _hausdorff_ok(got, want), (x, y, i)
        # every feature that reaches the buffered tile is in it
        reach = {i for i, g in enumerate(geoms) if shapely.intersects(_to_tile(g, z, x, y), box)}
        assert reach == {f["id"] - 1 for f in layer["features"]}
    assert seen == set(range(len(geoms)))


def test_polygons_keep_holes_and_winding_and_points_their_place():
    outer = shapely.Polygon(
        [(121.50, 31.20), (121.56, 31.20), (121.56, 31.26), (121.50, 31.26)],
        [[(121.52, 31.22), (121.53, 31.22), (121.53, 31.23), (121.52, 31.23)]],
    )
    z = 11
    tiles = mvt.encode_layer("zones", z, mercator.to_world(np.array([outer])), np.array([1]))
    for (x, y), data in tiles.items():
        f = _decode(data)["zones"]["features"][0]
        got = shapely.geometry.shape(f["geometry"])
        b = mvt.BUFFER
        want = shapely.intersection(
            _to_tile(outer, z, x, y), shapely.box(-b, -b, EXTENT + b, EXTENT + b)
        )
        assert got.is_valid
        assert abs(got.area - want.area) / want.area < 0.01
        assert _hausdorff_ok(got, want)
    pts = shapely.points([121.51, 121.55], [31.21, 31.25])
    tiles = mvt.encode_layer("p", 14, mercator.to_world(pts), np.array([1, 2]))
    found = {}
    for (x, y), data in tiles.items():
        for f in _decode(data)["p"]["features"]:
            want = _to_tile(pts[f["id"] - 1], 14, x, y)
            assert shapely.geometry.shape(f["geometry"]).distance(want) <= 0.71
            found[f["id"]] = True
    assert found == {1: True, 2: True}


def test_property_values_are_per_tile_tables():
    pts = mercator.to_world(shapely.points([121.5, 121.5001, 121.5002], [31.2, 31.2, 31.2]))
    props = {"_s": np.array(["a", "b", "a"], dtype=object), "_n": np.array([1, 2, 3])}
    (data,) = mvt.encode_layer("p", 12, pts, np.array([1, 2, 3]), props).values()
    feats = _decode(data)["p"]["features"]
    assert [(f["properties"]["_s"], f["properties"]["_n"]) for f in feats] == [
        ("a", 1),
        ("b", 2),
        ("a", 3),
    ]


def test_generalisation_by_zoom():
    assert generalise.road_min_zoom(np.array(["trunk", "primary", "residential"])).tolist() == [
        0,
        9,
        generalise.MINOR_ROAD_ZOOM,
    ]
    # clusters conserve the points and keep groups apart
    rng = np.random.default_rng(1)
    uv = mercator.lonlat_to_world(
        np.column_stack([rng.uniform(121.5, 121.6, 500), rng.uniform(31.2, 31.3, 500)])
    )
    band = np.where(np.arange(500) % 2 == 0, "lockdown", "control")
    c = generalise.cluster_points(uv, 10, band)
    assert c.count.sum() == 500
    assert len(c.count) < 500
    # every member of a cluster has the cluster's band
    assert {str(g) for g in c.group} == {"lockdown", "control"}
    # a heat grid conserves people
    w = rng.uniform(0, 100, 500)
    h = generalise.heat_grid(uv, w, np.ones(500), 9)
    assert h.weight.sum() == pytest.approx(w.sum())
    assert h.count.sum() == 500


def _sites_layer(n: int = 400) -> mapstyle.MapLayer:
    from geo import layers
    from geo.scenario import Scenario

    sites = synthetic.testing_sites(n, (380_000.0, 3_440_000.0, 390_000.0, 3_450_000.0))
    sites.loc[0, "name"] = "<script>alert(1)</script>"
    sites, _ = layers.validate(sites, "testing_sites")
    sc = Scenario({"testing_sites": sites})
    return next(lay for lay in mapstyle.scenario_layers(sc) if lay.key == "testing_sites")


def test_low_zoom_tiles_cluster_points_with_counts_and_escaped_tips():
    layer = _sites_layer(400)
    src = source.from_layer(layer, mapstyle.tooltip_table)
    ts = cache.ensure(src, source.tip_of(layer), wait=True)
    arc = ts.archive()
    assert ts.status == "ready" and arc is not None
    z = 10
    total, clusters = 0, 0
    for x, y in mercator.tiles_covering(tuple(shapely.total_bounds(src.geometry)), z):
        raw = arc.get(z, x, y)
        if not raw:
            continue
        for f in _decode(gzip.decompress(raw))["testing_sites"]["features"]:
            u = mercator.tile_bounds_lonlat(z, x, y)
            pt = shapely.geometry.shape(f["geometry"])
            if not (0 <= pt.x < EXTENT and 0 <= pt.y < EXTENT):
                continue  # in this tile's buffer: counted in its own tile
            assert u is not None
            total += f["properties"]["_n"]
            if f["properties"]["_n"] > 1:
                clusters += 1
                assert f["id"] == 0 and "testing sites" in f["properties"]["_t"]
            else:
                assert f["id"] >= 1 and f["properties"]["_t"] == ""
            json.loads(f["properties"]["_s"])  # the style is JSON
    assert total == 400 and clusters > 0
    assert any(z == generalise.CLUSTER_BELOW for z, _ in ts.notes)


def test_cache_reuses_a_build_and_a_failed_build_names_the_layer(tmp_path, monkeypatch):
    g = gpd.GeoDataFrame(
        {"id": ["a", "b"]}, geometry=shapely.points([121.5, 121.6], [31.2, 31.3]), crs=4326
    )
    src = pyramid.TileSource(
        "pts", g.geometry.to_numpy(), np.array(["{}", "{}"]), "points", max_zoom=4
    )
    ts = cache.ensure(src, wait=True)
    assert ts.status == "ready" and ts.path.exists()
    assert ts.path.parent == tmp_path / "cache" / "tiles"
    mtime = ts.path.stat().st_mtime_ns
    cache._SETS.clear()  # as a new process would: found on disk, not rebuilt
    again = cache.ensure(src, wait=True)
    assert again.status == "ready" and again.message == "from the cache"
    assert again.path.stat().st_mtime_ns == mtime

    def boom(*a, **k):
        raise MemoryError("no room")

    monkeypatch.setattr(pyramid, "build", boom)
    bad = pyramid.TileSource(
        "pts", g.geometry.to_numpy()[:1], np.array(["{}"]), "points", max_zoom=4
    )
    failed = cache.ensure(bad, wait=True)
    assert failed.status == "failed"
    assert "points" in failed.error and "MemoryError" in failed.error and "no room" in failed.error


def test_routes_serve_tiles_status_and_tips_and_refuse_bad_requests():
    from starlette.applications import Starlette

    app = Starlette(routes=tile_routes.routes())
    layer = _sites_layer(50)
    src = source.from_layer(layer, mapstyle.tooltip_table)
    ts = cache.ensure(src, source.tip_of(layer), wait=True)
    base = f"/tiles/{ts.hash}/testing_sites"

    r = get(app, f"{base}/0/0/0.pbf")
    assert r.status == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == tile_routes.MVT_TYPE
    assert "immutable" in r.headers["cache-control"]
    assert "testing_sites" in _decode(gzip.decompress(r.body))
    etag = r.headers["etag"]
    assert get(app, f"{base}/0/0/0.pbf", {"If-None-Match": etag}).status == 304
    empty = get(app, f"{base}/15/0/0.pbf")  # far from the city: nothing there
    assert empty.status == 200 and empty.body == b""

    st = json.loads(get(app, f"{base}/status.json").text)
    assert st["status"] == "ready" and st["features"] == 50

    tip = get(app, f"{base}/tip/1")  # row 0: a name with a script tag
    assert tip.status == 200
    assert "&lt;script&gt;" in tip.text and "<script>" not in tip.text

    for path, code in [
        (f"{base}/1/2/0.pbf", 400),  # x out of range at z 1
        (f"{base}/x/0/0.pbf", 400),
        (f"{base}/99/0/0.pbf", 400),
        (f"/tiles/{'0' * 24}/testing_sites/0/0/0.pbf", 404),
        (f"/tiles/{ts.hash}/roads/0/0/0.pbf", 404),
        ("/tiles/..%2F..%2Fetc/testing_sites/0/0/0.pbf", 404),
        (f"{base}/tip/0", 400),
        (f"{base}/tip/51", 400),
    ]:
        r = get(app, path)
        assert r.status == code, path
        assert "error" in json.loads(r.text) and "Traceback" not in r.text


def test_a_big_zoom_in_strips_gives_the_same_tiles(monkeypatch):
    roads = synthetic.synthetic_city(3_000, seed=2)
    geoms = mercator.to_world(roads.geometry.to_numpy())
    styles = np.where(roads["road_class"] == "primary", "a", "b").astype(object)
    lv = pyramid.Level(geoms, np.arange(1, len(geoms) + 1), styles, np.ones(len(geoms)), styles)
    ids = lv.ids.astype(np.uint64)
    props = {"_s": styles}
    whole = dict(pyramid._encode("roads", 15, lv, ids, props))
    monkeypatch.setattr(pyramid, "STRIP_FEATURES", 500)
    strips = dict(pyramid._encode("roads", 15, lv, ids, props))
    assert whole.keys() == strips.keys()

    def content(data: bytes) -> list:
        feats = _decode(data)["roads"]["features"]
        return sorted((f["id"], f["properties"]["_s"], str(f["geometry"])) for f in feats)

    for key in whole:
        assert content(whole[key]) == content(strips[key]), key


def test_which_layers_are_tiled(monkeypatch):
    from geo.tiles import leaflet

    monkeypatch.delenv("CITYOPS_TILE_MIN", raising=False)
    assert leaflet.should_tile(_sites_layer(leaflet.LIMIT + 1))
    assert not leaflet.should_tile(_sites_layer(leaflet.LIMIT))
    # a few polygons with many vertices are tiled too
    a = np.linspace(0, 2 * np.pi, leaflet.VERTEX_LIMIT + 10)
    ring = shapely.Polygon(np.column_stack([121.5 + 0.05 * np.cos(a), 31.2 + 0.05 * np.sin(a)]))
    heavy = mapstyle.MapLayer(
        "Cordon bands",
        "cordon",
        gpd.GeoDataFrame({"id": ["a"]}, geometry=[ring], crs=4326),
        style=lambda r: {},
        tooltip=lambda r: "",
    )
    assert leaflet.should_tile(heavy)
    monkeypatch.setenv("CITYOPS_TILE_MIN", str(10**12))  # tiling off
    assert not leaflet.should_tile(_sites_layer(leaflet.LIMIT + 1))
    assert not leaflet.should_tile(heavy)
    monkeypatch.setenv("CITYOPS_TILE_MIN", "0")  # everything tiled
    assert leaflet.should_tile(_sites_layer(3))


def test_the_offline_report_leaves_out_what_it_cannot_hold(monkeypatch):
    from geo import mapview
    from geo.tiles import leaflet

    monkeypatch.setattr(leaflet, "PAGE_FEATURES", 1_000)
    sc = synthetic.city(roads=3_000, sites=20, cells=100, incidents_n=5)
    page = mapview.to_html(sc)
    assert "too many for this page" in page and "co-roads" not in page
    assert "co-testing_sites" in page  # small layers are there
    assert "/tiles/" not in page  # a self-contained page fetches nothing
