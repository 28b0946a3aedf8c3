"""Feeds: a watched folder where other systems drop GeoJSON or CSV files for the store.

The folder
----------
``FOLDER/`` is the inbox. Each file dropped there is ingested exactly once, then moved:

- to ``FOLDER/processed/`` when at least one of its records was stored. Records that could not
  be used are *quarantined*: listed in ``FOLDER/rejected/NAME.errors.txt`` (record, field, what
  was expected) and copied, in the file's own format, to ``FOLDER/rejected/STEM.quarantined.EXT``
  so they can be fixed and dropped in again;
- to ``FOLDER/rejected/`` with ``NAME.errors.txt`` beside it when nothing in it could be used
  (not JSON, no records, unknown feed, every record bad) or when the same content was already
  ingested (a duplicate file).

A name that is already taken in ``processed/`` or ``rejected/`` gets ``-<hash>`` added.

Which feed a file belongs to
----------------------------
From a top-level ``"feed"`` member of a GeoJSON FeatureCollection, else from the file name's
prefix (``incidents_2021-10-31T1830.geojson``, ``site_figures-17.csv``; see :data:`FEEDS` for
every name and alias); per record, a ``feed`` column or property wins over both.

Half-written files
------------------
Files whose names start with ``.`` or ``~`` or end with ``.part``, ``.tmp``, ``.partial``,
``.crdownload``, ``.swp`` or ``.lock`` are never read: a writer should write ``NAME.part`` and
rename it to ``NAME`` when done (a rename is atomic). Other files are taken only once their size
and modification time were the same at two looks at least ``settle_s`` seconds apart (in watch
mode the looks are successive polls; with ``once=True`` it looks twice, ``settle_s`` apart).

Exactly once
------------
A file's events and its record (content hash, destination name) are committed in one
transaction; the file is moved after the commit. Killed before the commit: nothing was stored
and the file is still in the inbox. Killed after it: the next run finds the hash, rewrites the
report and finishes the move. Events are idempotent by id as well (see :mod:`geo.store`), so
two watchers on one folder, or the same records in two files, never double anything.

Records
-------
Times must carry their zone (``2021-10-31T18:05:00+08:00``); a time without one is an error for
that record (feeds come from other machines: guessing the zone would shift events by hours).
Figures, counts and status changes must name an entity the store knows (a site or zone of the
loaded scenario, an incident already reported); unknown ids are quarantined.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from geo import layers
from geo.auth import Actor
from geo.csvout import csv_text
from geo.errors import InputError, Problem
from geo.limits import Limits, excerpt, limits
from geo.store import (
    ALWAYS,
    DELAY_ENV,
    DRAWING_GEOMETRY,
    EVENT_KINDS,
    Event,
    FileRecord,
    Store,
    StoreError,
    open_store,
)

__all__ = [
    "FEEDS",
    "FEED_SUFFIXES",
    "PROCESSED",
    "REJECTED",
    "TEMP_SUFFIXES",
    "Feed",
    "FileOutcome",
    "IngestSummary",
    "ParsedFile",
    "feed_from_name",
    "ingest_file",
    "ingest_folder",
    "parse_feed_file",
    "refuse",
]

PROCESSED = "processed"
REJECTED = "rejected"
FEED_SUFFIXES = (".geojson", ".json", ".csv")
TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp", ".lock")
_TIME_EXPECTED = "an ISO 8601 time with its offset, such as 2021-10-31T18:05:00+08:00"
_CONTROL = ("feed", "event_id")  # columns that steer ingestion and are not stored as fields

Log = Callable[[str], None]


@dataclass(frozen=True)
class Feed:
    """One kind of feed file: what it holds and where its id and time are."""

    name: str
    event_kind: str
    aliases: tuple[str, ...]
    id_fields: tuple[str, ...]
    time_fields: tuple[str, ...]
    time_required: bool = True
    needs: tuple[str, ...] = ()  # partial feeds: at least one of these fields

    @property
    def layer(self) -> str:
        return EVENT_KINDS[self.event_kind].layer

    @property
    def full(self) -> bool:
        return EVENT_KINDS[self.event_kind].full


#: Every feed, keyed by its name (also the preferred file-name prefix).
FEEDS: dict[str, Feed] = {
    f.name: f
    for f in [
        Feed("incidents", "incident", ("incident",), ("id",), ("updated_at", "reported_at")),
        Feed(
            "incident_status",
            "incident_status",
            ("status",),
            ("incident_id", "id"),
            ("changed_at", "time", "updated_at"),
            needs=("status",),
        ),
        Feed("testing_sites", "site", ("sites",), ("id",), ("updated_at",), time_required=False),
        Feed(
            "site_figures",
            "site_figures",
            ("figures",),
            ("site_id", "id"),
            ("observed_at", "time", "updated_at"),
            needs=("queue", "tested"),
        ),
        Feed("crowd_zones", "crowd_zone", ("zones",), ("id",), ("updated_at", "observed_at")),
        Feed(
            "crowd_counts",
            "crowd_count",
            ("counts", "crowd_count"),
            ("zone_id", "id"),
            ("observed_at", "time", "updated_at"),
            needs=("people",),
        ),
        Feed("cordons", "cordon", ("cordon",), ("id",), ("updated_at", "drawn_at")),
        Feed("plans", "plan", ("plan",), ("id",), ("updated_at", "drawn_at", "created_at")),
    ]
}
_BY_NAME = {a: f for f in FEEDS.values() for a in (f.name, *f.aliases)}
# Full records first, so a file of sites or incidents is in before the figures that need it.
_ORDER = {name: i for i, name in enumerate(sorted(FEEDS, key=lambda n: not FEEDS[n].full))}
# The layer schema field behind each partial field, for checking its value.
_PARTIAL_FIELDS = {
    "incident_status": "incidents",
    "site_figures": "testing_sites",
    "crowd_count": "crowd_zones",
}


def feed_from_name(filename: str) -> Feed | None:
    """The feed named by a file name's prefix (longest match), or None."""
    name = filename.lower()
    for alias in sorted(_BY_NAME, key=len, reverse=True):
        if name.startswith(alias):
            rest = name[len(alias) :]
            if not rest or rest[0] in "_-. 0123456789":
                return _BY_NAME[alias]
    return None


# --- outcomes -------------------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What happened to one file."""

    name: str
    status: str  # processed | rejected | duplicate | vanished (taken by another watcher)
    dest: Path | None = None
    records: int = 0
    stored: int = 0
    already: int = 0  # valid records whose events were stored before
    quarantined: int = 0
    problems: list[Problem] = field(default_factory=list)
    report: Path | None = None

    def summary(self) -> str:
        if self.status == "vanished":
            return f"{self.name}: taken by another watcher"
        if self.status == "duplicate":
            return f"{self.name}: duplicate of a file already ingested; nothing stored"
        text = (
            f"{self.name}: {self.status}; {self.records} record(s), {self.stored} stored"
            + (f", {self.already} already in the store" if self.already else "")
            + (f", {self.quarantined} quarantined" if self.quarantined else "")
        )
        if self.report is not None:
            text += f" (see {self.report})"
        return text


@dataclass
class IngestSummary:
    """What an :func:`ingest_folder` run did."""

    files: list[FileOutcome] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # not complete yet; left for the next look

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status in ("rejected", "duplicate")]

    def summary(self) -> str:
        n = {s: sum(f.status == s for f in self.files) for s in ("processed", "rejected")}
        dup = sum(f.status == "duplicate" for f in self.files)
        text = (
            f"{len(self.files)} file(s): {n['processed']} processed, {n['rejected']} rejected, "
            f"{dup} duplicate; {self.stored} event(s) stored, {self.quarantined} record(s) "
            "quarantined"
        )
        if self.waiting:
            text += f"; {len(self.waiting)} file(s) still being written, left for the next look"
        return text


# --- parsing --------------------------------------------------------------------------------


@dataclass
class _Record:
    index: int
    props: dict[str, Any]
    geometry: Any  # shapely geometry or None
    raw: Any  # the original feature (GeoJSON) or row (CSV), for the quarantine file
    label: str
    geom_problem: Problem | None = None


@dataclass
class ParsedFile:
    """A feed file turned into events, with every problem found."""

    name: str
    events: list[Event]
    problems: list[Problem]  # per record (feature set) or for the whole file (feature None)
    records: int
    bad: list[int]  # indices of quarantined records
    raw: list[Any]
    fmt: str  # "geojson" or "csv"
    csv_header: list[str] | None = None


def parse_feed_file(
    name: str,
    data: bytes,
    known_ids: Callable[[str], set[str]],
    *,
    datum: layers.Datum = "wgs84",
    limits_: Limits | None = None,
) -> ParsedFile:
    """Turn a feed file's bytes into events; never raises for bad content.

    Parameters
    ----------
    name : the file name (its prefix may say the feed; used in every message).
    data : the file's content.
    known_ids : ``layer -> ids`` the store knows (ids defined in this file count too).
    datum : ``gcj02``/``bd09`` when coordinates come from Amap/Tencent or Baidu.
    limits_ : record count and value length limits (:func:`geo.limits.limits` when None).

    Returns
    -------
    ParsedFile : events of the good records, problems of the others (a problem without a
        feature concerns the whole file, which then has no events).
    """
    suffix = Path(name).suffix.lower()
    fmt = "csv" if suffix == ".csv" else "geojson"
    empty = ParsedFile(name, [], [], 0, [], [], fmt)

    def fail(msg: str, fld: str | None = None, expected: str | None = None) -> ParsedFile:
        empty.problems.append(Problem(msg, name, None, fld, expected))
        return empty

    if suffix not in FEED_SUFFIXES:
        return fail("not a feed file", expected="a .geojson, .json or .csv file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return fail(f"not UTF-8 text (byte {exc.start})", expected="a UTF-8 file")

    file_feed = feed_from_name(Path(name).name)
    header = None
    if fmt == "csv":
        records, header, problem = _read_csv(name, text)
    else:
        records, member, problem = _read_geojson(name, text)
        if member is not None:
            if member in FEEDS:
                file_feed = FEEDS[member]  # said explicitly: wins over the name
            else:
                problem = problem or Problem(
                    f"unknown feed {excerpt(member)}", name, None, "feed", ", ".join(FEEDS)
                )
    if problem is not None:
        empty.problems.append(problem)
        return empty
    lim = limits_ or limits()
    if len(records) > lim.max_feed_records:
        return fail(
            f"{len(records):,} records, more than the limit of {lim.max_feed_records:,} per file",
            expected="smaller files (the limit is CITYOPS_MAX_FEED_RECORDS)",
        )
    parsed = ParsedFile(name, [], [], len(records), [], [r.raw for r in records], fmt, header)
    if not records:
        return fail("the file has no records", expected="at least one feature or row")
    has_feed_column = any("feed" in r.props for r in records)
    if file_feed is None and not has_feed_column:
        return fail(
            "cannot tell which feed this file belongs to",
            "feed",
            "a file name starting with one of " + ", ".join(FEEDS) + " (or a 'feed' member/column)",
        )

    groups: dict[str, list[_Record]] = {}
    bad: dict[int, list[Problem]] = {}
    for r in records:
        long = _too_long(name, r, lim)
        if long:  # refused before anything reads it (a 10 MB id is not an id)
            bad[r.index] = long
            continue
        value = r.props.get("feed")
        feed = file_feed
        if value not in (None, ""):
            feed = FEEDS.get(str(value).strip().lower())
            if feed is None:
                bad[r.index] = [
                    Problem(
                        f"unknown feed {excerpt(value)}", name, r.label, "feed", ", ".join(FEEDS)
                    )
                ]
                continue
        if feed is None:
            bad[r.index] = [Problem("feed is missing", name, r.label, "feed", ", ".join(FEEDS))]
            continue
        groups.setdefault(feed.name, []).append(r)

    file_ids: dict[str, set[str]] = {}
    for feed_name in sorted(groups, key=lambda n: _ORDER[n]):
        feed = FEEDS[feed_name]
        recs = groups[feed_name]
        if feed.full:
            events, problems = _full_events(name, feed, recs, datum)
            for e in events:
                file_ids.setdefault(feed.layer, set()).add(e.entity_id)
        else:
            known = known_ids(feed.layer) | file_ids.get(feed.layer, set())
            events, problems = _partial_events(name, feed, recs, known)
        parsed.events.extend(events)
        for i, probs in problems.items():
            bad.setdefault(i, []).extend(probs)
    parsed.bad = sorted(bad)
    parsed.problems = [p for i in parsed.bad for p in bad[i]]
    return parsed


def _too_long(name: str, r: _Record, lim: Limits) -> list[Problem]:
    return [
        Problem(
            f"the value is {len(v):,} characters long: {excerpt(v, 20)}",
            name,
            r.label,
            k,
            f"at most {lim.max_field_chars:,} characters (CITYOPS_MAX_FIELD_CHARS)",
        )
        for k, v in r.props.items()
        if isinstance(v, str) and len(v) > lim.max_field_chars
    ]


def _label(i: int, props: dict[str, Any], csv_line: bool) -> str:
    text = f"#{i}"
    extra = [f"line {i + 2}"] if csv_line else []
    for key in ("id", "site_id", "zone_id", "incident_id"):
        v = props.get(key)
        if v not in (None, ""):
            extra.append(f"id {excerpt(v, quote=False)}")
            break
    return text + (f" ({', '.join(extra)})" if extra else "")


_LON = ("lon", "lng", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_WKT = ("wkt", "geometry")


def _read_csv(name: str, text: str) -> tuple[list[_Record], list[str] | None, Problem | None]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = list(reader)
    except csv.Error as exc:
        return (
            [],
            None,
            Problem(f"not a readable CSV file ({excerpt(str(exc), 80, quote=False)})", name),
        )
    if not header:
        return [], None, Problem("the file has no header row", name, expected="a CSV header")
    low = [h.lower() for h in header]
    lon = next((h for h in header if h.lower() in _LON), None)
    lat = next((h for h in header if h.lower() in _LAT), None)
    wkt = next((h for h in header if h.lower() in _WKT), None)
    if low.count("id") > 1:
        return [], header, Problem("two 'id' columns", name, field="id")
    records = []
    for i, raw in enumerate(rows):
        if None in raw:  # more cells than header names
            props = {"_extra": raw.pop(None)}
        else:
            props = {}
        cells = {(k or "").strip(): v for k, v in raw.items()}
        props.update({k.lower(): _cell(v) for k, v in cells.items()})
        geom, problem = None, None
        label = _label(i, props, csv_line=True)
        if "_extra" in props:
            problem = Problem(
                "the row has more cells than the header has names", name, label, None,
                f"{len(header)} cells",
            )  # fmt: skip
        elif lon and lat and (props.get(lon.lower()) is not None or props.get(lat.lower())):
            try:
                x, y = float(props[lon.lower()]), float(props[lat.lower()])
                geom = shapely.Point(x, y)
            except (TypeError, ValueError):
                bad_f = lon if not _is_number(props.get(lon.lower())) else lat
                problem = Problem(
                    f"{excerpt(props.get(bad_f.lower()))} is not a coordinate",
                    name, label, bad_f, "a number in degrees",
                )  # fmt: skip
        elif wkt and props.get(wkt.lower()) is not None:
            try:
                geom = shapely.from_wkt(props[wkt.lower()])
            except shapely.errors.GEOSException:
                problem = Problem(
                    "not a WKT geometry", name, label, wkt, "e.g. POINT (121.66 31.14)"
                )
        for col in (lon, lat, wkt):
            if col:
                props.pop(col.lower(), None)
        props.pop("_extra", None)
        records.append(_Record(i, props, geom, cells, label, problem))
    return records, header, None


def _cell(v: Any) -> Any:
    if v is None:
        return None
    v = v.strip()
    return v or None


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _read_geojson(name: str, text: str) -> tuple[list[_Record], str | None, Problem | None]:
    try:
        doc = json.loads(text)
    except RecursionError:
        return (
            [],
            None,
            Problem("the JSON is nested too deeply to be GeoJSON", name, expected="GeoJSON"),
        )
    except json.JSONDecodeError as exc:
        return (
            [],
            None,
            Problem(
                f"not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
                "the file may be truncated",
                name,
                expected="a GeoJSON FeatureCollection",
            ),
        )
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [], None, Problem("not a GeoJSON FeatureCollection", name, expected="GeoJSON")
    member = doc.get("feed")
    member = str(member).strip().lower() if member is not None else None
    feats = doc.get("features")
    if not isinstance(feats, list):
        return [], member, Problem("'features' is not a list", name, field="features")
    records = []
    for i, feat in enumerate(feats):
        if not isinstance(feat, dict):
            props: dict[str, Any] = {}
            records.append(
                _Record(
                    i, props, None, feat, f"#{i}", Problem("not a GeoJSON feature", name, f"#{i}")
                )
            )
            continue
        props = {str(k).strip().lower(): v for k, v in (feat.get("properties") or {}).items()}
        if props.get("id") in (None, "") and feat.get("id") is not None:
            props["id"] = feat["id"]
        label = _label(i, props, csv_line=False)
        geom, problem = None, None
        if feat.get("geometry") is not None:
            try:
                geom = shape(feat["geometry"])
            except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for bad GeoJSON
                problem = Problem(
                    f"not a GeoJSON geometry ({excerpt(str(exc), 60, quote=False)})",
                    name,
                    label,
                    "geometry",
                    "RFC 7946 geometry",
                )
        records.append(_Record(i, props, geom, feat, label, problem))
    return records, member, None


def _check_time(name: str, r: _Record, fld: str, problems: list[Problem]) -> pd.Timestamp | None:
    v = r.props.get(fld)
    if v in (None, ""):
        return None
    try:
        t = pd.Timestamp(v)
        if pd.isna(t):
            raise ValueError
    except (ValueError, TypeError):
        problems.append(Problem(f"{excerpt(v)} is not a time", name, r.label, fld, _TIME_EXPECTED))
        return None
    if t.tzinfo is None:
        problems.append(
            Problem(f"{excerpt(v)} has no time zone", name, r.label, fld, _TIME_EXPECTED)
        )
        return None
    return t


def _event_time(name: str, feed: Feed, r: _Record, problems: list[Problem]) -> pd.Timestamp | None:
    """The record's event time: its first time field present; None (with a problem) if bad."""
    for fld in feed.time_fields:
        if r.props.get(fld) not in (None, ""):
            return _check_time(name, r, fld, problems)
    if feed.time_required:
        problems.append(
            Problem("time is missing", name, r.label, feed.time_fields[0], _TIME_EXPECTED)
        )
        return None
    return ALWAYS


def _full_events(
    name: str, feed: Feed, recs: list[_Record], datum: layers.Datum
) -> tuple[list[Event], dict[int, list[Problem]]]:
    bad: dict[int, list[Problem]] = {}
    times: dict[int, pd.Timestamp] = {}
    schema = layers.SCHEMAS.get(feed.layer)
    time_cols = set(feed.time_fields)
    if schema is not None:
        time_cols |= {f.name for f in schema.fields if f.dtype == "datetime"}
    for r in recs:
        probs: list[Problem] = []
        if r.geom_problem is not None:
            probs.append(r.geom_problem)
        for fld in sorted(time_cols):
            _check_time(name, r, fld, probs)
        t = _event_time(name, feed, r, probs) if not probs else None
        if probs:
            bad[r.index] = probs
        else:
            times[r.index] = t
    remaining = [r for r in recs if r.index not in bad]
    valid: gpd.GeoDataFrame | None = None
    for _ in range(10):  # each round removes at least one record or ends
        if not remaining:
            break
        gdf = gpd.GeoDataFrame(
            pd.DataFrame.from_records([_stored_props(r.props) for r in remaining]),
            geometry=gpd.GeoSeries([r.geometry for r in remaining], crs=layers.WGS84),
            crs=layers.WGS84,
        )
        try:
            if schema is not None:
                valid, _ = layers.validate(gdf, feed.layer, source=name, tz="UTC", datum=datum)
            else:
                valid = _validate_extra(gdf, feed, name)
            break
        except InputError as exc:
            rows: dict[int, list[Problem]] = {}
            whole: list[Problem] = []
            for p in exc.problems:
                m = re.match(r"#(\d+)", str(p.feature or ""))
                if m and int(m[1]) < len(remaining):
                    r = remaining[int(m[1])]
                    rows.setdefault(r.index, []).append(
                        Problem(p.message, name, r.label, p.field, p.expected)
                    )
                else:
                    whole.append(p)
            if not rows:  # a problem of the whole group (e.g. a required column is missing)
                for r in remaining:
                    bad[r.index] = [
                        Problem(p.message, name, r.label, p.field, p.expected) for p in whole
                    ]
                remaining = []
                break
            for i, probs in rows.items():
                bad[i] = probs
            remaining = [r for r in remaining if r.index not in rows]
    if valid is None or not remaining:
        return [], bad
    # updated_at is the event's time, not a field of the layer
    cols = [c for c in valid.columns if c not in ("geometry", "id", "updated_at")]
    values = valid[cols].to_dict("records")
    events = [
        Event(feed.event_kind, str(ident), times[r.index], props, geom, _event_id(r), name)
        for r, ident, props, geom in zip(remaining, valid["id"], values, valid.geometry.values)
    ]
    return events, bad


def _stored_props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in _CONTROL}


def _event_id(r: _Record) -> str | None:
    v = r.props.get("event_id")
    return None if v in (None, "") else str(v).strip()


def _validate_extra(gdf: gpd.GeoDataFrame, feed: Feed, name: str) -> gpd.GeoDataFrame:
    """Cordons and plans have no layer schema: an id and a geometry of the right kind."""
    if "id" not in gdf.columns:
        raise InputError("required column is missing", file=name, field="id", expected="an id")
    allowed = DRAWING_GEOMETRY[feed.layer]
    problems = []
    ids = gdf["id"].map(lambda v: None if v in (None, "") or v != v else str(v).strip())
    for i, (ident, g) in enumerate(zip(ids, gdf.geometry.values)):
        if ident is None:
            problems.append(Problem("value is missing", name, f"#{i}", "id", "an id"))
        if g is None or g.is_empty:
            problems.append(Problem("geometry is missing", name, f"#{i}", "geometry"))
        elif g.geom_type not in allowed:
            problems.append(
                Problem(
                    f"geometry is a {g.geom_type}", name, f"#{i}", "geometry", " or ".join(allowed)
                )
            )
        elif not (
            -180 <= g.bounds[0] <= g.bounds[2] <= 180 and -90 <= g.bounds[1] <= g.bounds[3] <= 90
        ):
            problems.append(
                Problem("coordinates are not lon/lat degrees", name, f"#{i}", "geometry")
            )
    if problems:
        raise InputError(problems=problems)
    gdf = gdf.copy()
    gdf["id"] = ids
    return gdf


def _in_degrees(bounds: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = bounds
    return -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90


def _partial_events(
    name: str, feed: Feed, recs: list[_Record], known: set[str]
) -> tuple[list[Event], dict[int, list[Problem]]]:
    schema = layers.SCHEMAS[_PARTIAL_FIELDS[feed.event_kind]]
    fields = [f for f in EVENT_KINDS[feed.event_kind].fields if f != "observed_at"]
    events, bad = [], {}
    what = {"incidents": "incident", "testing_sites": "testing site", "crowd_zones": "crowd zone"}[
        feed.layer
    ]
    for r in recs:
        probs: list[Problem] = []
        if r.geom_problem is not None:
            probs.append(r.geom_problem)
        id_field = next((f for f in feed.id_fields if r.props.get(f) not in (None, "")), None)
        ident = None
        if id_field is None:
            probs.append(
                Problem("value is missing", name, r.label, feed.id_fields[0], f"the {what}'s id")
            )
        else:
            ident = _id_text(r.props[id_field])
            if ident not in known:
                probs.append(
                    Problem(
                        f"unknown {what} {excerpt(ident)}: it is not in the store",
                        name,
                        r.label,
                        id_field,
                        f"the id of {_article(what)} {what} already stored (load the scenario, "
                        f"or send the {feed.layer} file first)",
                    )
                )
        t = _event_time(name, feed, r, probs)
        props: dict[str, Any] = {}
        for fname in fields:
            v = r.props.get(fname)
            if v in (None, ""):
                continue
            value = _check_value(schema.field(fname), v, name, r.label, probs)
            if value is not None:
                props[fname] = value
        if not any(r.props.get(f) not in (None, "") for f in feed.needs):
            probs.append(
                Problem(
                    "value is missing",
                    name,
                    r.label,
                    feed.needs[0],
                    " or ".join(feed.needs) + " (a value to record)",
                )
            )
        if probs or t is None or ident is None:
            bad[r.index] = probs
            continue
        if feed.event_kind == "crowd_count":
            props["observed_at"] = t.isoformat()
        events.append(Event(feed.event_kind, ident, t, props, None, _event_id(r), name))
    return events, bad


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _id_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _check_value(f: layers.Field, v: Any, name: str, label: str, probs: list[Problem]) -> Any:
    if f.dtype == "str":
        text = str(v).strip()
        if f.choices:
            text = text.lower()
            if text not in f.choices:
                probs.append(
                    Problem(f"{excerpt(v)} is not allowed", name, label, f.name, f.expected())
                )
                return None
        return text
    try:
        if isinstance(v, bool):
            raise ValueError
        x = float(v)
        if not np.isfinite(x):
            raise ValueError
    except (TypeError, ValueError):
        probs.append(Problem(layers._not_a_number(v), name, label, f.name, f.expected()))
        return None
    if f.dtype == "int" and not x.is_integer():
        probs.append(
            Problem(
                f"{excerpt(v, quote=False)} is not a whole number",
                name,
                label,
                f.name,
                f.expected(),
            )
        )
        return None
    if (f.min is not None and x < f.min) or (f.max is not None and x > f.max):
        probs.append(Problem(f"{x:g} is out of range", name, label, f.name, f.expected()))
        return None
    return int(x) if f.dtype == "int" else x


# --- one file -------------------------------------------------------------------------------


def _ingester() -> Actor:
    return Actor.service("ingest")


def ingest_file(
    path: str | os.PathLike[str],
    store: Store,
    *,
    datum: layers.Datum = "wgs84",
    log: Log | None = None,
) -> FileOutcome:
    """Ingest one file of an inbox folder and move it to ``processed/`` or ``rejected/``.

    Safe to kill at any point and to run again (see the module docstring). Links, anything that
    resolves outside the inbox and files over the size limit are refused unread; a file that
    cannot be parsed at all is rejected with the reason. Only a store error raises.
    """
    path = Path(path)
    folder = path.parent
    say = log or (lambda _m: None)
    lim = limits()
    try:
        data = _read_inbox_file(path, lim)
    except FileNotFoundError:
        return FileOutcome(path.name, "vanished")
    if isinstance(data, Problem):
        return refuse(path, data, log=say)
    sha = hashlib.sha256(data).hexdigest()
    rec = store.file_record(sha)
    if rec is not None and _dest_path(folder, rec).exists():
        return _duplicate(path, rec, sha, say)

    try:
        parsed = parse_feed_file(path.name, data, store.known_ids, datum=datum, limits_=lim)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - one poison file must not stop ingestion for good
        reason = excerpt(f"{type(exc).__name__}: {exc}", 120, quote=False)
        fmt = "csv" if path.suffix.lower() == ".csv" else "geojson"
        problem = Problem(f"the file cannot be read ({reason})", path.name, expected="a feed file")
        parsed = ParsedFile(path.name, [], [problem], 0, [], [], fmt)
    outcome = FileOutcome(path.name, "", records=parsed.records, problems=parsed.problems)
    outcome.quarantined = len(parsed.bad) if parsed.events else parsed.records
    if rec is None:
        status = "processed" if parsed.events else "rejected"
        planned = FileRecord(
            sha, path.name, _free_name(folder, path.name, sha), status, parsed.records,
            len(parsed.events), outcome.quarantined,
        )  # fmt: skip
        say(f"ingesting {path.name}: {len(parsed.events)} event(s)")
        # The ingester writes as the store's own actor (cityops ingest --as NAME), else as the
        # service account "ingest": every event names who wrote it.
        result = store.append(parsed.events, file=planned, actor=store.actor or _ingester())
        if result.file_known:  # another watcher committed this content meanwhile
            rec = store.file_record(sha)
            assert rec is not None
            if _dest_path(folder, rec).exists():
                return _duplicate(path, rec, sha, say)
        else:
            rec = planned
            outcome.stored, outcome.already = result.inserted, result.duplicates
            say(f"committed {path.name}")
            _test_pause()
    else:
        say(f"finishing {path.name} (stored by an earlier run)")
        outcome.already = len(parsed.events)

    outcome.status = rec.status
    if parsed.problems:
        outcome.report = _write_report(folder, rec, parsed, outcome)
    dest = _dest_path(folder, rec)
    dest.parent.mkdir(exist_ok=True)
    try:
        shutil.move(path, dest)
    except FileNotFoundError:
        return FileOutcome(path.name, "vanished")
    outcome.dest = dest
    say(outcome.summary())
    return outcome


def _read_inbox_file(path: Path, lim: Limits) -> bytes | Problem:
    """The file's bytes, or why it is refused unread: a link (even to a file in the inbox: what
    it points to can change), not a regular file, outside the inbox, or over the size limit."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return Problem(
            "a symbolic link; links are never followed",
            path.name,
            expected="the file itself, copied or moved into the inbox",
        )
    if not stat.S_ISREG(st.st_mode):
        return Problem("not a regular file", path.name, expected="a feed file")
    if path.parent.resolve() not in path.resolve().parents:
        return Problem("the file resolves outside the inbox", path.name, expected="a feed file")
    if st.st_size > lim.max_feed_bytes:
        return _too_big(path.name, st.st_size, lim)
    # O_NOFOLLOW: a link swapped in after the look above is refused by the kernel, not read
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return Problem("not a regular file", path.name, expected="a feed file")
        data = fh.read(lim.max_feed_bytes + 1)
    if len(data) > lim.max_feed_bytes:
        return _too_big(path.name, len(data), lim)
    return data


def _too_big(name: str, size: int, lim: Limits) -> Problem:
    return Problem(
        f"the file is {size:,} bytes, more than the feed limit of {lim.max_feed_bytes:,} bytes",
        name,
        expected="smaller feed files (the limit is CITYOPS_MAX_FEED_BYTES)",
    )


def refuse(
    path: str | os.PathLike[str], problem: Problem, *, log: Log | None = None
) -> FileOutcome:
    """Move ``path`` (a link is moved as a link, never followed) to ``rejected/`` with a report
    saying ``problem``; nothing is stored. For files that cannot or must not be read."""
    path = Path(path)
    folder = path.parent
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return FileOutcome(path.name, "vanished")
    tag = hashlib.sha256(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    dest = folder / REJECTED / _free_name(folder, path.name, tag)
    dest.parent.mkdir(exist_ok=True)
    report = dest.with_name(dest.name + ".errors.txt")
    _write_text(report, f"{path.name}: refused, nothing read or stored\n- {problem}\n")
    try:
        os.rename(path, dest)  # rename moves a link itself, never what it points to
    except FileNotFoundError:
        return FileOutcome(path.name, "vanished")
    out = FileOutcome(path.name, "rejected", dest, problems=[problem], report=report)
    (log or (lambda _m: None))(out.summary())
    return out


def _dest_path(folder: Path, rec: FileRecord) -> Path:
    return folder / (PROCESSED if rec.status == "processed" else REJECTED) / rec.dest


def _free_name(folder: Path, name: str, sha: str) -> str:
    """A name not yet used in processed/ or rejected/ (nor by a report)."""
    stem, suffix = Path(name).stem, Path(name).suffix

    def taken(n: str) -> bool:
        return (
            (folder / PROCESSED / n).exists()
            or (folder / REJECTED / n).exists()
            or (folder / REJECTED / f"{n}.errors.txt").exists()
        )

    candidates = [name, f"{stem}-{sha[:8]}{suffix}"]
    candidates += [f"{stem}-{sha[:8]}-{k}{suffix}" for k in range(2, 1000)]
    return next(n for n in candidates if not taken(n))


def _duplicate(path: Path, rec: FileRecord, sha: str, say: Log) -> FileOutcome:
    folder = path.parent
    name = _free_name(folder, path.name, sha)
    dest = folder / REJECTED / name
    dest.parent.mkdir(exist_ok=True)
    try:
        shutil.move(path, dest)
    except FileNotFoundError:
        return FileOutcome(path.name, "vanished")
    when = rec.ingested_at.isoformat() if rec.ingested_at is not None else "earlier"
    problem = Problem(
        f"duplicate: the same content (sha256 {sha[:16]}...) was ingested from '{rec.name}' "
        f"at {when} (now {_dest_path(folder, rec).relative_to(folder)}); nothing was stored "
        "again",
        path.name,
        expected="a file with new content",
    )
    report = dest.with_name(dest.name + ".errors.txt")
    _write_text(report, f"{path.name}: duplicate file, nothing stored\nsha256 {sha}\n- {problem}\n")
    out = FileOutcome(path.name, "duplicate", dest, problems=[problem], report=report)
    say(out.summary())
    return out


def _write_report(folder: Path, rec: FileRecord, parsed: ParsedFile, out: FileOutcome) -> Path:
    rej = folder / REJECTED
    rej.mkdir(exist_ok=True)
    report = rej / f"{rec.dest}.errors.txt"
    head = (
        f"{parsed.name}: {rec.status}; {parsed.records} record(s), {len(parsed.events)} usable, "
        f"{out.quarantined} quarantined\n"
    )
    if rec.status == "processed":
        head += f"the usable records were stored; the file is in {PROCESSED}/{rec.dest}\n"
        qfile = rej / f"{Path(rec.dest).stem}.quarantined{Path(rec.dest).suffix}"
        _write_quarantine(qfile, parsed)
        head += f"the quarantined records are in {REJECTED}/{qfile.name}: fix and drop it again\n"
    else:
        head += "nothing was stored\n"
    head += f"sha256 {rec.sha256}\n"
    body = "".join(f"- {p}\n" for p in parsed.problems)
    _write_text(report, head + body)
    return report


def _write_quarantine(path: Path, parsed: ParsedFile) -> None:
    bad = [parsed.raw[i] for i in parsed.bad]
    if parsed.fmt == "csv":
        # people open this file in a spreadsheet to fix it: formula cells are neutralised
        _write_text(path, csv_text(parsed.csv_header or [], bad))
    else:
        doc = {"type": "FeatureCollection", "features": bad}
        _write_text(path, json.dumps(doc, ensure_ascii=False, indent=1))


def _write_text(path: Path, text: str) -> None:
    # Write then rename, so a reader (or a crash) never sees half a report.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _test_pause() -> None:
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    if delay:
        time.sleep(delay * 10)  # widens the window between commit and move for kill tests


# --- the folder -----------------------------------------------------------------------------


def _ingest_guarded(path: Path, store: Store, datum: layers.Datum, log: Log | None) -> FileOutcome:
    """:func:`ingest_file`; an unexpected failure on one file rejects that file (with the
    reason) so that no file can stop the watcher. Store errors still end the run."""
    try:
        return ingest_file(path, store, datum=datum, log=log)
    except (StoreError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        reason = excerpt(f"{type(exc).__name__}: {exc}", 120, quote=False)
        problem = Problem(f"ingesting the file failed ({reason})", path.name)
        return refuse(path, problem, log=log)


def _candidates(folder: Path) -> dict[Path, tuple[int, int]]:
    out = {}
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            if name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES):
                continue
            try:
                # links are taken too (to be refused), never followed
                if not (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            out[Path(entry.path)] = (st.st_size, st.st_mtime_ns)
    return out


def _order(path: Path, mtime_ns: int) -> tuple[int, int, str]:
    feed = feed_from_name(path.name)
    return (_ORDER[feed.name] if feed else len(_ORDER), mtime_ns, path.name)


def ingest_folder(
    folder: str | os.PathLike[str],
    store: Store | str,
    *,
    once: bool = True,
    poll_s: float = 2.0,
    settle_s: float = 1.0,
    datum: layers.Datum = "wgs84",
    stop: Callable[[], bool] | None = None,
    log: Log | None = None,
) -> IngestSummary:
    """Ingest every complete file in ``folder`` (once, or watching until ``stop()``).

    Parameters
    ----------
    folder : the inbox; ``processed/`` and ``rejected/`` are created inside it.
    store : a :class:`~geo.store.Store` or a store URL.
    once : one pass (waiting ``settle_s`` to see which files are complete), else keep watching.
    poll_s : seconds between looks when watching.
    settle_s : a file is taken when its size and mtime were unchanged at two looks this far apart.
    datum : coordinates of every file are in this datum (converted to WGS-84).
    stop : watch mode ends when it returns True (checked every poll); Ctrl-C also ends it.
    log : called with one line per step (e.g. ``print``).

    Returns
    -------
    IngestSummary : what happened to each file, and the files still being written.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder", field="folder", expected="a folder")
    own = isinstance(store, str)
    st = open_store(store) if isinstance(store, str) else store
    summary = IngestSummary()
    try:
        # (size, mtime) of each file and since when it has been so
        since: dict[Path, tuple[tuple[int, int], float]] = {}

        def look() -> dict[Path, tuple[int, int]]:
            stats, now = _candidates(folder), time.monotonic()
            for p, s in stats.items():
                if since.get(p, (None, 0.0))[0] != s:
                    since[p] = (s, now)
            for p in set(since) - set(stats):
                del since[p]
            return stats

        while True:
            stats = look()
            if once and settle_s > 0 and stats:
                time.sleep(settle_s)
                stats = look()
            now = time.monotonic()
            ready: list[Path] = []
            waiting: list[Path] = []
            for p in stats:
                stable = settle_s <= 0 or now - since[p][1] >= settle_s
                (ready if stable else waiting).append(p)
            for p in sorted(ready, key=lambda p: _order(p, stats[p][1])):
                summary.files.append(_ingest_guarded(p, st, datum, log))
            summary.waiting = sorted(p.name for p in waiting)
            if once or (stop is not None and stop()):
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass
    finally:
        if own:
            st.close()
    return summary
