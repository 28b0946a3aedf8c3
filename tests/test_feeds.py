"""Feeds (geo/feeds.py): a watched folder ingested exactly once into the store.

The crash and concurrency tests run the real ingester (``python -m geo.cli ingest``, what the
``cityops ingest`` console script runs) in subprocesses and kill it with SIGKILL; they run on
SQLite and on a real PostgreSQL + PostGIS server (tests/pg_server.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo import cli, feeds
from geo.auth import Actor
from geo.feeds import FEEDS, feed_from_name, ingest_folder
from geo.store import DELAY_ENV, open_store
from tests.pg_server import backend_url, backends

ROOT = Path(__file__).resolve().parent.parent
SITES = ("s0", "s1", "s2")


def site_layer() -> gpd.GeoDataFrame:
    n = len(SITES)
    return gpd.GeoDataFrame(
        {
            "id": list(SITES),
            "name": [f"Site {s}" for s in SITES],
            "lanes": [4] * n,
            "per_lane_per_h": [150.0] * n,
        },
        geometry=shapely.points([121.66, 121.67, 121.68], [31.14] * n),
        crs="EPSG:4326",
    )


@pytest.fixture
def store(tmp_path: Path):
    st = open_store(tmp_path / "ops.sqlite", actor=Actor.service("test"))
    st.register_layer("testing_sites", site_layer())
    yield st
    st.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    d = tmp_path / "inbox"
    d.mkdir()
    return d


def write(path: Path, text: str, mtime_age_s: float = 5.0) -> Path:
    path.write_text(text, encoding="utf-8")
    old = time.time() - mtime_age_s  # as if dropped a while ago: complete
    os.utime(path, (old, old))
    return path


def figures_csv(rows: list[tuple[str, int, int, str]]) -> str:
    lines = ["site_id,queue,tested,observed_at"] + [f"{s},{q},{n},{t}" for s, q, n, t in rows]
    return "\n".join(lines) + "\n"


def tt(minute: int) -> str:
    return (pd.Timestamp("2021-10-31T18:00+08:00") + pd.Timedelta(minutes=minute)).isoformat()


def incidents_geojson(features: list[dict], feed: str | None = None) -> str:
    doc: dict = {"type": "FeatureCollection", "features": []}
    if feed:
        doc["feed"] = feed
    for props in features:
        geom = props.pop("geometry", {"type": "Point", "coordinates": [121.66, 31.145]})
        doc["features"].append({"type": "Feature", "properties": props, "geometry": geom})
    return json.dumps(doc)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


# --- naming ---------------------------------------------------------------------------------


def test_the_feed_comes_from_the_file_name() -> None:
    cases = {
        "incidents_2021-10-31T1830.geojson": "incidents",
        "incident-7.json": "incidents",
        "incident_status_3.csv": "incident_status",
        "status.csv": "incident_status",
        "site_figures-17.csv": "site_figures",
        "figures20211031.csv": "site_figures",
        "sites.csv": "testing_sites",
        "crowd_counts_telecom.csv": "crowd_counts",
        "CROWD_ZONES.geojson": "crowd_zones",
    }
    for name, feed in cases.items():
        assert feed_from_name(name) is FEEDS[feed], name
    for name in ("incidentsX.csv", "report.csv", "statuses.csv", "sitesfigures.csv"):
        assert feed_from_name(name) is None, name


# --- the happy path -------------------------------------------------------------------------


def test_files_go_in_once_and_are_moved(store, inbox: Path) -> None:
    write(inbox / "site_figures_1.csv", figures_csv([("s0", 10, 5, tt(30)), ("s1", 7, 2, tt(31))]))
    write(
        inbox / "incidents_1.geojson",
        incidents_geojson(
            [{"id": "i1", "kind": "fire", "severity": 3, "reported_at": tt(10), "status": "open"}]
        ),
    )
    write(
        inbox / "incident_status_1.csv",
        f"incident_id,status,changed_at,notes\ni1,contained,{tt(40)},crew on site\n",
    )
    write(
        inbox / "incidents_csv.csv",
        f"id,kind,severity,reported_at,lon,lat\ni2,flood,2,{tt(5)},121.7,31.2\n",
    )
    out = ingest_folder(inbox, store, settle_s=0)
    assert [f.status for f in out.files] == ["processed"] * 4
    # full records are taken before the updates that need them, whatever the drop order
    assert [f.name for f in out.files][:2] == ["incidents_1.geojson", "incidents_csv.csv"]
    assert out.stored == 5 and out.quarantined == 0 and not out.rejected
    assert listing(inbox) == []
    assert listing(inbox / "processed") == sorted(
        ["site_figures_1.csv", "incidents_1.geojson", "incident_status_1.csv", "incidents_csv.csv"]
    )
    assert listing(inbox / "rejected") == []
    inc = store.current("incidents").set_index("id")
    assert inc.loc["i1", "status"] == "contained" and inc.loc["i1", "notes"] == "crew on site"
    assert inc.loc["i2"].geometry.equals(shapely.Point(121.7, 31.2))
    sites = store.current("testing_sites").set_index("id")
    assert (sites.loc["s0", "queue"], sites.loc["s0", "tested"]) == (10, 5)
    assert sites.loc["s0", "updated_at"] == pd.Timestamp(tt(30))
    assert ingest_folder(inbox, store, settle_s=0).files == []  # nothing left to do


def test_one_file_can_mix_feeds_with_a_feed_column(store, inbox: Path) -> None:
    feats = [
        {"feed": "incidents", "id": "i9", "kind": "fire", "severity": 2, "reported_at": tt(0)},
        {
            "feed": "incident_status",
            "id": "i9",
            "status": "closed",
            "changed_at": tt(9),
            "geometry": None,
        },
        {"feed": "weather", "id": "w1"},
    ]
    write(inbox / "mixed.geojson", incidents_geojson(feats))
    (out,) = ingest_folder(inbox, store, settle_s=0).files
    assert (out.status, out.stored, out.quarantined) == ("processed", 2, 1)
    assert out.problems[0].field == "feed" and "weather" in out.problems[0].message
    assert store.current("incidents").set_index("id").loc["i9", "status"] == "closed"


# --- bad input ------------------------------------------------------------------------------


def test_bad_records_are_quarantined_and_the_rest_goes_in(store, inbox: Path) -> None:
    rows = [
        ("s0", 10, 5, tt(30)),  # good
        ("s9", 1, 1, tt(31)),  # unknown site
        ("s1", 3, 3, "2021-10-31T18:32:00"),  # no time zone
        ("s1", -4, 3, tt(33)),  # out of range
        ("s2", "many", 3, tt(34)),  # not a number
        ("s2", 8, 9, tt(35)),  # good
    ]
    write(inbox / "site_figures_bad.csv", figures_csv(rows))
    (out,) = ingest_folder(inbox, store, settle_s=0).files
    assert (out.status, out.records, out.stored, out.quarantined) == ("processed", 6, 2, 4)
    assert listing(inbox / "processed") == ["site_figures_bad.csv"]
    where = [(p.feature, p.field) for p in out.problems]
    assert where == [
        ("#1 (line 3, id s9)", "site_id"),
        ("#2 (line 4, id s1)", "observed_at"),
        ("#3 (line 5, id s1)", "queue"),
        ("#4 (line 6, id s2)", "queue"),
    ]
    report = (inbox / "rejected" / "site_figures_bad.csv.errors.txt").read_text()
    assert "unknown testing site 's9'" in report
    assert "'2021-10-31T18:32:00' has no time zone" in report
    assert "feature #3 (line 5, id s1), field 'queue': -4 is out of range" in report
    assert "'many' is not a number" in report
    # the quarantined rows, in the file's own format, ready to be fixed and dropped in again
    quarantined = inbox / "rejected" / "site_figures_bad.quarantined.csv"
    q = pd.read_csv(quarantined, dtype=str)
    assert list(q["site_id"]) == ["s9", "s1", "s1", "s2"]
    fixed = q.drop(index=0).assign(queue=["3", "4", "5"])
    fixed["observed_at"] = fixed["observed_at"].str.replace(r"(:\d\d)$", r"\1+08:00", regex=True)
    fixed.to_csv(inbox / "site_figures_fixed.csv", index=False)
    os.utime(inbox / "site_figures_fixed.csv", (time.time() - 5, time.time() - 5))
    (again,) = ingest_folder(inbox, store, settle_s=0).files
    assert (again.status, again.stored, again.quarantined) == ("processed", 3, 0)
    assert len(store.history("site_figures")) == 5


def test_naive_times_in_full_records_are_errors_too(store, inbox: Path) -> None:
    feats = [
        {"id": "i1", "kind": "fire", "severity": 3, "reported_at": "2021-10-31 18:05"},
        {"id": "i2", "kind": "fire", "severity": 9, "reported_at": tt(5)},
        {"id": "i3", "kind": "fire", "severity": 1, "reported_at": tt(5), "geometry": None},
        {"id": "i4", "kind": "fire", "severity": 1, "reported_at": tt(5)},
    ]
    write(inbox / "incidents.geojson", incidents_geojson(feats))
    (out,) = ingest_folder(inbox, store, settle_s=0).files
    assert out.stored == 1 and out.quarantined == 3
    assert [(p.feature, p.field) for p in out.problems] == [
        ("#0 (id i1)", "reported_at"),
        ("#1 (id i2)", "severity"),
        ("#2 (id i3)", "geometry"),
    ]
    assert list(store.current("incidents")["id"]) == ["i4"]


def test_a_file_of_the_wrong_schema_is_rejected_whole(store, inbox: Path) -> None:
    feats = [{"id": f"i{k}", "kind": "fire", "reported_at": tt(k)} for k in range(3)]  # no severity
    write(inbox / "incidents_x.geojson", incidents_geojson(feats))
    write(inbox / "crowd_counts_1.csv", "zone,how_many\nz1,3\n")  # no zone_id / people
    before = store.count()
    out = ingest_folder(inbox, store, settle_s=0)
    assert [f.status for f in out.files] == ["rejected", "rejected"]
    assert store.count() == before
    assert listing(inbox / "rejected") == sorted(
        [
            "incidents_x.geojson",
            "incidents_x.geojson.errors.txt",
            "crowd_counts_1.csv",
            "crowd_counts_1.csv.errors.txt",
        ]
    )
    report = (inbox / "rejected" / "incidents_x.geojson.errors.txt").read_text()
    assert "nothing was stored" in report
    assert "feature #0 (id i0), field 'severity': required column is missing" in report
    counts = (inbox / "rejected" / "crowd_counts_1.csv.errors.txt").read_text()
    assert "field 'zone_id': value is missing" in counts and "field 'people'" in counts


def test_unreadable_files_are_rejected_with_the_reason(store, inbox: Path) -> None:
    write(
        inbox / "incidents_cut.geojson", '{"type": "FeatureCollection", "features": [{"type": "Fe'
    )
    write(inbox / "notes.txt", "hello")
    write(inbox / "mystery.csv", "a,b\n1,2\n")
    write(inbox / "incidents_empty.geojson", '{"type": "FeatureCollection", "features": []}')
    out = {f.name: f for f in ingest_folder(inbox, store, settle_s=0).files}
    assert all(f.status == "rejected" for f in out.values())
    assert "may be truncated" in str(out["incidents_cut.geojson"].problems[0])
    assert "not a feed file" in str(out["notes.txt"].problems[0])
    assert out["mystery.csv"].problems[0].field == "feed"
    assert "no records" in str(out["incidents_empty.geojson"].problems[0])
    assert listing(inbox) == []


def test_duplicate_files_store_nothing_twice(store, inbox: Path) -> None:
    text = figures_csv([("s0", 10, 5, tt(30)), ("s1", 7, 2, tt(31))])
    write(inbox / "site_figures_a.csv", text)
    assert ingest_folder(inbox, store, settle_s=0).stored == 2
    count = store.count()
    write(inbox / "site_figures_copy.csv", text)  # same content, other name
    write(inbox / "site_figures_a.csv", text)  # same content, same name
    out = ingest_folder(inbox, store, settle_s=0)
    assert [f.status for f in out.files] == ["duplicate", "duplicate"]
    assert store.count() == count
    rejected = listing(inbox / "rejected")
    assert "site_figures_copy.csv" in rejected and "site_figures_copy.csv.errors.txt" in rejected
    renamed = [n for n in rejected if n.startswith("site_figures_a-") and n.endswith(".csv")]
    assert len(renamed) == 1  # the processed file of that name is kept, not overwritten
    report = (inbox / "rejected" / "site_figures_copy.csv.errors.txt").read_text()
    assert "ingested from 'site_figures_a.csv'" in report
    # the same records inside a new file are not doubled either
    write(inbox / "site_figures_b.csv", text + f"s2,1,1,{tt(40)}\n")
    (f,) = ingest_folder(inbox, store, settle_s=0).files
    assert (f.status, f.stored, f.already) == ("processed", 1, 2)


def test_half_written_files_wait_until_complete(store, inbox: Path) -> None:
    rows = [("s0", k, k, tt(k)) for k in range(40)]
    text = figures_csv(rows)
    # the .part convention: never read, whatever its age
    write(inbox / "site_figures_1.csv.part", text + f"s1,1,1,{tt(99)}\n")
    write(inbox / ".site_figures_2.csv", text)
    assert ingest_folder(inbox, store, settle_s=0).files == []

    # a file still being copied: it grows while the ingester looks
    target = inbox / "site_figures_3.csv"
    started = threading.Event()

    def copier() -> None:
        with open(target, "w", encoding="utf-8") as fh:
            for k in range(0, len(text), 40):
                fh.write(text[k : k + 40])
                fh.flush()
                started.set()
                time.sleep(0.03)

    th = threading.Thread(target=copier)
    th.start()
    started.wait(5)
    out = ingest_folder(inbox, store, settle_s=0.3)
    th.join()
    assert out.files == [] and out.waiting == ["site_figures_3.csv"]
    assert "still being written" in out.summary()
    assert target.exists()
    out = ingest_folder(inbox, store, settle_s=0.3)  # complete now: taken whole
    assert [(f.name, f.stored) for f in out.files] == [("site_figures_3.csv", 40)]
    (inbox / "site_figures_1.csv.part").rename(inbox / "site_figures_1.csv")
    (f,) = ingest_folder(inbox, store, settle_s=0).files
    assert (f.status, f.stored, f.already) == ("processed", 1, 40)  # same records: none doubled


def test_watch_mode_picks_up_new_files(store, inbox: Path) -> None:
    stop = threading.Event()
    seen: list[str] = []
    result = {}

    def watch() -> None:
        result["s"] = ingest_folder(
            inbox, store, once=False, poll_s=0.05, settle_s=0.1, stop=stop.is_set, log=seen.append
        )

    th = threading.Thread(target=watch)
    th.start()
    try:
        part = inbox / "site_figures_w.csv.part"
        part.write_text(figures_csv([("s1", 1, 2, tt(1))]))
        part.rename(inbox / "site_figures_w.csv")
        deadline = time.monotonic() + 10
        while not (inbox / "processed" / "site_figures_w.csv").exists():
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
    finally:
        stop.set()
        th.join(10)
    assert result["s"].stored == 1
    assert any("committed site_figures_w.csv" in line for line in seen)


def test_cli_exit_status(tmp_path: Path, inbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with open_store(url, actor=Actor.service("test")) as st:
        st.register_layer("testing_sites", site_layer())
    write(inbox / "site_figures_1.csv", figures_csv([("s0", 10, 5, tt(30))]))
    args = ["ingest", str(inbox), "--store", url, "--once", "--settle", "0"]
    assert cli.main(args) == 0
    assert "1 event(s) stored" in capsys.readouterr().out
    write(inbox / "site_figures_2.csv", figures_csv([("s7", 10, 5, tt(30))]))
    assert cli.main([*args, "--quiet"]) == 1  # something was quarantined: say so
    assert "1 record(s) quarantined" in capsys.readouterr().out
    assert cli.main(["ingest", str(inbox), "--store", "", "--once"]) == 1
    assert "no store given" in capsys.readouterr().err
    assert (
        cli.main(["ingest", str(inbox), "--store", "postgresql://x@127.0.0.1:1/db", "--once"]) == 1
    )
    assert "cannot connect to postgresql://x@127.0.0.1:1/db" in capsys.readouterr().err


# --- holes closed (issue #18) ---------------------------------------------------------------


def test_a_poison_file_is_rejected_with_its_reason_and_later_files_go_in(store, inbox: Path):
    write(inbox / "incidents_deep.geojson", "[" * 100_000 + "]" * 100_000)
    write(inbox / "site_figures_1.csv", figures_csv([("s0", 10, 5, tt(30))]))
    summary = ingest_folder(inbox, store, settle_s=0)
    by = {f.name: f for f in summary.files}
    assert by["incidents_deep.geojson"].status == "rejected"
    assert by["site_figures_1.csv"].stored == 1
    report = (inbox / "rejected" / "incidents_deep.geojson.errors.txt").read_text()
    assert "nested too deeply" in report
    assert listing(inbox) == []


def test_any_failure_reading_one_file_rejects_that_file_only(store, inbox: Path, monkeypatch):
    real = feeds.parse_feed_file

    def explode(name, data, *a, **k):
        if name.startswith("incidents"):
            raise MemoryError("boom")  # whatever a parser may raise
        return real(name, data, *a, **k)

    monkeypatch.setattr(feeds, "parse_feed_file", explode)
    write(inbox / "incidents_1.geojson", incidents_geojson([{"id": "i1"}]))
    write(inbox / "site_figures_1.csv", figures_csv([("s0", 10, 5, tt(30))]))
    summary = ingest_folder(inbox, store, settle_s=0)
    assert [f.status for f in summary.files] == ["rejected", "processed"]
    report = (inbox / "rejected" / "incidents_1.geojson.errors.txt").read_text()
    assert "cannot be read (MemoryError: boom)" in report


def test_links_are_refused_unread(store, inbox: Path, tmp_path: Path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")
    (inbox / "testing_sites_s.csv").symlink_to(secret)
    inside = write(inbox / "notes.txt", "id,queue\n")
    (inbox / "site_figures_l.csv").symlink_to(inside)  # a link inside the inbox too
    (inbox / "site_figures_gone.csv").symlink_to(tmp_path / "nowhere")  # dangling
    summary = ingest_folder(inbox, store, settle_s=0)
    refused = {f.name for f in summary.files if f.status == "rejected"}
    assert {"testing_sites_s.csv", "site_figures_l.csv", "site_figures_gone.csv"} <= refused
    for p in (inbox / "rejected").glob("*.errors.txt"):
        assert "SECRETHASH" not in p.read_text() and "root:" not in p.read_text()
    assert "symbolic link" in (inbox / "rejected" / "testing_sites_s.csv.errors.txt").read_text()
    assert (inbox / "rejected" / "testing_sites_s.csv").is_symlink()  # moved as a link
    assert secret.read_text().startswith("root:")  # the target is untouched
    assert store.current("testing_sites")["id"].tolist() == list(SITES)


def test_feed_limits_on_size_records_and_value_length(store, inbox: Path, monkeypatch):
    monkeypatch.setenv("CITYOPS_MAX_FEED_BYTES", "6000")
    monkeypatch.setenv("CITYOPS_MAX_FEED_RECORDS", "30")
    monkeypatch.setenv("CITYOPS_MAX_FIELD_CHARS", "100")
    write(inbox / "site_figures_big.csv", figures_csv([("s0", 1, 1, tt(m)) for m in range(300)]))
    write(inbox / "site_figures_many.csv", figures_csv([("s0", 1, 1, tt(m)) for m in range(40)]))
    long_id = "9" * 5000
    write(
        inbox / "incidents_long.geojson",
        incidents_geojson(
            [
                {"id": long_id, "kind": "fire", "severity": 3, "reported_at": tt(1)},
                {"id": "ok", "kind": "fire", "severity": 3, "reported_at": tt(1)},
            ]
        ),
    )
    summary = ingest_folder(inbox, store, settle_s=0)
    by = {f.name: f for f in summary.files}
    assert by["site_figures_big.csv"].status == "rejected"
    assert "more than the feed limit of 6,000 bytes" in str(by["site_figures_big.csv"].problems[0])
    assert by["site_figures_many.csv"].status == "rejected"
    assert "40 records, more than the limit of 30" in str(by["site_figures_many.csv"].problems[0])
    inc = by["incidents_long.geojson"]
    assert inc.status == "processed" and inc.stored == 1 and inc.quarantined == 1
    (p,) = inc.problems
    assert p.field == "id" and "5,000 characters long" in p.message
    assert "Too many characters" not in str(p) and len(str(p)) < 400
    assert long_id not in (inbox / "rejected" / "incidents_long.geojson.errors.txt").read_text()
    assert store.current("incidents")["id"].tolist() == ["ok"]


def test_messages_name_the_one_bad_value_not_the_column(store, inbox: Path):
    feats = [
        {"id": f"q{i}", "name": "x", "lanes": 2, "per_lane_per_h": v}
        for i, v in enumerate([[150], 150, 120])
    ]
    write(inbox / "testing_sites_lists.geojson", incidents_geojson(feats))
    (out,) = ingest_folder(inbox, store, settle_s=0).files
    assert out.stored == 2 and out.quarantined == 1
    (p,) = out.problems
    assert "#0" in str(p.feature) and "is a list, not one number" in p.message
    bad = "site_id,queue,tested,observed_at\ns0,lots,1,nottime\n"
    write(inbox / "site_figures_x.csv", bad)
    (out,) = ingest_folder(inbox, store, settle_s=0).files
    fields = sorted(p.field for p in out.problems)
    assert fields == ["observed_at", "queue"]  # both errors of the row, not just the first


def test_quarantined_csv_cells_cannot_run_as_formulas(store, inbox: Path):
    rows = [
        "site_id,queue,tested,observed_at,note",
        f"s0,4,2,{tt(1)},fine",
        f's7,1,2,{tt(1)},"=HYPERLINK(""http://x"",""fix"")"',
        f"s8,3,2,{tt(1)},=cmd|' /C calc'!A0",
        f"s9,3,2,{tt(1)},@SUM(A1)",
        f"s1,-3.5,2,{tt(1)},+1",
    ]
    write(inbox / "site_figures_f.csv", "\n".join(rows) + "\n")
    ingest_folder(inbox, store, settle_s=0)
    text = (inbox / "rejected" / "site_figures_f.quarantined.csv").read_text(encoding="utf-8-sig")
    import csv
    import io as pyio

    cells = list(csv.DictReader(pyio.StringIO(text)))
    notes = [c["note"] for c in cells]
    assert notes[:3] == ['\'=HYPERLINK("http://x","fix")', "'=cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert [c["queue"] for c in cells] == ["1", "3", "3", "-3.5"]  # numbers stay numbers
    assert notes[3] == "+1"  # a plain number: data, not a formula
    assert all(not v.startswith(("=", "@")) for c in cells for v in c.values() if v)


def test_csv_helper_neutralises_text_not_numbers(tmp_path: Path):
    from geo.csvout import csv_text, safe_cell, write_csv

    assert safe_cell("-3.5") == "-3.5" and safe_cell(-3.5) == -3.5 and safe_cell("1e-3") == "1e-3"
    assert safe_cell("-2+3") == "'-2+3" and safe_cell("\tx") == "'\tx" and safe_cell("a=b") == "a=b"
    text = csv_text(["=id", "v"], [["@x", -1], {"=id": "ok", "v": "+1"}])
    assert text.splitlines() == ["'=id,v", "'@x,-1", "ok,+1"]
    path = write_csv(tmp_path / "t.csv", ["a"], [["=1"]])
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["a", "'=1"]


# --- crashes and concurrency ----------------------------------------------------------------

N_FILES, PER_FILE = 6, 12


def fill_inbox(inbox: Path) -> set[tuple[str, str, int]]:
    """Figures files with distinct records; returns (file, site, queue) of every record."""
    expected = set()
    for f in range(N_FILES):
        rows = []
        for r in range(PER_FILE):
            q = f * 100 + r
            rows.append((SITES[(f + r) % 3], q, r, tt(f * PER_FILE + r)))
            expected.add((f"site_figures_{f}.csv", SITES[(f + r) % 3], q))
        write(inbox / f"site_figures_{f}.csv", figures_csv(rows))
    return expected


def start_ingester(inbox: Path, url: str, delay: float | None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(DELAY_ENV, None)
    if delay:
        env[DELAY_ENV] = str(delay)
    cmd = [sys.executable, "-m", "geo.cli", "ingest", str(inbox), "--store", url, "--once"]
    return subprocess.Popen(
        [*cmd, "--settle", "0"], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def wait_for(proc: subprocess.Popen, prefix: str) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"the ingester ended (status {proc.wait()}) before '{prefix}'")


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()


def stored_figures(url: str) -> list[tuple[str, str, int]]:
    with open_store(url, actor=Actor.service("test")) as st:
        ev = st.events("site_figures")
    return [(s, e, p["queue"]) for s, e, p in zip(ev["source"], ev["entity_id"], ev["props"])]


@pytest.mark.parametrize("backend", backends())
def test_kill_9_mid_ingest_loses_and_doubles_nothing(
    backend: str, tmp_path: Path, inbox: Path
) -> None:
    url = backend_url(backend, tmp_path)
    with open_store(url, actor=Actor.service("test")) as st:
        st.register_layer("testing_sites", site_layer())
    expected = fill_inbox(inbox)
    rng = random.Random(11)

    # 1. killed right after a file's commit, before it was moved
    proc = start_ingester(inbox, url, delay=0.01)
    first = wait_for(proc, "committed ").split()[-1]
    kill9(proc)
    assert (inbox / first).exists() and not (inbox / "processed" / first).exists()
    assert sum(s == first for s, _, _ in stored_figures(url)) == PER_FILE

    # 2. killed inside a file's transaction (it lasts PER_FILE * 10 ms): none of it is kept
    proc = start_ingester(inbox, url, delay=0.01)
    name = wait_for(proc, "ingesting ").split()[1].rstrip(":")
    time.sleep(rng.uniform(0.02, 0.08))
    kill9(proc)
    got = stored_figures(url)
    assert not any(s == name for s, _, _ in got), "a file went in partly"
    assert (inbox / name).exists()
    per_file = pd.Series([s for s, _, _ in got]).value_counts()
    assert set(per_file) == {PER_FILE} and len(got) == len(set(got))

    # 3. a clean run finishes the job
    proc = start_ingester(inbox, url, delay=None)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    got = stored_figures(url)
    assert sorted(got) == sorted(expected)  # nothing lost, nothing doubled
    assert listing(inbox) == []
    assert listing(inbox / "processed") == sorted(f"site_figures_{f}.csv" for f in range(N_FILES))
    assert listing(inbox / "rejected") == []
    with open_store(url, actor=Actor.service("test")) as st:
        assert st.current("testing_sites")["tested"].notna().all()


@pytest.mark.parametrize("backend", backends())
def test_two_ingesters_and_the_app_at_once_keep_every_event(
    backend: str, tmp_path: Path, inbox: Path
) -> None:
    url = backend_url(backend, tmp_path)
    with open_store(url, actor=Actor.service("test")) as st:
        st.register_layer("testing_sites", site_layer())
    expected = fill_inbox(inbox)
    procs = [start_ingester(inbox, url, delay=0.005) for _ in range(2)]  # one folder, two watchers
    with open_store(url, actor=Actor.service("test")) as app:  # meanwhile an analyst draws cordons
        for line in procs[0].stdout:  # wait until the ingesters are writing
            if line.startswith("ingesting"):
                break
        for k in range(10):
            app.put_drawing(
                "cordons",
                f"c{k}",
                shapely.box(121.6, 31.1, 121.7 + k / 100, 31.2),
                {"band": "control"},
            )
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(stored_figures(url)) == sorted(expected)
    with open_store(url, actor=Actor.service("test")) as st:
        assert len(st.current("cordons")) == 10
    assert listing(inbox) == []
    assert listing(inbox / "processed") == sorted(f"site_figures_{f}.csv" for f in range(N_FILES))
    assert listing(inbox / "rejected") == []
