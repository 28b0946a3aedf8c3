"""The operations store (geo/store.py), on SQLite and on a real PostgreSQL + PostGIS server.

The PostGIS cases run against a throwaway server started by tests/pg_server.py; they skip with
the reason when none can be started, except under CI=..., where they fail instead.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo import layers
from geo.auth import Actor
from geo.errors import InputError
from geo.store import (
    DELAY_ENV,
    Event,
    PostgisStore,
    SqliteStore,
    StoreError,
    open_store,
)
from tests.pg_server import backend_url, backends, require_server

ROOT = Path(__file__).resolve().parent.parent
TZ = "Asia/Shanghai"
TESTER = Actor.service("test")


@pytest.fixture(params=backends())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


@pytest.fixture
def store(url: str):
    st = open_store(url, tz=TZ, actor=TESTER)
    yield st
    st.close()


def sites(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [f"s{i}" for i in range(n)],
            "name": [f"Site {i}" for i in range(n)],
            "lanes": [4] * n,
            "per_lane_per_h": [150.0] * n,
            "queue": [0] * n,
            "tested": [0] * n,
        },
        geometry=shapely.points([121.66 + 0.01 * i for i in range(n)], [31.14] * n),
        crs="EPSG:4326",
    )


def incident(iid: str, t: str, **props) -> Event:
    base = {"kind": "fire", "severity": 3, "reported_at": t}
    return Event(
        "incident", iid, props.pop("time", t), {**base, **props}, shapely.Point(121.6, 31.1)
    )


def t(hhmm: str) -> str:
    return f"2021-10-31T{hhmm}:00+08:00"


# --- URLs -----------------------------------------------------------------------------------


def test_urls_choose_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(
        "sqlite:///rel.sqlite", actor=TESTER
    ) as st:  # three slashes: relative, as in SQLAlchemy
        assert isinstance(st, SqliteStore)
    assert (tmp_path / "rel.sqlite").exists()
    with open_store(f"sqlite:///{tmp_path}/abs.sqlite", actor=TESTER) as st:
        assert st.path == tmp_path / "abs.sqlite"
    with open_store(tmp_path / "plain.sqlite", actor=TESTER) as st:
        assert isinstance(st, SqliteStore)
    for bad in ("mysql://x/y", "sqlite://", "sqlite:///"):
        with pytest.raises(InputError) as err:
            open_store(bad, actor=TESTER)
        assert err.value.field == "store"


def test_unreachable_server_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(
        StoreError, match="cannot connect to postgresql://u:\\*\\*\\*@127.0.0.1:1/x"
    ):
        PostgisStore("postgresql://u:secret@127.0.0.1:1/x")


def test_sqlite_file_is_wal_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "ops.sqlite"
    open_store(path, actor=TESTER).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("UPDATE ops_meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(path, actor=TESTER)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ops.sqlite"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a usable SQLite store"):
        open_store(path, actor=TESTER)


# --- writing --------------------------------------------------------------------------------


def test_append_is_idempotent(store) -> None:
    st = store
    if True:
        evs = [
            Event("site_figures", "s1", t("18:30"), {"queue": 10, "tested": 5}),
            Event("site_figures", "s1", t("18:40"), {"queue": 12, "tested": 9}),
        ]
        assert (st.append(evs).inserted, st.append(evs).duplicates) == (2, 2)
        # the same content written differently (a Timestamp, another zone) is the same event
        same = Event(
            "site_figures", "s1", pd.Timestamp("2021-10-31T10:30Z"), {"tested": 5, "queue": 10}
        )
        assert st.append([same]).inserted == 0
        # an id given by the source wins over content: a repeat with that id is skipped
        assert (
            st.append(
                [Event("site_figures", "s1", t("19:00"), {"queue": 1}, event_id="x1")]
            ).inserted
            == 1
        )
        assert (
            st.append(
                [Event("site_figures", "s1", t("19:05"), {"queue": 2}, event_id="x1")]
            ).inserted
            == 0
        )
        assert st.count() == 3


def test_a_bad_event_writes_nothing_of_its_batch(store) -> None:
    good = Event("site_figures", "s1", t("18:30"), {"queue": 10})
    cases = [
        (Event("site_figures", "s1", "2021-10-31T18:30:00", {"queue": 1}), "time", "no time zone"),
        (Event("weather", "s1", t("18:30"), {}), "kind", "unknown event kind"),
        (Event("site_figures", "", t("18:30"), {}), "id", "missing"),
        (Event("cordon", "c1", t("18:30"), {}, None), "geometry", "missing"),
        (Event("cordon", "c1", t("18:30"), {}, shapely.Point(1, 2)), "geometry", "Point"),
        (
            Event("incident", "i1", t("18:30"), {"kind": "fire"}, shapely.Point(1, 2)),
            "severity",
            "missing",
        ),
    ]
    for bad, fld, words in cases:
        with pytest.raises(InputError) as err:
            store.append([good, bad])
        assert err.value.field == fld and words in str(err.value)
        assert "#1" in str(err.value.feature)
    assert store.count() == 0


# --- state ----------------------------------------------------------------------------------


def test_state_at_any_time_matches_a_brute_force_reference(store) -> None:
    """Random figures arriving out of order; the picture at t is the last event <= t."""
    rng = random.Random(7)
    store.register_layer("testing_sites", sites(4))
    events = []
    for k in range(240):
        minute = rng.randrange(0, 120)  # coarse times: many ties, broken by arrival
        when = pd.Timestamp("2021-10-31T18:00+08:00") + pd.Timedelta(minutes=minute)
        site = f"s{rng.randrange(4)}"
        events.append((site, when, rng.randrange(500), k))
    for chunk in range(0, len(events), 17):  # arrival order = list order, in several appends
        store.append(
            Event("site_figures", s, w, {"queue": q, "tested": k})
            for s, w, q, k in events[chunk : chunk + 17]
        )
    for minute in (-1, 0, 30, 59, 60, 119, 500):
        at = pd.Timestamp("2021-10-31T18:00+08:00") + pd.Timedelta(minutes=minute)
        got = store.current("testing_sites", at=at).set_index("id")
        for site in ("s0", "s1", "s2", "s3"):
            seen = [(w, k, q) for s, w, q, k in events if s == site and w <= at]
            if seen:
                w, k, q = max(seen)  # latest time, then latest arrival
                assert (got.loc[site, "queue"], got.loc[site, "tested"]) == (q, k)
                assert got.loc[site, "updated_at"] == w
            else:  # only the scenario's record: valid at any time, no live data
                assert (got.loc[site, "queue"], got.loc[site, "tested"]) == (0, 0)
                assert pd.isna(got.loc[site, "updated_at"])
    assert store.current("testing_sites").equals(
        store.current("testing_sites", at="2100-01-01T00:00Z")
    )


def test_incident_reports_and_status_changes_merge(store) -> None:
    store.append([incident("i1", t("18:00"), status="open")])
    store.append([Event("incident_status", "i1", t("19:00"), {"status": "contained"})])
    store.append([incident("i1", t("18:00"), time=t("19:30"), severity=5)])  # re-report, no status
    store.append([incident("i1", t("18:00"), time=t("20:00"), severity=4, status="open")])
    store.append([incident("i2", t("19:15"))])

    def at(hhmm: str) -> pd.DataFrame:
        return store.current("incidents", at=t(hhmm)).set_index("id")

    assert at("17:59").empty
    assert list(at("18:30").index) == ["i1"]
    assert at("18:30").loc["i1", "status"] == "open"
    assert at("19:10").loc["i1", "status"] == "contained"
    row = at("19:45").loc["i1"]  # the re-report changes severity, keeps the newer status
    assert (row["severity"], row["status"]) == (5, "contained")
    assert row["updated_at"] == pd.Timestamp(t("19:30"))
    row = at("21:00").loc["i1"]  # a later report with a status wins
    assert (row["severity"], row["status"]) == (4, "open")
    assert list(at("21:00").index) == ["i1", "i2"]
    hist = store.history("incident_status", "i1")
    assert list(hist["status"]) == ["open", "contained", "open"]
    assert list(hist["time"]) == [pd.Timestamp(t(x)) for x in ("18:00", "19:00", "20:00")]


def test_returned_layers_follow_the_schemas(store) -> None:
    from geo import scenario

    sc = scenario.demo()
    for kind in ("incidents", "testing_sites", "crowd_zones"):
        store.register_layer(kind, sc.layer(kind))
        again = store.register_layer(kind, sc.layer(kind))  # re-loading a scenario adds nothing
        assert again.inserted == 0
    zone = sc.layer("crowd_zones")["id"].iloc[0]
    store.append(
        [Event("crowd_count", zone, t("21:00"), {"people": 1234.0, "observed_at": t("21:00")})]
    )
    for kind in ("incidents", "testing_sites", "crowd_zones"):
        got = store.current(kind)
        assert len(got) == len(sc.layer(kind))
        schema = layers.SCHEMAS[kind]
        assert list(got.columns[: len(schema.columns)]) == schema.columns
        assert str(got["updated_at"].dtype).endswith(f"{TZ}]")
        assert got.crs == "EPSG:4326"
        checked, _ = layers.validate(got, kind, source="test")  # an independent check
        assert len(checked) == len(got)
        ref = sc.layer(kind).set_index("id").sort_index()
        got = got.set_index("id").sort_index()
        assert got.geometry.geom_equals_exact(ref.geometry, 1e-9).all()
    zones = store.current("crowd_zones").set_index("id")
    assert zones.loc[zone, "people"] == 1234.0
    assert zones.loc[zone, "observed_at"] == pd.Timestamp(t("21:00"))
    assert zones.loc[zone, "updated_at"] == pd.Timestamp(t("21:00"))
    counts = store.history("crowd_count", zone)
    assert counts["people"].iloc[-1] == 1234.0


def test_restart_shows_the_same_state(url: str) -> None:
    with open_store(url, actor=TESTER) as st:
        st.register_layer("testing_sites", sites(3))
        st.append([Event("site_figures", "s1", t("19:00"), {"queue": 40, "tested": 100})])
        st.append([incident("i1", t("18:00"))])
        st.put_drawing(
            "cordons",
            "c1",
            shapely.box(121.6, 31.1, 121.7, 31.2),
            {"band": "lockdown"},
            at=t("18:10"),
        )
        before = {k: st.current(k) for k in ("testing_sites", "incidents", "cordons")}
        past = st.current("testing_sites", at=t("18:59"))
    with open_store(url, actor=TESTER) as st:  # a new connection sees exactly the same
        for k, frame in before.items():
            assert_geodataframe_equal(st.current(k), frame)
        assert_geodataframe_equal(st.current("testing_sites", at=t("18:59")), past)


def test_drawings_are_stored_as_geojson_and_can_be_withdrawn(store) -> None:
    ring = [[121.65, 31.14], [121.67, 31.14], [121.67, 31.16], [121.65, 31.14]]
    store.put_drawing(
        "cordons",
        "c1",
        {"type": "Polygon", "coordinates": [ring]},
        {"band": "lockdown"},
        at=t("18:10"),
    )
    store.put_drawing(
        "plans", "p1", shapely.MultiPoint([(121.6, 31.1), (121.7, 31.2)]), at=t("18:20")
    )
    cords = store.current("cordons")
    assert list(cords["id"]) == ["c1"] and cords["band"].iloc[0] == "lockdown"
    assert cords.geometry.iloc[0].equals(shapely.Polygon(ring))
    assert cords["updated_at"].iloc[0] == pd.Timestamp(t("18:10"))
    store.remove("cordons", "c1", at=t("19:00"))
    assert store.current("cordons").empty
    assert list(store.current("cordons", at=t("18:30"))["id"]) == ["c1"]  # history is kept
    assert store.current("plans").geometry.iloc[0].geom_type == "MultiPoint"
    with pytest.raises(InputError, match="Point"):
        store.put_drawing("cordons", "c2", shapely.Point(121.6, 31.1))
    with pytest.raises(InputError):
        store.put_drawing("incidents", "c2", shapely.box(0, 0, 1, 1))


def test_events_log_filters(store) -> None:
    store.append([incident("i1", t("18:00"))])
    for m in ("18:10", "18:20", "18:30"):
        store.append([Event("incident_status", "i1", t(m), {"status": "contained", "notes": m})])
    ev = store.events("incident_status", since=t("18:15"), until=t("18:30"))
    assert [p["notes"] for p in ev["props"]] == ["18:20", "18:30"]
    assert list(ev["kind"].unique()) == ["incident_status"]
    assert ev.geometry.isna().all()
    assert len(store.events(layer="incidents")) == 4
    assert len(store.events(entity_id="nope")) == 0
    assert store.events().iloc[0]["time"] == pd.Timestamp(t("18:00"))
    with pytest.raises(InputError):
        store.current("roads")
    with pytest.raises(InputError, match="no time zone"):
        store.current("incidents", at="2021-10-31 18:00")
    with pytest.raises(InputError):
        store.history("incident")


@pytest.mark.xdist_group("postgis")
def test_postgis_keeps_a_real_geometry_column() -> None:
    import psycopg

    url = require_server().fresh_database()
    with open_store(url, actor=TESTER) as st:
        st.put_drawing(
            "cordons",
            "c1",
            shapely.box(121.6, 31.1, 121.7, 31.2),
            {"band": "control"},
            at=t("18:00"),
        )
        st.append([incident("i1", t("18:00"))])
    with psycopg.connect(url) as conn:
        srid = conn.execute("SELECT Find_SRID('public', 'ops_events', 'geom')").fetchone()[0]
        assert srid == 4326
        inside = conn.execute(
            "SELECT entity_id FROM ops_events WHERE ST_Within(geom, "
            "ST_MakeEnvelope(121.5, 31.0, 121.8, 31.3, 4326)) ORDER BY entity_id"
        ).fetchall()
        assert [r[0] for r in inside] == ["c1", "i1"]
        kinds = conn.execute("SELECT props->>'kind' FROM ops_events WHERE kind = 'incident'")
        assert kinds.fetchone()[0] == "fire"


WRITER = """
import pathlib, sys, time
from geo.auth import Actor
from geo.store import Event, open_store
url, tag, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
st = open_store(url, actor=Actor.service("writer"))
(go.parent / f"ready-{tag}").touch()
while not go.exists():
    time.sleep(0.01)
start = time.time()
for b in range(15):
    when = f"2021-10-31T18:{b:02d}:00+08:00"
    st.append(
        Event("site_figures", "s0", when, {"queue": i}, event_id=f"{tag}-{b}-{i}") for i in range(8)
    )
print(start, time.time())
"""


def test_two_writers_at_once_keep_every_event(url: str, tmp_path: Path) -> None:
    with open_store(url, actor=TESTER) as st:
        st.register_layer("testing_sites", sites(1))
        base = st.count()
    go = tmp_path / "go"
    # the delay makes each transaction last ~30 ms, so the writers must wait for each other
    env = {**os.environ, DELAY_ENV: "0.004", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, tag, str(go)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{tag}").exists() for tag in "ab"):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()  # both start writing together
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    spans = [tuple(map(float, out.split())) for out in outs]
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # they did run at the same time
    with open_store(url, actor=TESTER) as st:
        ev = st.events("site_figures")
        assert st.count() == base + 2 * 15 * 8
    assert set(ev["event_id"]) == {
        f"{tag}-{b}-{i}" for tag in "ab" for b in range(15) for i in range(8)
    }
