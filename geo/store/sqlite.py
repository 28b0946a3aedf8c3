"""The SQLite backend: one file in WAL mode, no server."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from geo.auth.roles import Actor
from geo.store.base import Store
from geo.store.model import DEFAULT_TZ, SCHEMA_VERSION, AppendResult, FileRecord, Row, StoreError
from geo.store.rows import _file_values, _now_us, _us_to_times

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
