"""Synthetic, city-sized scenarios: made-up but city-like layers, generated fast with numpy.

Nothing here is real data. The road network is a perturbed grid with arterials and one-way
streets, placed near Shanghai (UTM zone 51N) only so that the local metric CRS is the demo's.
A scenario written by :func:`write_city` says so in its name, its description and a README.

    cityops demo city --out /tmp/city --roads 1000000 --sites 10000
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo import io
from geo import scenario as scen

UTM51N = "EPSG:32651"
# South-west corner of the synthetic city, in UTM 51N metres (about 31.09 N, 121.49 E).
ORIGIN = (380_000.0, 3_440_000.0)
TZ = "Asia/Shanghai"
NOW = "2021-10-31T20:00:00+08:00"
LABEL = "SYNTHETIC"


def _to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = Transformer.from_crs(UTM51N, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def synthetic_city(
    n_edges: int = 250_000,
    *,
    spacing_m: float = 100.0,
    arterial_every: int = 10,
    drop: float = 0.06,
    oneway: float = 0.12,
    trunk_every: int = 5,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """A roads layer (EPSG:4326) shaped like a city grid, with about ``n_edges`` street segments.

    Intersections sit on a jittered square grid. Every ``arterial_every``-th row and column is a
    ``primary`` road drawn as long lines through many intersections (so the network builder must
    split lines at shared vertices); every ``trunk_every``-th arterial is a ``trunk`` (0: none);
    the other blocks are
    ``residential`` (10 % ``service``) segments with a bent middle vertex, a fraction ``drop`` of
    them removed and a fraction ``oneway`` one-way.

    Examples
    --------
    >>> roads = synthetic_city(2_000)
    >>> sorted(set(roads["road_class"]))
    ['primary', 'residential', 'service', 'trunk']
    """
    rng = np.random.default_rng(seed)
    n = int(np.ceil(np.sqrt(n_edges / (2 * (1 - drop * 0.9))))) + 1
    gx, gy = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    jitter = spacing_m * 0.18
    nx_ = ORIGIN[0] + gx * spacing_m + rng.uniform(-jitter, jitter, gx.shape)
    ny_ = ORIGIN[1] + gy * spacing_m + rng.uniform(-jitter, jitter, gy.shape)

    frames = []
    # Residential segments: horizontal (i,j)-(i+1,j) not on an arterial row, vertical likewise.
    for horizontal in (True, False):
        i, j = (gx[:-1, :], gy[:-1, :]) if horizontal else (gx[:, :-1], gy[:, :-1])
        i, j = i.ravel(), j.ravel()
        on_arterial = (j if horizontal else i) % arterial_every == 0
        keep = ~on_arterial & (rng.random(i.size) >= drop)
        i, j = i[keep], j[keep]
        i2, j2 = (i + 1, j) if horizontal else (i, j + 1)
        x0, y0, x1, y1 = nx_[i, j], ny_[i, j], nx_[i2, j2], ny_[i2, j2]
        bend = rng.normal(0, spacing_m * 0.06, (2, i.size))
        xm, ym = (x0 + x1) / 2 + bend[0], (y0 + y1) / 2 + bend[1]
        ow = rng.random(i.size) < oneway
        flip = ow & (rng.random(i.size) < 0.5)
        xs = np.stack([x0, xm, x1], 1)
        ys = np.stack([y0, ym, y1], 1)
        xs[flip] = xs[flip, ::-1]
        ys[flip] = ys[flip, ::-1]
        frames.append(
            pd.DataFrame(
                {
                    "xs": list(xs),
                    "ys": list(ys),
                    "road_class": np.where(rng.random(i.size) < 0.1, "service", "residential"),
                    "oneway": ow,
                }
            )
        )
    # Arterials: long lines along every arterial row/column, cut into pieces of ~20 blocks.
    piece = 20
    art_xs, art_ys, art_cls = [], [], []
    for k in range(0, n, arterial_every):
        trunk = trunk_every > 0 and k % (trunk_every * arterial_every) == 0
        cls = "trunk" if trunk else "primary"
        for start in range(0, n - 1, piece):
            stop = min(start + piece, n - 1) + 1
            art_xs += [nx_[start:stop, k], nx_[k, start:stop]]
            art_ys += [ny_[start:stop, k], ny_[k, start:stop]]
            art_cls += [cls, cls]
    frames.append(
        pd.DataFrame({"xs": art_xs, "ys": art_ys, "road_class": art_cls, "oneway": False})
    )
    df = pd.concat(frames, ignore_index=True)
    counts = df["xs"].map(len).to_numpy()
    x = np.concatenate(df["xs"].to_list())
    y = np.concatenate(df["ys"].to_list())
    lon, lat = _to_wgs84(x, y)
    idx = np.repeat(np.arange(len(df)), counts)
    geoms = shapely.linestrings(np.column_stack([lon, lat]), indices=idx)
    return gpd.GeoDataFrame(
        {
            "id": np.char.add("r", np.arange(len(df)).astype(str)).astype(object),
            "road_class": df["road_class"].to_numpy(dtype=object),
            "name": None,
            "oneway": pd.array(df["oneway"].to_numpy(), dtype="boolean"),
            "speed_kmh": np.nan,
            "lanes": pd.array([pd.NA] * len(df), dtype="Int64"),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def city_bounds_m(roads: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Bounds of a synthetic city in UTM 51N metres."""
    b = roads.to_crs(UTM51N).total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def random_points(
    n: int, bounds_m: tuple[float, float, float, float], *, seed: int = 1, prefix: str = "p"
) -> gpd.GeoDataFrame:
    """``n`` uniform random points (EPSG:4326) inside metric bounds, ids ``prefix0..``."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds_m
    x = rng.uniform(xmin, xmax, n)
    y = rng.uniform(ymin, ymax, n)
    lon, lat = _to_wgs84(x, y)
    return gpd.GeoDataFrame(
        {"id": np.char.add(prefix, np.arange(n).astype(str)).astype(object)},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def testing_sites(
    n: int,
    bounds_m: tuple[float, float, float, float],
    *,
    seed: int = 2,
    opens_at: str = "2021-10-31T18:30:00+08:00",
    closes_at: str = "2021-11-01T06:00:00+08:00",
) -> gpd.GeoDataFrame:
    """``n`` testing sites (a valid ``testing_sites`` layer) at random places in the bounds."""
    pts = random_points(n, bounds_m, seed=seed, prefix="s")
    rng = np.random.default_rng(seed)
    pts["name"] = [f"Site {k}" for k in range(n)]
    pts["lanes"] = pd.array(rng.integers(2, 9, n), dtype="Int64")
    pts["per_lane_per_h"] = rng.uniform(100, 200, n).round()
    pts["opens_at"] = pd.Series(pd.Timestamp(opens_at).tz_convert(TZ), index=pts.index)
    pts["closes_at"] = pd.Series(pd.Timestamp(closes_at).tz_convert(TZ), index=pts.index)
    return pts


def synthetic_zones(
    bounds_m: tuple[float, float, float, float],
    n_zones: int = 400,
    *,
    density_km2: float = 5000.0,
    sigma: float = 0.6,
    seed: int = 5,
) -> gpd.GeoDataFrame:
    """Crowd zones (a valid-looking ``crowd_zones`` layer, EPSG:4326) tiling the bounds.

    Voronoi cells of random seeds; people = area x a log-normal density around ``density_km2``.
    """
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds_m
    seeds = np.column_stack([rng.uniform(xmin, xmax, n_zones), rng.uniform(ymin, ymax, n_zones)])
    box = shapely.box(*bounds_m)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    vor = shapely.intersection(vor, box)
    people = np.round(rng.lognormal(0.0, sigma, len(vor)) * shapely.area(vor) / 1e6 * density_km2)
    return gpd.GeoDataFrame(
        {
            "id": [f"z{k}" for k in range(len(vor))],
            "people": people,
            "observed_at": pd.Timestamp("2021-10-31T19:00:00+08:00"),
        },
        geometry=vor,
        crs=UTM51N,
    ).to_crs(4326)


def sites_near_people(
    cells: gpd.GeoDataFrame, n: int, *, seed: int = 7, jitter_m: float = 30.0
) -> gpd.GeoDataFrame:
    """``n`` testing sites placed where people are (cells drawn in proportion to people)."""
    rng = np.random.default_rng(seed)
    pts = cells.to_crs(UTM51N).geometry.representative_point().to_numpy()
    w = cells["people"].to_numpy(dtype=float)
    pick = rng.choice(len(cells), n, replace=n > len(cells), p=w / w.sum())
    xy = shapely.get_coordinates(pts[pick]) + rng.normal(0.0, jitter_m, (n, 2))
    lon, lat = _to_wgs84(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(
        {
            "id": np.char.add("s", np.arange(n).astype(str)).astype(object),
            "name": [f"Site {k}" for k in range(n)],
            "lanes": pd.array(rng.integers(2, 9, n), dtype="Int64"),
            "per_lane_per_h": rng.uniform(100, 200, n).round(),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def crowd_cells(
    bounds_m: tuple[float, float, float, float],
    n_cells: int,
    *,
    hotspots: int = 12,
    seed: int = 5,
) -> gpd.GeoDataFrame:
    """About ``n_cells`` square crowd cells (a ``crowd_zones`` layer) covering the bounds.

    People per cell follow a few Gaussian hotspots over a log-normal background, like a
    telecom count grid (``source = telecom``).

    Examples
    --------
    >>> cells = crowd_cells((0.0, 0.0, 10_000.0, 10_000.0), 100)
    >>> len(cells), bool((cells["people"] >= 0).all())
    (100, True)
    """
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds_m
    w, h = xmax - xmin, ymax - ymin
    size = float(np.sqrt(w * h / max(n_cells, 1)))
    nx_, ny_ = max(1, round(w / size)), max(1, round(h / size))
    sx, sy = w / nx_, h / ny_
    ix, iy = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
    x0 = xmin + ix.ravel() * sx
    y0 = ymin + iy.ravel() * sy
    cx, cy = x0 + sx / 2, y0 + sy / 2
    density = 800.0 * rng.lognormal(0.0, 0.5, x0.size)  # people per km² in the background
    for _ in range(hotspots):
        hx, hy = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        r = rng.uniform(0.02, 0.08) * max(w, h)
        peak = rng.uniform(8_000, 40_000)
        density += peak * np.exp(-((cx - hx) ** 2 + (cy - hy) ** 2) / (2 * r * r))
    people = np.round(density * sx * sy / 1e6)
    geoms = shapely.box(x0, y0, x0 + sx, y0 + sy)
    return gpd.GeoDataFrame(
        {
            "id": np.char.add("c", np.arange(x0.size).astype(str)).astype(object),
            "people": people,
            "observed_at": pd.Timestamp("2021-10-31T19:30:00+08:00").tz_convert(TZ),
            "source": "telecom",
        },
        geometry=geoms,
        crs=UTM51N,
    ).to_crs(4326)


INCIDENT_KINDS = ("crowd", "traffic", "fire", "medical", "outbreak_trace")


def incidents(
    n: int, bounds_m: tuple[float, float, float, float], *, severe: int = 3, seed: int = 11
) -> gpd.GeoDataFrame:
    """``n`` incidents (points) in the bounds; ``severe`` of them open with severity 5 (the
    standing cordon's), the others severity 1 to 3 and partly contained or closed."""
    rng = np.random.default_rng(seed)
    pts = random_points(n, bounds_m, seed=seed, prefix="i")
    sev = rng.integers(1, 4, n)
    sev[: min(severe, n)] = 5
    status = rng.choice(["open", "contained", "closed"], n, p=[0.6, 0.25, 0.15]).astype(object)
    status[: min(severe, n)] = "open"
    minutes = rng.uniform(0, 180, n)
    reported = pd.Timestamp(NOW) - pd.to_timedelta(minutes, unit="min")
    kind = rng.choice(INCIDENT_KINDS, n).astype(object)
    kind[: min(severe, n)] = "outbreak_trace"
    pts["kind"] = kind
    pts["severity"] = pd.array(sev, dtype="Int64")
    pts["reported_at"] = pd.Series(reported.tz_convert(TZ), index=pts.index)
    pts["name"] = [f"Incident {k} (synthetic)" for k in range(n)]
    pts["status"] = status
    return pts


def facilities(
    bounds_m: tuple[float, float, float, float], n_hospitals: int, n_staging: int, *, seed: int = 13
) -> gpd.GeoDataFrame:
    """Hospitals and staging candidates (a ``facilities`` layer) at random places."""
    rng = np.random.default_rng(seed)
    pts = random_points(n_hospitals + n_staging, bounds_m, seed=seed, prefix="f")
    kind = np.array(["hospital"] * n_hospitals + ["staging_candidate"] * n_staging, dtype=object)
    pts["kind"] = kind
    pts["name"] = [
        f"Hospital {k}" if k < n_hospitals else f"Staging candidate {k - n_hospitals}"
        for k in range(len(pts))
    ]
    pts["capacity"] = pd.array(
        np.where(kind == "hospital", rng.integers(200, 1500, len(pts)), 0), dtype="Int64"
    )
    return pts


def city(
    roads: int = 100_000,
    sites: int = 2_000,
    cells: int = 20_000,
    incidents_n: int = 200,
    *,
    seed: int = 0,
) -> scen.Scenario:
    """A whole synthetic city scenario: roads, testing sites near people, crowd cells,
    incidents, hospitals and staging candidates, and the city's boundary.

    Examples
    --------
    >>> sc = city(roads=2_000, sites=20, cells=100, incidents_n=10)
    >>> sc.name.startswith("SYNTHETIC")
    True
    >>> len(sc.layer("testing_sites")), len(sc.layer("crowd_zones"))
    (20, 100)
    """
    from geo import layers

    # The grid drops arterial rows and 6 % of blocks: ask for a little more to get ``roads``.
    r = synthetic_city(round(roads / 0.902), seed=seed)
    bounds = city_bounds_m(r)
    cz = crowd_cells(bounds, cells, seed=seed + 5)
    ts = sites_near_people(cz, sites, seed=seed + 7)
    ts["opens_at"] = pd.Series(pd.Timestamp("2021-10-31T18:30:00+08:00"), index=ts.index)
    ts["closes_at"] = pd.Series(pd.Timestamp("2021-11-01T06:00:00+08:00"), index=ts.index)
    ts["kind"] = "fixed"
    inc = incidents(incidents_n, bounds, seed=seed + 11)
    n_hosp = max(3, sites // 200)
    fac = facilities(bounds, n_hosp, max(10, sites // 20), seed=seed + 13)
    # The box around everything in lon/lat (the metric box is slightly rotated in lon/lat).
    lo = np.min([g.total_bounds[:2] for g in (r, cz, ts, inc, fac)], axis=0)
    hi = np.max([g.total_bounds[2:] for g in (r, cz, ts, inc, fac)], axis=0)
    boundary = gpd.GeoDataFrame(
        {"id": ["city"], "name": [f"{LABEL} city limits"]},
        geometry=[shapely.box(*lo, *hi)],
        crs="EPSG:4326",
    )
    km = (bounds[2] - bounds[0]) / 1000.0
    raw = {
        "roads": r,
        "crowd_zones": cz,
        "testing_sites": ts,
        "incidents": inc,
        "facilities": fac,
        "boundary": boundary,
    }
    found = {
        kind: layers.validate(gdf, kind, source=f"synthetic {kind}")[0] for kind, gdf in raw.items()
    }
    settings = scen.Settings(
        name=f"{LABEL} city: {len(r):,} roads, {sites:,} sites",
        description=(
            f"Made up by `cityops demo city` (seed {seed}): a {km:.0f} km square grid city near "
            f"Shanghai with {len(r):,} road segments, {sites:,} testing sites, {len(cz):,} crowd "
            f"cells and {incidents_n:,} incidents. Nothing in it is real; it exists to try the "
            "map and the analyses at city scale."
        ),
        timezone=TZ,
        now=NOW,
        deadline="2021-11-01T06:00:00+08:00",
        extra={"synthetic": True, "seed": seed},
    )
    return scen.Scenario(found, settings, source=None)


README = """# {name}

**This scenario is synthetic: every feature in it is made up.** It was written by

    cityops demo city --out {out} --roads {roads} --sites {sites} --cells {cells} \\
        --incidents {incidents} --seed {seed}

to try CityOps at the size of a city. Open it with `make run SCENARIO={out}`.

- roads: {n_roads:,}, a jittered 100 m grid: `trunk`/`primary` arterials every 1 km,
  `residential` and `service` blocks between (6 % removed, 12 % one-way);
- crowd_zones: {n_cells:,} square cells, people from a few Gaussian hotspots over a log-normal
  background (`source = telecom`);
- testing_sites: {n_sites:,}, placed where people are, 2 to 8 lanes;
- incidents: {n_inc:,} at random places; 3 open outbreak traces of severity 5 (the standing
  cordon);
- facilities: {n_fac:,} hospitals and staging candidates at random places;
- boundary: the city's bounding box.

The city sits near Shanghai (UTM zone 51N) only so that its metric CRS is the demo's.
"""


def write_city(
    out: str | Path,
    roads: int = 100_000,
    sites: int = 2_000,
    cells: int = 20_000,
    incidents_n: int = 200,
    *,
    seed: int = 0,
) -> Path:
    """Write :func:`city` as a scenario folder with a README saying it is synthetic.

    Large layers are written as GeoPackage (fast to read back), small ones as GeoJSON.

    Examples
    --------
    >>> import tempfile
    >>> d = write_city(tempfile.mkdtemp(), roads=2_000, sites=20, cells=100, incidents_n=10)
    >>> (d / "README.md").read_text().count("synthetic") > 0
    True
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sc = city(roads, sites, cells, incidents_n, seed=seed)
    (out / scen.SETTINGS_FILE).write_text(
        json.dumps(sc.settings.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for kind, gdf in sc.layers.items():
        if not len(gdf):
            continue
        for stale in out.glob(f"{kind}.*"):
            stale.unlink()
        if len(gdf) > 5_000:
            gdf.to_file(out / f"{kind}.gpkg", layer=kind, driver="GPKG", engine="pyogrio")
        else:
            io.write_geojson(gdf, out / f"{kind}.geojson")
    n = {k: len(v) for k, v in sc.layers.items()}
    (out / "README.md").write_text(
        README.format(
            name=sc.name,
            out=out,
            roads=roads,
            sites=sites,
            cells=cells,
            incidents=incidents_n,
            seed=seed,
            n_roads=n["roads"],
            n_cells=n["crowd_zones"],
            n_sites=n["testing_sites"],
            n_inc=n["incidents"],
            n_fac=n["facilities"],
        ),
        encoding="utf-8",
    )
    return out
