"""The store's one interface (:class:`Store`), whatever the backend."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import layers
from geo.auth.roles import Actor, require
from geo.constants import WGS84
from geo.errors import InputError
from geo.store.model import (
    _REMOVED,
    ALWAYS,
    DEFAULT_TZ,
    DELAY_ENV,
    EVENT_KINDS,
    STORE_LAYERS,
    AppendResult,
    Event,
    FileRecord,
    Row,
)
from geo.store.rows import _MAX_US, _merge_state, _records, _us_to_times, prepare_rows, to_us


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
