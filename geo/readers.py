"""Format readers behind :func:`geo.io.read_layer`: tables (CSV, Excel, Parquet), GeoParquet,
FlatGeobuf, KML/KMZ and OpenStreetMap (``.osm`` XML and ``.osm.pbf``).

Each reader turns a file into raw features (a GeoDataFrame with the file's own column names);
:mod:`geo.columns` then names the columns and :func:`geo.layers.validate` checks them. Tables
(CSV, Excel sheets, Parquet without geometry) share one path: coordinates from longitude/latitude
columns (:data:`geo.columns.COORDINATES`) or a WKT column. Per-row problems found while reading
(a coordinate that is not a number) are collected in :attr:`ReadOptions.problems` and reported
together with validation's, so one pass shows everything wrong with a file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors

from geo import columns as colreg
from geo.errors import InputError, Problem
from geo.layers import SCHEMAS, WGS84
from geo.limits import excerpt

__all__ = [
    "READ_ERRORS",
    "ReadOptions",
    "Src",
    "cause",
    "osm_roads",
    "read_csv",
    "read_excel",
    "read_fgb",
    "read_kml",
    "read_ogr",
    "read_osm",
    "read_parquet",
    "read_table",
]

# pyogrio/GDAL and the standard library fail with many types; all of them become InputError.
READ_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
    pyogrio.errors.FeatureError,
    RuntimeError,
    OSError,
    ValueError,
    TypeError,
    UnicodeError,
    zipfile.BadZipFile,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    shapely.errors.GEOSException,
)


@dataclass
class Src:
    """An input resolved to a readable path (uploads are spilled to a temporary folder)."""

    name: str  # what messages call it
    path: Path | None  # on disk, for readers that need a path
    size: int | None
    head: bytes  # the first bytes, for format sniffing and diagnostics
    data: bytes | None = None  # the content, for uploads

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


@dataclass
class ReadOptions:
    """What a reader needs besides the file, and what it reports back."""

    kind: str
    lon_col: str | None = None
    lat_col: str | None = None
    assume_crs: str | None = None
    max_bytes: int = 200 * 1024 * 1024
    max_features: int = 2_000_000
    notes: list[str] = field(default_factory=list)
    #: per-row problems found while reading, reported with validation's
    problems: list[Problem] = field(default_factory=list)
    #: how messages name each row (tables: ``row 3 (line 4)``); None: validation's ``#i``
    labels: list[str] | None = None


def cause(exc: BaseException, src: Src) -> str:
    """The error's text, without the temporary paths GDAL puts in it."""
    text = str(exc).strip() or type(exc).__name__
    if src.path is not None:
        text = text.replace(str(src.path), src.name)
    # temporary copies (uploads, extracted Shapefiles) and GDAL's in-memory files
    text = re.sub(r"(/vsi\w+/|/\S*cityops-(upload|shp)-)\S*?(?=['\"\s:;,]|$)", src.name, text)
    text = re.sub(r";?\s*It might help to specify the correct driver.*$", "", text)
    return text.rstrip(" ;.")


def read_ogr(
    path: str | Path,
    notes: list[str],
    layer: str | None = None,
    columns: list[str] | None = None,
    where: str | None = None,
    encoding: str | None = None,
    **open_options: str,
) -> gpd.GeoDataFrame:
    """Raw features through pyogrio's numpy API, keeping booleans as booleans.

    ``pyogrio.read_dataframe`` turns a boolean field with nulls into floats 1.0/0.0/NaN, which
    validation would then reject as not yes/no; the raw API says which fields are booleans.
    Times stay text (``datetime_as_string``) so their UTC offsets reach validation intact.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta, _fids, wkb, values = pyogrio.raw.read(
            str(path),
            layer=layer,
            columns=columns,
            where=where,
            datetime_as_string=True,
            encoding=encoding,
            **open_options,
        )
    for w in caught[:3]:
        notes.append(f"reader warning: {w.message}")
    data: dict[str, Any] = {}
    for col, values_, subtype in zip(meta["fields"], values, meta["ogr_subtypes"], strict=True):
        if subtype == "OFSTBoolean":
            values_ = pd.array(
                [
                    None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)
                    for v in values_
                ],
                dtype="boolean",
            )
        data[str(col)] = values_
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.full(len(_first(values)), None)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(geoms)))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=meta["crs"]))


def _first(values: list[np.ndarray]) -> np.ndarray:
    return values[0] if values else np.empty(0)


def _check_count(n: int, src: Src, o: ReadOptions, what: str = "features") -> None:
    if n > o.max_features:
        raise InputError(
            f"the file holds {n:,} {what}, more than the limit of {o.max_features:,}",
            file=src.name,
            expected="a smaller file (clip it to the area of interest or split it); the limit "
            "is CITYOPS_MAX_FEATURES",
        )


def _check_zip(src: Src, o: ReadOptions, what: str) -> None:
    """Refuse an archive (xlsx, kmz) that would unpack to more than the size limit."""
    assert src.path is not None
    try:
        with zipfile.ZipFile(src.path) as z:
            total = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"not a valid {what} (the zip inside is broken: {exc})", file=src.name, expected=what
        ) from exc
    if total > o.max_bytes:
        raise InputError(
            f"the file unpacks to {total:,} bytes, more than the {o.max_bytes:,} bytes limit",
            file=src.name,
            expected="a smaller file (the limit is CITYOPS_MAX_BYTES)",
        )


# --- tables: CSV, Excel, Parquet without geometry ----------------------------------------------


def read_csv(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """A CSV (or TSV, ``;``/``|`` separated) table: UTF-8, or GB18030 as Chinese Excel saves."""
    raw = src.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Excel on Chinese Windows saves CSV in GBK (a subset of GB18030), not UTF-8.
            text = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"the text is neither UTF-8 nor GB18030 ({exc.reason} at byte {exc.start})",
                file=src.name,
                expected="a CSV file saved as UTF-8",
            ) from exc
        o.notes.append("the file is not UTF-8; read as GB18030 (GBK)")
    if not text.strip():
        raise InputError("the file holds no text", file=src.name, expected="a CSV file")
    first = text.lstrip("\r\n").split("\n", 1)[0]
    sep = max([",", "\t", ";", "|"], key=first.count) if any(c in first for c in ",\t;|") else ","
    # Everything as text: ids such as "007" and names such as "NA" are kept exactly;
    # validation converts the schema's numeric and time columns.
    df = pd.read_csv(
        io.StringIO(text),
        sep=sep,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        nrows=o.max_features + 1,
    )
    _check_count(len(df), src, o, "rows")
    lines = _csv_line_numbers(text, sep)
    o.labels = [
        f"row {i + 1}" + (f" (line {lines[i]})" if i < len(lines) else "") for i in range(len(df))
    ]
    return read_table(df, src, o)


def _csv_line_numbers(text: str, sep: str) -> list[int]:
    """The file line each data row starts on (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts, previous_end = [], 0
    for row in reader:
        if row:  # pandas skips blank lines
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    return starts[1:]  # without the header


def read_excel(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """The sheet named like the layer kind (or its title), else the first sheet with data, of an
    ``.xlsx`` (openpyxl) or ``.xls`` (python-calamine: pandas deprecates xlrd) workbook, read as
    a table."""
    assert src.path is not None
    xls = src.path.suffix.lower() == ".xls" or src.head.startswith(b"\xd0\xcf\x11\xe0")
    if not xls:
        _check_zip(src, o, "Excel workbook (.xlsx)")
    engine = "calamine" if xls else "openpyxl"
    package = "python-calamine" if xls else "openpyxl"
    try:
        book = pd.ExcelFile(src.path, engine=engine)
    except ImportError as exc:
        raise InputError(
            f"reading {'.xls' if xls else '.xlsx'} files needs the {package} package",
            file=src.name,
            expected=f"pip install {package} (or save the sheet as CSV)",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - openpyxl/xlrd raise many types for bad files
        raise InputError(
            f"cannot be read as an Excel workbook: {cause(exc, src)}",
            file=src.name,
            expected="an Excel workbook (.xlsx or .xls) with a header row",
        ) from exc
    with book:
        sheets = [str(s) for s in book.sheet_names]
        wanted = {colreg.norm(o.kind), colreg.norm(SCHEMAS[o.kind].title)}
        named = [s for s in sheets if colreg.norm(s) in wanted]
        frames = {}
        for sheet in named or sheets:
            try:
                df = pd.read_excel(
                    book, sheet_name=sheet, dtype=object, header=0, nrows=o.max_features + 1
                )
            except Exception as exc:  # noqa: BLE001 - as above
                raise InputError(
                    f"cannot read sheet '{sheet}': {cause(exc, src)}",
                    file=src.name,
                    expected="a sheet with a header row",
                ) from exc
            df = df.dropna(how="all").dropna(axis=1, how="all")
            if len(df.columns):
                frames[sheet] = df
                break
    if not frames:
        raise InputError(
            "no sheet holds data", file=src.name, expected="a sheet with a header row and rows"
        )
    sheet, df = next(iter(frames.items()))
    if len(sheets) > 1:
        o.notes.append(f"read sheet '{sheet}' of {len(sheets)} ({', '.join(sheets)})")
    _check_count(len(df), src, o, "rows")
    df.columns = [str(c).strip() for c in df.columns]
    df = df.map(_excel_text)
    # spreadsheet row numbers, as the user sees them (row 1 is the header)
    o.labels = [f"row {int(i) + 2}" for i in df.index]
    return read_table(df.reset_index(drop=True), src, o)


def _excel_text(v: Any) -> str | None:
    """A cell as the text a CSV would hold (``7`` not ``7.0``; times in ISO 8601)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer() and abs(float(v)) < 2**53:
        return str(int(v))
    if isinstance(v, pd.Timestamp | dt.datetime):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    text = str(v)
    return text if text.strip() else None


def read_parquet(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """GeoParquet (geometry and CRS from its ``geo`` metadata), or a Parquet table with
    coordinate or WKT columns."""
    import pyarrow.parquet as pq

    assert src.path is not None
    try:
        meta = pq.ParquetFile(src.path)
        _check_count(meta.metadata.num_rows, src, o)
        is_geo = b"geo" in (meta.schema_arrow.metadata or {})
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        raise InputError(
            f"cannot be read as Parquet: {cause(exc, src)}",
            file=src.name,
            expected="a GeoParquet or Parquet file",
        ) from exc
    try:
        if is_geo:
            gdf = gpd.read_parquet(src.path)
            o.notes.append("read as GeoParquet")
            return gdf
        df = pd.read_parquet(src.path)
    except Exception as exc:  # noqa: BLE001 - as above
        raise InputError(
            f"cannot be read as Parquet: {cause(exc, src)}",
            file=src.name,
            expected="a GeoParquet or Parquet file",
        ) from exc
    o.labels = [f"row {i + 1}" for i in range(len(df))]
    return read_table(df, src, o)


def read_table(df: pd.DataFrame, src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """Rows with coordinate columns (or a WKT column) as features; bad coordinates are listed in
    ``o.problems`` (their rows get no geometry) so validation's problems are reported too."""
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    found = list(df.columns)

    def pick(given: str | None, what: str) -> str | None:
        spec = colreg.COORDINATES[what]
        if given is not None:
            col = colreg._find(found, given)
            if col is None:
                raise InputError(
                    f"the {'longitude' if what == 'lon' else 'latitude'} column '{given}' is "
                    "not in the file",
                    file=src.name,
                    field=given,
                    expected=f"one of the columns found: {', '.join(found)}",
                )
            return col
        for name in (what, *(a.name for a in spec.aliases)):
            col = next((c for c in found if colreg.norm(c) == name), None)
            if col is not None:
                return col
        return None

    lon = pick(o.lon_col, "lon")
    lat = pick(o.lat_col, "lat")
    wkt = pick(None, "wkt")
    explicit = o.lon_col is not None or o.lat_col is not None
    crs = None if o.assume_crs else WGS84
    labels = o.labels or [f"row {i + 1}" for i in range(len(df))]
    if wkt is not None and not (explicit and lon and lat):
        geoms = _table_wkt(df, wkt, src.name, labels, o.problems)
        o.notes.append(f"geometries read from the WKT column '{wkt}'")
        drop = [wkt]
    elif lon is not None and lat is not None:
        geoms = _table_points(df, lon, lat, src.name, labels, o.problems)
        if (colreg.norm(lon), colreg.norm(lat)) != ("lon", "lat"):
            o.notes.append(f"coordinates read from the columns '{lon}' and '{lat}'")
        drop = [lon, lat]
    else:
        missing = [w for w, c in (("lon", lon), ("lat", lat)) if c is None]
        guesses = colreg.guess_columns(
            df, o.kind, missing, [c for c in found if c not in (lon, lat)]
        )
        raise colreg.ColumnsMissing(
            o.kind, src.name, missing, found, guesses, message="no coordinate columns found"
        )
    return gpd.GeoDataFrame(df.drop(columns=drop), geometry=gpd.GeoSeries(geoms, crs=crs))


def _row_label(df: pd.DataFrame, labels: list[str], i: int) -> str:
    row_id = df["id"].iloc[i] if "id" in df.columns else None
    return labels[i] + (f" (id {excerpt(row_id, quote=False)})" if _present(row_id) else "")


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip() != ""


def _table_points(
    df: pd.DataFrame, lon: str, lat: str, file: str, labels: list[str], problems: list[Problem]
) -> np.ndarray:
    coords = []
    bad = np.zeros(len(df), dtype=bool)
    for col, what in ((lon, "a longitude"), (lat, "a latitude")):
        raw = df[col]
        text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
        values = pd.to_numeric(text, errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy()):
            v = raw.iloc[i]
            msg = "coordinate is missing" if not _present(v) else f"{excerpt(v)} is not a number"
            problems.append(
                Problem(
                    msg, file, _row_label(df, labels, int(i)), col, f"{what} as a decimal number"
                )
            )
            bad[i] = True
        coords.append(values.to_numpy(dtype=float))
    geoms = shapely.points(coords[0], coords[1])
    geoms[bad] = None
    return geoms


def _table_wkt(
    df: pd.DataFrame, col: str, file: str, labels: list[str], problems: list[Problem]
) -> np.ndarray:
    text = df[col].to_numpy(dtype=object)
    present = np.array([isinstance(t, str) and bool(t.strip()) for t in text])
    geoms = np.full(len(text), None, dtype=object)
    if present.any():
        geoms[present] = shapely.from_wkt(text[present], on_invalid="ignore")
    for i in np.flatnonzero(present & shapely.is_missing(geoms)):
        problems.append(
            Problem(
                f"{excerpt(text[i], 60)} is not WKT",
                file,
                _row_label(df, labels, int(i)),
                col,
                "a WKT geometry such as POINT (121.66 31.14) or POLYGON ((...))",
            )
        )
    return geoms


# --- FlatGeobuf, KML/KMZ -----------------------------------------------------------------------


def read_fgb(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """A FlatGeobuf file (its header gives the feature count, checked before reading)."""
    assert src.path is not None
    with contextlib.suppress(*READ_ERRORS):
        _check_count(int(pyogrio.read_info(str(src.path))["features"]), src, o)
    return read_ogr(src.path, o.notes)


# KML's own bookkeeping fields: dropped when they say nothing (all empty or all the default).
_KML_FIELDS = (
    "id", "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude", "visibility",
    "draworder", "icon", "snippet",
)  # fmt: skip
_DIM = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1}


def read_kml(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """Placemarks of a KML or KMZ file (Google Earth, Amap/Baidu exports), 2-D.

    A folder named like the layer kind (or its title) is read alone; otherwise every folder whose
    geometries fit the layer (points for sites, polygons for zones) and the others are named in
    the notes. ``Name`` becomes ``name``; ``description`` becomes ``notes`` where the layer has
    notes (:mod:`geo.columns`), else stays ``description``.
    """
    assert src.path is not None
    if src.path.suffix.lower() == ".kmz" or src.head.startswith(b"PK"):
        _check_zip(src, o, "KMZ file (zipped KML)")
    try:
        layers = [str(n) for n in pyogrio.list_layers(str(src.path))[:, 0]]
    except READ_ERRORS as exc:
        raise InputError(
            f"cannot be read as KML: {cause(exc, src)}",
            file=src.name,
            expected="a KML or KMZ file with placemarks",
        ) from exc
    wanted = {colreg.norm(o.kind), colreg.norm(SCHEMAS[o.kind].title)}
    named = [n for n in layers if colreg.norm(n) in wanted]
    frames = {n: _kml_layer(src, n, o) for n in (named or layers)}
    frames = {n: f for n, f in frames.items() if len(f)}
    if not named and len(frames) > 1:
        dim = 2 if "Polygon" in SCHEMAS[o.kind].geometry else _DIM[SCHEMAS[o.kind].geometry[0]]
        fits = {n: f for n, f in frames.items() if (_dims(f) == {dim})}
        if fits and len(fits) < len(frames):
            skipped = [n for n in frames if n not in fits]
            o.notes.append(
                f"KML folder(s) {', '.join(map(repr, skipped))} left out: their geometries are "
                f"not {SCHEMAS[o.kind].title.lower()} geometries"
            )
            frames = fits
    if not frames:
        return gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs=WGS84))
    if len(frames) > 1:
        o.notes.append(f"placemarks of KML folders {', '.join(map(repr, frames))} read together")
        for n, f in frames.items():
            f["folder"] = n
    gdf = pd.concat(frames.values(), ignore_index=True)
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=WGS84)


def _kml_layer(src: Src, layer: str, o: ReadOptions) -> gpd.GeoDataFrame:
    try:
        gdf = read_ogr(src.path, o.notes, layer=layer)  # type: ignore[arg-type]
    except READ_ERRORS as exc:
        raise InputError(
            f"cannot read KML folder '{layer}': {cause(exc, src)}",
            file=src.name,
            expected="a KML or KMZ file with placemarks",
        ) from exc
    _check_count(len(gdf), src, o)
    drop = []
    for c in gdf.columns:
        if c == "geometry" or str(c).lower() not in _KML_FIELDS:
            continue
        values = gdf[c]
        empty = values.isna() | values.astype(str).isin(["", "0", "-1", "None", "NaT", "nan"])
        if str(c).lower() in ("tessellate", "extrude", "visibility", "draworder") or empty.all():
            drop.append(c)
    gdf = gdf.drop(columns=drop)
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    geoms = np.array([_collection_to_multi(g) for g in geoms], dtype=object)
    return gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs or WGS84, index=gdf.index))


def _collection_to_multi(g: shapely.Geometry | None) -> shapely.Geometry | None:
    """KML's MultiGeometry of one kind of part as a Multi* (one point as a Point)."""
    if g is None or g.geom_type != "GeometryCollection" or g.is_empty:
        return g
    parts = list(g.geoms)
    kinds = {p.geom_type for p in parts}
    if kinds <= {"Point"}:
        return parts[0] if len(parts) == 1 else shapely.MultiPoint(parts)
    if kinds <= {"LineString", "MultiLineString"}:
        return shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if kinds <= {"Polygon", "MultiPolygon"}:
        return shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return g


def _dims(gdf: gpd.GeoDataFrame) -> set[int]:
    geoms = gdf.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return {int(d) for d in np.unique(shapely.get_dimensions(geoms[ok]))} if ok.any() else set()


# --- OpenStreetMap -----------------------------------------------------------------------------


def read_osm(src: Src, o: ReadOptions) -> gpd.GeoDataFrame:
    """Ways with a ``highway`` tag of an ``.osm.pbf`` or ``.osm`` (XML: Overpass, JOSM) file,
    through GDAL's OSM driver, as roads."""
    assert src.path is not None
    if o.kind != "roads":
        raise InputError(
            f"an OpenStreetMap extract cannot be read as {o.kind}",
            file=src.name,
            expected="the layer kind 'roads' for .osm.pbf and .osm files",
        )
    raw = read_ogr(
        src.path,
        o.notes,
        layer="lines",
        columns=["osm_id", "name", "highway", "other_tags"],
        where="highway IS NOT NULL",
    )
    _check_count(len(raw), src, o, "ways")
    gdf = osm_roads(raw, o.notes)
    if len(gdf) == 0:
        o.notes.append("the extract has no ways with a highway tag")
    return gdf


def osm_roads(lines: gpd.GeoDataFrame, notes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Map GDAL OSM ``lines`` (osm_id, name, highway, other_tags) to the roads schema.

    ``oneway=-1`` ways are reversed so that every one-way road runs in its direction of travel;
    ``highway=motorway`` and ``junction=roundabout/circular`` are one-way unless tagged
    otherwise, and a missing ``oneway`` means two-way (OSM's conventions). ``maxspeed`` in km/h,
    mph or knots becomes ``speed_kmh``; symbolic values ("FI:urban", "walk") are left empty and
    counted in ``notes`` (the parsers of :data:`geo.columns.REGISTRY`).
    """
    notes = notes if notes is not None else []
    lines = lines[lines["highway"].notna()].reset_index(drop=True)
    tags = [_parse_other_tags(t) for t in lines["other_tags"]]
    highway = lines["highway"].astype(object).map(lambda v: str(v).strip())
    geoms = lines.geometry.to_numpy().copy()

    def tag(key: str) -> pd.Series:
        return pd.Series([t.get(key) for t in tags], dtype=object)

    reg = colreg.REGISTRY["roads"]
    ctx = colreg._Ctx("roads", "oneway", "osm", {}, notes, geoms)
    oneway = reg["oneway"].parse(tag("oneway"), ctx)  # type: ignore[misc]
    implied = [
        highway.iloc[i] == "motorway" or t.get("junction", "") in _ONEWAY_JUNCTIONS
        for i, t in enumerate(tags)
    ]
    oneway = [implied[i] if "oneway" not in tags[i] else v for i, v in enumerate(oneway)]
    ctx.column = "maxspeed"
    speeds = pd.to_numeric(reg["speed_kmh"].parse(tag("maxspeed"), ctx), errors="coerce")  # type: ignore[misc]
    ctx.column = "lanes"
    lanes = pd.to_numeric(reg["lanes"].parse(tag("lanes"), ctx), errors="coerce")  # type: ignore[misc]
    lanes = lanes.where(lanes >= 1)
    out = pd.DataFrame(
        {
            "id": lines["osm_id"].astype(object).map(lambda v: str(v).strip()),
            "road_class": highway,
            "name": lines["name"].astype(object).where(lines["name"].notna(), None),
            "oneway": pd.array(oneway, dtype="boolean"),
            "speed_kmh": speeds.to_numpy(dtype=float),
            "lanes": pd.array(lanes.to_numpy(dtype=float), dtype="Float64").astype("Int64"),
        }
    )
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=lines.crs))


_ONEWAY_JUNCTIONS = ("roundabout", "circular")
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')


def _parse_other_tags(text: object) -> dict[str, str]:
    """GDAL's hstore-like ``"key"=>"value","k2"=>"v2"`` string as a dict."""
    if not isinstance(text, str):
        return {}
    return {_unescape(k): _unescape(v) for k, v in _HSTORE.findall(text)}


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)
