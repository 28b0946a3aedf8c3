"""Events to rows and rows back to layers: the store's (de)serialisation, shared by both
backends."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import layers
from geo.auth.roles import Actor
from geo.constants import WGS84
from geo.errors import InputError, Problem
from geo.store.model import (
    _EPOCH,
    _REMOVED,
    _US,
    ALWAYS,
    DRAWING_GEOMETRY,
    EVENT_KINDS,
    Event,
    FileRecord,
    Row,
)

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
