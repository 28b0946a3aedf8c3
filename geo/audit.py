"""The audit trail: who changed what, from where, and when.

Two sources, one view. Every event of the shared record (``ops_events``) carries the user,
session and client set by the server (:class:`geo.auth.Actor`); what is not a layer change goes
to the ``ops_audit`` table beside it: sign-ins, failed sign-ins, sign-outs, account and role
changes, display links, exports and acknowledgements. :func:`query` merges both, newest first;
:func:`to_csv` writes them through the formula-safe CSV writer.

Examples
--------
>>> from geo.auth import Actor
>>> from geo.store import open_store
>>> db = open_store(":memory:")  # doctest: +SKIP
>>> record(db, Actor("ana", "analyst", "s1", "10.0.0.7"), "export", target="incidents.geojson")
...  # doctest: +SKIP
>>> query(db, user="ana")[["user", "action", "target"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from geo.auth.roles import Actor
from geo.csvout import csv_text
from geo.errors import InputError
from geo.store import DEFAULT_TZ, Store, to_us

__all__ = ["ACTIONS", "COLUMNS", "query", "record", "to_csv"]

log = logging.getLogger("cityops.audit")

#: What the audit table records besides layer changes.
ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_in_refused",
    "sign_out",
    "user_add",
    "user_disable",
    "user_enable",
    "role_change",
    "password_change",
    "wall_link_create",
    "wall_link_revoke",
    "wall_link_open",
    "export",
    "ack",
)

#: Columns of :func:`query` (and of the CSV).
COLUMNS = ["time", "user", "role", "action", "layer", "target", "detail", "session", "client"]


def record(
    db: Store | None,
    actor: Actor | None,
    action: str,
    *,
    target: str | None = None,
    layer: str | None = None,
    detail: Any = None,
    client: str | None = None,
) -> None:
    """Add one line to the audit table (and the log).

    Parameters
    ----------
    db : the store (or the local accounts database); ``None`` logs only.
    actor : who (``None`` for a failed sign-in: ``target`` names the account tried).
    action : one of :data:`ACTIONS`.
    target : what it was about (an account, a file, an alert).
    layer : the layer concerned, if any (an export of one layer).
    detail : anything else, JSON-safe (kept as JSON text).
    client : the client address when there is no actor.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action '{action}'")
    text = None if detail is None else json.dumps(detail, ensure_ascii=False, default=str)
    row = (
        time.time_ns() // 1000,
        actor.user if actor else None,
        actor.role if actor else None,
        actor.session if actor else None,
        actor.client if actor else client,
        action,
        layer,
        target,
        text,
    )
    log.info("audit %s user=%s target=%s client=%s", action, row[1], target, row[4])
    if db is None:
        return
    db._sql(
        "INSERT INTO ops_audit (t, actor, role, session, client, action, layer, target, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )


def query(
    db: Store,
    *,
    since: Any = None,
    until: Any = None,
    user: str | None = None,
    layer: str | None = None,
    action: str | None = None,
    limit: int = 10_000,
    tz: str = DEFAULT_TZ,
) -> pd.DataFrame:
    """The audit trail between ``since`` and ``until`` (times the server recorded), newest first.

    Parameters
    ----------
    since, until : timezone-aware times or ISO 8601 text (``None``: no bound).
    user : only this user's lines.
    layer : only changes of (and exports from) this layer.
    action : only this action (an event kind such as ``cordon`` or one of :data:`ACTIONS`).
    limit : at most this many lines (the newest).

    Returns
    -------
    DataFrame with :data:`COLUMNS`. Layer changes have the event kind as ``action``
    (``withdrawn`` added when the entity was removed), the entity id as ``target`` and the
    event's source as ``detail``; events stored before accounts existed have no user.
    """
    lo = None if since is None else to_us(since, field="since")
    hi = None if until is None else to_us(until, field="until")
    if limit < 1:
        raise InputError(f"limit {limit} is not a positive number", field="limit")
    ev = _events(db, lo, hi, user, layer, limit)
    au = _audit(db, lo, hi, user, layer, limit)
    rows = [r for r in ev + au if action is None or r[3] == action]
    rows.sort(key=lambda r: r[0], reverse=True)
    rows = rows[:limit]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["time"] = pd.to_datetime(
        pd.Series([r[0] for r in rows], dtype="int64"), unit="us", utc=True
    ).dt.tz_convert(tz)
    return frame


def _where(time_col: str, lo, hi, user, layer, to_db=lambda us: us) -> tuple[str, list[Any]]:  # noqa: ANN001
    where, args = [], []
    if lo is not None:
        where.append(f"{time_col} >= ?")
        args.append(to_db(lo))
    if hi is not None:
        where.append(f"{time_col} <= ?")
        args.append(to_db(hi))
    if user is not None:
        where.append("actor = ?")
        args.append(user)
    if layer is not None:
        where.append("layer = ?")
        args.append(layer)
    return (" WHERE " + " AND ".join(where) if where else ""), args


def _events(db: Store, lo, hi, user, layer, limit) -> list[tuple]:  # noqa: ANN001
    from geo.store import PostgisStore

    pg = isinstance(db, PostgisStore)
    # PostGIS keeps times as timestamptz: compared as such (its index serves the bounds) and
    # returned as microseconds like SQLite's.
    t_out = "(extract(epoch FROM received) * 1000000)::bigint" if pg else "received"
    where, args = _where("received", lo, hi, user, layer, _us_to_utc if pg else (lambda us: us))
    props = "props::text" if pg else "props"
    rows = db._sql(
        f"SELECT {t_out}, actor, kind, layer, entity_id, source, session, client, {props} "
        f"FROM ops_events{where} ORDER BY received DESC LIMIT {int(limit)}",
        args,
    )
    out = []
    for t, who, kind, lay, ent, source, session, client, text in rows:
        removed = '"_removed":true' in (text or "").replace(" ", "")
        act = f"{kind} withdrawn" if removed else kind
        out.append((int(t), who, None, act, lay, ent, source, session, client))
    return out


def _us_to_utc(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _audit(db: Store, lo, hi, user, layer, limit) -> list[tuple]:  # noqa: ANN001
    where, args = _where("t", lo, hi, user, layer)
    rows = db._sql(
        "SELECT t, actor, role, action, layer, target, detail, session, client FROM ops_audit"
        f"{where} ORDER BY t DESC LIMIT {int(limit)}",
        args,
    )
    return [(int(r[0]), *r[1:]) for r in rows]


def to_csv(frame: pd.DataFrame) -> str:
    """The audit lines as CSV text (ISO 8601 times; cells that would run as spreadsheet
    formulas neutralised by :func:`geo.csvout.csv_text`)."""
    rows = []
    for rec in frame[COLUMNS].itertuples(index=False, name=None):
        t, *rest = rec
        rows.append([pd.Timestamp(t).isoformat(), *["" if pd.isna(v) else v for v in rest]])
    return csv_text(COLUMNS, rows)
