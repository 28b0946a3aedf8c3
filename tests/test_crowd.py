"""Crowd points to grid cells, zones and catchments (geo.crowd), and the dask path (geo.crowd_dask).

References are independent of the code under test: cell membership is recomputed from UTM
coordinates with pandas groupby and checked with geopandas spatial joins; catchment loads with a
nearest-site KD-tree; zone counts with geopandas ``sjoin``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from geo import cli, crowd
from geo.crs import wgs84_to_gcj02
from geo.errors import InputError
from geo.layers import validate

TO_UTM = Transformer.from_crs(4326, 32651, always_xy=True)
TO_LL = Transformer.from_crs(32651, 4326, always_xy=True)
T0 = "2021-10-31T20:00:00+08:00"


@pytest.fixture(scope="module")
def pts() -> pd.DataFrame:
    return crowd.synthetic_points(20_000, seed=7)


def reference_grid(df: pd.DataFrame, cell: float, weight: str = "devices") -> dict[str, float]:
    """People per cell id, by pandas groupby on UTM 51N coordinates (no geo.crowd code)."""
    x, y = TO_UTM.transform(df["lon"].to_numpy(), df["lat"].to_numpy())
    key = pd.DataFrame(
        {"r": np.floor(y / cell).astype(int), "c": np.floor(x / cell).astype(int), "w": df[weight]}
    )
    sums = key.groupby(["r", "c"])["w"].sum()
    return {f"r{r}c{c}": float(v) for (r, c), v in sums.items()}


def as_dict(g: gpd.GeoDataFrame) -> dict[str, float]:
    return dict(zip(g["id"], g["people"].astype(float)))


# --- grid ----------------------------------------------------------------------------------------


def test_grid_matches_groupby_reference_and_is_a_valid_layer(pts):
    g = crowd.aggregate_grid(pts, 100, observed_at=T0)
    assert as_dict(g) == reference_grid(pts, 100)
    assert g["people"].sum() == pts["devices"].sum()
    assert g["points"].sum() == len(pts)
    assert g.crs.to_epsg() == 4326 and g["id"].is_unique
    layer, report = validate(g, "crowd_zones", source="grid")
    assert report.features == len(g)
    assert (layer["observed_at"] == pd.Timestamp(T0)).all()
    assert g.attrs["crowd"]["crs"] == "EPSG:32651"
    # Counter-clockwise exteriors (RFC 7946).
    assert shapely.is_ccw(shapely.get_exterior_ring(g.geometry.values)).all()


def test_grid_cells_are_metric_squares_containing_their_points(pts):
    g = crowd.aggregate_grid(pts, 250, observed_at=T0)
    utm = g.to_crs(32651)
    assert np.allclose(utm.area, 250 * 250, rtol=1e-6)
    b = utm.bounds
    rows = g["id"].str.extract(r"r(-?\d+)c(-?\d+)").astype(int)
    assert np.allclose(b["minx"], rows[1] * 250, atol=1e-3)
    assert np.allclose(b["miny"], rows[0] * 250, atol=1e-3)
    # Independent membership: a spatial join of the points with the output cells.
    p = gpd.GeoDataFrame(pts, geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326)
    j = gpd.sjoin(p, g[["id", "geometry"]], predicate="within")
    assert len(j) == len(pts)  # every point in exactly one cell (none on an edge here)
    assert Counter(j["id"]) == dict(zip(g["id"], g["points"]))
    # Cells tile: neighbours share edges exactly, no overlap.
    assert shapely.union_all(utm.geometry.values).area == pytest.approx(len(g) * 250**2, rel=1e-9)


def test_cell_ids_are_anchored_on_the_crs_origin():
    # UTM 51N metres -> lon/lat; (381050, 3450020) is in row 34500, column 3810 of a 100 m grid;
    # a point exactly on a cell's west/south edge belongs to that cell.
    x = np.array([381050.0, 381000.0, 380999.5, 381099.9])
    y = np.array([3450020.0, 3450000.0, 3450000.0, 3450099.9])
    lon, lat = TO_LL.transform(x, y)
    df = pd.DataFrame({"lon": lon, "lat": lat})
    g = crowd.aggregate_grid(df, 100, crs="EPSG:32651", observed_at=T0)
    ids = dict(zip(g["id"], g["points"]))
    assert ids.get("r34500c3809") == 1  # x = 380999.5
    # The edge point may land either side only through the lon/lat round trip (< 1 nm).
    assert ids.get("r34500c3810", 0) + ids.get("r34499c3810", 0) + ids.get("r34499c3809", 0) == 3


def test_chunking_and_order_do_not_change_the_result(pts):
    whole = crowd.aggregate_grid(pts, 100, observed_at=T0)
    small = crowd.aggregate_grid(pts, 100, observed_at=T0, chunk_rows=333)
    rev = crowd.aggregate_grid(pts.iloc[::-1], 100, observed_at=T0, chunk_rows=4_000)
    assert as_dict(whole) == as_dict(small) == as_dict(rev)
    assert whole.geometry.geom_equals_exact(small.geometry, 0).all()


def test_sparse_path_equals_dense_path(pts, monkeypatch):
    dense = crowd.aggregate_grid(pts, 50, observed_at=T0)
    monkeypatch.setattr(crowd, "_DENSE_MAX_CELLS", 0)  # force np.unique for every chunk
    monkeypatch.setattr(crowd, "_REDUCE_AT", 1000)  # and many intermediate reductions
    sparse = crowd.aggregate_grid(pts, 50, observed_at=T0, chunk_rows=2_000)
    assert as_dict(dense) == as_dict(sparse) == reference_grid(pts, 50)


def test_weight_column_options(pts):
    ones = crowd.aggregate_grid(pts, 100, observed_at=T0, weight=False)
    assert ones["people"].sum() == len(pts) and (ones["people"] == ones["points"]).all()
    renamed = pts.rename(columns={"devices": "Count"})
    assert as_dict(crowd.aggregate_grid(renamed, 100, observed_at=T0)) == reference_grid(pts, 100)
    other = pts.assign(w=2.5)
    g = crowd.aggregate_grid(other, 100, observed_at=T0, weight="w")
    assert g["people"].sum() == pytest.approx(2.5 * len(pts))


def test_gcj02_input_is_converted(pts):
    # Cell centres +- 30 m: far from edges, so sub-millimetre round trips cannot change a cell.
    rng = np.random.default_rng(3)
    x = (rng.integers(3700, 3900, 3000) + 0.5) * 100 + rng.uniform(-30, 30, 3000)
    y = (rng.integers(34400, 34600, 3000) + 0.5) * 100 + rng.uniform(-30, 30, 3000)
    lon, lat = TO_LL.transform(x, y)
    wgs = pd.DataFrame({"lon": lon, "lat": lat})
    glon, glat = wgs84_to_gcj02(lon, lat)
    gcj = pd.DataFrame({"lon": glon, "lat": glat})
    want = crowd.aggregate_grid(wgs, 100, observed_at=T0)
    assert as_dict(crowd.aggregate_grid(gcj, 100, observed_at=T0, datum="gcj02")) == as_dict(want)
    # Read as WGS-84 they are ~500 m off: most cells differ.
    assert as_dict(crowd.aggregate_grid(gcj, 100, observed_at=T0)) != as_dict(want)


# --- reading files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory, pts) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("crowd")
    out = {
        "parquet": d / "p.parquet",
        "csv": d / "p.csv",
        "gz": d / "p.csv.gz",
        "geoparquet": d / "p.geoparquet",
        "utm": d / "utm.parquet",
    }
    pts.to_parquet(out["parquet"], row_group_size=3_000)
    pts.to_csv(out["csv"], index=False)
    pts.rename(columns={"lon": "Longitude", "lat": "Latitude"}).to_csv(
        out["gz"], index=False, sep=";", compression="gzip"
    )
    geo = gpd.GeoDataFrame(
        pts[["devices"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326
    )
    geo.to_parquet(out["geoparquet"], row_group_size=4_000)
    geo.to_crs(32651).to_parquet(out["utm"])
    return out


@pytest.mark.parametrize("kind", ["parquet", "csv", "gz", "geoparquet", "utm"])
def test_every_file_kind_gives_the_reference(files, pts, kind):
    calls: list[tuple[int, int]] = []
    g = crowd.aggregate_grid(
        files[kind],
        100,
        observed_at=T0,
        chunk_rows=6_000,
        progress=lambda d, t: calls.append((d, t)),
    )
    got, want = as_dict(g), reference_grid(pts, 100)
    if kind == "utm":  # reprojected twice: a point within a nanometre of an edge may move
        assert sum(abs(got.get(k, 0) - v) for k, v in want.items()) <= 4
    else:
        assert got == want
    done = [d for d, _ in calls]
    assert len(calls) >= 2 and done == sorted(done) and calls[-1][0] == calls[-1][1]
    if kind in ("parquet", "geoparquet"):
        assert calls[-1][1] == len(pts)  # rows for Parquet


def test_read_points_chunks_bound_memory(files):
    sizes = [len(c) for c in crowd.read_points(files["parquet"], chunk_rows=5_000)]
    assert max(sizes) <= 5_000 and sum(sizes) == 20_000


# --- bad input -----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_columns_are_named(tmp_path):
    p = write(tmp_path, "a.csv", "x_coord,lat\n121.5,31.2\n")
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p)
    assert e.value.file == str(p) and e.value.field == "lon"
    assert "columns found: x_coord, lat" in str(e.value)
    with pytest.raises(InputError, match="'devs' is missing"):
        crowd.aggregate_grid(write(tmp_path, "b.csv", "lon,lat\n121.5,31.2\n"), weight="devs")


def test_non_numeric_coordinate_names_row_line_and_field(tmp_path):
    rows = ["lon,lat,devices"] + ["121.5,31.2,1"] * 5 + ["121.5,abc,1", "121.5,31.2,1"]
    p = write(tmp_path, "bad.csv", "\n".join(rows) + "\n")
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p)
    err = e.value
    assert (err.file, err.feature, err.field) == (str(p), "#5 (line 7)", "lat")
    assert "'abc' is not a number" in str(err)
    # The same error in a later chunk keeps its row number in the whole file.
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p, chunk_rows=2)
    assert e.value.feature == "#5 (line 7)"
    # on_bad="skip" drops and counts it.
    g = crowd.aggregate_grid(p, on_bad="skip", observed_at=T0)
    assert g.attrs["crowd"]["skipped_rows"] == 1 and g["people"].sum() == 6


def test_missing_value_and_negative_count(tmp_path):
    p = write(tmp_path, "m.csv", "lon,lat,devices\n121.5,31.2,1\n,31.2,1\n")
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p)
    assert (e.value.feature, e.value.field) == ("#1 (line 3)", "lon")
    assert "missing" in str(e.value)
    p = write(tmp_path, "n.csv", "lon,lat,devices\n121.5,31.2,-3\n")
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p)
    assert e.value.field == "devices" and "out of range" in str(e.value)


def test_swapped_lat_lon_is_recognised_and_fixable(tmp_path, pts):
    p = tmp_path / "swapped.csv"
    pts.rename(columns={"lon": "lat", "lat": "lon"})[["lon", "lat", "devices"]].to_csv(
        p, index=False
    )
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(p)
    assert "swapped" in str(e.value) and e.value.field == "lat" and e.value.feature == "#0 (line 2)"
    g = crowd.aggregate_grid(p, swap_xy=True, observed_at=T0)
    assert as_dict(g) == reference_grid(pts, 100)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"  \n\n", "the file is empty"),
        ("header.csv", b"lon,lat\n", "no points"),
        ("broken.parquet", b"PAR1 this is not parquet at all PAR1", "not a readable Parquet"),
        ("empty.parquet", b"", "the file is empty"),
        ("points.xlsx", b"whatever", "unknown point file type"),
    ],
)
def test_unreadable_files(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as e:
        crowd.aggregate_grid(p)
    assert e.value.file == str(p)


def test_truncated_parquet(tmp_path, files):
    data = files["parquet"].read_bytes()
    p = tmp_path / "cut.parquet"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="Parquet") as e:
        crowd.aggregate_grid(p)
    assert e.value.file == str(p)


def test_missing_file_bad_cell_and_bad_geometries(tmp_path, pts):
    with pytest.raises(InputError, match="not found"):
        crowd.aggregate_grid(tmp_path / "nope.parquet")
    with pytest.raises(InputError) as e:
        crowd.aggregate_grid(pts, 0)
    assert e.value.field == "cell_m"
    with pytest.raises(InputError, match="metric CRS"):
        crowd.aggregate_grid(pts, 100, crs="EPSG:4326")
    polys = gpd.GeoDataFrame(geometry=[shapely.box(121, 31, 121.1, 31.1)], crs=4326)
    with pytest.raises(InputError, match="not points") as e:
        crowd.aggregate_grid(polys)
    assert e.value.field == "geometry"
    with pytest.raises(InputError, match="not a number"):
        crowd.aggregate_grid(pd.DataFrame({"lon": ["121.4", "east"], "lat": [31.2, 31.2]}))


# --- zones and catchments ------------------------------------------------------------------------


def squares() -> gpd.GeoDataFrame:
    """Two 0.01-degree squares sharing the edge lon = 121.5, and one overlapping the first."""
    return gpd.GeoDataFrame(
        {"id": ["west", "east", "overlap"]},
        geometry=[
            shapely.box(121.49, 31.2, 121.5, 31.21),
            shapely.box(121.5, 31.2, 121.51, 31.21),
            shapely.box(121.495, 31.2, 121.497, 31.205),
        ],
        crs=4326,
    )


def test_boundary_and_overlap_points_count_once_in_the_first_zone():
    df = pd.DataFrame(
        {
            "lon": [121.495, 121.5, 121.505, 121.5, 121.496, 121.6],
            "lat": [31.208, 31.205, 31.205, 31.2, 31.201, 31.2],
            "devices": [1, 10, 100, 1000, 10000, 100000],
        }
    )
    z = crowd.aggregate_zones(df, squares())
    # 121.5 is on the shared edge (twice: once mid-edge, once on the corner): first zone wins;
    # 121.496 is inside both "west" and "overlap": first zone wins; 121.6 is outside.
    assert dict(zip(z["id"], z["people"])) == {"west": 11011.0, "east": 100.0, "overlap": 0.0}
    assert z["points"].tolist() == [4, 1, 0]
    assert z.attrs["crowd"]["people_outside"] == 100000 and z.attrs["crowd"]["points_outside"] == 1
    assert z["people"].sum() + 100000 == df["devices"].sum()


def test_zone_bins_keep_points_on_the_extreme_longitudes():
    zones = gpd.GeoDataFrame(
        {"id": ["a", "b"]},
        geometry=[shapely.box(121.0, 31.0, 121.2, 31.1), shapely.box(121.2, 31.0, 121.4, 31.1)],
        crs=4326,
    )
    # The chunk's extreme longitudes are zone edges; then a one-point chunk (all in one bin).
    df = pd.DataFrame({"lon": [121.0, 121.4, 121.1, 121.3], "lat": [31.05] * 4})
    z = crowd.aggregate_zones(df, zones)
    assert z["points"].tolist() == [2, 2]
    one = crowd.aggregate_zones(df.iloc[:1], zones)
    assert one["points"].tolist() == [1, 0]
    index = crowd.ZoneIndex(zones.geometry.values)
    assert index.assign(np.array([121.2]), np.array([31.1])).tolist() == [0]  # corner: first


def test_zones_match_sjoin_reference(pts):
    # Random convex zones that do not overlap: cells of a coarse 2 km grid, shuffled.
    cells = crowd.aggregate_grid(pts, 2000, observed_at=T0)[["id", "geometry"]]
    cells = cells.sample(frac=1, random_state=1).reset_index(drop=True)
    got = crowd.aggregate_zones(pts, cells, chunk_rows=7_000)
    p = gpd.GeoDataFrame(pts, geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326)
    ref = gpd.sjoin(p, cells, predicate="within").groupby("id")["devices"].sum()
    assert dict(zip(got["id"], got["people"])) == {k: float(ref.get(k, 0)) for k in got["id"]}
    assert got["id"].tolist() == cells["id"].tolist()  # order kept


def voronoi_catchments(n: int, seed: int = 0) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Voronoi catchments (built in UTM, with a site_id column) and their site coordinates."""
    rng = np.random.default_rng(seed)
    sx, sy = rng.uniform(320_000, 390_000, n), rng.uniform(3_420_000, 3_490_000, n)
    frame = shapely.box(290_000, 3_390_000, 420_000, 3_520_000)  # holds every synthetic point
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(np.c_[sx, sy])))
    # Edges straight in UTM bow in lon/lat: densify so the layer follows them to centimetres.
    cells = shapely.segmentize(shapely.intersection(cells, frame), 200)
    # Order the cells like the sites (voronoi_polygons does not keep the input order).
    which = shapely.STRtree(cells).query(shapely.points(sx, sy), predicate="within")
    order = which[1][np.argsort(which[0])]
    gdf = gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(n)]}, geometry=cells[order], crs=32651
    ).to_crs(4326)
    return gdf, np.c_[sx, sy]


def test_catchment_loads_match_nearest_site(pts):
    catch, sites = voronoi_catchments(40)
    got = crowd.assign_to_catchments(pts, catch)
    x, y = TO_UTM.transform(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    dist, near = cKDTree(sites).query(np.c_[x, y], k=2)
    # Points within 5 m of an edge could go either way (densified edges): not compared.
    clear = (dist[:, 1] - dist[:, 0]) > 10
    loads = np.bincount(near[clear, 0], weights=pts["devices"].to_numpy()[clear], minlength=40)
    ambiguous = pts["devices"].to_numpy()[~clear].sum()
    diff = np.abs(got["people"].to_numpy() - loads)
    assert diff.sum() <= 2 * ambiguous  # a point moved counts in two catchments
    assert got.attrs["crowd"]["points_outside"] == 0
    assert got["people"].sum() + got.attrs["crowd"]["people_outside"] == pts["devices"].sum()
    assert list(got["site_id"]) == list(catch["site_id"])


def test_grid_to_catchments_keeps_the_people(pts):
    catch, _ = voronoi_catchments(25, seed=3)
    grid = crowd.aggregate_grid(pts, 100, observed_at=T0)
    by_grid = crowd.assign_to_catchments(grid, catch)
    by_points = crowd.assign_to_catchments(pts, catch)
    assert by_grid["people"].sum() == pytest.approx(grid["people"].sum())
    # Cells go whole to the catchment of their centre: the loads differ only along boundaries.
    rel = np.abs(by_grid["people"] - by_points["people"]).sum() / by_points["people"].sum()
    assert rel < 0.02
    with pytest.raises(InputError) as e:
        crowd.assign_to_catchments(pts, catch.rename(columns={"site_id": "sid"}))
    assert e.value.field == "site_id"


# --- output and CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["gpkg", "geojson"])
def test_cli_writes_a_readable_layer(tmp_path, files, pts, ext, capsys):
    out = tmp_path / f"grid.{ext}"
    assert cli.crowd_aggregate(files["csv"], 200, out, show_progress=False) == 0
    back = gpd.read_file(out)
    assert dict(zip(back["id"], back["people"])) == reference_grid(pts, 200)
    assert back.crs.to_epsg() == 4326
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_rejects_unknown_output(tmp_path, files):
    with pytest.raises(InputError, match=".gpkg or .geojson"):
        cli.crowd_aggregate(files["csv"], 100, tmp_path / "x.shp", show_progress=False)


def test_synthetic_points_are_seeded_and_clustered():
    a = crowd.synthetic_points(50_000, seed=1)
    assert a.equals(crowd.synthetic_points(50_000, seed=1))
    assert not a.equals(crowd.synthetic_points(50_000, seed=2))
    assert len(a) == 50_000 and a["devices"].between(1, 10).all()
    assert a["lon"].between(120.9, 122.0).all() and a["lat"].between(30.8, 31.7).all()
    # City-like: the busiest 5 % of occupied 500 m cells hold over a third of the people.
    g = crowd.aggregate_grid(a, 500, observed_at=T0)["people"].sort_values(ascending=False)
    assert g.iloc[: len(g) // 20].sum() > g.sum() / 3


def test_gzip_helper_is_real_gzip(files):
    with gzip.open(files["gz"], "rt") as f:
        assert f.readline().startswith("Longitude;Latitude")


# --- the dask path -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask_geopandas")
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.mark.parametrize("kind", ["parquet", "csv", "geoparquet", "frame", "geoframe"])
def test_dask_grid_equals_single_machine(client, files, pts, kind):
    from geo import crowd_dask

    src = {
        "frame": pts,
        "geoframe": gpd.GeoDataFrame(
            pts[["devices"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326
        ),
    }.get(kind, files.get(kind))
    one = crowd.aggregate_grid(src, 100, observed_at=T0)
    calls: list[tuple[int, int]] = []
    many = crowd_dask.aggregate_grid_dask(
        src,
        100,
        scheduler=client,
        observed_at=T0,
        chunk_rows=6_000,
        blocksize=100_000,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert many.attrs["crowd"]["partitions"] >= 3
    for k in ("rows_read", "points_used", "people", "crs"):
        assert many.attrs["crowd"][k] == one.attrs["crowd"][k]
    assert many["id"].tolist() == one["id"].tolist()
    assert np.array_equal(many["people"].to_numpy(), one["people"].to_numpy())
    assert np.array_equal(many["points"].to_numpy(), one["points"].to_numpy())
    assert many.geometry.geom_equals_exact(one.geometry, 0).all()
    assert calls[-1] == (many.attrs["crowd"]["partitions"],) * 2


def test_dask_zones_and_catchments_equal_single_machine(client, files, pts):
    from geo import crowd_dask

    catch, _ = voronoi_catchments(30)
    one = crowd.assign_to_catchments(files["parquet"], catch)
    many = crowd_dask.assign_to_catchments_dask(
        files["parquet"], catch, scheduler=client, chunk_rows=5_000
    )
    assert np.array_equal(many["people"].to_numpy(), one["people"].to_numpy())
    assert np.array_equal(many["points"].to_numpy(), one["points"].to_numpy())
    assert many.attrs["crowd"]["people_outside"] == one.attrs["crowd"]["people_outside"]


def test_dask_catchments_of_a_grid_frame_go_by_cell_centre(pts):
    # A GeoDataFrame used to raise AttributeError (geo.crowd has no _POLYGONAL). A grid of
    # polygons takes the single-machine path, so no cluster is started for it.
    from geo import crowd_dask

    catch, sites = voronoi_catchments(30, seed=5)
    grid = crowd.aggregate_grid(pts, 250, observed_at=T0)
    got = crowd_dask.assign_to_catchments_dask(grid, catch, scheduler="local", blocksize=1)
    # Reference: each cell's people go to the site nearest its centre (KD-tree in UTM).
    c = grid.to_crs(32651).geometry.centroid
    dist, near = cKDTree(sites).query(np.c_[c.x, c.y], k=2)
    clear = (dist[:, 1] - dist[:, 0]) > 10
    people = grid["people"].to_numpy()
    loads = np.bincount(near[clear, 0], weights=people[clear], minlength=30)
    assert np.abs(got["people"].to_numpy() - loads).sum() <= 2 * people[~clear].sum()
    assert got["people"].sum() + got.attrs["crowd"]["people_outside"] == people.sum()
    assert got["points"].sum() == len(grid)  # one centre per cell
    assert list(got["site_id"]) == list(catch["site_id"])


def test_dask_catchments_of_a_point_frame_equal_single_machine(client, pts):
    from geo import crowd_dask

    catch, _ = voronoi_catchments(30)
    points = gpd.GeoDataFrame(
        pts[["devices"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326
    )
    one = crowd.assign_to_catchments(pts, catch)
    many = crowd_dask.assign_to_catchments_dask(points, catch, scheduler=client, chunk_rows=5_000)
    assert many.attrs["crowd"]["partitions"] >= 3
    assert np.array_equal(many["people"].to_numpy(), one["people"].to_numpy())
    assert np.array_equal(many["points"].to_numpy(), one["points"].to_numpy())


def test_dask_bad_row_has_its_row_number_in_the_whole_file(client, tmp_path, pts):
    from geo import crowd_dask

    p = tmp_path / "bad.csv"
    bad = pts.astype({"lat": object})
    bad.loc[15_000, "lat"] = "n/a?"
    bad.to_csv(p, index=False)
    with pytest.raises(InputError) as one:
        crowd.aggregate_grid(p, chunk_rows=4_000)
    with pytest.raises(InputError) as many:
        crowd_dask.aggregate_grid_dask(p, scheduler=client, blocksize=50_000)
    assert one.value.feature == many.value.feature == "#15000 (line 15002)"
    assert many.value.field == "lat" and many.value.file == str(p)
    with pytest.raises(InputError, match="no longitude column"):
        crowd_dask.aggregate_grid_dask(write(tmp_path, "x.csv", "a,lat\n1,2\n"), scheduler=client)


def test_cli_on_a_cluster(client, tmp_path, files, pts):
    out = tmp_path / "g.gpkg"
    assert cli.crowd_aggregate(files["parquet"], 100, out, client, show_progress=False) == 0
    assert dict(zip(*gpd.read_file(out)[["id", "people"]].T.values)) == reference_grid(pts, 100)


def test_dask_path_without_dask_says_what_to_install(monkeypatch, pts):
    import importlib.util

    from geo import crowd_dask

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name)
    )
    with pytest.raises(InputError, match=r"cityops\[scale\]") as e:
        crowd_dask.aggregate_grid_dask(pts, 100)
    assert e.value.field == "scheduler"
