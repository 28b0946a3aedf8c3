"""The operations store: an append-only event log of live state, and "the picture at time t".

One interface, two backends chosen by a URL (:func:`open_store`):

- ``sqlite:///ops.sqlite`` (relative) or ``sqlite:////abs/ops.sqlite``: one SQLite file in WAL
  mode, no server. Plain :mod:`sqlite3`; geometries are WKB blobs, attributes JSON text.
- ``postgresql://user@host:port/db``: PostgreSQL + PostGIS (psycopg 3), for several wall screens
  and analysts at once; geometries in a ``geometry(Geometry, 4326)`` column, attributes JSONB.

The model
---------
Everything is an :class:`Event`: something said about one entity (an incident, a testing site, a
crowd zone, a drawn cordon or plan) at one time. Event *kinds* are either **full** records (an
incident report, a site, a zone, a cordon, a plan: all the layer's fields and a geometry) or
**partial** updates of a few fields (an incident's status change; a site's queue and tested
figures; a zone's people count). See :data:`EVENT_KINDS`.

The state of an entity at time ``t`` is its last full record with time <= t, overlaid with the
fields of its last partial update with time <= t when that update is newer (or fills a field
the record leaves empty). :meth:`Store.current` returns that state as a layer that passes
:func:`geo.layers.validate`, with an ``updated_at`` column (time of the newest event used; NaT
when the entity has only scenario data, see :data:`ALWAYS`) so the app can show each layer's age.

Guarantees
----------
- Idempotent: each event has an ``event_id`` (given by the source, else a hash of its content);
  a unique constraint drops repeats, so re-ingesting anything never doubles it.
- Atomic: :meth:`Store.append` writes its events (and the optional ingested-file record) in one
  transaction, so a process killed with SIGKILL leaves all of them or none.
- Concurrent writers: SQLite takes the write lock up front (``BEGIN IMMEDIATE``) and waits up to
  ``busy_timeout``; PostgreSQL serialises conflicting inserts on the unique index.
- Durable: SQLite runs with ``synchronous=FULL`` so a committed file survives power loss before
  the feed moves it to ``processed/``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import layers
from geo.auth.roles import Actor, require
from geo.constants import WGS84
from geo.errors import InputError, Problem

__all__ = [
    "ALWAYS",
    "DEFAULT_TZ",
    "DELAY_ENV",
    "DRAWING_GEOMETRY",
    "EVENT_KINDS",
    "SCHEMA_VERSION",
    "STORE_LAYERS",
    "AppendResult",
    "Event",
    "EventKind",
    "FileRecord",
    "PostgisStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "json_props",
    "open_store",
    "prepare_rows",
    "to_us",
]

#: 2: every event carries the acting user, session and client; accounts, sign-in sessions,
#: display links, failed sign-ins and the audit log live beside the events (geo.auth, geo.audit).
SCHEMA_VERSION = 2
DEFAULT_TZ = "Asia/Shanghai"

#: Event time meaning "part of the scenario from the start" (sites and zones loaded with a
#: scenario). Such records are valid at every past time; their ``updated_at`` is NaT.
ALWAYS = pd.Timestamp("1970-01-01", tz="UTC")

#: Test hook: seconds to sleep between the rows of an append (inside its transaction), so tests
#: can kill a writer mid-transaction. Never set it in production.
DELAY_ENV = "CITYOPS_TEST_APPEND_DELAY_S"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class EventKind:
    """What one kind of event says about which layer's entities."""

    name: str
    layer: str
    full: bool
    fields: tuple[str, ...] = ()  # the fields a partial update carries


#: Every event kind the store knows.
EVENT_KINDS: dict[str, EventKind] = {
    k.name: k
    for k in [
        EventKind("incident", "incidents", True),
        EventKind("incident_status", "incidents", False, ("status", "notes")),
        EventKind("site", "testing_sites", True),
        EventKind("site_figures", "testing_sites", False, ("queue", "tested")),
        EventKind("crowd_zone", "crowd_zones", True),
        EventKind("crowd_count", "crowd_zones", False, ("people", "observed_at", "source")),
        EventKind("cordon", "cordons", True),
        EventKind("plan", "plans", True),
    ]
}


def _store_layers() -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for k in EVENT_KINDS.values():
        full, partial = out.get(k.layer, ("", None))
        out[k.layer] = (k.name, partial) if k.full else (full, k.name)
    return out


#: Layers the store returns, with the full-record kind and the partial kind of each (read off
#: :data:`EVENT_KINDS`, the one list of what the store knows).
STORE_LAYERS: dict[str, tuple[str, str | None]] = _store_layers()

#: Layers without a schema in geo.layers (drawn in the app): the geometry they accept.
DRAWING_GEOMETRY = {
    "cordons": ("Polygon", "MultiPolygon"),
    "plans": (
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    ),
}
_REMOVED = "_removed"  # prop of a full record that withdraws the entity (cordons, plans, ...)


class StoreError(RuntimeError):
    """The store cannot be used (server unreachable, PostGIS missing, newer schema, ...)."""


@dataclass(frozen=True)
class Event:
    """One thing said about one entity at one time.

    Parameters
    ----------
    kind : a key of :data:`EVENT_KINDS`.
    entity_id : the entity's id (incident, site, zone, cordon or plan id).
    time : when it was true, timezone-aware (``ALWAYS`` for scenario baselines).
    props : the fields (JSON-safe values; times as ISO 8601 strings or timestamps).
    geometry : EPSG:4326 geometry (shapely or a GeoJSON mapping); full records need one.
    event_id : idempotency key from the source; ``None`` means a hash of the content.
    source : where it came from (file name, ``app``, ...), kept for audit.
    """

    kind: str
    entity_id: str
    time: Any
    props: Mapping[str, Any] = field(default_factory=dict)
    geometry: BaseGeometry | Mapping[str, Any] | None = None
    event_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class FileRecord:
    """An ingested feed file, recorded in the same transaction as its events."""

    sha256: str
    name: str
    dest: str
    status: str  # "processed" or "rejected"
    n_records: int = 0
    n_events: int = 0
    n_quarantined: int = 0
    ingested_at: pd.Timestamp | None = None


@dataclass(frozen=True)
class AppendResult:
    """What :meth:`Store.append` did."""

    inserted: int
    duplicates: int
    file_known: bool = False  # the file record existed already: nothing was written


# A prepared event row: (event_id, kind, layer, entity_id, t_us, received_us, source, props, wkb,
# actor, session, client)
Row = tuple[
    str, str, str, str, int, int, str | None, str, bytes | None, str | None, str | None, str | None
]


def open_store(
    url: str | os.PathLike[str], *, tz: str = DEFAULT_TZ, actor: Actor | None = None
) -> Store:
    """Open (creating if needed) the store at ``url``.

    Parameters
    ----------
    url : ``sqlite:///relative.sqlite``, ``sqlite:////absolute/ops.sqlite``, a plain file path
        (SQLite), or ``postgresql://user:password@host:port/database`` (PostGIS).
    tz : zone of the times in returned layers.
    actor : who writes when a write names no actor: for a process that is one principal (the
        feed ingester, a script: ``Actor.service("ingest")``). The app shares one store between
        its users, so it sets none and every write names its user. Without either, the store
        refuses writes (:class:`geo.auth.PermissionDenied`).

    Examples
    --------
    >>> from geo.auth import Actor
    >>> st = open_store(":memory:", actor=Actor.service("doc"))  # doctest: +SKIP

    Raises
    ------
    InputError : the URL is not one of those forms.
    StoreError : the database cannot be opened or is not usable.
    """
    text = os.fspath(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return SqliteStore(Path(text), tz=tz, actor=actor)
    scheme = scheme.split("+", 1)[0].lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise InputError(
                f"'{text}' names no file",
                field="store",
                expected="sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite",
            )
        return SqliteStore(Path(rest[1:]), tz=tz, actor=actor)
    if scheme in ("postgresql", "postgres"):
        return PostgisStore(f"postgresql://{rest}", tz=tz, actor=actor)
    raise InputError(
        f"unknown store URL scheme '{scheme}'",
        field="store",
        expected="sqlite:///path.sqlite or postgresql://user@host:port/database",
    )


class Store:
    """The event log and its state queries; use :func:`open_store` to get one.

    Thread-safe (one connection behind a lock), so the app can share one instance.

    Every write names who makes it (``actor=``, else the store's own ``actor``): it must be a
    user whose role may write the shared record (``operator`` or ``admin``, or a service
    account); the user, session and client go into each event's row for the audit trail.
    """

    url: str

    def __init__(self, tz: str = DEFAULT_TZ, actor: Actor | None = None) -> None:
        self.tz = tz
        self.actor = actor
        self._lock = threading.RLock()

    def _acting(self, actor: Actor | None) -> Actor:
        """The actor of a write, checked: refused without one that may write."""
        return require(actor if actor is not None else self.actor, "write")

    # --- writing ----------------------------------------------------------------------------

    def append(
        self,
        events: Iterable[Event],
        *,
        file: FileRecord | None = None,
        actor: Actor | None = None,
    ) -> AppendResult:
        """Store ``events`` in one transaction; events already stored are skipped.

        Parameters
        ----------
        events : the events (any number; all or none are written).
        file : the feed file they came from. It is recorded in the same transaction; if its hash
            is already recorded nothing is written and ``file_known`` is set.
        actor : who writes (default: the store's ``actor``); recorded with every event.

        Raises
        ------
        InputError : an event is malformed (unknown kind, no id, time without a zone, ...).
        PermissionDenied : no actor, or one whose role may not write the shared record.
        """
        who = self._acting(actor)
        rows = prepare_rows(events, actor=who)
        delay = float(os.environ.get(DELAY_ENV, "0") or 0)
        with self._lock:
            return self._append(rows, file, delay)

    def register_layer(
        self,
        kind: str,
        gdf: gpd.GeoDataFrame,
        *,
        at: Any = None,
        source: str = "scenario",
        actor: Actor | None = None,
    ) -> AppendResult:
        """Store every feature of a layer as a full record (e.g. the scenario's sites and zones).

        Parameters
        ----------
        kind : ``incidents``, ``testing_sites``, ``crowd_zones``, ``cordons`` or ``plans``.
        gdf : the layer (validated here for the kinds :mod:`geo.layers` knows).
        at : time of the records. ``None``: incidents at their ``reported_at``, everything else
            :data:`ALWAYS` (valid at any past time).
        source : recorded with each event.
        actor : who writes (see :meth:`append`).

        Re-registering the same layer stores nothing new (same content, same event ids).
        """
        self._acting(actor)  # refused before any work
        if kind not in STORE_LAYERS:
            raise InputError(
                f"the store keeps no layer '{kind}'",
                field="layer",
                expected="one of " + ", ".join(STORE_LAYERS),
            )
        if kind in layers.SCHEMAS:
            gdf, _ = layers.validate(gdf, kind, source=source, tz=self.tz, allow_empty=True)
        full = STORE_LAYERS[kind][0]
        events = []
        for rec, geom in zip(_records(gdf), gdf.geometry.values):
            when = at
            if when is None:
                when = rec.get("reported_at") if kind == "incidents" else ALWAYS
            props = {k: v for k, v in rec.items() if k != "id"}
            events.append(Event(full, str(rec["id"]), when, props, geom, source=source))
        return self.append(events, actor=actor)

    def put_drawing(
        self,
        layer: str,
        entity_id: str,
        geometry: BaseGeometry | Mapping[str, Any],
        props: Mapping[str, Any] | None = None,
        *,
        at: Any = None,
        source: str = "app",
        actor: Actor | None = None,
    ) -> AppendResult:
        """Store a drawn cordon or plan (GeoJSON geometry or shapely, EPSG:4326) at ``at`` (now),
        written by ``actor`` (see :meth:`append`)."""
        if layer not in ("cordons", "plans"):
            raise InputError(
                f"'{layer}' is not a drawing layer", field="layer", expected="cordons or plans"
            )
        kind = STORE_LAYERS[layer][0]
        when = pd.Timestamp.now(tz="UTC") if at is None else at
        return self.append(
            [Event(kind, entity_id, when, dict(props or {}), geometry, None, source)], actor=actor
        )

    def remove(
        self,
        layer: str,
        entity_id: str,
        *,
        at: Any = None,
        source: str = "app",
        actor: Actor | None = None,
    ) -> None:
        """Withdraw an entity from ``layer`` from time ``at`` (now) on; its history is kept.
        Written by ``actor`` (see :meth:`append`)."""
        if layer not in STORE_LAYERS:
            raise InputError(f"unknown layer '{layer}'", field="layer")
        when = pd.Timestamp.now(tz="UTC") if at is None else at
        kind = STORE_LAYERS[layer][0]
        self.append(
            [Event(kind, entity_id, when, {_REMOVED: True}, None, None, source)], actor=actor
        )

    # --- reading ----------------------------------------------------------------------------

    def current(self, layer: str, at: Any = None, *, tz: str | None = None) -> gpd.GeoDataFrame:
        """The layer as it stood at ``at`` (default: now, i.e. every event stored).

        Parameters
        ----------
        layer : a key of :data:`STORE_LAYERS`.
        at : a timezone-aware time (datetime, Timestamp or ISO 8601 text), or ``None``.
        tz : zone of the returned times (default: the store's).

        Returns
        -------
        GeoDataFrame (EPSG:4326) valid for :func:`geo.layers.validate` (``cordons``/``plans``:
        id, props, geometry), plus ``updated_at``: the time of the newest event used (NaT for
        entities known only from scenario data).
        """
        if layer not in STORE_LAYERS:
            raise InputError(
                f"unknown layer '{layer}'", field="layer", expected=", ".join(STORE_LAYERS)
            )
        tz = tz or self.tz
        at_us = _MAX_US if at is None else to_us(at, field="at")
        full, partial = STORE_LAYERS[layer]
        with self._lock:
            rows = self._latest(layer, full, partial or "", at_us)
        return _merge_state(layer, partial, rows, tz)

    def events(
        self,
        kind: str | None = None,
        *,
        layer: str | None = None,
        entity_id: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int | None = None,
    ) -> gpd.GeoDataFrame:
        """The raw event log, oldest first (by event time, then arrival).

        Columns: seq, event_id, kind, layer, entity_id, time, received_at, source, props (dict),
        actor, session, client (who wrote it; empty for events stored before schema 2),
        geometry (may be empty).
        """
        if kind is not None and kind not in EVENT_KINDS:
            raise InputError(f"unknown event kind '{kind}'", expected=", ".join(EVENT_KINDS))
        lo = None if since is None else to_us(since, field="since")
        hi = None if until is None else to_us(until, field="until")
        with self._lock:
            rows = self._query_events(kind, layer, entity_id, lo, hi, limit)
        tz = self.tz
        frame = pd.DataFrame(
            {
                "seq": pd.array([r[0] for r in rows], dtype="Int64"),
                "event_id": pd.Series([r[1] for r in rows], dtype=object),
                "kind": pd.Series([r[2] for r in rows], dtype=object),
                "layer": pd.Series([r[3] for r in rows], dtype=object),
                "entity_id": pd.Series([r[4] for r in rows], dtype=object),
                "time": _us_to_times([r[5] for r in rows], tz),
                "received_at": _us_to_times([r[6] for r in rows], tz),
                "source": pd.Series([r[7] for r in rows], dtype=object),
                "props": pd.Series([json.loads(r[8]) for r in rows], dtype=object),
                "actor": pd.Series([r[10] for r in rows], dtype=object),
                "session": pd.Series([r[11] for r in rows], dtype=object),
                "client": pd.Series([r[12] for r in rows], dtype=object),
            }
        )
        geoms = shapely.from_wkb(np.array([r[9] for r in rows], dtype=object))
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)

    def history(
        self,
        kind: str,
        entity_id: str | None = None,
        *,
        since: Any = None,
        until: Any = None,
    ) -> pd.DataFrame:
        """Values over time of ``incident_status``, ``site_figures`` or ``crowd_count``.

        Values carried by full records (an incident reported as ``open``, a zone re-published with
        its people) count too; scenario baselines (:data:`ALWAYS`) do not.

        Returns
        -------
        DataFrame with columns id, time, the kind's fields, source; oldest first.
        """
        spec = EVENT_KINDS.get(kind)
        if spec is None or spec.full:
            partial = [k for k, v in EVENT_KINDS.items() if not v.full]
            raise InputError(f"no history for '{kind}'", expected="one of " + ", ".join(partial))
        full = STORE_LAYERS[spec.layer][0]
        frames = [
            self.events(k, entity_id=entity_id, since=since, until=until) for k in (full, kind)
        ]
        ev = pd.concat([f.drop(columns="geometry") for f in frames], ignore_index=True)
        ev = ev[ev["time"] > ALWAYS].sort_values(["time", "seq"], kind="stable")
        out = {"id": ev["entity_id"].to_list(), "time": ev["time"].to_list()}
        for f in spec.fields:
            out[f] = [p.get(f) for p in ev["props"]]
        out["source"] = ev["source"].to_list()
        frame = pd.DataFrame(out)
        if len(frame):
            frame = frame[frame[list(spec.fields)].notna().any(axis=1)]
        frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(self.tz)
        return frame.reset_index(drop=True)

    def known_ids(self, layer: str) -> set[str]:
        """Ids of every entity of ``layer`` the store has ever heard of."""
        with self._lock:
            return self._known_ids(layer)

    def file_record(self, sha256: str) -> FileRecord | None:
        """The record of an ingested file with this content hash, if any."""
        with self._lock:
            return self._file_record(sha256)

    def count(self) -> int:
        """Number of events stored."""
        with self._lock:
            return self._count()

    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # --- backend hooks ----------------------------------------------------------------------

    def _append(self, rows: list[Row], file: FileRecord | None, delay: float) -> AppendResult:
        raise NotImplementedError

    def _latest(self, layer: str, full: str, partial: str, at_us: int) -> list[tuple]:
        raise NotImplementedError

    def _query_events(
        self,
        kind: str | None,
        layer: str | None,
        entity_id: str | None,
        lo: int | None,
        hi: int | None,
        limit: int | None,
    ) -> list[tuple]:
        raise NotImplementedError

    def _known_ids(self, layer: str) -> set[str]:
        raise NotImplementedError

    def _file_record(self, sha256: str) -> FileRecord | None:
        raise NotImplementedError

    def _count(self) -> int:
        raise NotImplementedError

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """One statement on the accounts and audit tables (``?`` placeholders; for geo.auth and
        geo.audit, which own those tables' logic); returns its rows."""
        raise NotImplementedError

    def _sql_tx(self) -> Any:
        """A context manager: one transaction, yielding ``run(sql, params) -> rows``."""
        raise NotImplementedError


# --- SQLite ---------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ops_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    layer TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    t INTEGER NOT NULL,          -- event time, microseconds since 1970-01-01 UTC
    received INTEGER NOT NULL,   -- when it was stored, same unit
    source TEXT,
    props TEXT NOT NULL,         -- JSON object
    geom BLOB,                   -- WKB, EPSG:4326
    actor TEXT,                  -- who wrote it (schema 2): user, sign-in session, client
    session TEXT,
    client TEXT
);
CREATE INDEX IF NOT EXISTS ops_events_received ON ops_events (received);
-- rowid (seq) is implicitly the last key column: "last event with t <= x" is one index seek
CREATE INDEX IF NOT EXISTS ops_events_state ON ops_events (kind, entity_id, t);
CREATE TABLE IF NOT EXISTS ops_entities (
    layer TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (layer, entity_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ops_files (
    sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, dest TEXT NOT NULL, status TEXT NOT NULL,
    n_records INTEGER NOT NULL, n_events INTEGER NOT NULL, n_quarantined INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT, disabled INTEGER NOT NULL,
    created INTEGER NOT NULL, changed INTEGER NOT NULL, last_login INTEGER
);
CREATE TABLE IF NOT EXISTS ops_sessions (
    sid_hash TEXT PRIMARY KEY, username TEXT NOT NULL, kind TEXT NOT NULL,
    created INTEGER NOT NULL, expires INTEGER NOT NULL, client TEXT, revoked INTEGER,
    link_id TEXT
);
CREATE TABLE IF NOT EXISTS ops_wall_links (
    link_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, label TEXT,
    created INTEGER NOT NULL, created_by TEXT, revoked INTEGER
);
CREATE TABLE IF NOT EXISTS ops_login_failures (
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, t INTEGER NOT NULL, actor TEXT, role TEXT,
    session TEXT, client TEXT, action TEXT NOT NULL, layer TEXT, target TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS ops_audit_t ON ops_audit (t);
"""

_SQLITE_LATEST = """
SELECT n.entity_id, f.t, f.seq, f.props, f.geom, p.t, p.seq, p.props
FROM ops_entities n
LEFT JOIN ops_events f ON f.seq = (
    SELECT seq FROM ops_events WHERE kind = :full AND entity_id = n.entity_id AND t <= :at
    ORDER BY t DESC, seq DESC LIMIT 1)
LEFT JOIN ops_events p ON p.seq = (
    SELECT seq FROM ops_events WHERE kind = :partial AND entity_id = n.entity_id AND t <= :at
    ORDER BY t DESC, seq DESC LIMIT 1)
WHERE n.layer = :layer
"""

_INSERT_COLS = (
    "event_id, kind, layer, entity_id, t, received, source, props, geom, actor, session, client"
)
#: Columns added by schema 2 (who wrote each event), with their SQL type.
_ACTOR_COLS = ("actor", "session", "client")


class SqliteStore(Store):
    """The embedded backend: one SQLite file in WAL mode."""

    def __init__(
        self,
        path: Path,
        *,
        tz: str = DEFAULT_TZ,
        busy_timeout_s: float = 60.0,
        actor: Actor | None = None,
    ) -> None:
        import sqlite3

        super().__init__(tz, actor)
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE for writes)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            # FULL: a commit is on disk before the feed moves its file to processed/
            self._db.execute("PRAGMA synchronous = FULL")
            # 64 MiB of page cache: the unique index on event ids takes random inserts
            self._db.execute("PRAGMA cache_size = -65536")
            with self._write():
                # statement by statement: executescript() would COMMIT our BEGIN IMMEDIATE
                for stmt in _SQLITE_SCHEMA.split(";\n"):
                    if stmt.strip():
                        self._db.execute(stmt)
                have = {r[1] for r in self._db.execute("PRAGMA table_info(ops_events)")}
                for col in _ACTOR_COLS:  # a schema-1 store: its events name no actor
                    if col not in have:
                        self._db.execute(f"ALTER TABLE ops_events ADD COLUMN {col} TEXT")
                self._check_version(self._db.execute)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from exc

    @staticmethod
    def _check_version(execute: Any) -> None:
        row = execute("SELECT value FROM ops_meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            execute(
                "INSERT INTO ops_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) < SCHEMA_VERSION:  # migrated above (columns and tables added)
            execute(
                "UPDATE ops_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {row[0]}; this CityOps reads up to "
                f"{SCHEMA_VERSION}: upgrade CityOps"
            )

    @contextmanager
    def _write(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _sql_tx(self) -> Iterator[Any]:
        with self._lock, self._write():
            yield lambda sql, params=(): self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _read(self) -> Iterator[None]:
        # One snapshot for all the statements of a read.
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def _append(self, rows: list[Row], file: FileRecord | None, delay: float) -> AppendResult:
        db = self._db
        with self._write():
            if file is not None:
                cur = db.execute(
                    "INSERT INTO ops_files VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (sha256) DO NOTHING",
                    (*_file_values(file), _now_us()),
                )
                if cur.rowcount == 0:
                    return AppendResult(0, len(rows), file_known=True)
            before = db.total_changes
            sql = (
                f"INSERT INTO ops_events ({_INSERT_COLS}) VALUES ({', '.join('?' * 12)}) "
                "ON CONFLICT (event_id) DO NOTHING"
            )
            if delay:
                for r in rows:
                    db.execute(sql, r)
                    time.sleep(delay)
            else:
                db.executemany(sql, rows)
            inserted = db.total_changes - before
            db.executemany(
                "INSERT INTO ops_entities VALUES (?, ?) ON CONFLICT DO NOTHING",
                sorted({(r[2], r[3]) for r in rows}),
            )
        return AppendResult(inserted, len(rows) - inserted)

    def _latest(self, layer: str, full: str, partial: str, at_us: int) -> list[tuple]:
        args = {"full": full, "partial": partial, "at": at_us, "layer": layer}
        with self._read():
            return self._db.execute(_SQLITE_LATEST, args).fetchall()

    def _query_events(self, kind, layer, entity_id, lo, hi, limit) -> list[tuple]:  # noqa: ANN001
        where, args = [], []
        for col, val in (("kind", kind), ("layer", layer), ("entity_id", entity_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if lo is not None:
            where.append("t >= ?")
            args.append(lo)
        if hi is not None:
            where.append("t <= ?")
            args.append(hi)
        sql = (
            "SELECT seq, event_id, kind, layer, entity_id, t, received, source, props, geom, "
            "actor, session, client FROM ops_events"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY t, seq"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        with self._read():
            return self._db.execute(sql, args).fetchall()

    def _known_ids(self, layer: str) -> set[str]:
        rows = self._db.execute("SELECT entity_id FROM ops_entities WHERE layer = ?", (layer,))
        return {r[0] for r in rows}

    def _file_record(self, sha256: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM ops_files WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        return _file_record(row, _us_to_times([row[7]], "UTC")[0])

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM ops_events").fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _file_record(row: Sequence[Any], ingested_at: pd.Timestamp) -> FileRecord:
    """A FileRecord from an ``ops_files`` row (its columns are in :class:`FileRecord`'s order)."""
    sha256, name, dest, status, n_records, n_events, n_quarantined = row[:7]
    return FileRecord(
        sha256, name, dest, status, n_records, n_events, n_quarantined, ingested_at=ingested_at
    )


# --- PostgreSQL + PostGIS -------------------------------------------------------------------

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS ops_events (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    kind text NOT NULL,
    layer text NOT NULL,
    entity_id text NOT NULL,
    t timestamptz NOT NULL,
    received timestamptz NOT NULL,
    source text,
    props jsonb NOT NULL,
    geom geometry(Geometry, 4326),
    actor text,
    session text,
    client text
);
-- a schema-1 store: its events name no actor
ALTER TABLE ops_events ADD COLUMN IF NOT EXISTS actor text;
ALTER TABLE ops_events ADD COLUMN IF NOT EXISTS session text;
ALTER TABLE ops_events ADD COLUMN IF NOT EXISTS client text;
CREATE INDEX IF NOT EXISTS ops_events_received ON ops_events (received);
CREATE INDEX IF NOT EXISTS ops_events_state ON ops_events (kind, entity_id, t DESC, seq DESC);
CREATE INDEX IF NOT EXISTS ops_events_geom ON ops_events USING gist (geom);
CREATE TABLE IF NOT EXISTS ops_entities (
    layer text NOT NULL, entity_id text NOT NULL, PRIMARY KEY (layer, entity_id)
);
CREATE TABLE IF NOT EXISTS ops_files (
    sha256 text PRIMARY KEY, name text NOT NULL, dest text NOT NULL, status text NOT NULL,
    n_records integer NOT NULL, n_events integer NOT NULL, n_quarantined integer NOT NULL,
    ingested_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_users (
    username text PRIMARY KEY, role text NOT NULL, pw_hash text, disabled integer NOT NULL,
    created bigint NOT NULL, changed bigint NOT NULL, last_login bigint
);
CREATE TABLE IF NOT EXISTS ops_sessions (
    sid_hash text PRIMARY KEY, username text NOT NULL, kind text NOT NULL,
    created bigint NOT NULL, expires bigint NOT NULL, client text, revoked bigint, link_id text
);
CREATE TABLE IF NOT EXISTS ops_wall_links (
    link_id text PRIMARY KEY, token_hash text NOT NULL UNIQUE, label text,
    created bigint NOT NULL, created_by text, revoked bigint
);
CREATE TABLE IF NOT EXISTS ops_login_failures (
    key text PRIMARY KEY, failures integer NOT NULL, last bigint NOT NULL,
    locked_until bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_audit (
    seq bigserial PRIMARY KEY, t bigint NOT NULL, actor text, role text, session text,
    client text, action text NOT NULL, layer text, target text, detail text
);
CREATE INDEX IF NOT EXISTS ops_audit_t ON ops_audit (t);
"""

_PG_LATEST = """
SELECT n.entity_id, f.t, f.seq, f.props::text, ST_AsBinary(f.geom), p.t, p.seq, p.props::text
FROM ops_entities n
LEFT JOIN LATERAL (
    SELECT t, seq, props, geom FROM ops_events
    WHERE kind = %(full)s AND entity_id = n.entity_id AND t <= %(at)s
    ORDER BY t DESC, seq DESC LIMIT 1) f ON true
LEFT JOIN LATERAL (
    SELECT t, seq, props FROM ops_events
    WHERE kind = %(partial)s AND entity_id = n.entity_id AND t <= %(at)s
    ORDER BY t DESC, seq DESC LIMIT 1) p ON true
WHERE n.layer = %(layer)s
"""


class PostgisStore(Store):
    """The shared backend: PostgreSQL with PostGIS, through psycopg 3."""

    def __init__(self, url: str, *, tz: str = DEFAULT_TZ, actor: Actor | None = None) -> None:
        super().__init__(tz, actor)
        self.url = url
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError(
                "a postgresql:// store needs psycopg 3: pip install 'psycopg[binary]'"
            ) from exc
        self._psycopg = psycopg
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {_redact(url)}: {exc}") from exc
        self._db.execute("SET TIME ZONE 'UTC'")
        try:
            with self._db.transaction():
                # Serialise schema creation between processes opening a fresh database at once.
                self._db.execute("SELECT pg_advisory_xact_lock(7402655361)")
                self._ensure_postgis()
                self._db.execute(_PG_SCHEMA)
                self._check_version()
        except psycopg.Error as exc:
            raise StoreError(f"{_redact(url)}: cannot set up the store ({exc})") from exc

    def _ensure_postgis(self) -> None:
        have = self._db.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if have:
            return
        try:
            with self._db.transaction():
                self._db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except self._psycopg.Error as exc:
            raise StoreError(
                f"PostGIS is not installed in {_redact(self.url)} and could not be added ({exc}): "
                "run CREATE EXTENSION postgis; as a superuser"
            ) from exc

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM ops_meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO ops_meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) < SCHEMA_VERSION:  # migrated by _PG_SCHEMA (columns and tables added)
            self._db.execute(
                "UPDATE ops_meta SET value = %s WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {row[0]}; this CityOps reads up to "
                f"{SCHEMA_VERSION}: upgrade CityOps"
            )

    def _append(self, rows: list[Row], file: FileRecord | None, delay: float) -> AppendResult:
        db = self._db
        with db.transaction(), db.cursor() as cur:
            if file is not None:
                cur.execute(
                    "INSERT INTO ops_files VALUES (%s, %s, %s, %s, %s, %s, %s, now()) "
                    "ON CONFLICT (sha256) DO NOTHING",
                    _file_values(file),
                )
                if cur.rowcount == 0:
                    return AppendResult(0, len(rows), file_known=True)
            if delay:
                inserted = 0
                for r in rows:
                    cur.execute(
                        f"INSERT INTO ops_events ({_INSERT_COLS}) VALUES (%s, %s, %s, %s, %s, "
                        "%s, %s, %s::jsonb, ST_GeomFromWKB(%s, 4326), %s, %s, %s) "
                        "ON CONFLICT (event_id) DO NOTHING",
                        _pg_row(r),
                    )
                    inserted += cur.rowcount
                    time.sleep(delay)
            else:
                # COPY into a temp table, then one INSERT .. ON CONFLICT: ~10x executemany.
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS ops_incoming (ord bigint, event_id text, "
                    "kind text, layer text, entity_id text, t timestamptz, received timestamptz, "
                    "source text, props text, geom bytea, actor text, session text, client text) "
                    "ON COMMIT DELETE ROWS"
                )
                with cur.copy("COPY ops_incoming FROM STDIN") as cp:
                    for i, r in enumerate(rows):
                        cp.write_row((i, *_pg_row(r)))
                cur.execute(
                    f"INSERT INTO ops_events ({_INSERT_COLS}) SELECT event_id, kind, layer, "
                    "entity_id, t, received, source, props::jsonb, ST_GeomFromWKB(geom, 4326), "
                    "actor, session, client "
                    "FROM ops_incoming ORDER BY ord ON CONFLICT (event_id) DO NOTHING"
                )
                inserted = cur.rowcount
            pairs = sorted({(r[2], r[3]) for r in rows})
            if pairs:
                cur.executemany(
                    "INSERT INTO ops_entities VALUES (%s, %s) ON CONFLICT DO NOTHING", pairs
                )
        return AppendResult(inserted, len(rows) - inserted)

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cur = self._db.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    @contextmanager
    def _sql_tx(self) -> Iterator[Any]:
        def run(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
            cur = self._db.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

        with self._lock, self._db.transaction():
            yield run

    def _latest(self, layer: str, full: str, partial: str, at_us: int) -> list[tuple]:
        args = {"full": full, "partial": partial, "at": _us_to_dt(at_us), "layer": layer}
        rows = self._db.execute(_PG_LATEST, args).fetchall()
        return [
            (e, _dt_to_us(ft), fs, fp, fg, _dt_to_us(pt), ps, pp)
            for e, ft, fs, fp, fg, pt, ps, pp in rows
        ]

    def _query_events(self, kind, layer, entity_id, lo, hi, limit) -> list[tuple]:  # noqa: ANN001
        where, args = [], []
        for col, val in (("kind", kind), ("layer", layer), ("entity_id", entity_id)):
            if val is not None:
                where.append(f"{col} = %s")
                args.append(val)
        if lo is not None:
            where.append("t >= %s")
            args.append(_us_to_dt(lo))
        if hi is not None:
            where.append("t <= %s")
            args.append(_us_to_dt(hi))
        sql = (
            "SELECT seq, event_id, kind, layer, entity_id, t, received, source, props::text, "
            "ST_AsBinary(geom), actor, session, client FROM ops_events"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY t, seq"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        rows = self._db.execute(sql, args).fetchall()
        return [
            (*r[:5], _dt_to_us(r[5]), _dt_to_us(r[6]), r[7], r[8], _bytes(r[9]), *r[10:])
            for r in rows
        ]

    def _known_ids(self, layer: str) -> set[str]:
        rows = self._db.execute("SELECT entity_id FROM ops_entities WHERE layer = %s", (layer,))
        return {r[0] for r in rows}

    def _file_record(self, sha256: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM ops_files WHERE sha256 = %s", (sha256,)).fetchone()
        if row is None:
            return None
        return _file_record(row, pd.Timestamp(row[7]).tz_convert("UTC"))

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM ops_events").fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- helpers --------------------------------------------------------------------------------

_MAX_US = 2**62


def to_us(value: Any, *, field: str = "time", feature: str | None = None) -> int:
    """A timezone-aware time as microseconds since 1970-01-01 UTC.

    Raises
    ------
    InputError : the value is not a time, or has no time zone.
    """
    # Fast paths (most events): an aware datetime/Timestamp; ISO text Python can read.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, datetime) and value.tzinfo is not None:
        if isinstance(value, pd.Timestamp):
            try:
                return value.value // 1000  # .value is nanoseconds whatever the unit
            except OverflowError:
                pass
        else:
            return (value - _EPOCH) // _US
    try:
        t = pd.Timestamp(value)
        if pd.isna(t):
            raise ValueError
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"'{value}' is not a time", feature=feature, field=field, expected=_TIME_EXPECTED
        ) from exc
    if t.tzinfo is None:
        raise InputError(
            f"'{value}' has no time zone", feature=feature, field=field, expected=_TIME_EXPECTED
        )
    # Timestamp.value is always nanoseconds whatever the unit; count microseconds explicitly
    return int((t.tz_convert("UTC") - ALWAYS) // pd.Timedelta(microseconds=1))


_TIME_EXPECTED = "an ISO 8601 time with its offset, such as 2021-10-31T18:05:00+08:00"


def prepare_rows(events: Iterable[Event], *, actor: Actor | None = None) -> list[Row]:
    """Check events and turn them into storable rows (event id computed where missing), each
    stamped with ``actor``'s user, session and client (set here, by the server).

    Raises
    ------
    InputError : listing every malformed event (by position and entity id).
    """
    events = list(events)
    problems: list[Problem] = []
    received = _now_us()
    geoms = []
    for ev in events:
        g = ev.geometry
        if isinstance(g, Mapping):
            try:
                g = shape(g)
            except Exception:  # noqa: BLE001 - any malformed GeoJSON mapping
                g = "bad"
        geoms.append(g)
    ok = np.array([g is None or isinstance(g, BaseGeometry) for g in geoms])
    arr = np.array([g if isinstance(g, BaseGeometry) else None for g in geoms], dtype=object)
    wkbs = shapely.to_wkb(arr, output_dimension=2) if len(arr) else arr
    rows: list[Row] = []
    who: tuple[str | None, str | None, str | None] = (
        (actor.user, actor.session, actor.client) if actor is not None else (None, None, None)
    )
    for i, ev in enumerate(events):
        label = f"#{i} (id {ev.entity_id})"
        spec = EVENT_KINDS.get(ev.kind)
        if spec is None:
            problems.append(
                Problem(
                    f"unknown event kind '{ev.kind}'", None, label, "kind", ", ".join(EVENT_KINDS)
                )
            )
            continue
        if not isinstance(ev.entity_id, str) or not ev.entity_id.strip():
            problems.append(Problem("id is missing", None, label, "id", "a non-empty text id"))
            continue
        try:
            t_us = to_us(ev.time, feature=label)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if not ok[i]:
            problems.append(Problem("not a geometry", None, label, "geometry", "GeoJSON geometry"))
            continue
        wkb = wkbs[i] if arr[i] is not None and not arr[i].is_empty else None
        removed = bool(ev.props.get(_REMOVED))
        if spec.full and wkb is None and not removed:
            problems.append(
                Problem("geometry is missing", None, label, "geometry", f"a {spec.layer} geometry")
            )
            continue
        if not spec.full and wkb is not None:
            wkb = None  # partial updates never move an entity
        props = json_props(ev.props)
        if spec.full and not removed:
            # One bad record must not break the layer for every reader later: check what
            # current() needs (values themselves are the caller's job, see geo.layers.validate).
            allowed = _geometry_types(spec.layer)
            if arr[i].geom_type not in allowed:
                problems.append(
                    Problem(
                        f"geometry is a {arr[i].geom_type}",
                        None,
                        label,
                        "geometry",
                        " or ".join(allowed),
                    )
                )
                continue
            missing = [f for f in _required(spec.layer) if props.get(f) in (None, "")]
            if missing:
                problems.extend(
                    Problem("value is missing", None, label, f, "a value (the layer requires it)")
                    for f in missing
                )
                continue
        text = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        eid = ev.event_id
        if eid is None:
            key = f"{ev.kind}\x1f{ev.entity_id}\x1f{t_us}\x1f{text}".encode()
            digest = hashlib.sha256(key + (bytes(wkb) if wkb is not None else b""))
            eid = digest.hexdigest()[:32]
        user, session, client = who
        rows.append(
            (str(eid), ev.kind, spec.layer, ev.entity_id, t_us, received, ev.source, text, wkb,
             user, session, client)
        )  # fmt: skip
    if problems:
        raise InputError(problems=problems)
    return rows


def _geometry_types(layer: str) -> tuple[str, ...]:
    schema = layers.SCHEMAS.get(layer)
    return schema.geometry if schema is not None else DRAWING_GEOMETRY[layer]


def _required(layer: str) -> list[str]:
    schema = layers.SCHEMAS.get(layer)
    return [f for f in schema.required if f != "id"] if schema is not None else []


def json_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as JSON-safe values; missing values (None, NaN, NA, NaT) are left out."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        if v is None or v is pd.NA or v is pd.NaT:
            continue
        if isinstance(v, float | np.floating) and math.isnan(v):
            continue
        if isinstance(v, pd.Timestamp | datetime):
            v = pd.Timestamp(v).isoformat()
        elif isinstance(v, np.bool_ | bool):
            v = bool(v)
        elif isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = float(v)
        elif not isinstance(v, str | int | float | list | dict):
            v = str(v)
        out[str(k)] = v
    return out


def _records(gdf: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    return [dict(zip(cols, vals)) for vals in gdf[cols].itertuples(index=False, name=None)]


def _merge_state(layer: str, partial: str | None, rows: list[tuple], tz: str) -> gpd.GeoDataFrame:
    fields = EVENT_KINDS[partial].fields if partial else ()
    records, geoms, updated = [], [], []
    for ent, ft, fs, fprops, fgeom, pt, ps, pprops in rows:
        if ft is None:
            continue  # only partial updates so far, or every record is after `at`
        rec = json.loads(fprops)
        if rec.get(_REMOVED):
            continue
        newest = ft
        if pt is not None:
            upd = json.loads(pprops)
            newer = (pt, ps) > (ft, fs)
            for f in fields:
                if f in upd and (newer or rec.get(f) is None):
                    rec[f] = upd[f]
            newest = max(ft, pt)
        rec["id"] = ent
        records.append(rec)
        geoms.append(_bytes(fgeom))
        updated.append(newest if newest > 0 else None)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame({"id": []})
    schema = layers.SCHEMAS.get(layer)
    if schema is not None:
        for spec in schema.fields:
            if spec.dtype == "datetime" and spec.name in frame.columns:
                frame[spec.name] = pd.to_datetime(frame[spec.name], utc=True, format="ISO8601")
    frame["updated_at"] = _us_to_times(updated, tz)
    gdf = gpd.GeoDataFrame(
        frame,
        geometry=gpd.GeoSeries(shapely.from_wkb(np.array(geoms, dtype=object)), crs=WGS84),
        crs=WGS84,
    )
    if schema is not None:
        gdf, _ = layers.validate(gdf, layer, source=f"store:{layer}", tz=tz, allow_empty=True)
        if "updated_at" not in gdf.columns:  # validate returns a bare empty layer
            gdf.insert(len(gdf.columns) - 1, "updated_at", _us_to_times([], tz))
        return gdf.sort_values("id", kind="stable").reset_index(drop=True)
    return _check_extra(gdf, layer).sort_values("id", kind="stable").reset_index(drop=True)


def _check_extra(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    allowed = DRAWING_GEOMETRY[layer]
    bad = ~gdf.geometry.geom_type.isin(allowed)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"stored geometry is a {gdf.geometry.iloc[i].geom_type}",
            file=f"store:{layer}",
            feature=str(gdf["id"].iloc[i]),
            field="geometry",
            expected=" or ".join(allowed),
        )
    cols = ["id", *[c for c in gdf.columns if c not in ("id", "updated_at", "geometry")]]
    return gdf[[*cols, "updated_at", "geometry"]]


def _us_to_times(values: Sequence[int | None], tz: str) -> pd.Series:
    arr = np.array([np.iinfo(np.int64).min if v is None else v for v in values], dtype=np.int64)
    idx = pd.to_datetime(arr, unit="us", utc=True)
    return pd.Series(idx.tz_convert(tz), dtype=f"datetime64[us, {tz}]")


def _us_to_dt(us: int) -> datetime:
    if us >= _MAX_US:
        return datetime.max.replace(tzinfo=UTC)
    return _EPOCH + us * _US


def _dt_to_us(t: datetime | None) -> int | None:
    if t is None:
        return None
    return (t - _EPOCH) // _US


def _now_us() -> int:
    return time.time_ns() // 1000


def _bytes(b: Any) -> bytes | None:
    return None if b is None else bytes(b)


def _pg_row(r: Row) -> tuple:
    eid, kind, layer, ent, t, rec, src, props, wkb, *who = r
    return (eid, kind, layer, ent, _us_to_dt(t), _us_to_dt(rec), src, props, wkb, *who)


def _file_values(f: FileRecord) -> tuple:
    return (f.sha256, f.name, f.dest, f.status, f.n_records, f.n_events, f.n_quarantined)


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"
