"""Cordon: zones by distance and over the network, people inside, checkpoints; hand-computed."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import Delaunay

from geo import catchment, layers
from geo.analyses import cordon
from geo.cordon import (
    BAND_ZH,
    BANDS,
    CHECKPOINT_COLUMNS,
    _reach,
    _sources,
    checkpoints,
    people_in_zones,
    summarize,
    zones_by_distance,
    zones_by_network,
)
from geo.errors import InputError
from geo.network import RoadNetwork
from geo.scenario import DEFAULT_STAFF

UTM = "EPSG:32651"
X0, Y0 = 380_000.0, 3_440_000.0  # near Shanghai, metres in UTM 51N
# Network tests put the grid off the round numbers, so no street runs along a cell edge.
OFF = (3.3, 7.7)


# --- helpers ------------------------------------------------------------------------------------


def roads_m(lines, off=(0.0, 0.0), **cols) -> gpd.GeoDataFrame:
    """A roads layer (EPSG:4326) from lines in local metres."""
    geoms = [
        shapely.LineString([(X0 + off[0] + x, Y0 + off[1] + y) for x, y in ln]) for ln in lines
    ]
    data = {"id": [f"r{i}" for i in range(len(lines))], "road_class": ["residential"] * len(lines)}
    data.update(cols)
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=UTM).to_crs(4326)
    return layers.validate(gdf, "roads")[0]


def incidents_m(geoms, off=(0.0, 0.0), ids=None) -> gpd.GeoDataFrame:
    moved = [shapely.affinity.translate(g, X0 + off[0], Y0 + off[1]) for g in geoms]
    ids = ids or [f"i{k}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"id": ids}, geometry=moved, crs=UTM).to_crs(4326)


def local_xy(gdf: gpd.GeoDataFrame, off=(0.0, 0.0)) -> np.ndarray:
    xy = shapely.get_coordinates(gdf.to_crs(UTM).geometry.to_numpy())
    return xy - [X0 + off[0], Y0 + off[1]]


def metric(gdf: gpd.GeoDataFrame, off=(0.0, 0.0)) -> np.ndarray:
    """Geometries in local metres."""
    g = np.asarray(gdf.to_crs(UTM).geometry.array, dtype=object)
    return shapely.transform(g, lambda c: c - [X0 + off[0], Y0 + off[1]])


def grid_lines(lo: int, hi: int, step: int, extent: float) -> list[list[tuple[float, float]]]:
    """Vertical then horizontal straight streets at lo..hi every step, from -extent to extent."""
    ks = range(lo, hi + 1, step)
    return [[(k, -extent), (k, extent)] for k in ks] + [[(-extent, k), (extent, k)] for k in ks]


def grid_network(n: int = 4, spacing: float = 100.0, **cols):
    """Streets every ``spacing`` m from -n to n blocks, one road per block (so every crossing of
    two streets is a node), offset by OFF. Returns (roads, network, node (i, j) -> index)."""
    lines = []
    ext = n * spacing
    for k in range(-n, n + 1):
        for m in range(-n, n):
            a, b = m * spacing, (m + 1) * spacing
            lines.append([(k * spacing, a), (k * spacing, b)])
            lines.append([(a, k * spacing), (b, k * spacing)])
    roads = roads_m(lines, OFF, **cols)
    net = RoadNetwork.from_roads(roads, crs=UTM)
    xy = net.node_xy - [X0 + OFF[0], Y0 + OFF[1]]
    ij = np.round(xy / spacing).astype(int)
    assert np.abs(ij * spacing - xy).max() < 1e-6 and np.abs(ij).max() == n
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(ij)}
    assert len(index) == (2 * n + 1) ** 2 and ext > 0
    return roads, net, index


def nodes_in(band_geom_m: shapely.Geometry, net: RoadNetwork, index: dict) -> set:
    xy = net.node_xy - [X0 + OFF[0], Y0 + OFF[1]]
    inside = shapely.contains_xy(band_geom_m, xy[:, 0], xy[:, 1])
    rev = {v: k for k, v in index.items()}
    return {rev[k] for k in np.flatnonzero(inside)}


def assert_disjoint(bands: gpd.GeoDataFrame) -> None:
    g = np.asarray(bands.to_crs(UTM).geometry.array, dtype=object)
    for a in range(len(g)):
        for b in range(a + 1, len(g)):
            assert shapely.intersection(g[a], g[b]).area < 1e-3, (a, b)


# --- zones by distance --------------------------------------------------------------------------


def test_distance_bands_are_disjoint_rings_with_known_areas():
    bands = zones_by_distance(incidents_m([shapely.Point(0, 0)]), (500, 2000, 5000), crs=UTM)
    assert bands["band"].tolist() == list(BANDS)
    assert bands["band_zh"].tolist() == ["封控区", "管控区", "防范区"]
    assert bands["rank"].tolist() == [1, 2, 3]
    assert bands["inner_m"].tolist() == [0, 500, 2000]
    assert bands["outer_m"].tolist() == [500, 2000, 5000]
    assert bands["inner_min"].isna().all() and bands["by"].eq("distance").all()
    assert bands.crs.to_epsg() == 4326
    # Ring areas: pi (R^2 - r^2), within the 128-gon's 0.04 % and the reprojection.
    ref = [math.pi * (o**2 - i**2) / 1e6 for i, o in [(0, 500), (500, 2000), (2000, 5000)]]
    np.testing.assert_allclose(bands["area_km2"], ref, rtol=1e-3)
    assert_disjoint(bands)
    g = metric(bands)
    assert g[1].contains(shapely.Point(1000, 0)) and not g[1].contains(shapely.Point(400, 0))
    assert g[2].contains(shapely.Point(0, -4000))
    assert bands["incident_ids"].tolist() == ["i0"] * 3


def test_overlapping_incidents_merge_into_one_set_of_rings():
    # Two incidents 600 m apart, rings 500 / 1000 / 1500 m.
    inc = incidents_m([shapely.Point(0, 0), shapely.Point(600, 0)], ids=["a", "b"])
    bands = zones_by_distance(inc, (500, 1000, 1500), crs=UTM)
    assert_disjoint(bands)
    g = metric(bands)
    # Lockdown = union of two discs r = 500, d = 600: 2 pi r^2 - lens, where the lens is
    # 2 r^2 acos(d / 2r) - (d / 2) sqrt(4 r^2 - d^2) = 500000 acos(0.6) - 300 * 800.
    lens = 2 * 500**2 * math.acos(0.6) - 300 * 800
    assert g[0].area == pytest.approx(2 * math.pi * 500**2 - lens, rel=1e-3)
    # (1050, 0) is 450 m from b (lockdown) and 1050 m from a (a's prevention ring): lockdown only.
    p = shapely.Point(1050, 0)
    assert g[0].contains(p) and not g[1].contains(p) and not g[2].contains(p)
    # (-700, 0): 700 m from a, 1300 m from b: control.
    assert g[1].contains(shapely.Point(-700, 0))
    # Every band together is the union of the outer discs.
    outer = shapely.union(
        shapely.Point(0, 0).buffer(1500, 32), shapely.Point(600, 0).buffer(1500, 32)
    )
    assert shapely.union_all(g).area == pytest.approx(outer.area, rel=1e-6)
    assert bands["incident_ids"].tolist() == ["a,b", "a,b", "a,b"]
    # An incident far away contributes only to the bands it reaches.
    far = incidents_m([shapely.Point(0, 0), shapely.Point(1200, 0)], ids=["a", "c"])
    b2 = zones_by_distance(far, (100, 200, 700), crs=UTM)
    assert b2["incident_ids"].tolist() == ["a,c", "a,c", "a,c"]


def test_polygon_incident_is_buffered_from_its_outline():
    sq = shapely.box(-150, -150, 150, 150)
    bands = zones_by_distance(incidents_m([sq]), (100,), crs=UTM)
    assert len(bands) == 1
    # Square 300 x 300 grown by 100 m: 300^2 + 4 * 300 * 100 + pi 100^2.
    assert bands["area_km2"].iloc[0] * 1e6 == pytest.approx(
        300**2 + 4 * 300 * 100 + math.pi * 100**2, rel=1e-3
    )


# --- checkpoints on a hand-drawn grid -----------------------------------------------------------

# Streets x = -300, -100, 100, 300 (vertical) and y = -300, -100, 100, 300 (horizontal), each one
# straight line from -1000 to 1000. x = +-100 and y = +-100 are primaries (4 staff), the others
# residential (2); x = 100 is one-way, drawn south to north. A footway runs along y = -50 from
# x = 150 to x = 700 (1 staff). Incident at the origin, rings 250 / 500 / 900 m.
#
# Crossings of a street at offset a with a circle of radius r: 2 when |a| < r, at +-sqrt(r^2-a^2).
# r = 250: streets +-100 only: 4 streets x 2 = 8, plus the footway at x = sqrt(250^2-50^2) = 9.
# r = 500: all 8 streets x 2 = 16, plus the footway at x = sqrt(500^2-50^2) = 497.5: 17.
# r = 900: 16 (the footway ends at 700).  Total 42 (40 without footways).
# The closest pair on one circle is 52 m apart (footway (244.9, -50) vs (229.1, -100)), so
# nothing merges at 30 m.
# Staff: r=250: 8 x 4 + 1 = 33; r=500: 8 x 4 + 8 x 2 + 1 = 49; r=900: 8 x 4 + 8 x 2 = 48.
GRID = grid_lines(-300, 300, 200, 1000)
GRID_CLASS = ["residential", "primary", "primary", "residential"] * 2
GRID_ONEWAY = [False, False, True, False] + [False] * 4


def grid_roads(with_footway: bool = True) -> gpd.GeoDataFrame:
    lines = list(GRID)
    cls, ow = list(GRID_CLASS), list(GRID_ONEWAY)
    if with_footway:
        lines.append([(150, -50), (700, -50)])
        cls.append("footway")
        ow.append(False)
    return roads_m(
        lines, road_class=cls, oneway=ow, name=[f"Street {k}" for k in range(len(lines))]
    )


def expected_crossings(r: float) -> list[tuple[float, float]]:
    out = []
    for a in (-300, -100, 100, 300):
        if abs(a) < r:
            h = math.sqrt(r * r - a * a)
            out += [(a, h), (a, -h), (h, a), (-h, a)]
    if 150 < math.sqrt(r * r - 50**2) < 700:
        out.append((math.sqrt(r * r - 50**2), -50))
    return out


def test_grid_and_circles_give_the_hand_counted_checkpoints():
    bands = zones_by_distance(incidents_m([shapely.Point(0, 0)]), (250, 500, 900), crs=UTM)
    cp = checkpoints(bands, grid_roads(), crs=UTM)
    assert list(cp.columns) == [*CHECKPOINT_COLUMNS, "geometry"]
    assert cp.groupby("band").size().to_dict() == {"lockdown": 9, "control": 17, "prevention": 16}
    assert cp.groupby("band")["staff"].sum().to_dict() == {
        "lockdown": 33,
        "control": 49,
        "prevention": 48,
    }
    assert (cp["crossings"] == 1).all() and (cp["staff"] == cp["staff_if_separate"]).all()
    xy = local_xy(cp)
    for band, r in zip(BANDS, (250, 500, 900)):
        got = xy[(cp["band"] == band).to_numpy()]
        want = np.array(expected_crossings(r))
        d = np.hypot(*(got[:, None, :] - want[None, :, :]).transpose(2, 0, 1))
        # Each expected crossing has exactly one checkpoint within 1 m (the 128-gon is within
        # 0.3 m of the circle).
        assert (d.min(axis=0) < 1.0).all() and (d.min(axis=1) < 1.0).all(), band
    # Direction: the one-way x = 100 (r2 in this table) enters each zone at the south and
    # leaves it at the north; every two-way street is "both".
    oneway = cp[cp["road_id"] == "r2"]
    y = local_xy(oneway)[:, 1]
    assert set(oneway["direction"][y < 0]) == {"in"} and set(oneway["direction"][y > 0]) == {"out"}
    assert set(cp.loc[cp["road_id"] != "r2", "direction"]) == {"both"}
    assert cp.loc[cp["road_id"] == "r1", "name"].iloc[0] == "Street 1"
    assert set(cp.loc[cp["road_id"] == "r8", "road_class"]) == {"footway"}
    # Without footpaths, the footway's two checkpoints go.
    cp2 = checkpoints(bands, grid_roads(), crs=UTM, include_footpaths=False)
    assert len(cp2) == 40 and "footway" not in set(cp2["road_class"])
    s = summarize(bands, cp)
    assert s["checkpoints"] == 42 and s["staff_total"] == 130
    assert s["checkpoints_by_class"] == {"primary": 24, "residential": 16, "footway": 2}


def test_dual_carriageway_and_junction_merge_into_one_checkpoint():
    # Two one-way primaries 12 m apart in opposite directions (x = -6 southbound, x = +6
    # northbound) and a two-way residential street at x = 20, through a 250 m circle: each of
    # them crosses at y = +-sqrt(250^2 - x^2) (about +-249.9 and +-249.2), so the top three
    # crossings lie within 14 m of each other, as do the bottom three.
    roads = roads_m(
        [[(-6, 1000), (-6, -1000)], [(6, -1000), (6, 1000)], [(20, -1000), (20, 1000)]],
        road_class=["primary", "primary", "residential"],
        oneway=[True, True, False],
    )
    bands = zones_by_distance(incidents_m([shapely.Point(0, 0)]), (250,), crs=UTM)
    cp = checkpoints(bands, roads, crs=UTM)
    assert len(cp) == 2
    assert cp["crossings"].tolist() == [3, 3]
    assert cp["road_class"].tolist() == ["primary", "primary"]
    assert cp["road_id"].tolist() == ["r0", "r0"]  # highest class, then west-most
    assert cp["road_ids"].tolist() == ["r0,r1,r2", "r0,r1,r2"]
    assert cp["direction"].tolist() == ["both", "both"]
    assert cp["staff"].tolist() == [4, 4]  # one post: the highest figure
    assert cp["staff_if_separate"].tolist() == [10, 10]  # 4 + 4 + 2
    # The checkpoint stands on the anchor road's crossing.
    np.testing.assert_allclose(np.abs(local_xy(cp)), [[6, 249.93], [6, 249.93]], atol=0.5)
    # merge_m = 0: six crossings, the one-ways with their own direction.
    cp0 = checkpoints(bands, roads, crs=UTM, merge_m=0)
    assert len(cp0) == 6
    y = local_xy(cp0)[:, 1]
    d = dict(zip(zip(cp0["road_id"], np.sign(y).astype(int)), cp0["direction"]))
    assert d == {
        ("r0", 1): "in",  # southbound enters at the north
        ("r0", -1): "out",
        ("r1", -1): "in",  # northbound enters at the south
        ("r1", 1): "out",
        ("r2", 1): "both",
        ("r2", -1): "both",
    }
    # Only within merge_m: at 10 m the carriageways (12 m apart) stay apart; the residential
    # street (14 m from the nearer carriageway) too.
    assert len(checkpoints(bands, roads, crs=UTM, merge_m=10)) == 6


def test_polygon_incident_gives_venue_exits():
    # A 300 m square venue on streets every 100 m (x, y = -300 .. 300, from -400 to 400).
    # Venue exits: streets x = -100, 0, 100 cross its south and north sides, y = -100, 0, 100
    # its west and east sides: 12. Lockdown ring (square + 100 m, rounded corners): on each side
    # the streets -100, 0, 100 cross the straight part and +-200 cross the rounded corners
    # (at 150 + sqrt(100^2 - 50^2) = 236.6): 5 per side, 20.
    roads = roads_m(grid_lines(-300, 300, 100, 400))
    venue = incidents_m([shapely.box(-150, -150, 150, 150)], ids=["venue"])
    bands = zones_by_distance(venue, (100,), crs=UTM)
    cp = checkpoints(bands, roads, crs=UTM, incidents=venue)
    assert cp.groupby("band").size().to_dict() == {"venue_exit": 12, "lockdown": 20}
    exits = cp[cp["band"] == "venue_exit"]
    assert (exits["rank"] == 0).all() and (exits["band_zh"] == BAND_ZH["venue_exit"]).all()
    assert cp["id"].iloc[0] == "cp-1" and cp["band"].iloc[0] == "venue_exit"  # innermost first
    xy = local_xy(exits)
    # Each exit lies on the venue's outline at a street.
    assert np.allclose(np.max(np.abs(xy), axis=1), 150, atol=1e-3)
    # ... at streets 0 (4 exits) and +-100 (8 exits).
    assert np.allclose(np.sort(np.min(np.abs(xy), axis=1))[::4], [0, 100, 100], atol=1e-3)
    # Directions relative to the venue: a one-way street drawn outwards is an "out" exit.
    ow = roads_m([[(0, 0), (0, 400)]], road_class=["primary"], oneway=[True])
    e2 = checkpoints(bands, ow, crs=UTM, incidents=venue)
    assert e2.set_index("band")["direction"].to_dict() == {"venue_exit": "out", "lockdown": "out"}


def test_checkpoints_need_bands_and_take_the_staff_table():
    bands = zones_by_distance(incidents_m([shapely.Point(0, 0)]), (250,), crs=UTM)
    roads = roads_m(
        [[(-100, -1000), (-100, 1000)], [(100, -1000), (100, 1000)]],
        road_class=["primary_link", "weird"],
    )
    cp = checkpoints(bands, roads, crs=UTM, staff={"primary": 7})
    # A _link takes its parent's figure; an unknown class 1.
    assert cp.groupby("road_class")["staff"].first().to_dict() == {"primary_link": 7, "weird": 1}
    assert checkpoints(bands, roads.iloc[:0], crs=UTM).empty
    with pytest.raises(InputError) as e:
        checkpoints(bands, roads, staff={"primary": -2})
    assert e.value.field == "checkpoint_staff"
    with pytest.raises(InputError) as e:
        checkpoints(bands.drop(columns="rank"), roads)
    assert e.value.field == "rank"
    with pytest.raises(InputError) as e:
        checkpoints(bands, roads, merge_m=-1)
    assert e.value.field == "merge_m"


# --- zones over the network ---------------------------------------------------------------------

# Grid of streets every 100 m, nodes (i, j) for i, j in -4..4; the incident stands on the street
# y = 0 at x = 50, between nodes (0, 0) and (1, 0). Along the streets, node (i, j) is
# 50 + 100 * min(|i| + |j|, |i - 1| + |j|) metres away.
#   <= 60 m:  min = 0: (0,0), (1,0)                                              ->  2 nodes
#   <= 160 m: min <= 1: the diamonds of radius 1 round (0,0) and (1,0), 5 each, sharing 2  ->  8
#   <= 260 m: min <= 2: diamonds of radius 2, 13 each; they share (-1..2, 0) and (0..1, +-1),
#             8 nodes  ->  13 + 13 - 8 = 18
# so the bands hold 2, 6 and 10 nodes. With 10 m cells the drawn area reaches at most
# 2 * 10 * sqrt(2) = 28 m beyond the reached road, and the nearest unreached node is 90 m
# beyond it, so the polygons hold exactly these nodes.


def hand_sets():
    def within(k):
        return {
            (i, j)
            for i in range(-4, 5)
            for j in range(-4, 5)
            if min(abs(i) + abs(j), abs(i - 1) + abs(j)) <= k
        }

    s0, s1, s2 = within(0), within(1), within(2)
    assert (len(s0), len(s1), len(s2)) == (2, 8, 18)
    return [s0, s1 - s0, s2 - s1]


@pytest.mark.parametrize(
    "unit, limits, mode",
    [
        ("m", (60, 160, 260), "walk"),
        ("min", (60 / 75, 160 / 75, 260 / 75), "walk"),  # 4.5 km/h = 75 m/min
        ("m", (60, 160, 260), "drive"),  # metres along the drivable roads, not seconds
        ("min", (60 / 416.67, 160 / 416.67, 260 / 416.67), "drive"),  # residential 25 km/h
    ],
)
def test_network_zone_holds_the_hand_counted_nodes(unit, limits, mode):
    _, net, index = grid_network()
    inc = incidents_m([shapely.Point(50, 0)], OFF)
    bands = zones_by_network(net, inc, limits, unit=unit, mode=mode, cell_m=10)
    assert bands["by"].eq("network").all() and bands["mode"].eq(mode).all()
    col = "outer_m" if unit == "m" else "outer_min"
    np.testing.assert_allclose(bands[col], limits)
    g = metric(bands, OFF)
    assert shapely.is_valid(g).all()
    assert_disjoint(bands)
    for geom, want in zip(g, hand_sets()):
        assert nodes_in(geom, net, index) == want
    # Exact node distances (metres) from the multi-source Dijkstra.
    from geo.cordon import _length_view

    ids, geoms = np.array(["i0"], dtype=object), metric(inc)
    geoms = shapely.transform(geoms, lambda c: c + [X0, Y0])
    src, cost0, _ = _sources(net, "walk", ids, geoms, 1.0, 500)
    d, _ = _reach(_length_view(net, "walk"), "walk", src, cost0, 1000.0)
    for (i, j), k in index.items():
        want = 50 + 100 * min(abs(i) + abs(j), abs(i - 1) + abs(j))
        assert d[k] == pytest.approx(want, abs=1e-6) if want <= 1000 else np.isinf(d[k])


def test_network_zone_around_a_polygon_starts_at_its_nodes_and_outline():
    # Venue (-150..150)^2 on the grid: 9 nodes inside, and the streets cross its outline 12 times
    # 50 m short of the nodes (+-200, -100..100) and (-100..100, +-200). Within 60 m: the 9
    # inside, those 12 (at 50 m from the outline, 100 m from the nearest inside node); the
    # corners (+-200, +-200) are at 150 m, beyond.
    _, net, index = grid_network()
    venue = incidents_m([shapely.box(-150, -150, 150, 150)], OFF, ids=["venue"])
    bands = zones_by_network(net, venue, (60,), cell_m=10)
    g = metric(bands, OFF)[0]
    inner = {(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    ring = {(i, s * 2) for i in (-1, 0, 1) for s in (-1, 1)} | {
        (s * 2, j) for j in (-1, 0, 1) for s in (-1, 1)
    }
    assert nodes_in(g, net, index) == inner | ring
    # The venue itself is in the lockdown zone even where no road runs.
    assert g.covers(shapely.box(-150, -150, 150, 150).buffer(-1e-6))


def test_network_zone_follows_one_way_streets_when_driving():
    # One street, one-way eastwards, incident in its middle: driving reaches east only.
    roads = roads_m([[(-400, 0), (400, 0)]], OFF, road_class=["primary"], oneway=[True])
    net = RoadNetwork.from_roads(roads, crs=UTM)
    inc = incidents_m([shapely.Point(0, 0)], OFF)
    g = metric(zones_by_network(net, inc, (200,), mode="drive", cell_m=10), OFF)[0]
    assert g.contains(shapely.Point(180, 0)) and not g.contains(shapely.Point(-60, 0))
    walk = metric(zones_by_network(net, inc, (200,), mode="walk", cell_m=10), OFF)[0]
    assert walk.contains(shapely.Point(-180, 0)) and not walk.contains(shapely.Point(260, 0))


def test_network_distances_equal_networkx_on_a_random_city():
    # Random planar streets (Delaunay), some footways and motorways; walking distances in metres
    # from a point incident against networkx on the same edges.
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 3000, (80, 2))
    tri = Delaunay(pts)
    e = np.unique(
        np.sort(np.r_[tri.simplices[:, :2], tri.simplices[:, 1:], tri.simplices[:, ::2]], 1), axis=0
    )
    e = e[rng.random(len(e)) > 0.25]
    cls = rng.choice(["residential", "footway", "motorway"], len(e), p=[0.7, 0.2, 0.1])
    roads = roads_m([[tuple(pts[a]), tuple(pts[b])] for a, b in e], road_class=list(cls))
    net = RoadNetwork.from_roads(roads, crs=UTM)
    edges = net.edges
    g = nx.Graph()
    for u, v, length, ok in zip(edges.u, edges.v, edges.length_m, edges.walk_s.notna()):
        if ok and (not g.has_edge(u, v) or g[u][v]["weight"] > length):
            g.add_edge(u, v, weight=length)
    p = np.array([[1500.0, 1500.0]])
    src, cost0, _ = _sources(
        net, "walk", np.array(["i"], dtype=object), shapely.points(p + [X0, Y0]), 1.0, 5000
    )
    e0, f0 = int(src.edge[0]), float(src.frac[0])
    length0 = net.edge_len[e0]
    g.add_edge("s", net.edge_u[e0], weight=cost0[0] + f0 * length0)
    g.add_edge("s", net.edge_v[e0], weight=cost0[0] + (1 - f0) * length0)
    ref = nx.single_source_dijkstra_path_length(g, "s", cutoff=1500.0)
    from geo.cordon import _length_view

    d, _ = _reach(_length_view(net, "walk"), "walk", src, cost0, 1500.0)
    got = {k: d[k] for k in np.flatnonzero(np.isfinite(d))}
    assert set(got) == {k for k in ref if k != "s"}
    for k, v in got.items():
        assert v == pytest.approx(ref[k], abs=1e-6)


def test_network_zones_of_several_incidents_are_disjoint():
    _, net, _ = grid_network()
    inc = incidents_m([shapely.Point(50, 0), shapely.Point(-150, 100)], OFF, ids=["a", "b"])
    bands = zones_by_network(net, inc, (100, 200, 300), cell_m=20)
    assert_disjoint(bands)
    assert shapely.is_valid(metric(bands)).all()
    assert bands["incident_ids"].iloc[0] == "a,b"


# --- people -------------------------------------------------------------------------------------


def boxes_m(boxes, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        cols,
        geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes],
        crs=UTM,
    ).to_crs(4326)


def test_people_by_area_by_hand():
    # Bands: [0,100] x [0,100], [100,300] x [0,100], [300,400] x [0,100].
    bands = boxes_m(
        [(0, 0, 100, 100), (100, 0, 300, 100), (300, 0, 400, 100)], band=list(BANDS), rank=[1, 2, 3]
    )
    zones = boxes_m(
        [
            (50, 0, 150, 100),  # 1000 people, half in lockdown, half in control
            (110, 10, 190, 90),  # 800, wholly inside control: counts fully
            (350, 0, 450, 100),  # 400, half in prevention, half outside every band
            (500, 0, 600, 100),  # 999, outside
        ],
        id=["z1", "z2", "z3", "z4"],
        people=[1000, 800, 400, 999],
    )
    out = people_in_zones(bands, zones)
    np.testing.assert_allclose(out["people"], [500, 1300, 200], rtol=1e-9)
    assert out["people"].sum() == pytest.approx(2000, rel=1e-9)  # people in the union
    assert list(out["band"]) == list(BANDS)
    only = people_in_zones(bands, zones.iloc[[1]])
    assert only["people"].tolist() == [0.0, 800.0, 0.0]  # exactly, not 799.9999


def test_people_conservation_on_random_zones_and_with_cells():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-3000, 3000, (60, 2))
    sizes = rng.uniform(100, 900, (60, 2))
    zones = boxes_m(
        [(x, y, x + w, y + h) for (x, y), (w, h) in zip(xy, sizes)],
        id=[f"z{k}" for k in range(60)],
        people=rng.integers(0, 5000, 60).astype(float),
    )
    inc = incidents_m([shapely.Point(0, 0), shapely.Point(800, 300)])
    bands = zones_by_distance(inc, (500, 1500, 2500), crs=UTM)
    out = people_in_zones(bands, zones, crs=UTM)
    # Reference: a plain per-zone loop over the union of the bands.
    union = shapely.union_all(metric(bands))
    ref = sum(
        p * z.intersection(union).area / z.area for z, p in zip(metric(zones), zones["people"])
    )
    assert out["people"].sum() == pytest.approx(ref, rel=1e-9)
    assert (out["people"] >= 0).all()
    # Finer demand cells carry the same even spread, so the answer is the same.
    cells = catchment.demand_cells(zones, 100.0, crs=UTM)
    via_cells = people_in_zones(bands, zones, cells, crs=UTM)
    np.testing.assert_allclose(via_cells["people"], out["people"], rtol=1e-6)


def test_people_bad_input():
    bands = boxes_m([(0, 0, 100, 100)], band=["lockdown"], rank=[1])
    zones = boxes_m([(0, 0, 10, 10)], id=["z1"], people=[-5.0])
    with pytest.raises(InputError) as e:
        people_in_zones(bands, zones)
    assert e.value.field == "people" and e.value.feature == "z1"
    assert people_in_zones(bands, zones.iloc[:0])["people"].tolist() == [0.0]


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rings, words",
    [
        ((500, 400, 1000), "increase"),
        ((500, 500, 1000), "increase"),
        ((0, 100, 200), "positive"),
        ((-5, 100), "positive"),
        ((100, np.nan), "positive"),
        ((100, 200, 300, 400), "ring(s) given"),
        ((), "ring(s) given"),
    ],
)
def test_bad_rings_are_clear_errors(rings, words):
    inc = incidents_m([shapely.Point(0, 0)])
    with pytest.raises(InputError) as e:
        zones_by_distance(inc, rings)
    assert e.value.field == "distances_m" and words in str(e.value)
    assert "500, 2000, 5000" in str(e.value)


def test_bad_incidents_are_clear_errors():
    inc = incidents_m([shapely.Point(0, 0), shapely.Point(1, 1)], ids=["ok", "hollow"])
    inc.loc[1, "geometry"] = shapely.Polygon()
    with pytest.raises(InputError) as e:
        zones_by_distance(inc)
    assert e.value.field == "geometry" and e.value.feature == "hollow"
    with pytest.raises(InputError, match="no incidents"):
        zones_by_distance(inc.iloc[:0])
    with pytest.raises(InputError) as e:
        zones_by_distance(inc.iloc[:1].set_crs(None, allow_override=True))
    assert e.value.field == "geometry" and "coordinate reference system" in str(e.value)


def test_network_bad_input():
    _, net, _ = grid_network(2)
    far = incidents_m([shapely.Point(0, 0), shapely.Point(5000, 0)], OFF, ids=["near", "far"])
    with pytest.raises(InputError) as e:
        zones_by_network(net, far, (100, 200, 300))
    assert e.value.feature == "far" and e.value.field == "geometry"
    assert "outside the roads' extent" in str(e.value) and "feature near" not in str(e.value)
    # A polygon far from every road too.
    lake = incidents_m([shapely.box(3000, 3000, 3500, 3500)], OFF, ids=["lake"])
    with pytest.raises(InputError, match="outside the roads' extent"):
        zones_by_network(net, lake, (100,))
    inc = far.iloc[:1]
    with pytest.raises(InputError) as e:
        zones_by_network(net, inc, (100,), unit="km")
    assert e.value.field == "unit"
    with pytest.raises(InputError) as e:
        zones_by_network(net, inc, (100,), mode="fly")
    assert e.value.field == "mode"
    with pytest.raises(InputError) as e:
        zones_by_network(net, inc, (10, 5), unit="min")
    assert e.value.field == "limits" and "minutes" in str(e.value)
    with pytest.raises(InputError) as e:
        zones_by_network(net, inc, (100,), cell_m=0)
    assert e.value.field == "cell_m"
    line = incidents_m([shapely.LineString([(0, 0), (50, 0)])], OFF)
    with pytest.raises(InputError, match="point or a polygon"):
        zones_by_network(net, line, (100,))
    # A polygon without roads, but near them, starts from the nearest road (no error).
    pond = incidents_m([shapely.box(210, 210, 260, 260)], OFF)
    b = zones_by_network(net, pond, (100,), cell_m=10)
    assert b["area_km2"].iloc[0] > 0.0025


# --- scenario level (the demo) ------------------------------------------------------------------

PARK_ZONES = [
    "park-mickey-avenue",
    "park-tomorrowland",
    "park-fantasyland",
    "park-treasure-cove",
    "park-adventure-isle",
    "park-toy-story-land",
]


@pytest.mark.parametrize(
    "by, unit, rings", [("distance", "m", (500, 2000, 5000)), ("network", "min", (5, 10, 20))]
)
def test_demo_park_cordon_is_plausible(demo, by, unit, rings):
    bands, cps, summary = cordon(demo, ["inc-001"], rings, by=by, unit=unit)
    assert bands["band"].tolist() == list(BANDS)
    assert_disjoint(bands)
    zones = demo.layer("crowd_zones")
    park_people = zones.loc[zones["id"].isin(PARK_ZONES), "people"].sum()
    # The park's own zones lie inside the outline, so the lockdown band holds all of them.
    assert bands["people"].iloc[0] >= park_people - 1e-6
    assert bands["people"].sum() <= zones["people"].sum() + 1e-6
    # Lockdown covers the park (3.9 km^2).
    assert bands["area_km2"].iloc[0] >= 3.89
    assert (cps["band"] == "venue_exit").sum() >= 1
    assert summary["people"]["lockdown"] == pytest.approx(bands["people"].iloc[0])
    assert summary["staff_total"] == cps["staff"].sum() > 0
    assert sum(summary["checkpoints_by_class"].values()) == len(cps)
    assert summary["incident_ids"] == ["inc-001"] and summary["by"] == by
    # The staffing table is the scenario's.
    table = demo.settings.checkpoint_staff
    sep = cps[cps["crossings"] == 1]
    assert all(table.get(c, 1) == s for c, s in zip(sep["road_class"], sep["staff"]))
    # Every checkpoint lies on the boundary it is named after.
    g = metric(bands)
    zone = {b: shapely.union_all(g[: k + 1]) for k, b in enumerate(BANDS)}
    zone["venue_exit"] = metric(demo.layer("incidents"))[0]
    pts = metric(cps)
    for b, p in zip(cps["band"], pts):
        assert shapely.boundary(zone[b]).distance(p) < 0.01


def test_demo_cordon_bad_requests(demo):
    with pytest.raises(InputError) as e:
        cordon(demo, ["inc-001", "inc-999"])
    assert e.value.field == "incident_ids" and e.value.feature == "inc-999"
    assert "inc-001" in str(e.value)
    with pytest.raises(InputError) as e:
        cordon(demo, ["inc-001"], (5, 10, 15), by="distance", unit="min")
    assert e.value.field == "unit"
    with pytest.raises(InputError) as e:
        cordon(demo, ["inc-001"], by="magic")
    assert e.value.field == "by"


def test_cordon_of_a_clicked_point_uses_demand_cells(demo):
    clicked = gpd.GeoDataFrame(
        {"id": ["click"]}, geometry=[shapely.Point(121.6663, 31.1440)], crs=4326
    )
    res = cordon(demo, None, (300, 600, 1200), incidents=clicked, demand_cell_m=100)
    assert res.summary["incident_ids"] == ["click"]
    plain = cordon(demo, None, (300, 600, 1200), incidents=clicked)
    assert res.bands["people"].sum() == pytest.approx(plain.bands["people"].sum(), rel=1e-6)
    assert "venue_exit" not in set(res.checkpoints["band"])
    assert isinstance(res.bands, gpd.GeoDataFrame) and res.bands.crs.to_epsg() == 4326
    assert DEFAULT_STAFF["primary"] == 4 and isinstance(res.summary["people_total"], float)
    assert not pd.isna(res.bands["area_km2"]).any()


# --- cordons drawn by hand ------------------------------------------------------------------------


def test_drawn_outlines_give_nested_disjoint_bands_by_hand():
    from geo.cordon import zones_from_outlines

    # lockdown: [0,100]²; control: [-100,200]² and a control outline inside the lockdown zone
    # (must not shrink it); no prevention outline.
    drawn = boxes_m(
        [(0, 0, 100, 100), (-100, -100, 200, 200), (20, 20, 40, 40)],
        id=["a", "b", "c"],
        band=["lockdown", "control", "control"],
    )
    bands = zones_from_outlines(drawn, crs=UTM)
    assert list(bands["band"]) == list(BANDS) and list(bands["rank"]) == [1, 2, 3]
    area = shapely.area(metric(bands))
    np.testing.assert_allclose(area, [100 * 100, 300 * 300 - 100 * 100, 0], atol=0.5)
    assert bands.geometry.iloc[2].is_empty
    assert list(bands["incident_ids"]) == ["a", "b,c", ""]
    assert set(bands["by"]) == {"drawn"}
    assert_disjoint(bands)


def test_drawn_cordon_counts_people_and_posts_checkpoints(demo):
    from dataclasses import replace

    from geo.analyses import standing_cordon

    park = demo.layer("incidents").set_index("id").geometry["inc-001"]
    ring = gpd.GeoSeries([park], crs=4326).to_crs(demo.metric_crs())
    outlines = gpd.GeoDataFrame(
        {"id": ["drawn-1", "drawn-2"], "band": ["lockdown", "control"]},
        geometry=[ring.buffer(200).iloc[0], ring.buffer(1500).iloc[0]],
        crs=demo.metric_crs(),
    ).to_crs(4326)
    sc = demo.with_layer("cordons", layers.validate(outlines, "cordons")[0])
    res = cordon(sc, ["inc-001"], by="drawn")
    # the same outlines as straight-distance rings give the same people and checkpoints
    rings = cordon(sc, ["inc-001"], (200, 1500), by="distance")
    np.testing.assert_allclose(
        res.bands["people"].to_numpy()[:2], rings.bands["people"].to_numpy(), rtol=1e-3
    )
    assert res.summary["checkpoints"] == rings.summary["checkpoints"]
    assert res.summary["by"] == "drawn" and res.summary["rings"] == []
    # a drawn cordon is the one the wall shows
    assert standing_cordon(sc).summary["by"] == "drawn"
    assert standing_cordon(demo).summary["by"] == "distance"
    # nothing drawn: a clear error
    with pytest.raises(InputError) as e:
        cordon(replace(sc, layers={**sc.layers, "cordons": layers.empty("cordons")}), by="drawn")
    assert e.value.field == "cordons"


def test_drawn_outlines_bad_input():
    from geo.cordon import zones_from_outlines

    bad = boxes_m([(0, 0, 10, 10)], id=["x"], band=["moat"])
    with pytest.raises(InputError) as e:
        zones_from_outlines(bad)
    assert "moat" in str(e.value) and e.value.problems[0].field == "band"
    line = gpd.GeoDataFrame(
        {"id": ["l"], "band": ["lockdown"]},
        geometry=[shapely.LineString([(121.6, 31.1), (121.7, 31.2)])],
        crs=4326,
    )
    with pytest.raises(InputError) as e:
        zones_from_outlines(line)
    assert e.value.problems[0].field == "geometry" and e.value.problems[0].feature == "l"
