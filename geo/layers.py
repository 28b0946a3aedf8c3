"""Layer schemas, and validation that turns any GeoDataFrame into a layer or says why not.

A *layer* is a GeoDataFrame in EPSG:4326 whose columns follow one of the schemas in
:data:`SCHEMAS`. :func:`validate` coerces types, repairs what can be repaired (and says so in the
returned :class:`LayerReport`) and raises :class:`geo.errors.InputError` naming the file, the
feature and the field for everything else. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.constants import WGS84
from geo.errors import InputError, Problem
from geo.limits import Limits, excerpt, limits

__all__ = [
    "LAYER_KINDS",
    "LIVE_LAYERS",
    "POLYGONAL",
    "SCHEMAS",
    "WGS84",
    "Datum",
    "DType",
    "Field",
    "LayerReport",
    "LayerSchema",
    "empty",
    "validate",
]

__all__ = [
    "LAYER_KINDS",
    "LIVE_LAYERS",
    "POLYGONAL",
    "SCHEMAS",
    "WGS84",
    "DType",
    "Datum",
    "Field",
    "LayerReport",
    "LayerSchema",
    "empty",
    "validate",
]

DType = Literal["str", "int", "float", "datetime", "bool"]
Datum = Literal["wgs84", "gcj02", "bd09"]


@dataclass(frozen=True)
class Field:
    """One column of a layer schema."""

    name: str
    dtype: DType
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""

    def expected(self) -> str:
        """Human description of a valid value, for error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {
            "str": "text",
            "int": "a whole number",
            "float": "a number",
            "datetime": "an ISO 8601 time such as 2021-10-31T18:05:00+08:00",
            "bool": "true or false",
        }[self.dtype]
        if self.min is not None and self.max is not None:
            kind += f" from {self.min:g} to {self.max:g}"
        elif self.min is not None:
            kind += f" >= {self.min:g}"
        return kind


@dataclass(frozen=True)
class LayerSchema:
    """What a layer of one kind must look like."""

    kind: str
    title: str
    geometry: tuple[str, ...]
    fields: tuple[Field, ...]
    #: Kept in the operations store when there is one (feeds and other screens change it).
    live: bool = False

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


_ID = Field("id", "str", required=True, description="stable identifier, kept through every export")
_NAME = Field("name", "str")
POLYGONAL = ("Polygon", "MultiPolygon")
_ORIGIN = Field(
    "origin", "str", description="where it came from: drawn (on the map), a file, a feed"
)

SCHEMAS: dict[str, LayerSchema] = {
    s.kind: s
    for s in [
        LayerSchema(
            "incidents",
            "Incidents",
            ("Point", *POLYGONAL),
            (
                _ID,
                Field("kind", "str", required=True, description="e.g. outbreak_trace, crowd, fire"),
                Field("severity", "int", required=True, min=1, max=5),
                Field("reported_at", "datetime", required=True),
                _NAME,
                Field("status", "str", choices=("open", "contained", "closed")),
                Field("notes", "str"),
                _ORIGIN,
                Field(
                    "closes",
                    "str",
                    description="venue(s) this incident closes, ';'-separated: everyone in the "
                    "crowd zones of a closed venue is held and tested",
                ),
            ),
            live=True,
        ),
        LayerSchema(
            "testing_sites",
            "Testing sites",
            ("Point",),
            (
                _ID,
                Field("name", "str", required=True),
                Field("lanes", "int", required=True, min=1),
                Field("per_lane_per_h", "float", required=True, min=0),
                Field("opens_at", "datetime"),
                Field("closes_at", "datetime"),
                Field("queue", "int", min=0, description="people waiting now"),
                Field("tested", "int", min=0, description="people tested so far"),
                Field("kind", "str", choices=("fixed", "mobile")),
            ),
            live=True,
        ),
        LayerSchema(
            "crowd_zones",
            "Crowd zones",
            POLYGONAL,
            (
                _ID,
                Field("people", "float", required=True, min=0),
                Field("observed_at", "datetime", required=True),
                _NAME,
                Field("source", "str", choices=("telecom", "ticketing", "census", "estimate")),
                Field("capacity", "int", min=0, description="safe number of people"),
                Field("venue", "str", description="the venue (park, station, ...) the zone is in"),
            ),
            live=True,
        ),
        LayerSchema(
            "roads",
            "Roads",
            ("LineString", "MultiLineString"),
            (
                _ID,
                Field("road_class", "str", required=True, description="OSM highway value"),
                _NAME,
                Field("oneway", "bool"),
                Field("speed_kmh", "float", min=0),
                Field("lanes", "int", min=1),
            ),
        ),
        LayerSchema(
            "facilities",
            "Facilities",
            ("Point",),
            (
                _ID,
                Field("kind", "str", required=True, description="hospital, police, ..."),
                _NAME,
                Field("capacity", "int", min=0),
            ),
        ),
        LayerSchema("boundary", "Boundary", POLYGONAL, (_ID, _NAME)),
        LayerSchema(
            "cordons",
            "Cordons (drawn)",
            POLYGONAL,
            (
                _ID,
                Field(
                    "band",
                    "str",
                    required=True,
                    choices=("lockdown", "control", "prevention"),
                    description="the zone this outline closes",
                ),
                _NAME,
                Field("drawn_at", "datetime"),
                Field("notes", "str"),
                _ORIGIN,
            ),
            live=True,
        ),
    ]
}

LAYER_KINDS: tuple[str, ...] = tuple(SCHEMAS)
#: The layers an operations store keeps live (the others come from the scenario's files).
LIVE_LAYERS: tuple[str, ...] = tuple(k for k, s in SCHEMAS.items() if s.live)


@dataclass
class LayerReport:
    """What validation did to a layer: counts and notes to show the user."""

    kind: str
    source: str
    features: int = 0
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: ``{file column: field}`` of the columns read under another name (aliases, a mapping)
    mapping: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{self.source}: {self.features} {self.kind} feature(s)"
        if self.repaired:
            n = len(self.repaired)
            text += f"; {n} invalid geometr{'y' if n == 1 else 'ies'} repaired"
        return "; ".join([text, *self.notes])


def empty(kind: str, tz: str = "Asia/Shanghai") -> gpd.GeoDataFrame:
    """An empty, valid layer of ``kind`` (times in zone ``tz``)."""
    schema = SCHEMAS[kind]
    frame = pd.DataFrame({f.name: pd.Series(dtype=_pandas_dtype(f, tz)) for f in schema.fields})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def validate(
    gdf: gpd.GeoDataFrame,
    kind: str,
    *,
    source: str = "<layer>",
    tz: str = "Asia/Shanghai",
    datum: Datum = "wgs84",
    assume_crs: str | None = None,
    allow_empty: bool = False,
    swap_xy: bool = False,
    labels: Sequence[str] | None = None,
    limits_: Limits | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Check and coerce ``gdf`` into a layer of ``kind``.

    Parameters
    ----------
    gdf : the features as read from a file.
    kind : one of :data:`LAYER_KINDS`.
    source : file or upload name, used in every message.
    tz : time zone for timestamps that carry none (the scenario's zone).
    datum : ``"gcj02"`` or ``"bd09"`` when the coordinates come from Amap/Tencent or Baidu;
        they are converted to WGS-84.
    assume_crs : CRS to use when the data declares none (else a missing CRS is an error).
    allow_empty : accept a layer with no features (scenario layers may be empty; uploads not).
    swap_xy : the file has latitude where longitude belongs; swap before checking.
    labels : how messages name each row (e.g. ``row 3 (line 4)`` for a CSV; the id is added);
        ``#<row>`` counted from 0 when None.
    limits_ : feature count and value length limits (:func:`geo.limits.limits` when None).

    Returns
    -------
    (layer, report) : the layer in EPSG:4326 with schema columns first, and what was done.

    Raises
    ------
    InputError : naming file, feature and field of every problem found.
    """
    if kind not in SCHEMAS:
        raise InputError(
            f"unknown layer kind '{kind}'", file=source, expected="one of " + ", ".join(SCHEMAS)
        )
    schema = SCHEMAS[kind]
    report = LayerReport(kind, source)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        raise InputError("no geometry column", file=source, expected=f"{schema.title} geometries")
    if len(gdf) == 0:
        if allow_empty:
            return empty(kind, tz), report
        raise InputError("the file has no features", file=source, expected="at least one feature")
    lim = limits_ or limits()
    if len(gdf) > lim.max_features:
        raise InputError(
            f"{len(gdf):,} features, more than the limit of {lim.max_features:,}",
            file=source,
            expected="a smaller file (clip it or split it); the limit is CITYOPS_MAX_FEATURES",
        )

    gdf = gdf.copy()
    gdf.columns = [c if c == gdf.geometry.name else str(c).strip().lower() for c in gdf.columns]
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    gdf = gdf.reset_index(drop=True)

    missing = [c for c in schema.required if c not in gdf.columns]
    if missing:
        raise InputError(
            problems=[
                Problem(
                    "required column is missing",
                    source,
                    field=c,
                    expected=schema.field(c).expected()
                    + f"; columns found: {', '.join(map(str, gdf.columns.drop('geometry')))}",
                )
                for c in missing
            ]
        )

    problems: list[Problem] = []
    names = _feature_labels(gdf, labels)
    too_long = _check_lengths(gdf, source, lim, problems, names)
    for i, c in too_long:
        gdf.iat[i, gdf.columns.get_loc(c)] = None  # not coerced again: one message per value
    gdf = _to_wgs84(gdf, source, assume_crs, datum, swap_xy, names)
    gdf, repaired = _check_geometry(gdf, schema, source, names, problems)
    report.repaired = repaired
    for f in schema.fields:
        gdf[f.name] = _coerce(gdf, f, source, names, tz, problems, report)
    _check_ids(gdf, source, problems, list(labels) if labels else None)
    if too_long:
        said = {(names[i], c) for i, c in too_long}
        problems = [
            p
            for p in problems
            if (p.feature, p.field) not in said or p.message.startswith("the value is")
        ]
    if problems:
        raise InputError(problems=problems)

    extras = [c for c in gdf.columns if c not in schema.columns and c != "geometry"]
    gdf = gdf[[*schema.columns, *extras, "geometry"]]
    report.features = len(gdf)
    return gdf, report


# --- helpers -------------------------------------------------------------------------------------


def _pandas_dtype(f: Field, tz: str = "Asia/Shanghai") -> str:
    return {
        "str": "object",
        "int": "Int64",
        "float": "float64",
        "datetime": f"datetime64[ns, {tz}]",
        "bool": "boolean",
    }[f.dtype]


def _feature_labels(gdf: pd.DataFrame, rows: Sequence[str] | None = None) -> list[str]:
    """How to name each row in messages: its row (``#i``, or the reader's ``rows``) and its id
    when it has a usable one (a short, escaped excerpt of it)."""
    rows = (
        rows if rows is not None and len(rows) == len(gdf) else [f"#{i}" for i in range(len(gdf))]
    )
    if "id" in gdf.columns:
        return [
            f"{r} (id {excerpt(v, quote=False)})" if _present(v) else r
            for r, v in zip(rows, gdf["id"])
        ]
    return list(rows)


def _check_lengths(
    gdf: gpd.GeoDataFrame, source: str, lim: Limits, problems: list[Problem], names: list[str]
) -> list[tuple[int, str]]:
    """Values longer than the limit, each a problem; returns their (row, column)."""
    found = []
    for c in gdf.columns:
        dtype = gdf[c].dtype
        if c == "geometry" or not (
            pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        ):
            continue
        lengths = gdf[c].map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
        for i in np.flatnonzero(lengths > lim.max_field_chars):
            v = gdf[c].iloc[i]
            found.append((int(i), c))
            problems.append(
                Problem(
                    f"the value is {len(v):,} characters long: {excerpt(v, 20)}",
                    source,
                    names[i],
                    c,
                    f"at most {lim.max_field_chars:,} characters (CITYOPS_MAX_FIELD_CHARS)",
                )
            )
    return found


def _present(v: object) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and np.isnan(v):
        return False
    if isinstance(v, str) and not v.strip():
        return False
    return not (v is pd.NA or v is pd.NaT)


def _to_wgs84(
    gdf: gpd.GeoDataFrame,
    source: str,
    assume_crs: str | None,
    datum: Datum,
    swap_xy: bool,
    labels: list[str],
) -> gpd.GeoDataFrame:
    from geo import crs as crsmod  # local import: crs imports nothing from here, but keep it light

    if gdf.crs is None:
        if assume_crs is None:
            raise InputError(
                "the data declares no coordinate reference system",
                file=source,
                field="geometry",
                expected="a CRS in the file (e.g. a .prj beside a Shapefile) or chosen on upload",
            )
        gdf = gdf.set_crs(_parse_crs(assume_crs, source))
    else:
        try:
            CRS.from_user_input(gdf.crs)
        except CRSError as exc:  # pragma: no cover - pyproj usually fails earlier, on read
            raise InputError(
                f"unknown coordinate reference system: {exc}", file=source, field="geometry"
            ) from exc

    if swap_xy:
        gdf["geometry"] = shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1])

    in_degrees = CRS.from_user_input(gdf.crs).is_geographic
    if in_degrees:
        _check_degree_range(gdf, source, labels)
    gdf = gdf.to_crs(WGS84)
    if not in_degrees:
        _check_degree_range(gdf, source, labels, projected=True)
    if datum != "wgs84":
        try:
            gdf = crsmod.to_wgs84_gdf(gdf, datum)
        except InputError as exc:  # add the file name the crs module cannot know
            p = exc.problems[0]
            raise InputError(p.message, file=source, field="datum", expected=p.expected) from exc
    return gdf


def _parse_crs(value: str, source: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InputError(
            f"unknown coordinate reference system '{value}'",
            file=source,
            field="geometry",
            expected="an EPSG code such as EPSG:4326",
        ) from exc


def _check_degree_range(
    gdf: gpd.GeoDataFrame, source: str, labels: list[str], projected: bool = False
) -> None:
    """Reject coordinates that cannot be lon/lat, and recognise swapped lat/lon."""
    geoms = gdf.geometry.values
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return
    bounds = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = (bounds[:, i] for i in range(4))
    bad_x = ok & ((xmin < -180) | (xmax > 180))
    bad_y = ok & ((ymin < -90) | (ymax > 90))
    bad = bad_x | bad_y
    if not bad.any():
        return
    swapped = ok & bad_y & ~bad_x & (np.abs(xmin) <= 90) & (np.abs(xmax) <= 90)
    problems = []
    for i in np.flatnonzero(bad)[: InputError.MAX_SHOWN + 1]:
        x, y = shapely.get_coordinates(geoms[i])[0]
        if swapped[i]:
            msg = f"latitude {y:.6f} is out of range; latitude and longitude look swapped"
            exp = "x = longitude, y = latitude (choose 'lat/lon swapped' to fix on read)"
        elif projected:
            msg = f"coordinates ({x:.6f}, {y:.6f}) fall outside the earth after reprojection"
            exp = "the CRS the coordinates were really written in"
        else:
            msg = f"coordinates ({x:.6f}, {y:.6f}) are not longitude/latitude degrees"
            exp = "lon in [-180, 180], lat in [-90, 90]; metres need their projected CRS declared"
        problems.append(Problem(msg, source, labels[i], "geometry", exp))
    n = int(bad.sum())
    if n > len(problems):
        problems.append(Problem(f"{n} features in all have out-of-range coordinates", source))
    raise InputError(problems=problems)


def _check_geometry(
    gdf: gpd.GeoDataFrame,
    schema: LayerSchema,
    source: str,
    labels: list[str],
    problems: list[Problem],
) -> tuple[gpd.GeoDataFrame, list[str]]:
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        problems.append(
            Problem(
                "geometry is empty or missing",
                source,
                labels[i],
                "geometry",
                _geom_expected(schema),
            )
        )
    types = np.asarray(shapely.get_type_id(geoms))
    names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ]
    )
    wrong = ~missing & ~np.isin(names[np.clip(types, 0, 7)], schema.geometry)
    for i in np.flatnonzero(wrong):
        problems.append(
            Problem(
                f"geometry is a {names[types[i]]}",
                source,
                labels[i],
                "geometry",
                _geom_expected(schema),
            )
        )
    good = ~missing & ~wrong
    invalid = good & ~shapely.is_valid(geoms)
    repaired: list[str] = []
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        fixed = np.array([_keep_dimension(g, schema) for g in fixed], dtype=object)
        for j, i in enumerate(np.flatnonzero(invalid)):
            if fixed[j] is None or fixed[j].is_empty:
                problems.append(
                    Problem(
                        "invalid geometry that cannot be repaired "
                        f"({shapely.is_valid_reason(geoms[i])})",
                        source,
                        labels[i],
                        "geometry",
                        _geom_expected(schema),
                    )
                )
            else:
                repaired.append(labels[i])
        geoms = geoms.copy()
        geoms[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    return gdf, repaired


def _keep_dimension(geom: shapely.Geometry, schema: LayerSchema) -> shapely.Geometry | None:
    """make_valid can return a collection of mixed parts; keep those of the layer's dimension."""
    if geom.geom_type in schema.geometry:
        return geom
    dim = {"Point": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}[
        schema.geometry[-1]
    ]
    parts = [p for p in getattr(geom, "geoms", [geom]) if shapely.get_dimensions(p) == dim]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in schema.geometry else None


def _geom_expected(schema: LayerSchema) -> str:
    return " or ".join(schema.geometry)


def _coerce(
    gdf: gpd.GeoDataFrame,
    f: Field,
    source: str,
    labels: list[str],
    tz: str,
    problems: list[Problem],
    report: LayerReport,
) -> pd.Series:
    if f.name not in gdf.columns:
        return pd.Series(pd.array([None] * len(gdf), dtype=_pandas_dtype(f, tz)), index=gdf.index)
    raw = gdf[f.name]
    present = raw.map(_present).to_numpy(dtype=bool)
    if f.required:
        for i in np.flatnonzero(~present):
            problems.append(Problem("value is missing", source, labels[i], f.name, f.expected()))

    if f.dtype == "str":
        out = raw.map(lambda v: str(v).strip() if _present(v) else None).astype(object)
        if f.name == "id":
            # "12.0" from a float column is an id of 12, not "12.0"
            out = raw.map(_id_text).astype(object)
        if f.choices:
            low = out.map(lambda v: v.lower() if isinstance(v, str) else v)
            bad = present & ~low.isin(f.choices).to_numpy()
            for i in np.flatnonzero(bad):
                problems.append(
                    Problem(
                        f"{excerpt(out.iloc[i])} is not allowed",
                        source,
                        labels[i],
                        f.name,
                        f.expected(),
                    )
                )
            out = low
        return out

    if f.dtype == "datetime":
        return _coerce_time(raw, present, f, source, labels, tz, problems, report)

    if f.dtype == "bool":
        mapping = {
            "true": True,
            "yes": True,
            "1": True,
            "1.0": True,
            "t": True,
            "y": True,
            "false": False,
            "no": False,
            "0": False,
            "0.0": False,
            "f": False,
            "n": False,
        }
        vals = raw.map(lambda v: mapping.get(str(v).strip().lower()) if _present(v) else None)
        bad = present & vals.isna().to_numpy()
        for i in np.flatnonzero(bad):
            problems.append(
                Problem(
                    f"{excerpt(raw.iloc[i])} is not a yes/no value",
                    source,
                    labels[i],
                    f.name,
                    f.expected(),
                )
            )
        return pd.Series(pd.array(vals.tolist(), dtype="boolean"), index=gdf.index)

    # A list or object in one feature is that feature's problem, not the column's: such cells
    # are left out of the conversion (pandas would otherwise see an object column).
    scalar = raw.map(lambda v: not isinstance(v, list | tuple | dict | set | np.ndarray))
    num = pd.to_numeric(raw.where(present & scalar.to_numpy(dtype=bool), None), errors="coerce")
    bad = present & num.isna().to_numpy()
    if f.dtype == "int":
        frac = present & ~bad & (np.abs(num.fillna(0) - np.round(num.fillna(0))) > 1e-9).to_numpy()
        for i in np.flatnonzero(frac):
            problems.append(
                Problem(
                    f"{excerpt(raw.iloc[i], quote=False)} is not a whole number",
                    source,
                    labels[i],
                    f.name,
                    f.expected(),
                )
            )
    for i in np.flatnonzero(bad):
        problems.append(
            Problem(_not_a_number(raw.iloc[i]), source, labels[i], f.name, f.expected())
        )
    values = num.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        out_of_range = np.zeros(len(values), dtype=bool)
        if f.min is not None:
            out_of_range |= values < f.min
        if f.max is not None:
            out_of_range |= values > f.max
        out_of_range |= np.isinf(values)
    for i in np.flatnonzero(out_of_range):
        problems.append(
            Problem(f"{values[i]:g} is out of range", source, labels[i], f.name, f.expected())
        )
    if f.dtype == "int":
        # Problems were recorded above; keep the column well-typed whatever they were.
        whole = np.where(np.isfinite(values), np.round(values), np.nan)
        return pd.Series(pd.array(whole, dtype="Float64").astype("Int64"), index=gdf.index)
    return pd.Series(values, index=gdf.index)


def _not_a_number(v: object) -> str:
    if isinstance(v, list | tuple | np.ndarray) or (
        isinstance(v, str) and v.strip().startswith("[") and v.strip().endswith("]")
    ):
        return f"{excerpt(v)} is a list, not one number"
    if isinstance(v, dict):
        return f"{excerpt(v)} is an object, not a number"
    return f"{excerpt(v)} is not a number"


_TIME_OF_DAY = re.compile(r"^\s*\d{1,2}[:：]\d{2}([:：]\d{2}(\.\d+)?)?\s*$")


def _id_text(v: object) -> str | None:
    if not _present(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _coerce_time(
    raw: pd.Series,
    present: np.ndarray,
    f: Field,
    source: str,
    labels: list[str],
    tz: str,
    problems: list[Problem],
    report: LayerReport,
) -> pd.Series:
    out = pd.Series(pd.NaT, index=raw.index, dtype=f"datetime64[ns, {tz}]")
    naive = 0
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        ser = raw
        if ser.dt.tz is None:
            naive = int(present.sum())
            ser = ser.dt.tz_localize(tz)
            if naive:
                report.notes.append(f"{naive} '{f.name}' value(s) had no time zone; read as {tz}")
        return ser.dt.tz_convert(tz).astype(f"datetime64[ns, {tz}]")
    for i in np.flatnonzero(present):
        v = raw.iloc[i]
        if isinstance(v, str) and _TIME_OF_DAY.match(v):
            # pandas would put it on today's date, silently
            problems.append(
                Problem(
                    f"{excerpt(v)} is a time of day without a date",
                    source,
                    labels[i],
                    f.name,
                    f.expected() + " (or a scenario whose 'now' gives the date)",
                )
            )
            continue
        try:
            t = pd.Timestamp(v)
            if pd.isna(t):
                raise ValueError
        except (ValueError, TypeError, OverflowError):
            problems.append(
                Problem(f"{excerpt(v)} is not a time", source, labels[i], f.name, f.expected())
            )
            continue
        if t.tzinfo is None:
            naive += 1
            t = t.tz_localize(tz)
        out.iloc[i] = t.tz_convert(tz)
    if naive:
        report.notes.append(f"{naive} '{f.name}' value(s) had no time zone; read as {tz}")
    return out


def _check_ids(
    gdf: gpd.GeoDataFrame, source: str, problems: list[Problem], rows: list[str] | None = None
) -> None:
    ids = gdf["id"]
    dup = ids.duplicated(keep="first") & ids.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        problems.append(
            Problem(
                f"id {excerpt(ids.iloc[i])} is used by more than one feature",
                source,
                rows[i] if rows and len(rows) == len(gdf) else f"#{i}",
                "id",
                "a unique id per feature",
            )
        )
