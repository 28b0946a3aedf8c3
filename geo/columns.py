"""The column registry: what files call each field of each layer, and how their values are read.

Analysts bring the files they have: OpenStreetMap exports (``osm_id``, ``highway``,
``maxspeed``, ``oneway``), spreadsheets with English variants (``lng``, ``site_name``,
``population``) or Chinese headers (``名称``, ``经度``, ``车道数``), Google Earth placemarks
(``Name``, ``description``). This module is the one table of those names (:data:`REGISTRY`, per
layer kind and field, with the family each alias belongs to) and of the value parsers that go with
them (speeds in mph, ``oneway=-1``, times of day). :mod:`geo.io` applies it to every file it reads
(:func:`apply`), the CLI's ``--map`` and the upload form's mapping step feed it a hand-made
mapping, and ``docs/scenario-format.md`` lists it (:func:`markdown_table`).

What :func:`apply` does, in order, each step written into the layer's data notes:

1. renames the file's columns to the layer's fields: a hand-made mapping first, then columns
   named exactly like a field, then the aliases (first match in the registry's order);
2. reads values the way their source writes them (:data:`REGISTRY` ``parse``);
3. fills fields that have a scenario-wide default (``per_lane_per_h``) when the file has none;
4. generates missing ids as ``<kind>-<row>`` (rows counted from 1);
5. raises :class:`ColumnsMissing` (an :class:`~geo.errors.InputError`) naming each required field
   still missing, the columns found and a best guess, so a form can ask and a CLI can say
   ``--map lanes=COLUMN``.

Examples
--------
>>> import geopandas as gpd, shapely
>>> raw = gpd.GeoDataFrame({"名称": ["北门"], "车道数": ["4"]},
...                        geometry=[shapely.Point(121.66, 31.14)], crs="EPSG:4326")
>>> layer, notes, used = apply(raw, "testing_sites", source="sites.csv")
>>> list(layer.columns)
['name', 'lanes', 'geometry', 'per_lane_per_h', 'id']
>>> used, float(layer["per_lane_per_h"].iloc[0]), layer["id"].iloc[0]
({'名称': 'name', '车道数': 'lanes'}, 150.0, 'testing_sites-1')
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.constants import PER_LANE_PER_H
from geo.errors import InputError, Problem
from geo.layers import SCHEMAS

__all__ = [
    "COORDINATES",
    "FAMILIES",
    "KEPT",
    "REGISTRY",
    "Alias",
    "ColumnsMissing",
    "Defaults",
    "FieldColumns",
    "apply",
    "expected",
    "guess_columns",
    "markdown_table",
    "norm",
    "parse_mapping",
    "parse_oneway",
    "parse_speed",
    "project_defaults",
    "scenario_defaults",
]

#: Where an alias comes from, as the data notes say it.
FAMILIES: dict[str, str] = {
    "osm": "OpenStreetMap tags",
    "english": "English variants",
    "chinese": "Chinese headers",
    "kml": "KML / Google Earth",
}

#: Scenario-wide values that stand in for what a file leaves out: ``per_lane_per_h`` (swabs per
#: lane per hour) and ``date`` (ISO date for times of day such as ``08:00``).
Defaults = Mapping[str, Any]


@dataclass(frozen=True)
class Alias:
    """One name a file may use for a field."""

    name: str
    family: str


@dataclass
class _Ctx:
    """What a value parser may use and report."""

    kind: str
    column: str  # the file's column
    family: str | None  # the alias family it came through (None: named like the field / by hand)
    defaults: Defaults
    notes: list[str]
    geometry: np.ndarray  # the layer's geometries (a parser may reverse lines: oneway=-1)


Parser = Callable[[pd.Series, _Ctx], pd.Series]


@dataclass(frozen=True)
class FieldColumns:
    """The names and reading of one field of one layer kind.

    Parameters
    ----------
    field : the layer's field (or a kept extra column, such as ``address``).
    aliases : other names for it, in order of preference.
    parse : reads its values as the source writes them (applied whatever the column's name).
    default : the scenario setting (see :data:`Defaults`) that fills it when the file has none.
    """

    field: str
    aliases: tuple[Alias, ...] = ()
    parse: Parser | None = None
    default: str | None = None


def _f(
    name: str,
    *,
    osm: Sequence[str] = (),
    en: Sequence[str] = (),
    zh: Sequence[str] = (),
    kml: Sequence[str] = (),
    parse: Parser | None = None,
    default: str | None = None,
) -> FieldColumns:
    aliases = (
        [Alias(a, "osm") for a in osm]
        + [Alias(a, "english") for a in en]
        + [Alias(a, "chinese") for a in zh]
        + [Alias(a, "kml") for a in kml]
    )
    return FieldColumns(name, tuple(aliases), parse, default)


# --- value parsers -----------------------------------------------------------------------------

_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots|kn)?\s*$", re.IGNORECASE)
_SPEED_FACTOR = {"km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852, "kn": 1.852}


def parse_speed(values: pd.Series, ctx: _Ctx) -> pd.Series:
    """Speeds written with a unit (``50 mph``, ``30 knots``, ``60 km/h``) in km/h.

    OpenStreetMap's symbolic ``maxspeed`` values (``none``, ``walk``, ``RU:urban``, ``50;30``)
    are left empty and counted in the notes when the column is the ``maxspeed`` tag; in any other
    column they stay as written, for validation to refuse.
    """
    out = values.astype(object).copy()
    converted, symbolic = 0, []
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            continue
        m = _SPEED.match(v)
        if m:
            unit = (m.group(2) or "km/h").lower()
            out.iloc[i] = float(m.group(1)) * _SPEED_FACTOR[unit]
            converted += unit not in ("km/h", "kmh", "kph")
        elif ctx.family == "osm":
            out.iloc[i] = None
            symbolic.append(v)
    if converted:
        ctx.notes.append(f"{converted} '{ctx.column}' value(s) in mph or knots converted to km/h")
    if symbolic:
        ctx.notes.append(
            f"{len(symbolic)} '{ctx.column}' value(s) not a number (e.g. {symbolic[0]!r}); "
            "left empty"
        )
    return out


_YES = {"yes", "true", "1", "1.0", "t", "y", "是"}
_NO = {"no", "false", "0", "0.0", "f", "n", "否"}
_REVERSE = {"-1", "reverse"}


def parse_oneway(values: pd.Series, ctx: _Ctx) -> pd.Series:
    """OSM's ``oneway`` values: ``yes``/``no``, and ``-1`` (one-way against the way's drawing
    direction: the line is reversed so it runs the way traffic goes).

    Other OSM values (``reversible``, ``alternating``: the direction changes over time) are left
    unknown and counted; outside an OSM column they stay as written, for validation to refuse.
    """
    out = values.astype(object).copy()
    reverse = np.zeros(len(values), dtype=bool)
    odd: list[str] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)) or isinstance(v, bool | np.bool_):
            continue
        text = str(v).strip().lower()
        if text in _YES:
            out.iloc[i] = True
        elif text in _NO:
            out.iloc[i] = False
        elif text in _REVERSE:
            out.iloc[i] = True
            reverse[i] = True
        elif text and ctx.family == "osm":
            out.iloc[i] = None
            odd.append(text)
    if reverse.any():
        geoms = ctx.geometry
        lines = reverse & np.isin(shapely.get_type_id(geoms), (1, 5))
        geoms[lines] = shapely.reverse(geoms[lines])
        ctx.notes.append(
            f"{int(reverse.sum())} way(s) tagged oneway=-1 reversed to their travel direction"
        )
    if odd:
        ctx.notes.append(f"{len(odd)} way(s) with oneway={odd[0]!r} (or similar) left unknown")
    return out


def _parse_osm_lanes(values: pd.Series, ctx: _Ctx) -> pd.Series:
    """OSM ``lanes`` such as ``2;3`` (per direction, per period) are left empty and counted."""
    if ctx.family != "osm" and ctx.column.lower() != "lanes":
        return values
    out = values.astype(object).copy()
    bad = []
    for i, v in enumerate(values):
        if isinstance(v, str) and v.strip() and not re.fullmatch(r"\s*\d+(\.0+)?\s*", v):
            if ctx.family == "osm" or ";" in v:
                out.iloc[i] = None
                bad.append(v)
    if bad:
        ctx.notes.append(f"{len(bad)} lanes value(s) not a number (e.g. {bad[0]!r}); left empty")
    return out


_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d+)?\s*$")


def _parse_number(values: pd.Series, ctx: _Ctx) -> pd.Series:
    """Numbers written with thousands separators (``12,000``) or full-width digits."""
    out = values.astype(object).copy()
    n = 0
    for i, v in enumerate(values):
        if isinstance(v, str):
            text = unicodedata.normalize("NFKC", v)
            if _THOUSANDS.match(text):
                text = text.replace(",", "")
                n += 1
            out.iloc[i] = text
    if n:
        ctx.notes.append(f"{n} '{ctx.column}' value(s) read without their thousands separators")
    return out


_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?\s*$")


def _parse_time_of_day(values: pd.Series, ctx: _Ctx) -> pd.Series:
    """Times of day (``08:00``, ``8:30:00``, what site lists give) on the scenario's date."""
    day = ctx.defaults.get("date")
    if not day:
        return values  # validation refuses a time of day without a date
    out = values.astype(object).copy()
    n = 0
    for i, v in enumerate(values):
        m = _TIME_OF_DAY.match(v) if isinstance(v, str) else None
        if m:
            out.iloc[i] = f"{day}T{int(m[1]):02d}:{m[2]}:{m[3] or '00'}"
            n += 1
    if n:
        ctx.notes.append(f"{n} '{ctx.column}' time(s) of day read on the scenario's date {day}")
    return out


# --- the registry ------------------------------------------------------------------------------

_ID_OSM = ("osm_id", "@id")
_ID_ZH = ("编号", "序号", "编码")
_NAME_EN = ("site_name", "title", "label")
_NAME_ZH = ("名称", "名字", "点位名称")
_NOTES = {"en": ("description", "desc", "comment", "remarks"), "zh": ("备注", "描述", "说明")}

#: Columns that are not fields of any layer but are worth keeping under a plain name.
KEPT: tuple[FieldColumns, ...] = (_f("address", en=("addr", "street_address"), zh=("地址",)),)

#: Coordinate columns of tables (CSV, Excel, Parquet without geometry), in order of preference.
COORDINATES: dict[str, FieldColumns] = {
    "lon": _f("lon", en=("lng", "long", "longitude", "x"), zh=("经度", "东经")),
    "lat": _f("lat", en=("latitude", "y"), zh=("纬度", "北纬")),
    "wkt": _f("wkt", en=("geometry", "geom", "the_geom", "wkt_geom")),
}

_R: dict[str, list[FieldColumns]] = {
    "incidents": [
        _f("id", osm=_ID_OSM, en=("incident_id",), zh=("事件编号", *_ID_ZH)),
        _f("kind", en=("type", "category"), zh=("类型", "事件类型", "类别")),
        _f(
            "severity",
            en=("level", "priority"),
            zh=("等级", "级别", "严重程度"),
            parse=_parse_number,
        ),
        _f(
            "reported_at",
            en=("reported", "time", "timestamp", "datetime"),
            zh=("报告时间", "上报时间", "发现时间", "时间"),
            kml=("timestamp", "begin"),
            parse=_parse_time_of_day,
        ),
        _f("name", en=_NAME_EN, zh=("事件名称", *_NAME_ZH)),
        _f("status", en=("state",), zh=("状态",)),
        _f("notes", en=_NOTES["en"], zh=_NOTES["zh"]),
    ],
    "testing_sites": [
        _f("id", osm=_ID_OSM, en=("site_id",), zh=("点位编号", *_ID_ZH)),
        _f("name", en=_NAME_EN, zh=(*_NAME_ZH, "采样点名称", "检测点名称", "采样点")),
        _f(
            "lanes",
            en=("lane_count", "num_lanes", "n_lanes", "tables", "desks"),
            zh=("车道数", "采样台数", "采样台", "采样通道数"),
            parse=_parse_number,
        ),
        _f(
            "per_lane_per_h",
            en=("per_lane_per_hour", "swabs_per_lane_per_h", "throughput_per_lane"),
            zh=("每道每小时", "单台每小时采样量", "每台每小时"),
            parse=_parse_number,
            default="per_lane_per_h",
        ),
        _f(
            "opens_at",
            en=("opens", "open", "opening_time", "open_at", "start_time"),
            zh=("开放时间", "开始时间"),
            parse=_parse_time_of_day,
        ),
        _f(
            "closes_at",
            en=("closes", "close", "closing_time", "close_at", "end_time"),
            zh=("关闭时间", "结束时间"),
            parse=_parse_time_of_day,
        ),
        _f("queue", en=("queue_length", "waiting"), zh=("排队人数",), parse=_parse_number),
        _f("tested", en=("tested_count",), zh=("已采样人数", "已检测人数"), parse=_parse_number),
        _f("kind", en=("site_type",)),
    ],
    "crowd_zones": [
        _f("id", osm=_ID_OSM, en=("zone_id",), zh=("区域编号", *_ID_ZH)),
        _f(
            "people",
            en=("population", "pop", "count", "persons", "devices"),
            zh=("人数", "人口", "人流量"),
            parse=_parse_number,
        ),
        _f(
            "observed_at",
            en=("observed", "time", "timestamp", "datetime"),
            zh=("观测时间", "统计时间", "时间"),
            kml=("timestamp", "begin"),
            parse=_parse_time_of_day,
        ),
        _f("name", en=("zone_name", *_NAME_EN), zh=("区域名称", *_NAME_ZH)),
        _f("source", zh=("来源", "数据来源")),
        _f("capacity", en=("max_people",), zh=("容量", "最大容量", "承载量"), parse=_parse_number),
    ],
    "roads": [
        _f("id", osm=_ID_OSM, en=("road_id",), zh=_ID_ZH),
        _f("road_class", osm=("highway",), en=("fclass", "class", "road_type"), zh=("道路等级",)),
        _f("name", en=("road_name", *_NAME_EN), zh=("道路名称", "路名", *_NAME_ZH)),
        _f("oneway", osm=("oneway",), en=("one_way",), zh=("单行", "是否单行"), parse=parse_oneway),
        _f(
            "speed_kmh",
            osm=("maxspeed",),
            en=("speed", "speed_limit", "max_speed"),
            zh=("限速",),
            parse=parse_speed,
        ),
        _f("lanes", osm=("lanes",), zh=("车道数",), parse=_parse_osm_lanes),
    ],
    "facilities": [
        _f("id", osm=_ID_OSM, en=("facility_id",), zh=_ID_ZH),
        _f("kind", osm=("amenity",), en=("type", "category"), zh=("类型", "类别")),
        _f("name", en=_NAME_EN, zh=_NAME_ZH),
        _f("capacity", en=("beds",), zh=("容量", "床位数"), parse=_parse_number),
    ],
    "boundary": [
        _f("id", osm=_ID_OSM, zh=_ID_ZH),
        _f("name", en=_NAME_EN, zh=_NAME_ZH),
    ],
    "cordons": [
        _f("id", zh=_ID_ZH),
        _f("band", en=("zone", "tier"), zh=("区域类型",)),
        _f("name", en=_NAME_EN, zh=_NAME_ZH),
        _f("drawn_at", en=("time", "timestamp"), zh=("时间",), parse=_parse_time_of_day),
        _f("notes", en=_NOTES["en"], zh=_NOTES["zh"]),
    ],
}

#: Per layer kind, per field: its aliases, parser and default. Every schema field has an entry
#: (with no aliases when files always use its own name), then :data:`KEPT`.
REGISTRY: dict[str, dict[str, FieldColumns]] = {}
for _kind, _schema in SCHEMAS.items():
    _given = {c.field: c for c in _R.get(_kind, [])}
    _extra = set(_given) - set(_schema.columns)
    assert not _extra, f"registry fields not in the {_kind} schema: {_extra}"
    REGISTRY[_kind] = {f.name: _given.get(f.name, FieldColumns(f.name)) for f in _schema.fields}
    for _c in KEPT:
        REGISTRY[_kind].setdefault(_c.field, _c)


def norm(name: object) -> str:
    """A column name as aliases are compared: NFKC (full-width to ASCII), trimmed, lower case,
    spaces/hyphens/dots as ``_``, a trailing unit in brackets dropped (``人数（人）``)."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = re.sub(r"\s*\([^()]*\)\s*$", "", text) or text
    return re.sub(r"[\s\-.]+", "_", text).strip("_")


# --- applying ----------------------------------------------------------------------------------


def project_defaults() -> dict[str, Any]:
    """The defaults when no scenario is given: the project's ``per_lane_per_h``."""
    return {"per_lane_per_h": PER_LANE_PER_H}


def scenario_defaults(settings: Any) -> dict[str, Any]:
    """The defaults a scenario's settings give (a :class:`geo.scenario.Settings` or a dict)."""
    get = settings.get if isinstance(settings, Mapping) else lambda k: getattr(settings, k, None)
    out = project_defaults()
    per_lane = get("per_lane_per_h")
    if per_lane is not None:
        out["per_lane_per_h"] = float(per_lane)
    now = get("now")
    if now:
        try:
            out["date"] = pd.Timestamp(now).date().isoformat()
        except ValueError:
            pass  # Settings.check reports it
    return out


class ColumnsMissing(InputError):
    """Required fields that no column of the file provides, with what could provide them.

    Attributes
    ----------
    kind : the layer kind.
    missing : the fields still missing (``lon``/``lat`` for a table without coordinates).
    columns : the file's columns not used yet, in file order.
    guesses : per missing field, the most likely column (or None).
    """

    def __init__(
        self,
        kind: str,
        source: str,
        missing: list[str],
        columns: list[str],
        guesses: dict[str, str | None],
        message: str = "required column is missing",
    ) -> None:
        self.kind, self.missing, self.columns, self.guesses = kind, missing, columns, guesses
        found = ", ".join(columns) or "none"
        problems = []
        for f in missing:
            what = expected(kind, f)
            hint = f"--map {f}=COLUMN or choose the column on upload"
            if guesses.get(f):
                hint += f" (best guess: {guesses[f]})"
            problems.append(
                Problem(
                    message,
                    source,
                    field=f,
                    expected=f"{what}; unused columns: {found}; {hint}",
                )
            )
        super().__init__(problems=problems)


def expected(kind: str, f: str) -> str:
    """What a valid value of field ``f`` looks like (``lon``/``lat`` too), for messages."""
    if f in ("lon", "lat"):
        return f"{'longitude' if f == 'lon' else 'latitude'} in degrees"
    return SCHEMAS[kind].field(f).expected()


def parse_mapping(text: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``"name=名称,lanes=车道数"`` (or several such strings, or a dict) as ``{field: column}``.

    Raises
    ------
    InputError : an item that is not ``field=column``.
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in text.items()}
    items = [text] if isinstance(text, str) else list(text)
    out: dict[str, str] = {}
    for chunk in items:
        for part in chunk.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise InputError(
                    f"{part.strip()!r} is not a column mapping",
                    field="--map",
                    expected="field=column pairs such as name=名称,lanes=车道数",
                )
            out[key.strip().lower()] = value.strip()
    return out


def _find(columns: Sequence[str], wanted: str) -> str | None:
    if wanted in columns:
        return wanted
    return next((c for c in columns if norm(c) == norm(wanted)), None)


def _plan(
    columns: list[str], kind: str, mapping: Mapping[str, str], source: str
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """``{file column: field}`` and ``(column, field, how)`` for the notes."""
    reg = REGISTRY[kind]
    by_field: dict[str, str] = {}
    how: dict[str, str] = {}
    for f, col in mapping.items():
        if f not in reg:
            raise InputError(
                f"'{f}' is not a field of the {kind} layer",
                file=source,
                field="mapping",
                expected="one of " + ", ".join(reg),
            )
        found = _find(columns, col)
        if found is None:
            raise InputError(
                f"the column '{col}' chosen for {f} is not in the file",
                file=source,
                field=f,
                expected="one of the columns found: " + ", ".join(columns),
            )
        by_field[f], how[f] = found, "by hand"
    taken = set(by_field.values())
    for col in columns:  # named like a field
        f = norm(col)
        if f in reg and f not in by_field and col not in taken:
            by_field[f], how[f] = col, ""
            taken.add(col)
    normed = {c: norm(c) for c in columns}
    for f, spec in reg.items():
        if f in by_field:
            continue
        for alias in spec.aliases:
            found = next((c for c in columns if c not in taken and normed[c] == alias.name), None)
            if found is not None:
                by_field[f], how[f] = found, alias.family
                taken.add(found)
                break
    renames = {col: f for f, col in by_field.items()}
    # a column named like its field but for case or spacing ('Name') is not worth a note
    used = [(col, f, how[f]) for f, col in by_field.items() if how[f]]
    return renames, used


def apply(
    raw: gpd.GeoDataFrame,
    kind: str,
    *,
    source: str = "<layer>",
    mapping: Mapping[str, str] | None = None,
    defaults: Defaults | None = None,
) -> tuple[gpd.GeoDataFrame, list[str], dict[str, str]]:
    """Give ``raw``'s columns the layer's names, read their values, fill defaults and ids.

    Parameters
    ----------
    raw : the features as read from a file (any column names).
    kind : the layer kind.
    source : the file name, for messages.
    mapping : ``{field: column}`` chosen by hand (wins over names and aliases).
    defaults : scenario-wide values (:func:`scenario_defaults`); :func:`project_defaults` if None.

    Returns
    -------
    (frame, notes, used) : the frame with renamed columns (not yet validated), what was done
        (for the data notes), and ``{file column: field}`` of every column renamed.

    Raises
    ------
    ColumnsMissing : a required field that no column provides (after defaults and ids).
    InputError : a hand-made mapping naming an unknown field or column.
    """
    defaults = project_defaults() if defaults is None else {**project_defaults(), **defaults}
    geom = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    columns = [str(c) for c in raw.columns if c != geom]
    raw = raw.rename(columns={c: str(c) for c in raw.columns if c != geom})
    renames, used = _plan(columns, kind, dict(mapping or {}), source)
    notes: list[str] = []
    # a column displaced by a hand-made choice keeps its data under another name
    targets = set(renames.values())
    displaced = {
        c: f"{norm(c)}_in_file" for c in columns if c not in renames and norm(c) in targets
    }
    out = raw.rename(columns={**renames, **displaced})
    if displaced:
        notes.append(
            "kept as "
            + ", ".join(f"'{b}'" for b in displaced.values())
            + " (another column was chosen for that field)"
        )
    _note_used(used, notes)
    if len(out):
        geoms = out.geometry.to_numpy().copy()
        families = {f: fam for _, f, fam in used}
        # in a file that uses OSM tags, oneway/lanes named as such are OSM tags too
        osm_file = "osm" in families.values()
        for f, spec in REGISTRY[kind].items():
            if spec.parse is None or f not in out.columns:
                continue
            fam = families.get(f) or None
            fam = None if fam == "by hand" else fam
            if fam is None and osm_file and any(a.family == "osm" for a in spec.aliases):
                fam = "osm"
            col = next((c for c, g in renames.items() if g == f), f)
            ctx = _Ctx(kind, col, fam, defaults, notes, geoms)
            out[f] = spec.parse(out[f], ctx)
        out = out.set_geometry(gpd.GeoSeries(geoms, crs=out.crs, index=out.index))
    out = _fill_defaults(out, kind, defaults, notes)
    out = _fill_ids(out, kind, notes)
    # an empty file says nothing about its columns: validation decides whether empty is fine
    missing = [f for f in SCHEMAS[kind].required if f not in out.columns] if len(out) else []
    if missing:
        unused = [c for c in columns if c not in renames]
        guesses = guess_columns(raw, kind, missing, unused)
        raise ColumnsMissing(kind, source, missing, unused, guesses)
    return out, notes, {col: f for col, f, _ in used}


def _note_used(used: list[tuple[str, str, str]], notes: list[str]) -> None:
    groups: dict[str, list[str]] = {}
    for col, f, how in used:
        groups.setdefault(how, []).append(f"'{col}' -> {f}")
    for how, pairs in groups.items():
        if how == "by hand":
            notes.append("columns mapped by hand: " + ", ".join(pairs))
        else:
            label = FAMILIES.get(how, "column names")
            notes.append(f"columns recognised ({label}): " + ", ".join(pairs))


def _present(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return False
    if isinstance(v, float) and np.isnan(v):
        return False
    return not (isinstance(v, str) and not v.strip())


def _fill_defaults(
    out: gpd.GeoDataFrame, kind: str, defaults: Defaults, notes: list[str]
) -> gpd.GeoDataFrame:
    for f, spec in REGISTRY[kind].items():
        if spec.default is None or defaults.get(spec.default) is None or not len(out):
            continue
        value = defaults[spec.default]
        if f not in out.columns:
            out[f] = value
            notes.append(
                f"{f} not in the file: {value:g} (the scenario's default) used for all "
                f"{len(out)} feature(s)"
            )
            continue
        blank = ~out[f].map(_present).to_numpy(dtype=bool)
        if blank.any():
            col = out[f].astype(object)
            col[blank] = value
            out[f] = col
            notes.append(
                f"{f} empty in {int(blank.sum())} feature(s): {value:g} "
                "(the scenario's default) used"
            )
    return out


def _fill_ids(out: gpd.GeoDataFrame, kind: str, notes: list[str]) -> gpd.GeoDataFrame:
    if not len(out):
        return out
    generated = [f"{kind}-{i + 1}" for i in range(len(out))]
    if "id" not in out.columns:
        out["id"] = generated
        notes.append(f"no id column: ids generated as {kind}-<row> (rows from 1)")
        return out
    blank = ~out["id"].map(_present).to_numpy(dtype=bool)
    if blank.any():
        ids = out["id"].astype(object)
        ids[blank] = np.array(generated, dtype=object)[blank]
        out["id"] = ids
        notes.append(f"{int(blank.sum())} feature(s) without an id: ids generated as {kind}-<row>")
    return out


# --- guessing ----------------------------------------------------------------------------------


def _fits(values: pd.Series, dtype: str) -> float:
    """The share of present values that read as ``dtype``."""
    present = values[values.map(_present)]
    if not len(present):
        return 0.0
    sample = present.iloc[:200].astype(str).map(lambda s: unicodedata.normalize("NFKC", s))
    if dtype in ("int", "float", "lon", "lat"):
        ok = pd.to_numeric(sample.str.replace(",", "", regex=False), errors="coerce").notna()
        return float(ok.mean())
    if dtype == "datetime":
        return float(sample.map(_is_time).mean())
    return 1.0


def _is_time(s: str) -> bool:
    try:
        return not pd.isna(pd.Timestamp(s))
    except (ValueError, TypeError, OverflowError):
        return bool(_TIME_OF_DAY.match(s))


def guess_columns(
    frame: pd.DataFrame, kind: str, missing: Sequence[str], candidates: Sequence[str]
) -> dict[str, str | None]:
    """The most likely column of ``candidates`` for each missing field (or None).

    By name first (closest to the field's name or an alias), then by content (the values read as
    the field's type); a column is guessed for one field at most.
    """
    left = list(candidates)
    out: dict[str, str | None] = {}
    for f in missing:
        spec = COORDINATES.get(f) or REGISTRY[kind][f]
        dtype = f if f in ("lon", "lat") else SCHEMAS[kind].field(f).dtype
        names = [f, *(a.name for a in spec.aliases)]
        best, best_score = None, 0.0
        for col in left:
            fit = _fits(frame[col], dtype) if col in frame.columns else 0.0
            if dtype != "str" and fit < 0.8:
                continue
            similar = max(difflib.SequenceMatcher(None, norm(col), n).ratio() for n in names)
            if dtype == "str" and similar < 0.5:
                continue  # any column is text: only a name that looks alike says anything
            score = similar + 0.5 * fit
            if f in ("lon", "lat") and fit:
                values = pd.to_numeric(frame[col], errors="coerce").abs()
                limit = 180 if f == "lon" else 90
                score += 0.5 if values.max() <= limit and values.min() > 0 else 0
            if score > best_score:
                best, best_score = col, score
        out[f] = best
        if best is not None:
            left.remove(best)
    return out


# --- documentation -----------------------------------------------------------------------------


def markdown_table() -> str:
    """The registry as a Markdown table (``docs/scenario-format.md`` holds it; a test checks that
    it is current)."""
    rows = ["| layer | field | required | aliases (OSM · English · Chinese · KML) | read as |"]
    rows.append("|---|---|---|---|---|")
    for kind, fields in REGISTRY.items():
        schema = SCHEMAS[kind]
        for f, spec in fields.items():
            required = "yes" if f in schema.required else "no"
            if spec.default:
                required = f"no (default: scenario's `{spec.default}`)"
            elif f == "id":
                required = "no (generated: `<kind>-<row>`)"
            elif f not in schema.columns:
                required = "kept"
            names = " · ".join(
                ", ".join(f"`{a.name}`" for a in spec.aliases if a.family == fam) or "–"
                for fam in FAMILIES
            )
            doc = ""
            if spec.parse is not None:  # the parser's first paragraph, in Markdown
                para = (spec.parse.__doc__ or "").strip().split("\n\n")[0]
                doc = " ".join(line.strip() for line in para.splitlines()).replace("``", "`")
            rows.append(f"| {kind} | `{f}` | {required} | {names} | {doc} |")
    return "\n".join(rows) + "\n"
