"""Read and write layers: GeoJSON (RFC 7946), GeoPackage, zipped Shapefile, CSV, Excel,
GeoParquet, FlatGeobuf, KML/KMZ and OpenStreetMap (``.osm``, ``.osm.pbf``).

Reading goes file -> raw features (pyogrio, pandas for tables; the readers of the newer formats
are in :mod:`geo.readers`) -> column names and values (:func:`geo.columns.apply`: aliases, a
hand-made mapping, scenario defaults, generated ids) -> :func:`geo.layers.validate`, so every
layer that leaves this module is a valid layer in EPSG:4326 with string ids, and every problem
with a file is an :class:`geo.errors.InputError` naming the file (and, where it applies, the
feature, the field and what was expected). Errors from GDAL, json, zipfile or pandas are wrapped
with their cause; none reaches the user as a traceback. Sizes, feature counts and value lengths
are capped (:mod:`geo.limits`).

Writing produces RFC 7946 GeoJSON (:func:`to_geojson`, :func:`write_geojson`) and GeoPackages
holding a whole scenario (:func:`write_gpkg`, :func:`read_gpkg`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo import columns, readers
from geo.errors import InputError, Problem
from geo.layers import SCHEMAS, WGS84, Datum, LayerReport, validate
from geo.limits import Limits, excerpt, limits
from geo.readers import READ_ERRORS as _READ_ERRORS
from geo.readers import Src as _Src
from geo.readers import cause as _cause
from geo.readers import read_ogr as _read_ogr

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "SETTINGS_TABLE",
    "UPLOAD_TYPES",
    "read_gpkg",
    "read_gpkg_with_reports",
    "read_layer",
    "to_geojson",
    "write_geojson",
    "write_gpkg",
]

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]

DEFAULT_MAX_BYTES = Limits().max_bytes
SETTINGS_TABLE = "scenario_settings"

#: Formats :func:`read_layer` understands, with the words used in messages.
FORMATS: dict[str, str] = {
    "geojson": "GeoJSON (.geojson, .json)",
    "gpkg": "GeoPackage (.gpkg)",
    "zip": "zipped Shapefile (.zip with .shp, .shx, .dbf, .prj)",
    "shp": "Shapefile (.shp with .shx, .dbf, .prj beside it)",
    "csv": "CSV with lon/lat or WKT columns (.csv)",
    "excel": "Excel sheet with lon/lat or WKT columns (.xlsx, .xls)",
    "parquet": "GeoParquet or Parquet with lon/lat columns (.parquet)",
    "fgb": "FlatGeobuf (.fgb)",
    "kml": "KML or KMZ placemarks (.kml, .kmz)",
    "osm": "OpenStreetMap extract (.osm.pbf, .osm)",
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
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".fgb": "fgb",
    ".kml": "kml",
    ".kmz": "kml",
    ".pbf": "osm",
    ".osm": "osm",
}
_SUPPORTED = "; ".join(v for k, v in FORMATS.items() if k != "shp")
#: File types an upload form should offer (every suffix above but the bare .shp).
UPLOAD_TYPES: list[str] = [s.lstrip(".") for s in _SUFFIXES if s != ".shp"]
_TABLE_KEYS = ("lon", "lat", "wkt")


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
    mapping: Mapping[str, str] | None = None,
    defaults: columns.Defaults | None = None,
    max_bytes: int | None = None,
    allow_empty: bool = False,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read one layer of ``kind`` from a file or an upload, and validate it.

    Parameters
    ----------
    source : str, PathLike, bytes or file-like
        A path (a ``str`` is always a path, never content), or the file's content as bytes or
        a binary/text file-like object (an upload).
    kind : str
        A layer kind of :data:`geo.layers.SCHEMAS` (``"roads"`` for OSM extracts).
    name : str, optional
        The file name shown in messages and used to detect the format; defaults to the path's
        name or the upload's ``.name``. Uploads without a usable name are sniffed.
    datum : {"wgs84", "gcj02", "bd09"}
        ``"gcj02"`` / ``"bd09"`` for coordinates from Amap/Tencent or Baidu.
    assume_crs : str, optional
        CRS to use when the file declares none (Shapefile without .prj, CSV in metres).
    swap_xy : bool
        The file has latitude where longitude belongs.
    tz : str
        Time zone for times written without an offset.
    lon_col, lat_col : str, optional
        Coordinate columns of a table (CSV, Excel, Parquet); detected when not given.
    mapping : dict, optional
        ``{field: column}`` chosen by hand (the CLI's ``--map``, the form's mapping step); wins
        over the names and aliases of :data:`geo.columns.REGISTRY`. ``lon``/``lat`` name a
        table's coordinate columns.
    defaults : dict, optional
        Scenario-wide values for what the file leaves out (:func:`geo.columns.scenario_defaults`:
        ``per_lane_per_h``, the date of times of day); the project's when None.
    max_bytes : int, optional
        Larger files are refused before parsing (default: :func:`geo.limits.limits`).
    allow_empty : bool
        Accept a file with no features (returns an empty layer).

    Returns
    -------
    layer : GeoDataFrame
        The validated layer (EPSG:4326).
    report : LayerReport
        What was done to it: repairs, columns recognised or mapped, defaults, generated ids.

    Raises
    ------
    geo.columns.ColumnsMissing
        A required field no column provides (an :class:`InputError` that says the columns
        found and the best guess, for a mapping step).
    InputError
        For anything else wrong with the file, naming it and what was expected.

    Examples
    --------
    >>> from geo.io import read_layer
    >>> data = "编号,名称,经度,纬度,车道数\\nS1,北门,121.657,31.144,4\\n".encode()
    >>> sites, report = read_layer(data, "testing_sites", name="sites.csv")
    >>> sites[["id", "name", "lanes", "per_lane_per_h"]].to_dict("records")
    [{'id': 'S1', 'name': '北门', 'lanes': 4, 'per_lane_per_h': 150.0}]
    >>> report.mapping
    {'编号': 'id', '名称': 'name', '车道数': 'lanes'}
    """
    if kind not in SCHEMAS:
        raise InputError(
            f"unknown layer kind '{kind}'", file=name, expected="one of " + ", ".join(SCHEMAS)
        )
    lim = limits()
    max_bytes = lim.max_bytes if max_bytes is None else max_bytes
    mapping = columns.parse_mapping(mapping)
    table = {k: mapping.pop(k) for k in _TABLE_KEYS if k in mapping}
    with _opened(source, name, max_bytes) as src:
        suffix = _suffix_of(src.name)
        what = FORMATS[_SUFFIXES[suffix]] if suffix else _SUPPORTED
        title = SCHEMAS[kind].title.lower()
        _check_size(src, f"{title} as {what}", max_bytes)
        fmt = _detect_format(src)
        expected = f"{title} as {FORMATS[fmt]}"
        if table and fmt not in ("csv", "excel", "parquet"):
            raise InputError(
                f"a {'/'.join(table)} column can only be chosen for a table",
                file=src.name,
                field="mapping",
                expected="lon/lat/wkt mappings for CSV, Excel or Parquet files only",
            )
        opts = readers.ReadOptions(
            kind,
            lon_col=table.get("lon", lon_col),
            lat_col=table.get("lat", lat_col),
            assume_crs=assume_crs,
            max_bytes=max_bytes,
            max_features=lim.max_features,
        )
        notes = opts.notes
        try:
            if fmt == "geojson":
                raw = _read_geojson(src, notes, lim)
            elif fmt == "gpkg":
                raw = _read_gpkg_layer(src, kind, notes)
            elif fmt in ("zip", "shp"):
                raw = _unshorten_dbf_names(
                    _read_shapefile(src, kind, max_bytes, notes), kind, notes
                )
            else:
                raw = _READERS[fmt](src, opts)
        except InputError:
            raise
        except (*_READ_ERRORS, RecursionError) as exc:
            raise InputError(
                f"cannot be read as {FORMATS[fmt]}: {_cause(exc, src)}",
                file=src.name,
                expected=expected,
            ) from exc
    if len(raw) > lim.max_features:
        readers._check_count(len(raw), src, opts)
    _check_declared_crs(raw, assume_crs, src.name)
    raw, col_notes, used = columns.apply(
        raw, kind, source=src.name, mapping=mapping, defaults=defaults
    )
    try:
        layer, report = validate(
            raw,
            kind,
            source=src.name,
            tz=tz,
            datum=datum,
            assume_crs=assume_crs,
            allow_empty=allow_empty,
            swap_xy=swap_xy,
            labels=opts.labels,
        )
    except InputError as exc:
        if not opts.problems:
            raise
        raise _merged(opts.problems, exc.problems) from exc
    if opts.problems:  # validation accepted rows the reader could not place: never silently
        raise InputError(problems=opts.problems)
    if len(raw) == 0:
        layer = _keep_empty_columns(layer, raw)
    report.notes[:0] = notes + col_notes
    report.mapping = used
    return layer, report


_READERS = {
    "csv": readers.read_csv,
    "excel": readers.read_excel,
    "parquet": readers.read_parquet,
    "fgb": readers.read_fgb,
    "kml": readers.read_kml,
    "osm": readers.read_osm,
}


def _merged(reading: list[Problem], validation: list[Problem]) -> InputError:
    """The reader's row problems and validation's, in row order; a row whose coordinates were
    already refused is not said again to have no geometry."""
    placed = {(p.feature, "geometry") for p in reading}
    rest = [
        p
        for p in validation
        if not (p.field == "geometry" and any(str(p.feature) == str(f) for f, _ in placed))
    ]

    def row(p: Problem) -> int:
        m = re.match(r"(?:row |#)(\d+)", str(p.feature or ""))
        return int(m[1]) if m else 1 << 30

    return InputError(problems=sorted([*reading, *rest], key=row))


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
        src = _Src(shown, None, len(data), data[:4096], data)
        suffix = _suffix_of(shown) or _sniff(src.head) or ""
        path = Path(tmp) / ("upload" + (".osm.pbf" if suffix == ".pbf" else suffix))
        path.write_bytes(data)
        src.path = path
        yield src


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
    if head.startswith(b"fgb\x03"):
        return ".fgb"
    if head.startswith(b"PAR1"):
        return ".parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: an Excel 97-2003 workbook
        return ".xls"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return ".geojson"
    if text.startswith(b"<") and b"<kml" in head:
        return ".kml"
    if text.startswith(b"<") and b"<osm" in head:
        return ".osm"
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


def _read_geojson(src: _Src, notes: list[str], lim: Limits) -> gpd.GeoDataFrame:
    assert src.path is not None
    try:
        # Text that looks like a date stays the text written (GDAL would cut times to the
        # millisecond and rewrite "2021-10-31 18:05" as "2021-10-31T18:05:00"). A list in one
        # feature would make GDAL type the whole column as a list (every value '[150]'): lists
        # stay JSON text, so only the feature that has one is refused.
        gdf = _read_ogr(src.path, notes, DATE_AS_STRING="YES", ARRAY_AS_STRING="YES")
    except _READ_ERRORS as exc:
        problem = _too_long_in_json(src, lim)
        if problem is not None:
            raise InputError(problems=[problem]) from exc
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
    raw = src.data if src.data is not None else src.path.read_bytes()  # type: ignore[union-attr]
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return "the file is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return "the JSON is nested too deeply to be GeoJSON"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return f"not usable JSON: {excerpt(str(exc), 80, quote=False)}"
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


def _too_long_in_json(src: _Src, lim: Limits) -> Problem | None:
    """The first property value longer than the limit (GDAL fails on some of them with
    "Too many characters in number", which says nothing useful)."""
    try:
        obj = json.loads(src.read().decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    feats = obj.get("features") if isinstance(obj, dict) else None
    for i, f in enumerate(feats if isinstance(feats, list) else []):
        props = f.get("properties") if isinstance(f, dict) else None
        items = [("id", f.get("id"))] if isinstance(f, dict) else []
        items += list(props.items()) if isinstance(props, dict) else []
        for key, v in items:
            text = v if isinstance(v, str) else None
            if text is not None and len(text) > lim.max_field_chars:
                return Problem(
                    f"the value is {len(text):,} characters long: {excerpt(text, 20)}",
                    src.name,
                    f"#{i}",
                    str(key),
                    f"at most {lim.max_field_chars:,} characters (CITYOPS_MAX_FIELD_CHARS)",
                )
    return None


def _top_level_ids(src: _Src) -> list[str | None] | None:
    raw = src.data if src.data is not None else src.path.read_bytes()  # type: ignore[union-attr]
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
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
                raw = _read_ogr(src.path, notes, layer=name)  # type: ignore[arg-type]
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
