"""The PostgreSQL + PostGIS backend: several screens and analysts at once."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from geo.auth.roles import Actor
from geo.store.base import Store
from geo.store.model import DEFAULT_TZ, SCHEMA_VERSION, AppendResult, FileRecord, Row, StoreError
from geo.store.rows import _bytes, _dt_to_us, _file_values, _pg_row, _redact, _us_to_dt
from geo.store.sqlite import _INSERT_COLS, _file_record

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
