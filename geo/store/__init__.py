"""The operations store: an append-only event log of live state, and "the picture at time t".

A package: ``model`` (event kinds, events), ``rows`` (events to rows and back), ``base`` (the
one interface), ``sqlite`` and ``postgis`` (the backends).

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

import os
from pathlib import Path

from geo.auth.roles import Actor
from geo.errors import InputError
from geo.store.base import Store
from geo.store.model import (
    ALWAYS,
    DEFAULT_TZ,
    DELAY_ENV,
    DRAWING_GEOMETRY,
    EVENT_KINDS,
    SCHEMA_VERSION,
    STORE_LAYERS,
    AppendResult,
    Event,
    EventKind,
    FileRecord,
    StoreError,
)
from geo.store.postgis import PostgisStore
from geo.store.rows import json_props, prepare_rows, to_us
from geo.store.sqlite import SqliteStore

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
