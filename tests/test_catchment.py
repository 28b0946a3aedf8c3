"""Catchments: demand cells, Voronoi, travel-time and capacity-balanced assignment."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.optimize import linprog
from scipy.spatial import cKDTree

from geo import catchment as C
from geo import layers
from geo.errors import InputError
from geo.network import RoadNetwork

UTM = "EPSG:32651"
X0, Y0 = 380_000.0, 3_440_000.0
TZ = "Asia/Shanghai"
NOW = pd.Timestamp("2021-10-31T19:00:00+08:00")


# --- helpers ------------------------------------------------------------------------------------


def grid_roads(n: int = 21, step: float = 100.0, oneway_every: int = 0) -> gpd.GeoDataFrame:
    """A square street grid (n x n intersections) as a roads layer."""
    lines, ow = [], []
    for i in range(n):
        for vertical in (True, False):
            pts = [(i * step, 0), (i * step, (n - 1) * step)]
            if not vertical:
                pts = [(p[1], p[0]) for p in pts]
            # split at every intersection so that oneway streets can alternate direction
            for k in range(n - 1):
                a = np.array(pts[0]) + (np.array(pts[1]) - np.array(pts[0])) * k / (n - 1)
                b = np.array(pts[0]) + (np.array(pts[1]) - np.array(pts[0])) * (k + 1) / (n - 1)
                if oneway_every and i % oneway_every == 1 and i % 2:
                    a, b = b, a
                lines.append(shapely.LineString([a + (X0, Y0), b + (X0, Y0)]))
                ow.append(bool(oneway_every and i % oneway_every == 1))
    gdf = gpd.GeoDataFrame(
        {
            "id": [f"r{i}" for i in range(len(lines))],
            "road_class": "residential",
            "oneway": ow,
        },
        geometry=lines,
        crs=UTM,
    ).to_crs(4326)
    return layers.validate(gdf, "roads")[0]


def points(xy, prefix: str, **cols) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    gdf = gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(len(xy))], **cols},
        geometry=shapely.points(xy[:, 0] + X0, xy[:, 1] + Y0),
        crs=UTM,
    )
    return gdf.to_crs(4326)


def sites_layer(xy, lanes, per_h, *, opens=None, closes=None, queue=None) -> gpd.GeoDataFrame:
    n = len(xy)
    gdf = points(
        xy,
        "s",
        name=[f"Site {i}" for i in range(n)],
        lanes=lanes,
        per_lane_per_h=per_h,
        opens_at=opens if opens is not None else [None] * n,
        closes_at=closes if closes is not None else [None] * n,
        queue=queue if queue is not None else [0] * n,
    )
    return layers.validate(gdf, "testing_sites", tz=TZ)[0]


def dense_optimum(times_min: np.ndarray, people: np.ndarray, cap: np.ndarray) -> float:
    """The transportation problem solved independently: every (cell, site) pair, dense rows."""
    m, n = times_min.shape
    ok = np.isfinite(times_min)
    ci, si = np.nonzero(ok)
    nx_ = len(ci)
    c = np.r_[times_min[ci, si], np.full(m, C.UNSERVED_MIN)]
    a_eq = np.zeros((m, nx_ + m))
    a_eq[ci, np.arange(nx_)] = 1
    a_eq[np.arange(m), nx_ + np.arange(m)] = 1
    lim = np.isfinite(cap)
    a_ub = np.zeros((int(lim.sum()), nx_ + m))
    row = np.full(n, -1)
    row[lim] = np.arange(lim.sum())
    sel = lim[si]
    a_ub[row[si[sel]], np.flatnonzero(sel)] = 1
    res = linprog(
        c,
        A_ub=a_ub if lim.any() else None,
        b_ub=cap[lim] if lim.any() else None,
        A_eq=a_eq,
        b_eq=people,
        bounds=(0, None),
        method="highs",
    )
    assert res.status == 0
    return float(res.fun)


# --- demand cells -------------------------------------------------------------------------------


def test_demand_cells_conserve_people_and_cover_each_zone():
    ring = shapely.Polygon(
        [(0, 0), (1000, 0), (1000, 1000), (0, 1000)], [[(300, 300), (700, 300), (700, 700)]]
    )
    ell = shapely.Polygon(
        [(1200, 0), (2100, 0), (2100, 300), (1500, 300), (1500, 900), (1200, 900)]
    )
    zones = gpd.GeoDataFrame(
        {"id": ["ring", "ell"], "people": [12345.0, 777.0]},
        geometry=[shapely.affinity.translate(g, X0, Y0) for g in (ring, ell)],
        crs=UTM,
    ).to_crs(4326)
    cells = C.demand_cells(zones, cell_m=130)
    assert cells.crs.to_epsg() == 4326
    by_zone = cells.groupby("zone_id")["people"].sum()
    assert by_zone["ring"] == pytest.approx(12345.0, rel=1e-12)
    assert by_zone["ell"] == pytest.approx(777.0, rel=1e-12)
    m = cells.to_crs(UTM)
    zm = zones.to_crs(UTM).set_index("id").geometry
    for z in ("ring", "ell"):
        part = m[m.zone_id == z]
        # cells lie in their zone and tile it (no overlaps, no gaps)
        assert shapely.covers(zm[z].buffer(1e-6), part.geometry.to_numpy()).all()
        assert part.area.sum() == pytest.approx(zm[z].area, rel=1e-9)
        assert shapely.union_all(part.geometry.to_numpy()).area == pytest.approx(
            zm[z].area, rel=1e-9
        )
        # people proportional to area
        np.testing.assert_allclose(
            part["people"] / part["people"].sum(), part.area / part.area.sum(), rtol=1e-9
        )
    assert cells["id"].is_unique
    assert set(cells["id"].str.split(":").str[0]) == {"ring", "ell"}
    # cells no bigger than the grid
    assert (m.area <= 130**2 * (1 + 1e-9)).all()


def test_demand_cells_bad_input():
    zones = gpd.GeoDataFrame(
        {"id": ["a"], "people": [-5.0]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)],
        crs=UTM,
    ).to_crs(4326)
    with pytest.raises(InputError) as err:
        C.demand_cells(zones)
    assert err.value.field == "people" and err.value.feature == "a"
    zones["people"] = 10.0
    with pytest.raises(InputError, match="cell size"):
        C.demand_cells(zones, cell_m=0)
    with pytest.raises(InputError, match="too many"):
        C.demand_cells(zones, cell_m=0.01)
    assert len(C.demand_cells(zones.iloc[:0])) == 0


# --- Voronoi ------------------------------------------------------------------------------------


def test_voronoi_cells_hold_exactly_the_points_nearest_their_site():
    rng = np.random.default_rng(0)
    sxy = rng.uniform(0, 5000, (25, 2))
    sites = sites_layer(sxy, [2] * 25, [100.0] * 25)
    boundary = gpd.GeoDataFrame(
        {"id": ["b"]},
        geometry=[shapely.Point(X0 + 2500, Y0 + 2500).buffer(2400)],
        crs=UTM,
    ).to_crs(4326)
    cat = C.voronoi(sites, boundary)
    polys = cat.sites.to_crs(UTM).geometry.to_numpy()
    assert cat.sites["site_id"].tolist() == sites["id"].tolist()
    # the cells tile the boundary
    b = boundary.to_crs(UTM).geometry.iloc[0]
    assert sum(p.area for p in polys) == pytest.approx(b.area, rel=1e-9)
    # every random point in the boundary lies in the polygon of its nearest site
    pxy = rng.uniform(0, 5000, (4000, 2))
    pts = shapely.points(pxy + [X0, Y0])
    pts = pts[shapely.contains(b, pts)]
    nearest = cKDTree(sxy + [X0, Y0]).query(shapely.get_coordinates(pts))[1]
    inside = np.stack([shapely.contains(p, pts) for p in polys], axis=1)
    assert (inside.sum(axis=1) == 1).all()
    assert (inside.argmax(axis=1) == nearest).all()


def test_voronoi_counts_people_and_handles_duplicates_and_one_site():
    sxy = np.array([[0, 0], [1000, 0], [1000, 0]])
    sites = sites_layer(sxy, [1, 1, 1], [100.0] * 3)
    cells = points([[100, 0], [900, 0], [1100, 50]], "c", people=[10.0, 20.0, 30.0])
    cat = C.voronoi(sites, None, cells, now=NOW)
    assert cat.sites["people"].tolist() == [10.0, 50.0, 0.0]
    assert cat.sites["status"].iloc[2] == "duplicate location"
    assert cat.sites.geometry.iloc[2].is_empty
    assert cat.summary["people"] == 60.0
    assert cat.cells["site_id"].tolist() == ["s0", "s1", "s1"]
    one = C.voronoi(sites.iloc[:1], shapely.box(121.5, 31.0, 121.6, 31.1))
    assert one.sites.geometry.iloc[0].equals_exact(shapely.box(121.5, 31.0, 121.6, 31.1), 1e-9)


# --- travel-time catchments ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def city():
    net = RoadNetwork.from_roads(grid_roads(21, 100.0, oneway_every=3), crs=UTM)
    rng = np.random.default_rng(1)
    cxy = rng.uniform(-50, 2050, (160, 2))
    cells = points(cxy, "c", people=rng.integers(10, 400, len(cxy)).astype(float))
    return net, cells


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_by_travel_time_picks_the_fastest_site(city, mode):
    net, cells = city
    sites = sites_layer([[200, 300], [1700, 400], [900, 1800], [1500, 1500]], [2] * 4, [150.0] * 4)
    cat = C.by_travel_time(net, sites, cells, mode, now=NOW)
    times = net.travel_time_matrix(cells, sites, mode).to_numpy() / 60  # reference
    got = cat.cells.set_index("cell_id").loc[cells["id"]]
    best = times.min(axis=1)
    np.testing.assert_allclose(got["time_min"], best, rtol=1e-9)
    chosen = sites["id"].to_numpy()[times.argmin(axis=1)]
    ties = np.sort(times, axis=1)[:, 1] - best < 1e-9
    assert ((got["site_id"].to_numpy() == chosen) | ties).all()
    assert cat.sites["people"].sum() == pytest.approx(cells["people"].sum())
    # per-site mean and max travel time
    for sid, grp in got.groupby("site_id"):
        row = cat.sites.set_index("site_id").loc[sid]
        assert row["mean_min"] == pytest.approx(np.average(grp.time_min, weights=grp.people))
        assert row["max_min"] == pytest.approx(grp.time_min.max())
    assert cat.sites.crs.to_epsg() == 4326 and cat.cells.crs.to_epsg() == 4326


# --- balanced -----------------------------------------------------------------------------------


SCENARIOS = {
    # name: (lanes, per_lane_per_h, deadline hours, queue, closes in h (None = open))
    "enough": ([2, 2, 3, 1], [200.0] * 4, 10, [0, 0, 0, 0], [None] * 4),
    "tight": ([1, 1, 2, 1], [150.0, 120.0, 100.0, 150.0], 8, [0, 0, 0, 0], [None] * 4),
    "short": ([1, 1, 1, 1], [100.0] * 4, 5, [0, 0, 0, 0], [None] * 4),
    "queue_and_closing": ([2, 1, 2, 1], [150.0] * 4, 8, [300, 0, 0, 50], [None, 3, None, 6]),
    "closed_and_empty": (
        [2, 3, 2, 1],
        [150.0, 150.0, 0.0, 150.0],
        8,
        [0] * 4,
        [None, -1, None, None],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize(
    "mode, warm", [("walk", True), ("drive", True), ("walk", False)], ids=["walk", "drive", "lp"]
)
def test_balanced_matches_the_dense_lp_optimum(city, name, mode, warm, monkeypatch):
    # warm=False: every LP solved afresh by scipy.optimize.linprog (no HiGHS binding)
    monkeypatch.setattr(C, "USE_HIGHS_WARM_START", warm)
    net, cells = city
    lanes, per_h, hours, queue, closes = SCENARIOS[name]
    close_at = [NOW + pd.Timedelta(hours=h) if h is not None else None for h in closes]
    sites = sites_layer(
        [[200, 300], [1700, 400], [900, 1800], [1500, 1500]],
        lanes,
        per_h,
        closes=close_at,
        queue=queue,
    )
    deadline = NOW + pd.Timedelta(hours=hours)
    cat = C.balanced(net, sites, cells, mode, NOW, deadline)
    assert cat.summary["optimal"]

    times = net.travel_time_matrix(cells, sites, mode).to_numpy() / 60
    cap = C.site_capacity(sites, NOW, deadline)
    avail = np.maximum(cap["capacity"].to_numpy() - cap["queue_now"].to_numpy(), 0.0)
    ref = dense_optimum(times, cells["people"].to_numpy(), avail)
    assert cat.summary["objective_person_min"] == pytest.approx(ref, rel=1e-9)

    # The reported shares are a feasible assignment with that cost.
    sh = cat.cells
    served = sh[sh["site_id"].notna()]
    load = served.groupby("site_id")["people"].sum().reindex(sites["id"], fill_value=0)
    assert (load.to_numpy() <= avail + 1e-6).all()  # capacities never exceeded
    per_cell = sh.groupby("cell_id")["people"].sum().reindex(cells["id"])
    np.testing.assert_allclose(per_cell, cells["people"], rtol=1e-9)  # people conserved
    idx = {c: i for i, c in enumerate(cells["id"])}
    sidx = {s: i for i, s in enumerate(sites["id"])}
    t = np.array([times[idx[c], sidx[s]] for c, s in zip(served.cell_id, served.site_id)])
    np.testing.assert_allclose(served["time_min"], t, rtol=1e-9)
    untested = sh.loc[sh["site_id"].isna(), "people"].sum()
    obj = float((served.people * t).sum()) + C.UNSERVED_MIN * untested
    assert obj == pytest.approx(ref, rel=1e-9)
    # Site table: load includes the queue already there; untested beyond capacity is zero.
    tab = cat.sites.set_index("site_id")
    np.testing.assert_allclose(tab["people"], load.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(tab["load"], load.to_numpy() + np.array(queue), atol=1e-6)
    assert cat.summary["untested"] == pytest.approx(
        untested + np.maximum(np.array(queue) - cap["capacity"].to_numpy(), 0).sum(), abs=1e-6
    )
    if name == "short":
        # capacity short in total: exactly the deficit is left untested
        total_cap = avail.sum()
        assert untested == pytest.approx(cells["people"].sum() - total_cap, rel=1e-9)
    if name == "closed_and_empty":
        assert tab.loc["s1", "status"] == "closed" and tab.loc["s1", "people"] == 0
        assert tab.loc["s2", "status"] == "no capacity" and tab.loc["s2", "people"] == 0


def test_balanced_finish_times_and_statuses(city):
    net, cells = city
    opens = [NOW - pd.Timedelta(hours=1), NOW + pd.Timedelta(hours=2), None, None]
    sites = sites_layer(
        [[200, 300], [1700, 400], [900, 1800], [1500, 1500]],
        [2, 2, 2, 2],
        [100.0, 100.0, 100.0, 100.0],
        opens=opens,
    )
    deadline = NOW + pd.Timedelta(hours=6)
    cat = C.balanced(net, sites, cells, "walk", NOW, deadline)
    tab = cat.sites.set_index("site_id")
    # start = max(now, opens_at); finish = start + load / throughput
    assert tab.loc["s0", "start_at"] == NOW
    assert tab.loc["s1", "start_at"] == NOW + pd.Timedelta(hours=2)
    for sid in tab.index:
        r = tab.loc[sid]
        expect = r["start_at"] + pd.Timedelta(hours=r["load"] / r["throughput_per_h"])
        assert abs((r["finish_at"] - expect).total_seconds()) < 1e-3
        assert r["finish_at"] <= deadline + pd.Timedelta(seconds=1)
        assert r["finish_min"] == pytest.approx((r["finish_at"] - NOW).total_seconds() / 60)
    assert str(tab["finish_at"].dt.tz) == TZ
    assert tab.loc["s1", "capacity"] == pytest.approx(200 * 4)


def test_balanced_reports_unreachable_and_off_network_cells():
    # A grid plus a far detached street holding a cell that no site can reach.
    roads = grid_roads(6, 100.0)
    far = gpd.GeoDataFrame(
        {"id": ["far"], "road_class": ["residential"]},
        geometry=[shapely.LineString([(X0 + 5000, Y0), (X0 + 5100, Y0)])],
        crs=UTM,
    ).to_crs(4326)
    roads = layers.validate(pd.concat([roads, far], ignore_index=True), "roads")[0]
    net = RoadNetwork.from_roads(roads, crs=UTM)
    sites = sites_layer([[0, 0]], [1], [100.0])
    cells = points([[100, 100], [5050, 10], [250, 900]], "c", people=[10.0, 20.0, 5.0])
    cat = C.balanced(net, sites, cells, "walk", NOW, NOW + pd.Timedelta(hours=1), max_snap_m=50)
    s = cat.summary
    assert s["unreachable"] == 20.0
    assert s["untested"] == pytest.approx(20.0)
    assert s["assigned"] == pytest.approx(15.0)
    row = cat.cells.set_index("cell_id").loc["c1"]
    assert not row["reachable"] and pd.isna(row["site_id"])
    assert cat.cells.set_index("cell_id").loc["c2", "off_network"]  # 300 m from any road
    tt = C.by_travel_time(net, sites, cells, "walk", max_snap_m=50)
    assert tt.summary["unreachable"] == 20.0
    assert pd.isna(tt.cells.set_index("cell_id").loc["c1", "site_id"])


# --- bad input ----------------------------------------------------------------------------------


def test_capacity_errors_and_flags():
    sites = sites_layer(
        [[0, 0], [100, 0]],
        [2, 2],
        [100.0, 100.0],
        closes=[NOW - pd.Timedelta(hours=1), NOW + pd.Timedelta(hours=2)],
    )
    cap = C.site_capacity(sites, NOW, NOW + pd.Timedelta(hours=3))
    assert cap["status"].tolist() == ["closed", "ok"]
    assert cap["capacity"].tolist() == [0.0, 400.0]
    open_ended = C.site_capacity(sites.assign(closes_at=pd.NaT), NOW)
    assert np.isinf(open_ended["capacity"]).all()
    with pytest.raises(InputError, match="time zone"):
        C.site_capacity(sites, "2021-10-31T19:00:00")
    with pytest.raises(InputError, match="not after now"):
        C.site_capacity(sites, NOW, NOW - pd.Timedelta(minutes=1))
    with pytest.raises(InputError, match="not a time"):
        C.site_capacity(sites, "yesterday-ish")
    with pytest.raises(InputError) as err:
        C.site_capacity(sites.drop(columns="lanes"), NOW)
    assert err.value.field == "lanes"


def test_all_sites_closed_leaves_everyone_untested(city):
    net, cells = city
    sites = sites_layer([[200, 300], [1700, 400]], [1, 1], [100.0, 100.0], closes=[NOW, NOW])
    cat = C.balanced(net, sites, cells, "walk", NOW, NOW + pd.Timedelta(hours=2))
    assert cat.summary["assigned"] == 0
    assert cat.summary["untested"] == pytest.approx(cells["people"].sum())
    assert set(cat.sites["status"]) == {"closed"}


def test_site_off_network_and_missing_inputs(city):
    net, cells = city
    far = sites_layer([[200, 300], [9000, 9000]], [1, 1], [100.0, 100.0])
    with pytest.raises(InputError) as err:
        C.balanced(net, far, cells, "walk", NOW, NOW + pd.Timedelta(hours=2))
    assert err.value.feature == "s1"
    with pytest.raises(InputError, match="no testing sites"):
        C.by_travel_time(net, far.iloc[:0], cells, "walk")
    with pytest.raises(InputError, match="no demand cells"):
        C.by_travel_time(net, far.iloc[:1], cells.iloc[:0], "walk")
    with pytest.raises(InputError, match="people"):
        C.by_travel_time(net, far.iloc[:1], cells.drop(columns="people"), "walk")


def test_gap_tolerance_stops_early_with_a_valid_bound(city):
    net, cells = city
    sites = sites_layer([[200, 300], [1700, 400], [900, 1800]], [1, 1, 1], [100.0] * 3)
    deadline = NOW + pd.Timedelta(hours=5)
    exact = C.balanced(net, sites, cells, "walk", NOW, deadline)
    rough = C.balanced(net, sites, cells, "walk", NOW, deadline, gap_min=5.0)
    assert rough.summary["lower_bound"] <= exact.summary["objective_person_min"] + 1e-6
    assert rough.summary["objective_person_min"] >= exact.summary["objective_person_min"] - 1e-6
    assert rough.summary["gap_min_per_person"] <= 5.0


def test_open_ended_capacity_equals_travel_time_and_empty_demand(city):
    net, cells = city
    sites = sites_layer([[200, 300], [1700, 400], [900, 1800]], [1, 1, 1], [100.0] * 3)
    # no deadline and no closing time: capacity is unlimited, so balanced = nearest site
    bal = C.balanced(net, sites, cells, "walk", NOW)
    tt = C.by_travel_time(net, sites, cells, "walk", now=NOW)
    assert np.isinf(bal.sites["capacity"]).all()
    np.testing.assert_allclose(bal.sites["people"], tt.sites["people"])
    assert bal.summary["objective_person_min"] == pytest.approx(
        float((tt.cells["people"] * tt.cells["time_min"]).sum())
    )
    # nobody to serve: every site idle, finishing when it starts
    empty = C.balanced(
        net, sites, cells.assign(people=0.0), "walk", NOW, NOW + pd.Timedelta(hours=1)
    )
    assert empty.summary["assigned"] == 0 and empty.summary["untested"] == 0
    assert (empty.sites["finish_at"] == empty.sites["start_at"]).all()


def test_dijkstra_pricing_alone_reaches_the_optimum(city, monkeypatch):
    # An (almost) empty candidate pool: every better site must be found by the pricing Dijkstra.
    monkeypatch.setattr(C, "CANDIDATE_WINDOW_MIN", 0.0)
    monkeypatch.setattr(C, "COVER", 0.0)
    net, cells = city
    # two small sites whose nearest people must partly go to the two big ones
    sites = sites_layer(
        [[200, 300], [1700, 400], [900, 1800], [1500, 1500]], [1, 1, 8, 8], [120.0] * 4
    )
    deadline = NOW + pd.Timedelta(hours=20)
    cat = C.balanced(net, sites, cells, "drive", NOW, deadline)
    assert cat.summary["optimal"] and cat.summary["dijkstra_pricing"] >= 2
    times = net.travel_time_matrix(cells, sites, "drive").to_numpy() / 60
    cap = C.site_capacity(sites, NOW, deadline)["capacity"].to_numpy()
    ref = dense_optimum(times, cells["people"].to_numpy(), cap)
    assert cat.summary["objective_person_min"] == pytest.approx(ref, rel=1e-9)
