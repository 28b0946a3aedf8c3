"""Generate the embedded demo scenario: Shanghai Disney Resort, evening of 31 October 2021.

Run from the repository root::

    .venv/bin/python data/make_demo.py            # writes data/disney_2021/
    .venv/bin/python data/make_demo.py --out DIR  # writes DIR/

The output is deterministic (fixed seeds, no network): the same environment always writes the
same bytes, so the committed folder can be checked against a fresh run (tests/test_demo_data.py).

What is fact and what is made up is listed, with sources, in data/README.md. In short: the park
centre and area, the metro station, the 18:05 notice, the ~34,000 people tested and the hospital's
drive time are facts; every shape, road, split of counts, site and candidate around them is
invented to be plausible.

Everything is laid out in metres east/north of the park centre in UTM zone 51N (EPSG:32651, what
``geo.crs.local_crs`` picks for Shanghai) and converted to lon/lat once, when written.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

SEED = 20211031
PARK_CENTRE = (121.6570, 31.1440)  # lon, lat (Wikipedia, via FACTS.md)
PARK_AREA_M2 = 3.9e6  # Wikipedia, via FACTS.md
STATION = (121.663737, 31.143429)  # Disney Resort station, Metro Line 11 (Wikipedia)
LOCAL_EPSG = 32651  # UTM 51N; geo.crs.local_crs gives the same for Shanghai
NOW = "2021-10-31T18:05:00+08:00"  # the resort's notice (Shine, Sixth Tone, AP)
DEFAULT_OUT = Path(__file__).resolve().parent / "disney_2021"

_FWD = Transformer.from_crs(4326, LOCAL_EPSG, always_xy=True)
_INV = Transformer.from_crs(LOCAL_EPSG, 4326, always_xy=True)
_OX, _OY = _FWD.transform(*PARK_CENTRE)

XY = tuple[float, float]
Feature = tuple[dict, BaseGeometry]


# --- frame and small geometry helpers -----------------------------------------------------------


def local_xy(lon: float, lat: float) -> XY:
    """Metres east/north of the park centre for a WGS-84 lon/lat."""
    x, y = _FWD.transform(lon, lat)
    return (float(x - _OX), float(y - _OY))


def to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """Local metres -> WGS-84 lon/lat rounded to 7 decimals (~1 cm), polygons counter-clockwise."""

    def _inv(c: np.ndarray) -> np.ndarray:
        lon, lat = _INV.transform(c[:, 0] + _OX, c[:, 1] + _OY)
        return np.round(np.column_stack([lon, lat]), 7)

    out = shapely.transform(geom, _inv)
    if out.geom_type in ("Polygon", "MultiPolygon"):
        out = shapely.orient_polygons(out, exterior_cw=False)
    if not out.is_valid:
        raise ValueError(f"geometry became invalid when written: {shapely.is_valid_reason(out)}")
    return out


def t(hhmm: str, day: int = 31) -> str:
    """ISO 8601 time on 31 Oct (or 1 Nov with ``day=1``) 2021 in Shanghai time."""
    month = 10 if day == 31 else 11
    return f"2021-{month:02d}-{day:02d}T{hhmm}:00+08:00"


def wobble(
    points: Sequence[XY], rng: np.random.Generator, amp: float, step: float = 450.0
) -> list[XY]:
    """Densify a polyline every ~``step`` m and shift the new vertices sideways by up to ``amp`` m.

    Keeps the given vertices fixed so that lines meant to meet still meet.
    """
    out: list[XY] = [tuple(map(float, points[0]))]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        n = max(1, int(length // step))
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length
        for k in range(1, n):
            f = k / n
            d = float(rng.uniform(-amp, amp))
            out.append((x0 + f * (x1 - x0) + d * nx, y0 + f * (y1 - y0) + d * ny))
        out.append((float(x1), float(y1)))
    return out


def circle(cx: float, cy: float, r: float, n: int = 16) -> list[XY]:
    """A closed ring of ``n`` vertices, counter-clockwise, starting due east."""
    pts = [
        (cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n))
        for k in range(n)
    ]
    return [*pts, pts[0]]


def point_at(line: Sequence[XY], *, x: float | None = None, y: float | None = None) -> XY:
    """Where a polyline crosses the vertical ``x`` or the horizontal ``y`` (first crossing)."""
    cut = LineString([(x, -1e6), (x, 1e6)]) if x is not None else LineString([(-1e6, y), (1e6, y)])
    hit = LineString(line).intersection(cut)
    pts = [hit] if hit.geom_type == "Point" else list(getattr(hit, "geoms", []))
    if not pts:
        raise ValueError(f"line does not reach x={x} y={y}")
    return (pts[0].x, pts[0].y)


def insert_vertex(coords: list[XY], p: XY) -> list[XY]:
    """``coords`` with ``p`` (a point on the line) inserted as a vertex in the right segment."""
    line = LineString(coords)
    d = line.project(Point(p))
    acc = 0.0
    for i in range(len(coords) - 1):
        seg = math.dist(coords[i], coords[i + 1])
        if acc + seg >= d - 1e-9:
            return [*coords[: i + 1], p, *coords[i + 1 :]]
        acc += seg
    return [*coords, p]


# --- the plan: shared shapes every layer is derived from ----------------------------------------


@dataclass(frozen=True)
class Road:
    """One road line before noding. ``grade=1`` roads (elevated, expressway) meet others only
    where a ramp starts exactly on one of their vertices."""

    key: str
    coords: tuple[XY, ...]
    road_class: str
    name: str | None = None
    oneway: bool = False
    speed_kmh: float | None = None
    lanes: int | None = None
    grade: int = 0


def study_area() -> Polygon:
    """12 km x 10 km around the resort, corners cut; made up, not an administrative boundary."""
    x0, x1, y0, y1, c = -5500.0, 6500.0, -4000.0, 6000.0, 600.0
    return Polygon(
        [(x0 + c, y0), (x1 - c, y0), (x1, y0 + c), (x1, y1 - c), (x1 - c, y1), (x0 + c, y1),
         (x0, y1 - c), (x0, y0 + c)]
    )  # fmt: skip


GATE: XY = (480.0, -60.0)  # park main gate, ~160 m west of the station (made-up outline)


def park_outline() -> Polygon:
    """The park's outline: a made-up shape scaled about the main gate to exactly 3.9 km².

    The east side is pinned at the gate so that the station (a fact) stays just outside it.
    """
    base = Polygon(
        [GATE, (475, 500), (450, 1050), (360, 1400), (50, 1500), (-400, 1400), (-780, 1100),
         (-1000, 650), (-1060, 150), (-1020, -400), (-860, -900), (-520, -1300), (-100, -1480),
         (330, -1420), (465, -850)]
    )  # fmt: skip
    s = math.sqrt(PARK_AREA_M2 / base.area)
    return affinity.scale(base, s, s, origin=GATE)


#: The venue the outbreak trace closed (fact): everyone inside it was held and tested.
RESORT = "Shanghai Disney Resort"

# Made-up land layout: seed points of a Voronoi split of the park (name, seed, people, capacity).
LANDS = [
    ("park-mickey-avenue", "Mickey Avenue & Gardens of Imagination", (150, -40), 7212, 18000),
    ("park-tomorrowland", "Tomorrowland", (150, 760), 4318, 12000),
    ("park-fantasyland", "Fantasyland", (-420, 660), 4655, 13000),
    ("park-treasure-cove", "Treasure Cove", (-760, -40), 2689, 9000),
    ("park-adventure-isle", "Adventure Isle", (-460, -760), 3041, 11000),
    ("park-toy-story-land", "Toy Story Land", (140, -880), 2773, 8000),
]


def park_lands(park: Polygon) -> list[tuple[str, Polygon]]:
    """The park split into its lands (Voronoi cells of the seeds, clipped to the outline)."""
    seeds = shapely.MultiPoint([s for _, _, s, _, _ in LANDS])
    cells = shapely.voronoi_polygons(seeds, extend_to=park.buffer(2000))
    out = []
    for key, _, seed, _, _ in LANDS:
        cell = next(c for c in cells.geoms if c.contains(Point(seed)))
        out.append((key, cell.intersection(park)))
    return out


def station_xy() -> XY:
    """The metro station in local metres (fact)."""
    return local_xy(*STATION)


def lake_shape() -> Polygon:
    """Wishing Star Lake, south of the station (position from FACTS; shape made up)."""
    return Polygon(
        [(640, -300), (900, -270), (1200, -330), (1460, -470), (1500, -700), (1380, -930),
         (1100, -1010), (820, -960), (650, -800), (600, -560)]
    )  # fmt: skip


# Resort places outside the park (made-up footprints).
DISNEYTOWN = box(800, -170, 1350, 260)
HUB = box(540, -230, 790, 330)  # station, gate plaza and bus terminal
HOTEL_SDH = box(560, -1480, 900, -1100)
HOTEL_TOY = box(1280, -1560, 1720, -1160)
CAR_PARK_P1 = box(700, 650, 1500, 1150)
CAR_PARK_P2 = box(-1750, 50, -1350, 450)
WEST_HUB = box(-1750, -450, -1350, 0)

# Arterial positions (made up): N-S at x, E-W at y.
NS = {
    "kangxin": -4300.0, "west-t": -5000.0, "shendi-w": -1950.0, "north-t-w": -1000.0,
    "north-ave": 0.0, "north-t-e": 1000.0, "shendi-e": 2100.0, "east-t": 3200.0,
    "chuansha": 4200.0, "chuanhuan-e": 5900.0,
}  # fmt: skip
EW = {
    "south-t": -3800.0, "s1": -3300.0, "shendi-s": -2000.0, "mid-s-t": -1000.0, "mid-n-t": 400.0,
    "shendi-n": 1750.0, "huaxia": 3000.0, "north-t": 4200.0, "chuanhuan-n": 5100.0,
}  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """A neighbourhood street grid (made up): nodes on a jittered lattice."""

    key: str
    name: str
    x0: float
    x1: float
    y0: float
    y1: float
    step: float
    road_class: str = "residential"


GRIDS = [
    Grid("chuansha", "Chuansha town", 2700, 6300, 2200, 5700, 230),
    Grid("west", "West residential area", -5400, -3850, 1900, 4900, 250),
    Grid("northtown", "North new town", -1500, 1700, 3300, 5700, 300),
    Grid("village-sw", "South-west villages", -4700, -3000, -2700, -1300, 340, "unclassified"),
    Grid("village-se", "South-east villages", 2600, 4000, -2800, -1150, 330, "unclassified"),
    Grid("village-e", "East villages", 4700, 6300, -600, 1400, 320, "unclassified"),
    Grid("village-s", "South villages", -800, 1800, -3680, -3420, 260, "unclassified"),
]


def grid_nodes(g: Grid, rng: np.random.Generator) -> np.ndarray:
    """Jittered node positions (rows x columns x 2); rows and columns keep clear of arterials."""
    xs = [x for x in np.arange(g.x0, g.x1 + 1, g.step) if min(abs(x - a) for a in NS.values()) > 90]
    ys = [y for y in np.arange(g.y0, g.y1 + 1, g.step) if min(abs(y - a) for a in EW.values()) > 90]
    jitter = rng.uniform(-0.09, 0.09, size=(len(ys), len(xs), 2)) * g.step
    nodes = np.empty((len(ys), len(xs), 2))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            nodes[i, j] = (x + jitter[i, j, 0], y + jitter[i, j, 1])
    return nodes


# --- roads --------------------------------------------------------------------------------------


def arterial_roads(rng: np.random.Generator) -> list[Road]:
    """Primary/secondary/tertiary skeleton across the area (positions made up; names are labels)."""
    lo_x, hi_x, lo_y, hi_y = -5800.0, 6800.0, -4300.0, 6300.0
    spec_ns = [
        ("kangxin", "primary", "Kangxin Highway", 60, 4, lo_y, hi_y),
        ("west-t", "tertiary", None, None, None, lo_y, hi_y),
        ("shendi-w", "secondary", "Shendi West Road", 50, 4, lo_y, hi_y),
        ("north-t-w", "tertiary", None, None, None, EW["shendi-n"], hi_y),
        ("north-ave", "secondary", "Resort North Avenue", None, 4, EW["shendi-n"], hi_y),
        ("north-t-e", "tertiary", None, None, None, EW["shendi-n"], hi_y),
        ("south-t-c", "tertiary", None, None, None, lo_y, EW["shendi-s"]),
        ("shendi-e", "secondary", "Shendi East Road", 50, 4, lo_y, hi_y),
        ("east-t", "tertiary", None, None, None, lo_y, hi_y),
        ("chuansha", "primary", "Chuansha Road", 50, 4, lo_y, hi_y),
        ("chuanhuan-e", "secondary", "Chuanhuan East Road", None, 4, lo_y, hi_y),
    ]
    spec_ew = [
        ("south-t", "tertiary", None, None, None, lo_x, hi_x),
        ("shendi-s", "secondary", "Shendi South Road", 50, 4, lo_x, hi_x),
        ("mid-s-t-w", "tertiary", None, None, None, lo_x, NS["shendi-w"]),
        ("mid-s-t-e", "tertiary", None, None, None, NS["shendi-e"], hi_x),
        ("mid-n-t-w", "tertiary", None, None, None, lo_x, NS["shendi-w"]),
        ("mid-n-t-e", "tertiary", None, None, None, NS["shendi-e"], hi_x),
        ("shendi-n", "secondary", "Shendi North Road", 50, 4, lo_x, hi_x),
        ("huaxia", "primary", "Huaxia East Road", 60, 6, lo_x, hi_x),
        ("north-t", "tertiary", None, None, None, lo_x, hi_x),
        ("chuanhuan-n", "secondary", "Chuanhuan North Road", None, 4, lo_x, hi_x),
    ]
    roads = []
    for key, cls, name, speed, lanes, a, b in spec_ns:
        x = NS.get(key, 0.0)
        pts = wobble([(x, a), (x, b)], rng, amp=12.0)
        roads.append(Road(key, tuple(pts), cls, name, speed_kmh=speed, lanes=lanes))
    for key, cls, name, speed, lanes, a, b in spec_ew:
        y = EW[key.removesuffix("-w").removesuffix("-e")]
        pts = wobble([(a, y), (b, y)], rng, amp=12.0)
        roads.append(Road(key, tuple(pts), cls, name, speed_kmh=speed, lanes=lanes))
    return roads


def expressways(arterials: list[Road]) -> list[Road]:
    """Shenjiang Road elevated (trunk, fact: links the Middle Ring Road to the resort's west side)
    and the Yingbin Expressway (S1, made-up position), with their ramps."""
    by_key = {r.key: r for r in arterials}
    roads: list[Road] = []
    elevated_ramp = {"road_class": "trunk_link", "name": "Shenjiang Road Elevated ramp", "lanes": 1}
    s1_ramp = {"road_class": "motorway_link", "name": "Yingbin Expressway ramp", "oneway": True,
               "lanes": 1}  # fmt: skip

    # Elevated from the north-west edge down to the west transport hub; ramps at two crossings.
    elev = [(-3700.0, 6300.0), (-3500.0, 4000.0), (-3100.0, 2000.0), (-2700.0, 600.0),
            (-2300.0, -230.0)]  # fmt: skip
    for key in ("huaxia", "shendi-n"):
        y0 = EW[key]
        x_el = point_at(elev, y=y0)[0]
        top, bottom = point_at(elev, y=y0 + 300), point_at(elev, y=y0 - 300)
        elev = insert_vertex(insert_vertex(elev, top), bottom)
        east = point_at(by_key[key].coords, x=x_el + 220)
        west = point_at(by_key[key].coords, x=x_el - 220)
        for tag, pts in {"n": (top, (x_el + 140, y0 + 110), east),
                         "s": (bottom, (x_el - 140, y0 - 110), west)}.items():  # fmt: skip
            roads.append(Road(f"elevated-ramp-{key}-{tag}", pts, **elevated_ramp, speed_kmh=40))
    roads.append(Road("shenjiang-elevated", tuple(elev), "trunk", "Shenjiang Road Elevated",
                      speed_kmh=80, lanes=6, grade=1))  # fmt: skip
    # It comes down at the resort's west side and runs at grade into the west hub.
    at_grade = (elev[-1], (-2050.0, -230.0), (-1760.0, -230.0))
    roads.append(Road("shenjiang-at-grade", at_grade, "trunk", "Shenjiang Road", speed_kmh=40,
                      lanes=4))  # fmt: skip

    # S1 with two diamond interchanges of one-way ramps (line direction = driving direction).
    ys = EW["s1"]
    s1 = [(-5800.0, ys), (0.0, ys - 20.0), (6800.0, ys + 30.0)]
    for key in ("shendi-w", "chuansha"):
        road = by_key[key].coords
        xi = NS[key]
        m_w, m_e = point_at(s1, x=xi - 400), point_at(s1, x=xi + 400)
        s1 = insert_vertex(insert_vertex(s1, m_w), m_e)
        s_s1, s_s2 = point_at(road, y=ys - 150), point_at(road, y=ys - 210)
        n_s1, n_s2 = point_at(road, y=ys + 150), point_at(road, y=ys + 210)
        ramps = {
            "eb-off": (m_w, (xi - 150, ys - 110), s_s1),
            "eb-on": (s_s2, (xi + 150, ys - 120), m_e),
            "wb-off": (m_e, (xi + 150, ys + 110), n_s1),
            "wb-on": (n_s2, (xi - 150, ys + 120), m_w),
        }
        for tag, pts in ramps.items():
            roads.append(Road(f"s1-{key}-{tag}", pts, **s1_ramp, speed_kmh=40))
    roads.append(Road("s1", tuple(s1), "motorway", "Yingbin Expressway (S1)", speed_kmh=100,
                      lanes=6, grade=1))  # fmt: skip
    return roads


def resort_roads() -> list[Road]:
    """Service roads and footways of the resort (all made up), joined to the ring roads."""
    sx, sy = station_xy()
    gy = GATE[1]
    r: list[Road] = []

    def add(key: str, pts: Iterable[XY], cls: str, name: str | None = None, **kw: object) -> None:
        r.append(Road(key, tuple((float(x), float(y)) for x, y in pts), cls, name, **kw))

    # Park footways: castle forecourt hub, a ring walk, spokes to each land, a loop in each land.
    hub = (0.0, 0.0)
    add("park-mickey-avenue", [hub, (200, -30), GATE], "footway", "Mickey Avenue")
    add("park-ring-walk", circle(0, 0, 330, 20), "footway", "Gardens of Imagination ring walk")
    for key, name, seed, _, _ in LANDS[1:]:
        land = key.removeprefix("park-")
        ang = math.atan2(seed[1], seed[0])
        loop_r = 110.0
        near = (seed[0] - loop_r * math.cos(ang), seed[1] - loop_r * math.sin(ang))
        add(f"park-spoke-{land}", [hub, near], "footway", f"{name} path")
        add(f"park-loop-{land}", circle(seed[0], seed[1], loop_r, 12), "footway", f"{name} loop")
    promenade = list(lake_shape().buffer(40, quad_segs=2).exterior.coords)
    prom = LineString(promenade)

    def on_prom(x: float, y: float) -> XY:
        q = prom.interpolate(prom.project(Point(x, y)))
        return (q.x, q.y)

    sdh_door, toy_door = (687.6, -1397.6), (1500.0, -1440.0)  # on the hotels' drives
    add("park-south-exit", [(140, -990), (330, -1230), sdh_door], "footway", "Hotel walkway")
    seeds = {key.removeprefix("park-"): seed for key, _, seed, _, _ in LANDS}

    def rim(a: str, b: str) -> XY:
        """The point of land ``a``'s loop facing land ``b``."""
        (ax, ay), (bx, by) = seeds[a], seeds[b]
        ang = math.atan2(by - ay, bx - ax)
        return (ax + 110 * math.cos(ang), ay + 110 * math.sin(ang))

    for a, b in [
        ("treasure-cove", "fantasyland"),
        ("fantasyland", "tomorrowland"),
        ("treasure-cove", "adventure-isle"),
        ("adventure-isle", "toy-story-land"),
    ]:
        add(f"park-link-{a}-{b}", [rim(a, b), rim(b, a)], "footway")
    # Gate plaza, station, Disneytown, lake promenade, hotels, car park walk.
    add("gate-plaza", [GATE, (560, gy - 2), (sx, sy)], "footway", "Gate plaza")
    add("station-north", [(sx, sy), (sx + 8, 100)], "footway", "Station plaza")
    add("station-east", [(sx, sy), (800, -20)], "footway", "Station plaza")
    add("station-south", [(sx, sy), on_prom(665, -250)], "footway", "Station plaza")
    add(
        "disneytown-promenade",
        [(800, -20), (1050, 10), (1345, 30)],
        "footway",
        "Disneytown promenade",
    )
    add(
        "disneytown-cross",
        [(1050, 250), (1050, 10), on_prom(1040, -230)],
        "footway",
        "Disneytown promenade",
    )
    add("lake-promenade", promenade, "footway", "Wishing Star Lake promenade")
    add("lake-to-sdh", [on_prom(760, -1100), (745, -1250), sdh_door], "footway", "Hotel walkway")
    add("lake-to-toy", [on_prom(1420, -1100), (1470, -1300), toy_door], "footway", "Hotel walkway")
    add(
        "car-park-walk",
        [(sx + 8, 100), (sx + 20, 300), (720, 460), (860, 700)],
        "footway",
        "Car park walkway",
    )
    # Resort roads.
    add(
        "resort-avenue",
        [(1000, EW["shendi-n"]), (1000, 1200), (900, 650), (780, 330)],
        "tertiary",
        "Resort Avenue",
        speed_kmh=30,
        lanes=4,
    )
    add(
        "bus-loop",
        [(580, 100), (780, 100), (780, 330), (580, 330), (580, 100)],
        "service",
        "Bus terminal loop",
        oneway=True,
        speed_kmh=15,
    )
    for k, y in enumerate((700.0, 900.0, 1100.0)):
        xs = (720.0, 1480.0) if k != 2 else (1480.0, 720.0)
        add(
            f"p1-aisle-{k}",
            [(xs[0], y), (xs[1], y)],
            "service",
            "Car park P1",
            oneway=k != 1,
            speed_kmh=10,
        )
    add("p1-west", [(720, 680), (720, 1120)], "service", "Car park P1", speed_kmh=10)
    add("p1-east", [(1480, 680), (1480, 1120)], "service", "Car park P1", speed_kmh=10)
    add(
        "hotel-road-sdh",
        [(720, EW["shendi-s"]), (720, -1700), (730, -1500)],
        "tertiary",
        "Hotel Road",
        speed_kmh=30,
    )
    add("hotel-loop-sdh", circle(730, -1440, 60, 8), "service", "Shanghai Disneyland Hotel drive")
    add(
        "hotel-road-toy",
        [(1500, EW["shendi-s"]), (1500, -1580)],
        "tertiary",
        "Hotel Road",
        speed_kmh=30,
    )
    add("hotel-loop-toy", circle(1500, -1500, 60, 8), "service", "Toy Story Hotel drive")
    add("hotel-link", [(770, -1480), (1100, -1560), (1440, -1520)], "service")
    add(
        "backstage-road",
        [
            (-600, EW["shendi-n"]),
            (-1000, 1480),
            (-1330, 950),
            (-1300, 520),
            (-1290, -500),
            (-1150, -1050),
            (-800, -1480),
            (-300, -1690),
            (400, -1720),
            (720, -1720),
        ],
        "service",
        "Backstage service road",
        speed_kmh=20,
    )
    add(
        "west-hub-loop",
        [(-1740, -430), (-1360, -430), (-1360, -20), (-1740, -20), (-1740, -430)],
        "service",
        "West transport hub",
        speed_kmh=15,
    )
    add("west-hub-link", [(-1360, -230), (-1290, -230)], "service", "West transport hub")
    add("p2-aisle-s", [(-1740, 70), (-1360, 70)], "service", "Car park P2", speed_kmh=10)
    add("p2-aisle-n", [(-1740, 430), (-1360, 430)], "service", "Car park P2", speed_kmh=10)
    add("p2-west", [(-1740, 70), (-1740, 430)], "service", "Car park P2", speed_kmh=10)
    add("p2-link", [(-1550, -20), (-1550, 70)], "service", "Car park P2", speed_kmh=10)
    add(
        "p2-east", [(-1360, 70), (-1360, 430), (-1295, 430)], "service", "Car park P2", speed_kmh=10
    )
    return r


def grid_roads(
    rng: np.random.Generator, arterials: list[Road]
) -> tuple[list[Road], dict[str, np.ndarray]]:
    """Neighbourhood street grids (made up), with edge streets extended to the nearest arterial."""
    targets = shapely.union_all([LineString(a.coords) for a in arterials])
    roads: list[Road] = []
    nodes_by_grid: dict[str, np.ndarray] = {}
    for g in GRIDS:
        nodes = grid_nodes(g, rng)
        nodes_by_grid[g.key] = nodes
        ny, nx = nodes.shape[:2]
        drop = rng.random((ny, nx, 2)) < 0.07  # missing blocks make cul-de-sacs
        for i in range(ny):
            for j in range(nx):
                p = tuple(map(float, nodes[i, j]))
                if j + 1 < nx and not drop[i, j, 0]:
                    q = tuple(map(float, nodes[i, j + 1]))
                    # a one-way pair of streets in Chuansha's centre
                    oneway = g.key == "chuansha" and i in (9, 10) and 4 <= j <= 9
                    a, b = (q, p) if oneway and i == 10 else (p, q)
                    roads.append(
                        Road(f"{g.key}-h{i:02d}-{j:02d}", (a, b), g.road_class, oneway=oneway)
                    )
                if i + 1 < ny and not drop[i, j, 1]:
                    q = tuple(map(float, nodes[i + 1, j]))
                    roads.append(Road(f"{g.key}-v{i:02d}-{j:02d}", (p, q), g.road_class))
        # Reach out from the grid's edge nodes to the next arterial (<= one and a half blocks).
        edges = [(i, 0, (-1, 0)) for i in range(ny)] + [(i, nx - 1, (1, 0)) for i in range(ny)]
        edges += [(0, j, (0, -1)) for j in range(nx)] + [(ny - 1, j, (0, 1)) for j in range(nx)]
        for i, j, (dx, dy) in edges:
            p = tuple(map(float, nodes[i, j]))
            ray = LineString([p, (p[0] + dx * 1.5 * g.step, p[1] + dy * 1.5 * g.step)])
            hit = ray.intersection(targets)
            if hit.is_empty:
                continue
            pts = (
                [hit]
                if hit.geom_type == "Point"
                else [h for h in hit.geoms if h.geom_type == "Point"]
            )
            if not pts:
                continue
            q = min(pts, key=lambda h: h.distance(Point(p)))
            if q.distance(Point(p)) > 5:
                side = {(-1, 0): "w", (1, 0): "e", (0, -1): "s", (0, 1): "n"}[(dx, dy)]
                key = f"{g.key}-x{i:02d}-{j:02d}{side}"
                roads.append(Road(key, (p, (q.x, q.y)), g.road_class))
    return roads, nodes_by_grid


def farm_tracks() -> list[Road]:
    """A few unclassified lanes through the fields between the neighbourhoods (made up)."""
    spec = [
        [(-5000, -500), (-4300, -400)],
        [(-4300, -400), (-3500, -550), (-1950, -600)],
        [(-5000, 1100), (-4300, 1150), (-3000, 1050)],
        [(-3000, 1050), (-1950, 1100)],
        [(2100, -600), (3200, -500)],
        [(3200, -500), (4200, -450)],
        [(2100, 1100), (3200, 1200), (4200, 1150)],
        [(4200, 1900), (5900, 1950)],
        [(-1000, 2400), (0, 2450), (1000, 2400)],
        [(1000, 2400), (2100, 2350)],
        [(-4300, 5600), (-5000, 5600)],
        [(-1950, 2600), (-1000, 2600)],
        [(5900, -2400), (6500, -2300)],
        [(-1000, -2000), (-900, -2700), (-1000, -3300)],
        [(1000, -2000), (1100, -2600), (1000, -3100)],
        [(2100, -3000), (3200, -3000)],
        [(-3000, -3800), (-3000, -3300)],
        [(4900, -3800), (5200, -3000), (5900, -2900)],
    ]
    return [
        Road(f"track-{k:02d}", tuple((float(x), float(y)) for x, y in pts), "unclassified")
        for k, pts in enumerate(spec)
    ]


def clip_roads(roads: list[Road], area: Polygon) -> list[Road]:
    """Cut roads at the study-area edge; a road leaving and re-entering becomes two."""
    out = []
    for r in roads:
        line = LineString(r.coords)
        if area.contains(line):
            out.append(r)
            continue
        clipped = line.intersection(area)
        parts = [
            g
            for g in getattr(clipped, "geoms", [clipped])
            if g.geom_type == "LineString" and g.length > 1
        ]
        for k, part in enumerate(parts):
            key = r.key if len(parts) == 1 else f"{r.key}-{k}"
            out.append(replace(r, key=key, coords=tuple(part.coords)))
    return out


def snap_ends(roads: list[Road], tol: float = 30.0) -> list[Road]:
    """Join road ends that stop short of (or just past) another road: move the end onto that road
    and add it there as a vertex, so that noding connects them exactly.

    An end already lying on another road is left alone; ends shared by several roads move together.
    """
    coords = [list(r.coords) for r in roads]
    tree = shapely.STRtree([LineString(c) for c in coords])
    moved: dict[XY, XY] = {}
    for i, r in enumerate(roads):
        if r.grade != 0:
            continue
        for end in (0, -1):
            p = coords[i][end]
            if p in moved:
                coords[i][end] = moved[p]
                continue
            near = []
            for c in tree.query(Point(p).buffer(tol)):
                j = int(c)
                if j != i:
                    near.append((LineString(coords[j]).distance(Point(p)), j))
            if not near or min(near)[0] == 0.0:
                continue  # a dead end, or already on another road
            d, best = min(near)
            if roads[best].grade != 0 or d >= tol:
                continue  # never join a road to an elevated one from below
            line = LineString(coords[best])
            q = line.interpolate(line.project(Point(p)))
            q_xy = (q.x, q.y)
            near_v = min(coords[best], key=lambda v: math.dist(v, q_xy))
            if math.dist(near_v, q_xy) < 1.0:
                q_xy = near_v  # reuse a vertex rather than make a sliver
            else:
                coords[best] = insert_vertex(coords[best], q_xy)
            coords[i][end] = moved[p] = q_xy
    return [replace(r, coords=tuple(c)) for r, c in zip(roads, coords, strict=True)]


def node_roads(roads: list[Road]) -> list[tuple[Road, LineString]]:
    """Split roads where they meet, so that every junction is a shared end point.

    Grade-0 roads are noded together (GEOS computes each crossing once, so both sides get the same
    coordinate); grade-1 roads are split only at their vertices where a grade-0 piece ends (ramps).
    Each piece keeps its parent's attributes and direction.
    """
    ground = [r for r in roads if r.grade == 0]
    lines = [LineString(r.coords) for r in ground]
    noded = shapely.node(MultiLineString(lines))
    tree = shapely.STRtree(lines)
    out: list[tuple[Road, LineString]] = []
    ends: set[XY] = set()
    for piece in noded.geoms:
        if piece.length < 0.5:
            continue
        mid = piece.interpolate(0.5, normalized=True)
        parent = int(tree.query_nearest(mid)[0])
        pline = lines[parent]
        a = pline.project(piece.interpolate(0.25, normalized=True))
        b = pline.project(piece.interpolate(0.75, normalized=True))
        if a > b:
            piece = piece.reverse()
        out.append((ground[parent], piece))
        ends.update([piece.coords[0], piece.coords[-1]])
    for r in roads:
        if r.grade == 0:
            continue
        cut, start = [], 0
        for k in range(1, len(r.coords) - 1):
            if r.coords[k] in ends:
                cut.append(LineString(r.coords[start : k + 1]))
                start = k
        cut.append(LineString(r.coords[start:]))
        out.extend((r, c) for c in cut)
    return out


def roads_layer(area: Polygon) -> tuple[list[Feature], dict[str, np.ndarray]]:
    """The road network: every junction a shared end point; ids ``<road>-<nn>`` along each road."""
    rng = np.random.default_rng([SEED, 1])
    arterials = arterial_roads(rng)
    grids, nodes = grid_roads(rng, arterials)
    roads = [*arterials, *expressways(arterials), *resort_roads(), *grids, *farm_tracks()]
    roads = snap_ends(clip_roads(roads, area))
    pieces = node_roads(roads)
    order = {r.key: k for k, r in enumerate(roads)}
    parents = {r.key: LineString(r.coords) for r in roads}

    def along(rp: tuple[Road, LineString]) -> tuple[int, float]:
        road, piece = rp
        return order[road.key], parents[road.key].project(piece.interpolate(0.5, normalized=True))

    pieces.sort(key=along)
    feats: list[Feature] = []
    count: dict[str, int] = {}
    for r, geom in pieces:
        n = count[r.key] = count.get(r.key, 0) + 1
        props = {
            "id": f"{r.key}-{n:02d}",
            "road_class": r.road_class,
            "name": r.name,
            "oneway": r.oneway,
            "speed_kmh": r.speed_kmh,
            "lanes": r.lanes,
        }
        feats.append((props, geom))
    return feats, nodes


# --- the other layers ---------------------------------------------------------------------------


def boundary_layer(area: Polygon) -> list[Feature]:
    """The study area (made up; not an administrative boundary)."""
    name = "Study area around Shanghai Disney Resort (made up; not an administrative boundary)"
    return [({"id": "study-area", "name": name}, area)]


def incidents_layer(park: Polygon, elevated: list[Feature]) -> list[Feature]:
    """The outbreak trace (fact: 18:05 notice, park outline) and two made-up follow-on incidents."""
    sx, sy = station_xy()
    corridor = shapely.union_all([g for _, g in elevated]).intersection(box(-4000, -300, 0, 1300))
    return [
        (
            {
                "id": "inc-001",
                "kind": "outbreak_trace",
                "severity": 5,
                "reported_at": NOW,
                "name": "Outbreak trace: Shanghai Disneyland Park",
                "status": "open",
                "notes": "Resort notice 18:05; park and Disneytown closed; visitors held and "
                "tested on site (Shine, Sixth Tone, AP).",
                "origin": "file",
                # Everyone inside the resort was held, also beyond the 500 m ring (fact).
                "closes": RESORT,
            },
            park,
        ),
        (
            {
                "id": "inc-002",
                "kind": "crowd",
                "severity": 3,
                "reported_at": t("18:40"),
                "name": "Crowd surge at Disney Resort station",
                "status": "open",
                "notes": "Made up: station suspended, people gathering at the gates and the bus "
                "terminal.",
                "origin": "file",
                "closes": None,
            },
            Point(sx, sy).buffer(90, quad_segs=4),
        ),
        (
            {
                "id": "inc-003",
                "kind": "traffic",
                "severity": 2,
                "reported_at": t("19:10"),
                "name": "Congestion on Shenjiang Road elevated towards the resort",
                "status": "open",
                "notes": "Made up: queue of buses and cars approaching the west transport hub.",
                "origin": "file",
                "closes": None,
            },
            corridor.buffer(40, quad_segs=2),
        ),
    ]


# Resort places outside the park: (id, name, geometry, people, source, capacity, observed_at).
def _resort_places() -> list[tuple[str, str, Polygon, int, str, int, str]]:
    lake = lake_shape().buffer(60, quad_segs=4).difference(DISNEYTOWN).difference(HUB)
    return [
        ("resort-disneytown", "Disneytown", DISNEYTOWN, 3874, "telecom", 6000, "18:05"),
        ("resort-station", "Disney Resort station, gate plaza and bus terminal", HUB, 1468,
         "telecom", 1200, "18:10"),
        ("resort-lake", "Wishing Star Lake and park", lake, 612, "estimate", 3000, "18:05"),
        ("resort-hotel-sdh", "Shanghai Disneyland Hotel", HOTEL_SDH, 1216, "ticketing", 1300,
         "18:00"),
        ("resort-hotel-toy-story", "Toy Story Hotel", HOTEL_TOY, 1689, "ticketing", 2400, "18:00"),
        ("resort-car-park-p1", "Car park P1 (north-east)", CAR_PARK_P1, 276, "estimate", 2000,
         "18:05"),
        ("resort-car-park-p2", "Car park P2 (west)", CAR_PARK_P2, 118, "estimate", 800, "18:05"),
        ("resort-west-hub", "West transport hub", WEST_HUB, 342, "telecom", 1500, "18:10"),
    ]  # fmt: skip


# Neighbourhoods: (id, name, grid, clip box or None, people per km², source). Densities made up,
# between village (~1,000/km²) and town-centre (~14,000/km²) levels; Pudong averages ~4,700/km².
NEIGHBOURHOODS = [
    ("nbh-chuansha-centre", "Chuansha town centre", "chuansha", (3600, 3800, 7000, 7000), 14000,
     "telecom"),
    ("nbh-chuansha-west", "Chuansha town west", "chuansha", (0, 3800, 3600, 7000), 8000,
     "telecom"),
    ("nbh-chuansha-south", "Chuansha town south", "chuansha", (0, 0, 7000, 3800), 9000,
     "telecom"),
    ("nbh-west", "West residential area", "west", None, 6500, "telecom"),
    ("nbh-northtown", "North new town", "northtown", None, 4000, "telecom"),
    ("nbh-village-sw", "South-west villages", "village-sw", None, 1500, "estimate"),
    ("nbh-village-se", "South-east villages", "village-se", None, 1200, "estimate"),
    ("nbh-village-e", "East villages", "village-e", None, 1800, "estimate"),
    ("nbh-village-s", "South villages", "village-s", None, 1000, "estimate"),
]  # fmt: skip


def crowd_zones_layer(area: Polygon, park: Polygon, nodes: dict[str, np.ndarray]) -> list[Feature]:
    """People counts at 18:00-18:10: the park's lands, the rest of the resort, neighbourhoods."""
    rng = np.random.default_rng([SEED, 2])
    feats: list[Feature] = []
    lands = dict(park_lands(park))
    for key, name, _, people, cap in LANDS:
        props = {
            "id": key,
            "people": people,
            "observed_at": t("18:05"),
            "name": f"Park: {name}",
            "source": "telecom",
            "capacity": cap,
            "venue": RESORT,
        }
        feats.append((props, lands[key]))
    for zid, name, geom, people, source, cap, at in _resort_places():
        props = {
            "id": zid,
            "people": people,
            "observed_at": t(at),
            "name": name,
            "source": source,
            "capacity": cap,
            "venue": RESORT,
        }
        feats.append((props, geom))
    for zid, name, grid, clip, density, source in NEIGHBOURHOODS:
        pts = shapely.MultiPoint(nodes[grid].reshape(-1, 2))
        geom = pts.convex_hull.buffer(120, quad_segs=2).intersection(area)
        if clip is not None:
            geom = geom.intersection(box(*clip))
        people = round(geom.area / 1e6 * density * float(rng.uniform(0.9, 1.1)), -1)
        props = {
            "id": zid,
            "people": int(people),
            "observed_at": t("18:00"),
            "name": name,
            "source": source,
            "capacity": None,
            "venue": None,
        }
        feats.append((props, geom))
    return feats


# Testing sites (all made up): (id, name, where, lanes, per lane per hour, opens, closes, kind).
def testing_sites_layer() -> list[Feature]:
    """Emergency testing sites in the resort and two in Chuansha; queue and tested are 0."""
    sx, sy = station_xy()
    spec = [
        ("site-park-main-gate", "Park main gate plaza", (GATE[0] - 60, GATE[1] + 20), 16, 140,
         "19:00", (1, "08:00"), "mobile"),
        ("site-park-castle", "Castle forecourt", (-40, -90), 10, 160,
         "19:15", (1, "02:00"), "mobile"),
        ("site-park-tomorrowland", "Tomorrowland", (150, 620), 8, 150,
         "19:30", (1, "02:00"), "mobile"),
        ("site-park-adventure-isle", "Adventure Isle", (-420, -620), 6, 140,
         "19:30", (1, "02:00"), "mobile"),
        ("site-disneytown", "Disneytown", (1050, 60), 10, 140,
         "19:20", (1, "08:00"), "mobile"),
        ("site-hotel-sdh", "Shanghai Disneyland Hotel", (730, -1360), 4, 120,
         "19:45", (1, "01:00"), "mobile"),
        ("site-hotel-toy-story", "Toy Story Hotel", (1500, -1400), 4, 130,
         "19:45", (1, "01:00"), "mobile"),
        ("site-transport-hub", "Station bus terminal", (sx + 60, sy + 200), 6, 130,
         "19:30", (1, "08:00"), "mobile"),
        ("site-car-park-p1", "Car park P1 drive-through", (1100, 800), 6, 180,
         "20:00", (1, "04:00"), "mobile"),
        ("site-west-hub", "West transport hub", (-1550, -230), 4, 120,
         "20:00", (1, "02:00"), "mobile"),
        ("site-chuansha-health-centre", "Chuansha community health centre", (4480, 4420), 6, 100,
         "19:00", (31, "22:00"), "fixed"),
        ("site-chuansha-sports-ground", "Chuansha sports ground", (3900, 2700), 12, 150,
         "20:00", (1, "08:00"), "mobile"),
    ]  # fmt: skip
    feats: list[Feature] = []
    for sid, name, xy, lanes, rate, opens, (cday, closes), kind in spec:
        props = {"id": sid, "name": name, "lanes": lanes, "per_lane_per_h": rate,
                 "opens_at": t(opens), "closes_at": t(closes, cday), "queue": 0, "tested": 0,
                 "kind": kind}  # fmt: skip
        feats.append((props, Point(xy)))
    return feats


def facilities_layer(nodes: dict[str, np.ndarray]) -> list[Feature]:
    """Hospitals, police, the station and bus terminal, and 30 staging candidates."""
    sx, sy = station_xy()
    fixed = [
        # Fact: ~1,000 beds, ~15 min drive; the point itself is approximate (not verified).
        ("hosp-pudong", "hospital", "Fudan-affiliated Pudong Hospital (location approximate)",
         (5250, -2750), 1000),
        ("hosp-chuansha", "hospital", "Chuansha community hospital", (4650, 4650), 250),
        ("hosp-west", "hospital", "West community hospital", (-4650, 3350), 180),
        ("first-aid-resort", "first_aid", "Resort first-aid centre", (1240, 330), 12),
        ("police-resort", "police", "Resort police station", (1300, 480), None),
        ("police-chuansha", "police", "Chuansha police station", (3880, 4450), None),
        ("police-west-hub", "police", "West hub police post", (-1450, -480), None),
        ("metro-disney-resort", "metro_station", "Disney Resort station (Metro Line 11)", (sx, sy),
         None),
        ("bus-terminal", "bus_terminal", "Disney Resort bus terminal", (sx + 40, sy + 250), 30),
    ]  # fmt: skip
    feats: list[Feature] = [
        ({"id": fid, "kind": kind, "name": name, "capacity": cap}, Point(xy))
        for fid, kind, name, xy, cap in fixed
    ]
    for k, (name, xy, cap) in enumerate(staging_candidates(nodes), start=1):
        feats.append(
            (
                {
                    "id": f"stage-{k:02d}",
                    "kind": "staging_candidate",
                    "name": name,
                    "capacity": cap,
                },
                Point(xy),
            )
        )
    return feats


def staging_candidates(nodes: dict[str, np.ndarray]) -> list[tuple[str, XY, int]]:
    """30 made-up open spaces (car parks, squares, school yards); capacity = vehicles they hold."""
    out: list[tuple[str, XY, int]] = [
        ("Car park P1 north", (760, 1130), 400),
        ("Car park P1 south-east", (1460, 680), 300),
        ("Car park P2", (-1550, 250), 250),
        ("West hub coach bays", (-1550, -410), 60),
        ("Disneytown east square", (1330, 120), 40),
        ("Shanghai Disneyland Hotel forecourt", (800, -1440), 30),
        ("Toy Story Hotel car park", (1580, -1500), 120),
        ("Resort Avenue entrance square", (1040, 1680), 80),
        ("Backstage service yard", (-1240, 1000), 50),
        ("Shendi South Road coach park", (0, -1940), 150),
    ]
    rng = np.random.default_rng([SEED, 3])
    kinds = ["School yard", "Car park", "Town square", "Sports ground", "Market car park"]
    per_grid = {"chuansha": 8, "west": 4, "northtown": 4, "village-sw": 1, "village-se": 1,
                "village-e": 1, "village-s": 1}  # fmt: skip
    names = {g.key: g.name for g in GRIDS}
    taken = [np.array(xy) for _, xy, _ in out]
    for key, n in per_grid.items():
        pts = nodes[key].reshape(-1, 2)
        got = 0
        for idx in rng.permutation(len(pts)):
            p = pts[idx] + np.array([35.0, 35.0])  # inside the block, off the junction
            if min(np.hypot(*(p - q)) for q in taken) < 500:
                continue
            kind = kinds[int(rng.integers(len(kinds)))]
            cap = int(rng.integers(4, 41)) * 5
            out.append((f"{kind}, {names[key]} ({got + 1})", (float(p[0]), float(p[1])), cap))
            taken.append(p)
            got += 1
            if got == n:
                break
    return out


def scenario_settings() -> dict:
    """scenario.json (docs/scenario-format.md); per-lane rate is an assumption (FACTS)."""
    return {
        "name": "Shanghai Disney Resort, 31 Oct 2021",
        "description": (
            "Evening of Halloween 2021: at 18:05 the resort's notice (outbreak tracing) closed "
            "the park and Disneytown; visitors were held and tested on site, which finished by "
            "about 23:00; 33,863 people had tested negative by 08:00 on 1 November. Park centre "
            "and area, metro station and times are facts; roads, zones, the split of counts, "
            "testing sites and staging candidates are made up (see data/README.md)."
        ),
        "timezone": "Asia/Shanghai",
        "now": NOW,
        "deadline": t("23:00"),
        "per_lane_per_h": 150,
        "walk_kmh": 4.5,
        "drive_speeds_kmh": {"motorway": 80, "trunk": 60, "primary": 50, "secondary": 40,
                             "tertiary": 30, "residential": 25, "service": 15, "unclassified": 25,
                             "motorway_link": 40, "trunk_link": 40},
        "checkpoint_staff": {"motorway": 8, "trunk": 6, "primary": 4, "secondary": 3,
                             "tertiary": 2, "residential": 2, "service": 1, "footway": 1,
                             "unclassified": 2, "motorway_link": 2, "trunk_link": 2},
    }  # fmt: skip


# --- writing ------------------------------------------------------------------------------------


def geojson_text(features: list[Feature]) -> str:
    """RFC 7946 FeatureCollection, one feature per line (stable, diff-friendly), no ``crs``."""
    lines = []
    for props, geom in features:
        feat = {"type": "Feature", "properties": props, "geometry": mapping(to_lonlat(geom))}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def build() -> dict[str, list[Feature]]:
    """All layers of the demo, in local metres, keyed by layer kind."""
    area = study_area()
    park = park_outline()
    roads, nodes = roads_layer(area)
    elevated = [f for f in roads if f[0]["id"].startswith("shenjiang-elevated")]
    return {
        "boundary": boundary_layer(area),
        "incidents": incidents_layer(park, elevated),
        "crowd_zones": crowd_zones_layer(area, park, nodes),
        "testing_sites": testing_sites_layer(),
        "roads": roads,
        "facilities": facilities_layer(nodes),
    }


def generate(out: Path) -> dict[str, int]:
    """Write the scenario folder to ``out``; return feature counts per layer."""
    out.mkdir(parents=True, exist_ok=True)
    layers = build()
    for kind, feats in layers.items():
        (out / f"{kind}.geojson").write_text(geojson_text(feats), encoding="utf-8")
    settings = json.dumps(scenario_settings(), indent=2, ensure_ascii=False) + "\n"
    (out / "scenario.json").write_text(settings, encoding="utf-8")
    return {kind: len(feats) for kind, feats in layers.items()}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``make_demo.py [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    counts = generate(args.out)
    for kind, n in counts.items():
        print(f"{kind:14s} {n:5d} features")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
