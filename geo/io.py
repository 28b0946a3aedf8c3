"""Read and write layers: GeoJSON (RFC 7946), GeoPackage, zipped Shapefile, CSV, OSM PBF.

Reading goes file -> raw features (pyogrio, pandas for CSV) -> :func:`geo.layers.validate`, so
every layer that leaves this module is a valid layer in EPSG:4326 with string ids, and every
problem with a file is an :class:`geo.errors.InputError` naming the file (and, where it applies,
the feature, the field and what was expected). Errors from GDAL, json, zipfile or pandas are
wrapped with their cause; none reaches the user as a traceback.

Writing produces RFC 7946 GeoJSON (:func:`to_geojson`, :func:`write_geojson`) and GeoPackages
holding a whole scenario (:func:`write_gpkg`, :func:`read_gpkg`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo.errors import InputError, Problem
from geo.layers import SCHEMAS, WGS84, Datum, LayerReport, validate

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "SETTINGS_TABLE",
    "Source",
    "osm_roads",
    "read_gpkg",
    "read_gpkg_with_reports",
    "read_layer",
    "to_geojson",
    "write_geojson",
    "write_gpkg",
]

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
SETTINGS_TABLE = "scenario_settings"

#: Formats :func:`read_layer` understands, with the words used in messages.
FORMATS: dict[str, str] = {
    "geojson": "GeoJSON (.geojson, .json)",
    "gpkg": "GeoPackage (.gpkg)",
    "zip": "zipped Shapefile (.zip with .shp, .shx, .dbf, .prj)",
    "shp": "Shapefile (.shp with .shx, .dbf, .prj beside it)",
    "csv": "CSV with lon/lat or WKT columns (.csv)",
    "osm": "OpenStreetMap extract (.osm.pbf)",
}
_SUFFIXES = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "zip",
    ".shp": "shp",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".pbf": "osm",
}
_SUPPORTED = "; ".join(v for k, v in FORMATS.items() if k != "shp")

# CSV column names recognised as coordinates, in order of preference (compared lower-cased).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom")

# pyogrio/GDAL and the standard library fail with many types; all of them become InputError.
_READ_ERRORS = (
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


# --- reading -------------------------------------------------------------------------------------


def read_layer(
    source: Source,
    kind: str,
    *,
    name: str | None = None,
    datum: Datum = "wgs84",
    assume_crs: str | None = None,
    swap_xy: bool = False,
    tz: str = "Asia/Shanghai",
    lon_col: str | None = None,
    lat_col: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_empty: bool = False,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read one layer of ``kind`` from a file or an upload, and validate it.

    Parameters
    ----------
    source : a path (``str`` or ``PathLike``; a ``str`` is always a path, never content), or the
        file's content as bytes or a binary/text file-like object (an upload).
    kind : a layer kind of :data:`geo.layers.SCHEMAS` (``"roads"`` for OSM extracts).
    name : the file name shown in messages and used to detect the format; defaults to the path's
        name or the upload's ``.name``. Uploads without a usable name are sniffed.
    datum : ``"gcj02"`` / ``"bd09"`` for coordinates from Amap/Tencent or Baidu.
    assume_crs : CRS to use when the file declares none (Shapefile without .prj, CSV in metres).
    swap_xy : the file has latitude where longitude belongs.
    tz : time zone for times written without an offset.
    lon_col, lat_col : CSV coordinate columns; detected when not given.
    max_bytes : larger files are refused before parsing.
    allow_empty : accept a file with no features (returns an empty layer).

    Returns
    -------
    (layer, report) : the validated layer (EPSG:4326) and what was done to it.

    Raises
    ------
    InputError : for anything wrong with the file, naming it and what was expected.
    """
    if kind not in SCHEMAS:
        raise InputError(
            f"unknown layer kind '{kind}'", file=name, expected="one of " + ", ".join(SCHEMAS)
        )
    with _opened(source, name, max_bytes) as src:
        suffix = _suffix_of(src.name)
        what = FORMATS[_SUFFIXES[suffix]] if suffix else _SUPPORTED
        title = SCHEMAS[kind].title.lower()
        _check_size(src, f"{title} as {what}", max_bytes)
        fmt = _detect_format(src)
        expected = f"{title} as {FORMATS[fmt]}"
        notes: list[str] = []
        try:
            if fmt == "geojson":
                raw = _read_geojson(src, notes)
            elif fmt == "gpkg":
                raw = _read_gpkg_layer(src, kind, notes)
            elif fmt in ("zip", "shp"):
                raw = _unshorten_dbf_names(
                    _read_shapefile(src, kind, max_bytes, notes), kind, notes
                )
            elif fmt == "csv":
                raw = _read_csv(src, kind, lon_col, lat_col, assume_crs, notes)
            else:
                raw = _read_osm(src, kind, notes)
        except InputError:
            raise
        except _READ_ERRORS as exc:
            raise InputError(
                f"cannot be read as {FORMATS[fmt]}: {_cause(exc, src)}",
                file=src.name,
                expected=expected,
            ) from exc
    _check_declared_crs(raw, assume_crs, src.name)
    layer, report = validate(
        raw,
        kind,
        source=src.name,
        tz=tz,
        datum=datum,
        assume_crs=assume_crs,
        allow_empty=allow_empty,
        swap_xy=swap_xy,
    )
    if len(raw) == 0:
        layer = _keep_empty_columns(layer, raw)
    report.notes.extend(notes)
    return layer, report


@dataclass
class _Src:
    """An input resolved to a readable path (uploads are spilled to a temporary folder)."""

    name: str  # what messages call it
    path: Path  # on disk, for readers that need a path
    size: int | None
    head: bytes  # the first bytes, for format sniffing and diagnostics
    data: bytes | None = None  # the content, for uploads


@contextlib.contextmanager
def _opened(source: Source, name: str | None, max_bytes: int) -> Iterator[_Src]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        shown = name or path.name
        if not path.exists():
            raise InputError("file not found", file=shown, expected=f"an existing file ({path})")
        if path.is_dir():
            raise InputError("this is a folder, not a file", file=shown, expected=_SUPPORTED)
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
        yield _Src(shown, path, size, head)
        return

    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        shown = name or "upload"
    elif hasattr(source, "read"):
        shown = name or Path(str(getattr(source, "name", "") or "upload")).name
        declared = getattr(source, "size", None)  # Streamlit's UploadedFile knows its size
        if isinstance(declared, int) and declared > max_bytes:
            _too_big(shown, declared, max_bytes)
        got = source.read(max_bytes + 1)
        data = got.encode("utf-8") if isinstance(got, str) else bytes(got)
    else:
        raise TypeError(f"cannot read a layer from {type(source).__name__}")
    if len(data) > max_bytes:
        # a stream is read only to just past the limit: its real size is unknown
        exact = isinstance(source, bytes | bytearray | memoryview)
        _too_big(shown, len(data) if exact else None, max_bytes)
    with tempfile.TemporaryDirectory(prefix="cityops-upload-") as tmp:
        head = data[:4096]
        suffix = _suffix_of(shown) or _sniff(head) or ""
        path = Path(tmp) / ("upload" + (".osm.pbf" if suffix == ".pbf" else suffix))
        path.write_bytes(data)
        yield _Src(shown, path, len(data), head, data)


def _too_big(name: str, size: int | None, max_bytes: int) -> None:
    raise InputError(
        f"the file is larger than the {_mb(max_bytes)} limit"
        + (f" ({_mb(size)})" if size is not None else ""),
        file=name,
        expected="a smaller file (clip it to the area of interest or split it)",
    )


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _suffix_of(name: str) -> str | None:
    suffix = PurePosixPath(name.lower()).suffix
    return suffix if suffix in _SUFFIXES else None


def _sniff(head: bytes) -> str | None:
    """A file suffix for content whose name says nothing."""
    if head.startswith(b"SQLite format 3\x00"):
        return ".gpkg"
    if head.startswith(b"PK\x03\x04"):
        return ".zip"
    if b"OSMHeader" in head[:64]:
        return ".pbf"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return ".geojson"
    return None


def _detect_format(src: _Src) -> str:
    suffix = _suffix_of(src.name) or _sniff(src.head)
    if suffix is None:
        raise InputError(
            "unsupported file type"
            + (f" '{Path(src.name).suffix}'" if Path(src.name).suffix else ""),
            file=src.name,
            expected="one of: " + _SUPPORTED,
        )
    fmt = _SUFFIXES[suffix]
    if fmt == "shp" and src.data is not None:
        raise InputError(
            "a Shapefile cannot be uploaded on its own",
            file=src.name,
            expected="the .shp, .shx, .dbf and .prj files together in one .zip",
        )
    return fmt


def _check_size(src: _Src, expected: str, max_bytes: int) -> None:
    if src.size == 0:
        raise InputError("the file is empty (0 bytes)", file=src.name, expected=expected)
    if src.size is not None and src.size > max_bytes:
        _too_big(src.name, src.size, max_bytes)


def _cause(exc: BaseException, src: _Src) -> str:
    """The error's text, without the temporary paths GDAL puts in it."""
    text = str(exc).strip() or type(exc).__name__
    if src.path is not None:
        text = text.replace(str(src.path), src.name)
    # temporary copies (uploads, extracted Shapefiles) and GDAL's in-memory files
    text = re.sub(r"(/vsi\w+/|/\S*cityops-(upload|shp)-)\S*?(?=['\"\s:;,]|$)", src.name, text)
    text = re.sub(r";?\s*It might help to specify the correct driver.*$", "", text)
    return text.rstrip(" ;.")


def _read_ogr(
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


def _read_geojson(src: _Src, notes: list[str]) -> gpd.GeoDataFrame:
    assert src.path is not None
    try:
        # Text that looks like a date stays the text written (GDAL would cut times to the
        # millisecond and rewrite "2021-10-31 18:05" as "2021-10-31T18:05:00").
        gdf = _read_ogr(src.path, notes, DATE_AS_STRING="YES")
    except _READ_ERRORS as exc:
        reason = _diagnose_json(src) or _cause(exc, src)
        raise InputError(
            f"cannot be read as GeoJSON: {reason}",
            file=src.name,
            expected="an RFC 7946 GeoJSON FeatureCollection",
        ) from exc
    if "id" not in gdf.columns and len(gdf):
        # GDAL turns integer feature ids into FIDs rather than a column; the layer needs them.
        ids = _top_level_ids(src)
        if ids is not None and len(ids) == len(gdf):
            gdf.insert(0, "id", ids)
            notes.append("ids taken from the features' top-level 'id' members")
    return gdf


def _diagnose_json(src: _Src) -> str | None:
    """Say what is wrong with a file GDAL would not read as GeoJSON."""
    head = src.head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"<":
        return "the file is HTML or XML, not JSON (perhaps an error page saved instead of the data)"
    raw = src.data if src.data is not None else src.path.read_bytes()
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return "the file is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    types = (
        "FeatureCollection",
        "Feature",
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    )
    if not isinstance(obj, dict) or obj.get("type") not in types:
        if not isinstance(obj, dict):
            return f"valid JSON but not GeoJSON (the top level is a {type(obj).__name__})"
        if "type" not in obj:
            return "valid JSON but not GeoJSON (no top-level 'type' member)"
        return f"valid JSON but not GeoJSON (top-level type {obj['type']!r})"
    return None


def _top_level_ids(src: _Src) -> list[str | None] | None:
    raw = src.data if src.data is not None else src.path.read_bytes()
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    feats = obj.get("features") if isinstance(obj, dict) else None
    if not isinstance(feats, list) or not all(isinstance(f, dict) and "id" in f for f in feats):
        return None
    return [None if f["id"] is None else str(f["id"]) for f in feats]


def _read_gpkg_layer(src: _Src, kind: str, notes: list[str]) -> gpd.GeoDataFrame:
    assert src.path is not None
    layers = _gpkg_layers(src)
    spatial = [n for n, geom in layers if geom is not None]
    by_name = {n.lower(): n for n, _ in layers}
    if kind.lower() in by_name:
        layer = by_name[kind.lower()]
    elif len(spatial) == 1:
        layer = spatial[0]
        notes.append(f"read GeoPackage layer '{layer}'")
    else:
        found = ", ".join(f"'{n}'" for n in spatial) or "none"
        raise InputError(
            f"the GeoPackage has {len(spatial)} spatial layers and none is named '{kind}'",
            file=src.name,
            expected=f"a layer named '{kind}' (layers found: {found})",
        )
    if layer not in spatial:
        raise InputError(
            f"the GeoPackage table '{layer}' has no geometry",
            file=src.name,
            expected=f"a spatial layer of {SCHEMAS[kind].title.lower()}",
        )
    return _read_ogr(src.path, notes, layer=layer)


def _gpkg_layers(src: _Src) -> list[tuple[str, str | None]]:
    assert src.path is not None
    try:
        found = pyogrio.list_layers(str(src.path))
    except _READ_ERRORS as exc:
        raise InputError(
            f"cannot be read as GeoPackage: {_cause(exc, src)}",
            file=src.name,
            expected="a GeoPackage (.gpkg) file",
        ) from exc
    return [(str(n), None if g is None else str(g)) for n, g in found]


def _read_shapefile(src: _Src, kind: str, max_bytes: int, notes: list[str]) -> gpd.GeoDataFrame:
    assert src.path is not None
    if src.data is None and src.path.suffix.lower() == ".shp":
        return _read_ogr(src.path, notes)
    try:
        archive = zipfile.ZipFile(src.path)
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"not a valid zip archive ({exc})", file=src.name, expected=FORMATS["zip"]
        ) from exc
    with archive, tempfile.TemporaryDirectory(prefix="cityops-shp-") as tmp:
        members = [
            i
            for i in archive.infolist()
            if not i.is_dir()
            and not i.filename.startswith("__MACOSX/")
            and not PurePosixPath(i.filename).name.startswith("._")
        ]
        shps = [i.filename for i in members if i.filename.lower().endswith(".shp")]
        if not shps:
            listing = ", ".join(i.filename for i in members[:20]) or "nothing"
            if len(members) > 20:
                listing += f" and {len(members) - 20} more"
            raise InputError(
                "the zip holds no Shapefile (.shp)",
                file=src.name,
                expected=f"{FORMATS['zip']}; the zip holds: {listing}",
            )
        if len(shps) > 1:
            named = [s for s in shps if PurePosixPath(s).stem.lower() == kind.lower()]
            if len(named) != 1:
                raise InputError(
                    f"the zip holds {len(shps)} Shapefiles and none is named '{kind}.shp'",
                    file=src.name,
                    expected=f"one Shapefile, or one named '{kind}.shp' (found: {', '.join(shps)})",
                )
            shps = named
        shp = shps[0]
        stem = shp[: -len(".shp")]
        parts = {
            i.filename[len(stem) :].lower(): i
            for i in members
            if i.filename.lower().startswith(stem.lower()) and "/" not in i.filename[len(stem) :]
        }
        missing = [ext for ext in (".shx", ".dbf") if ext not in parts]
        if missing:
            raise InputError(
                f"the Shapefile '{shp}' comes without its {' and '.join(missing)} file",
                file=src.name,
                expected="the .shp, .shx, .dbf and .prj files of the layer together in the zip",
            )
        total = sum(i.file_size for i in parts.values())
        if total > max_bytes:
            _too_big(f"{src.name}/{shp}", total, max_bytes)
        # Extract under plain ASCII names: member names may be in any code page, and GDAL's
        # /vsizip/ reads them differently from Python's zipfile.
        for ext, info in parts.items():
            if ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"):
                (Path(tmp) / f"layer{ext}").write_bytes(archive.read(info))
        if ".cpg" not in parts:
            notes.append("no .cpg file: text read in the .dbf's declared or default encoding")
        return _read_ogr(Path(tmp) / "layer.shp", notes)


def _unshorten_dbf_names(gdf: gpd.GeoDataFrame, kind: str, notes: list[str]) -> gpd.GeoDataFrame:
    """Give schema fields back the names a .dbf cut to 10 characters (per_lane_p)."""
    present = {str(c).lower() for c in gdf.columns}
    renames = {}
    for c in gdf.columns:
        low = str(c).lower()
        if len(low) != 10 or low in SCHEMAS[kind].columns:
            continue
        full = [f for f in SCHEMAS[kind].columns if len(f) > 10 and f[:10] == low]
        if len(full) == 1 and full[0] not in present:
            renames[c] = full[0]
    if renames:
        notes.append(
            "Shapefile field names cut to 10 characters read as "
            + ", ".join(f"'{a}' -> '{b}'" for a, b in renames.items())
        )
    return gdf.rename(columns=renames)


def _read_csv(
    src: _Src,
    kind: str,
    lon_col: str | None,
    lat_col: str | None,
    assume_crs: str | None,
    notes: list[str],
) -> gpd.GeoDataFrame:
    assert src.path is not None
    raw = src.data if src.data is not None else src.path.read_bytes()
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
        notes.append("the file is not UTF-8; read as GB18030 (GBK)")
    if not text.strip():
        raise InputError("the file holds no text", file=src.name, expected=FORMATS["csv"])
    first = text.lstrip("\r\n").split("\n", 1)[0]
    sep = max([",", "\t", ";", "|"], key=first.count) if any(c in first for c in ",\t;|") else ","
    # Everything as text: ids such as "007" and names such as "NA" are kept exactly;
    # validation converts the schema's numeric and time columns.
    df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    lower = {c.lower(): c for c in reversed(df.columns)}
    columns_found = ", ".join(df.columns)

    def pick(given: str | None, names: tuple[str, ...], what: str) -> str | None:
        if given is not None:
            if given in df.columns:
                return given
            if given.lower() in lower:
                return lower[given.lower()]
            raise InputError(
                f"the {what} column '{given}' is not in the file",
                file=src.name,
                field=given,
                expected=f"one of the columns found: {columns_found}",
            )
        return next((lower[n] for n in names if n in lower), None)

    lon = pick(lon_col, LON_NAMES, "longitude")
    lat = pick(lat_col, LAT_NAMES, "latitude")
    wkt = next((lower[n] for n in WKT_NAMES if n in lower), None)
    explicit = lon_col is not None or lat_col is not None
    crs = None if assume_crs else WGS84
    if wkt is not None and not (explicit and lon and lat):
        geoms = _csv_wkt(df, wkt, src.name)
        notes.append(f"geometries read from the WKT column '{wkt}'")
        drop = [wkt]
    elif lon is not None and lat is not None:
        geoms = _csv_points(df, lon, lat, src.name, text, sep)
        drop = [lon, lat]
    else:
        raise InputError(
            "no coordinate columns found",
            file=src.name,
            expected="longitude and latitude columns (lon/lng/longitude/x and lat/latitude/y) "
            f"or a WKT column (wkt/geometry); columns found: {columns_found}",
        )
    return gpd.GeoDataFrame(df.drop(columns=drop), geometry=gpd.GeoSeries(geoms, crs=crs))


def _csv_label(df: pd.DataFrame, i: int | np.integer) -> str:
    # Data rows counted from 1 under the header, the way a spreadsheet user counts them.
    row_id = df["id"].iloc[i] if "id" in df.columns else None
    return f"row {i + 1}" + (f" (id {row_id})" if pd.notna(row_id) else "")


def _csv_points(df: pd.DataFrame, lon: str, lat: str, file: str, text: str, sep: str) -> np.ndarray:
    problems: list[Problem] = []
    coords = []
    for col, what in ((lon, "a longitude"), (lat, "a latitude")):
        raw = df[col]
        values = pd.to_numeric(raw.str.strip(), errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy()):
            v = raw.iloc[i]
            msg = "coordinate is missing" if pd.isna(v) else f"'{v}' is not a number"
            problems.append(
                Problem(msg, file, _csv_label(df, i), col, f"{what} as a decimal number")
            )
        coords.append(values.to_numpy(dtype=float))
    if problems:
        problems.sort(key=lambda p: int(str(p.feature).split()[1]))
        lines = _csv_line_numbers(text, sep)
        problems = [_with_line(p, lines) for p in problems]
        raise InputError(problems=problems)
    return shapely.points(coords[0], coords[1])


def _csv_line_numbers(text: str, sep: str) -> list[int]:
    """The file line each data row starts on (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts, previous_end = [], 0
    for row in reader:
        if row:  # pandas skips blank lines
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    return starts[1:]  # without the header


def _with_line(p: Problem, lines: list[int]) -> Problem:
    row = int(str(p.feature).split()[1])
    if row - 1 < len(lines):
        feature = str(p.feature).replace(f"row {row}", f"row {row} (line {lines[row - 1]})", 1)
        return Problem(p.message, p.file, feature, p.field, p.expected)
    return p


def _csv_wkt(df: pd.DataFrame, col: str, file: str) -> np.ndarray:
    text = df[col].to_numpy(dtype=object)
    present = np.array([isinstance(t, str) and bool(t.strip()) for t in text])
    geoms = np.full(len(text), None, dtype=object)
    if present.any():
        geoms[present] = shapely.from_wkt(text[present], on_invalid="ignore")
    bad = present & shapely.is_missing(geoms)
    if bad.any():
        raise InputError(
            problems=[
                Problem(
                    f"'{_short(text[i])}' is not WKT",
                    file,
                    _csv_label(df, i),
                    col,
                    "a WKT geometry such as POINT (121.66 31.14) or POLYGON ((...))",
                )
                for i in np.flatnonzero(bad)
            ]
        )
    return geoms


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _read_osm(src: _Src, kind: str, notes: list[str]) -> gpd.GeoDataFrame:
    assert src.path is not None
    if kind != "roads":
        raise InputError(
            f"an OpenStreetMap extract cannot be read as {kind}",
            file=src.name,
            expected="the layer kind 'roads' for .osm.pbf files",
        )
    raw = _read_ogr(
        src.path,
        notes,
        layer="lines",
        columns=["osm_id", "name", "highway", "other_tags"],
        where="highway IS NOT NULL",
    )
    gdf = osm_roads(raw, notes)
    if len(gdf) == 0:
        notes.append("the extract has no ways with a highway tag")
    return gdf


def osm_roads(lines: gpd.GeoDataFrame, notes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Map GDAL OSM ``lines`` (osm_id, name, highway, other_tags) to the roads schema.

    ``oneway=-1`` ways are reversed so that every one-way road runs in its direction of travel;
    ``highway=motorway`` and ``junction=roundabout/circular`` are one-way unless tagged
    otherwise, and a missing ``oneway`` means two-way (OSM's conventions). ``maxspeed`` in km/h,
    mph or knots becomes ``speed_kmh``; symbolic values ("FI:urban", "walk") are left empty and
    counted in ``notes``.
    """
    notes = notes if notes is not None else []
    lines = lines[lines["highway"].notna()].reset_index(drop=True)
    tags = [_parse_other_tags(t) for t in lines["other_tags"]]
    highway = lines["highway"].astype(object).map(lambda v: str(v).strip())
    oneway: list[bool | None] = []
    reverse = np.zeros(len(lines), dtype=bool)
    odd_oneway: list[str] = []
    for i, t in enumerate(tags):
        v = t.get("oneway", "").strip().lower()
        if v in ("yes", "true", "1"):
            oneway.append(True)
        elif v in ("no", "false", "0"):
            oneway.append(False)
        elif v in ("-1", "reverse"):
            oneway.append(True)
            reverse[i] = True
        elif v:
            oneway.append(None)  # reversible, alternating: direction changes over time
            odd_oneway.append(v)
        else:
            junction = t.get("junction", "")
            oneway.append(highway.iloc[i] == "motorway" or junction in _ONEWAY_JUNCTIONS)
    speed_pairs = [_maxspeed(t.get("maxspeed")) for t in tags]
    lane_pairs = [_lanes(t.get("lanes")) for t in tags]
    speeds = [s for s, _ in speed_pairs]
    lanes = [n for n, _ in lane_pairs]
    bad_speed = [b for _, b in speed_pairs]
    bad_lanes = [b for _, b in lane_pairs]
    geoms = lines.geometry.to_numpy().copy()
    if reverse.any():
        geoms[reverse] = shapely.reverse(geoms[reverse])
        notes.append(
            f"{int(reverse.sum())} way(s) tagged oneway=-1 reversed to their travel direction"
        )
    if odd_oneway:
        notes.append(
            f"{len(odd_oneway)} way(s) with oneway={odd_oneway[0]!r} (or similar) left unknown"
        )
    for label, bad in (("maxspeed", bad_speed), ("lanes", bad_lanes)):
        values = [b for b in bad if b]
        if values:
            notes.append(
                f"{len(values)} {label} value(s) not a number (e.g. {values[0]!r}); left empty"
            )
    out = pd.DataFrame(
        {
            "id": lines["osm_id"].astype(object).map(lambda v: str(v).strip()),
            "road_class": highway,
            "name": lines["name"].astype(object).where(lines["name"].notna(), None),
            "oneway": pd.array(oneway, dtype="boolean"),
            "speed_kmh": np.array(speeds, dtype=float),
            "lanes": pd.array(lanes, dtype="Int64"),
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


_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_SPEED_FACTOR = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}


def _maxspeed(value: str | None) -> tuple[float, str | None]:
    if not value:
        return math.nan, None
    m = _SPEED.match(value)
    if not m:
        return math.nan, value
    unit = m.group(2).lower() if m.group(2) else None
    return float(m.group(1)) * _SPEED_FACTOR[unit], None


def _lanes(value: str | None) -> tuple[int | None, str | None]:
    if not value:
        return None, None
    v = value.strip()
    if v.isdigit() and int(v) >= 1:
        return int(v), None
    return None, value


def _check_declared_crs(raw: gpd.GeoDataFrame, assume_crs: str | None, file: str) -> None:
    """Catch a projected CRS declared for coordinates that are really degrees, or misplaced.

    :func:`geo.layers.validate` catches metres declared as degrees (they fall off the earth);
    the reverse puts features a few hundred metres from the projection's origin, on the earth
    but in the wrong place, so it is checked here.
    """
    declared = raw.crs if raw.crs is not None else assume_crs
    if declared is None or len(raw) == 0:
        return
    try:
        crs = CRS.from_user_input(declared)
    except CRSError:
        return  # validate reports an unknown CRS
    if crs.is_geographic:
        return
    geoms = raw.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[ok])
    label = crs.to_string()
    if max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90:
        raise InputError(
            f"the coordinates look like longitude/latitude degrees (x {xmin:g} to {xmax:g}, "
            f"y {ymin:g} to {ymax:g}) but the data declares {label} ({crs.name}), in metres",
            file=file,
            field="geometry",
            expected="the CRS the coordinates were really written in (EPSG:4326 for lon/lat)",
        )
    area = crs.area_of_use
    if area is None:
        return
    try:
        w, s, e, n = Transformer.from_crs(crs, WGS84, always_xy=True).transform_bounds(
            xmin, ymin, xmax, ymax
        )
    except Exception:  # noqa: BLE001 - pyproj raises several types; the check is advisory
        return
    margin = 2.0  # degrees: data a little outside a UTM zone is common and fine
    if not np.all(np.isfinite([w, s, e, n])):
        return
    if (
        w > area.east + margin
        or e < area.west - margin
        or s > area.north + margin
        or n < area.south - margin
    ):
        raise InputError(
            f"in {label} ({crs.name}) the features fall at lon {w:.3f} to {e:.3f}, lat {s:.3f} "
            f"to {n:.3f}, outside the area that CRS is made for ({area.name})",
            file=file,
            field="geometry",
            expected="the CRS the coordinates were really written in",
        )


def _keep_empty_columns(layer: gpd.GeoDataFrame, raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """An empty layer keeps the extra columns its file declared (validate returns the schema's)."""
    geom = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    extras = [c for c in raw.columns if c != geom and str(c).strip().lower() not in layer.columns]
    if not extras:
        return layer
    layer = layer.copy()
    for c in extras:
        layer[str(c).strip().lower()] = raw[c].iloc[:0].to_numpy()
    cols = [c for c in layer.columns if c != "geometry"] + ["geometry"]
    return layer[cols]


# --- writing -------------------------------------------------------------------------------------


def to_geojson(gdf: gpd.GeoDataFrame) -> str:
    """The layer as RFC 7946 GeoJSON text, stable for the same input.

    WGS-84 lon/lat with no ``crs`` member, coordinates rounded to 7 decimals (about 1 cm),
    polygon exteriors counter-clockwise and holes clockwise, 2-D. Properties are JSON values:
    times as ISO 8601 with their offset, NaN/NA/NaT and infinities as null, numpy scalars as
    numbers. The ``id`` column is written as text, both as a property and as the feature's
    top-level ``id``. One feature per line, so versioned files diff well.

    Raises
    ------
    ValueError : if ``gdf`` has no CRS (its coordinates could not be placed).
    """
    if gdf.crs is None:
        raise ValueError("cannot write GeoJSON from a GeoDataFrame without a CRS")
    gdf = gdf.to_crs(WGS84) if not CRS.from_user_input(gdf.crs).equals(CRS(WGS84)) else gdf
    geoms = gdf.geometry.to_numpy()
    geoms = shapely.transform(geoms, lambda c: np.round(c, 7))
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    props_cols = [c for c in gdf.columns if c != gdf.geometry.name]
    columns = {}
    for c in props_cols:
        values = gdf[c].tolist()
        if c == "id":
            columns[c] = [_id_value(v) for v in values]
        else:
            columns[c] = [_json_value(v) for v in values]
    keys = [str(c) for c in props_cols]
    lines = []
    for i, geom in enumerate(geoms):
        props = {k: columns[c][i] for k, c in zip(keys, props_cols, strict=True)}
        feature: dict[str, Any] = {"type": "Feature"}
        if props.get("id") is not None:
            feature["id"] = props["id"]
        feature["geometry"] = _geometry_json(geom)
        feature["properties"] = props
        lines.append(
            json.dumps(feature, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        )
    body = ",\n".join(lines)
    return '{"type":"FeatureCollection","features":[\n' + body + ("\n" if lines else "") + "]}\n"


def _geometry_json(geom: shapely.Geometry | None) -> dict | None:
    if geom is None or geom.is_empty:
        return None
    return shapely.geometry.mapping(geom)


def _id_value(v: object) -> str | None:
    v = _json_value(v)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_value(v: object) -> Any:
    """A JSON-safe Python value for one property."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating | Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        return v
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v)
        if pd.isna(v):
            return None
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, np.timedelta64 | dt.timedelta):
        td = pd.Timedelta(v)
        return None if pd.isna(td) else td.isoformat()
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [_json_value(x) for x in v]
    if isinstance(v, shapely.Geometry):
        return v.wkt
    return str(v)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | os.PathLike) -> Path:
    """Write :func:`to_geojson` of ``gdf`` to ``path`` (UTF-8, replaced atomically)."""
    path = Path(path)
    text = to_geojson(gdf)
    with _atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it once written (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # GDAL wants to create the file itself
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)


def write_gpkg(
    layers: dict[str, gpd.GeoDataFrame],
    path: str | os.PathLike,
    settings: dict | None = None,
) -> Path:
    """Write layers (one GeoPackage layer each, named by its key) and settings to ``path``.

    The file is replaced as a whole. Times are stored in UTC (the GeoPackage standard; the
    instant is kept, the offset comes back from the scenario's time zone), to the millisecond.
    Empty layers keep their columns. ``settings`` go to a non-spatial table
    ``scenario_settings`` (``key`` text, ``value`` JSON text).
    """
    path = Path(path)
    if SETTINGS_TABLE in layers:
        raise ValueError(f"'{SETTINGS_TABLE}' is reserved for the settings table")
    with _atomic(path) as tmp:
        for name, gdf in layers.items():
            if gdf.crs is None:
                raise ValueError(f"layer '{name}' has no CRS")
            out = gdf.to_crs(WGS84)
            for c in out.columns:
                if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                    out[c] = out[c].dt.tz_convert("UTC")
            if "id" in out.columns:
                out["id"] = pd.Series(
                    [_id_value(v) for v in out["id"]], index=out.index, dtype=object
                )
            pyogrio.write_dataframe(out, tmp, layer=name, driver="GPKG")
        # With no layers and no settings, an empty settings table still makes a valid file.
        if settings is not None or not tmp.exists():
            items = (settings or {}).items()
            table = pd.DataFrame(
                {
                    "key": pd.Series([str(k) for k, _ in items], dtype=object),
                    "value": pd.Series(
                        [
                            json.dumps(_json_value(v), ensure_ascii=False, allow_nan=False)
                            for _, v in items
                        ],
                        dtype=object,
                    ),
                }
            )
            pyogrio.write_dataframe(table, tmp, layer=SETTINGS_TABLE, driver="GPKG")
    return path


def read_gpkg(
    path: Source, *, tz: str | None = None, name: str | None = None
) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    """Read a scenario GeoPackage written by :func:`write_gpkg` (or by hand).

    ``path`` may also be an upload (bytes or file-like, ``name`` its file name), as for
    :func:`read_layer`.

    Returns
    -------
    (layers, settings) : every spatial layer by name (only those present; layers named like a
        kind of :data:`geo.layers.SCHEMAS` are validated, empty allowed; others are returned as
        read, in EPSG:4326), and the ``scenario_settings`` table as a dict (empty if absent).
        Times are read in ``tz``, else the settings' ``timezone``, else Asia/Shanghai.
    """
    layers, settings, _ = read_gpkg_with_reports(path, tz=tz, name=name)
    return layers, settings


def read_gpkg_with_reports(
    path: Source,
    *,
    tz: str | None = None,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[dict[str, gpd.GeoDataFrame], dict, dict[str, LayerReport]]:
    """:func:`read_gpkg`, plus the validation report of each known layer (repairs, notes)."""
    with _opened(path, name, max_bytes) as src:
        _check_size(src, "a GeoPackage (.gpkg) scenario", max_bytes)
        tables = _gpkg_layers(src)
        names = {n for n, _ in tables}
        settings = _read_settings(src) if SETTINGS_TABLE in names else {}
        zone = tz or settings.get("timezone") or "Asia/Shanghai"
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(
                f"unknown time zone {zone!r}",
                file=src.name,
                feature="timezone",
                field=SETTINGS_TABLE,
                expected="an IANA time zone such as Asia/Shanghai",
            ) from exc
        layers: dict[str, gpd.GeoDataFrame] = {}
        reports: dict[str, LayerReport] = {}
        for name, geom_type in tables:
            if geom_type is None:
                continue
            notes: list[str] = []
            try:
                raw = _read_ogr(src.path, notes, layer=name)
            except _READ_ERRORS as exc:
                raise InputError(
                    f"cannot read layer '{name}': {_cause(exc, src)}",
                    file=src.name,
                    expected="a GeoPackage layer",
                ) from exc
            if name in SCHEMAS:
                layer, report = validate(
                    raw, name, source=f"{src.name}:{name}", tz=zone, allow_empty=True
                )
                if len(raw) == 0:
                    layer = _keep_empty_columns(layer, raw)
                report.notes.extend(notes)
                layers[name], reports[name] = layer, report
            else:
                layers[name] = raw.to_crs(WGS84) if raw.crs is not None else raw
    return layers, settings, reports


def _read_settings(src: _Src) -> dict:
    try:
        meta, _, _, values = pyogrio.raw.read(
            str(src.path), layer=SETTINGS_TABLE, read_geometry=False
        )
    except _READ_ERRORS as exc:
        raise InputError(
            f"cannot read the '{SETTINGS_TABLE}' table: {_cause(exc, src)}",
            file=src.name,
            expected="a table with text columns key and value",
        ) from exc
    fields = [str(f) for f in meta["fields"]]
    if "key" not in fields or "value" not in fields:
        raise InputError(
            f"the '{SETTINGS_TABLE}' table lacks a key or value column",
            file=src.name,
            field=SETTINGS_TABLE,
            expected=f"columns key and value (found: {', '.join(fields)})",
        )
    keys, vals = values[fields.index("key")], values[fields.index("value")]
    settings: dict[str, Any] = {}
    for k, v in zip(keys, vals, strict=True):
        try:
            settings[str(k)] = None if v is None else json.loads(v)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(
                f"setting '{k}' is not valid JSON ({exc})",
                file=src.name,
                feature=str(k),
                field="value",
                expected='a JSON value such as 150, "Asia/Shanghai" or {"motorway": 80}',
            ) from exc
    return settings
