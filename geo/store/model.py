"""The store's data model: event kinds, events, file records, and its constants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from shapely.geometry.base import BaseGeometry

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
