"""The OGC API's response documents: landing page, conformance, collections, features.

Plain data in, JSON-ready dicts (or GeoJSON text) out; every link is absolute, built on the
API's base URL (e.g. ``http://127.0.0.1:8501/ogc``), and carries ``rel`` and ``type``. Features
are written by the project's RFC 7946 writer, :func:`geo.io.to_geojson`.

Examples
--------
>>> landing("http://h/ogc", "Demo")["links"][1]["rel"]
'service-desc'
>>> conformance()["conformsTo"][0]
'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core'
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote, urlencode

import geopandas as gpd
import pandas as pd

from geo import io
from geo.web.ogc.catalogue import Collection
from geo.web.ogc.query import time_extent

__all__ = [
    "CONFORMANCE",
    "CRS84",
    "GEOJSON",
    "JSON",
    "OPENAPI_JSON",
    "collection_doc",
    "collections_doc",
    "conformance",
    "exception",
    "feature_doc",
    "items_text",
    "landing",
]

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
#: The requirements classes of OGC API - Features - Part 1: Core (17-069r4) this API meets.
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def landing(base: str, name: str) -> dict[str, Any]:
    """The landing page (``/``): links to the API definition, conformance and collections."""
    return {
        "title": f"CityOps: {name}",
        "description": "The scenario's layers, the operations store's live layers and the "
        "latest computed results (cordon, checkpoints, catchments, staging plans) as OGC API - "
        "Features, read-only. Connect QGIS or ArcGIS Pro to this URL.",
        "links": [
            _link(base, "self", JSON, "This document"),
            _link(f"{base}/api", "service-desc", OPENAPI_JSON, "The API definition (OpenAPI 3.0)"),
            _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}/collections", "data", JSON, "The collections"),
        ],
    }


def conformance(base: str | None = None) -> dict[str, Any]:
    """The conformance declaration (``/conformance``)."""
    doc: dict[str, Any] = {"conformsTo": list(CONFORMANCE)}
    if base is not None:
        doc["links"] = [_link(f"{base}/conformance", "self", JSON, "This document")]
    return doc


def _cid(collection_id: str) -> str:
    return quote(collection_id, safe="")


def collection_doc(c: Collection, base: str) -> dict[str, Any]:
    """One collection's description (``/collections/{id}``, and its entry in ``/collections``)."""
    url = f"{base}/collections/{_cid(c.id)}"
    doc: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "links": [
            _link(url, "self", JSON, c.title),
            _link(f"{url}/items", "items", GEOJSON, f"{c.title}: features"),
        ],
        "itemType": "feature",
        "crs": [CRS84],
    }
    extent = _extent(c)
    if extent:
        doc["extent"] = extent
    if c.updated:
        doc["cityops:updated"] = c.updated
    if c.user:
        doc["cityops:user"] = c.user
    return doc


def _extent(c: Collection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gdf = c.features
    if len(gdf):
        bounds = [float(v) for v in gdf.total_bounds]
        if all(math.isfinite(v) for v in bounds):
            out["spatial"] = {"bbox": [bounds], "crs": CRS84}
    if c.time is not None:
        interval = time_extent(gdf, c.time)
        if interval is not None:
            out["temporal"] = {"interval": [interval], "trs": GREGORIAN}
    return out


def collections_doc(cs: list[Collection], base: str) -> dict[str, Any]:
    """The list of collections (``/collections``)."""
    return {
        "links": [_link(f"{base}/collections", "self", JSON, "The collections")],
        "collections": [collection_doc(c, base) for c in cs],
    }


def items_text(
    page: gpd.GeoDataFrame,
    c: Collection,
    base: str,
    query: dict[str, str],
    offset: int,
    limit: int,
    matched: int,
) -> str:
    """One page of features (``/collections/{id}/items``) as GeoJSON text: the RFC 7946
    FeatureCollection with ``links`` (self, next, prev, collection), ``numberMatched``,
    ``numberReturned`` and ``timeStamp`` added as foreign members.

    ``query`` holds the request's parameters; the paging links repeat them with another offset.
    """
    url = f"{base}/collections/{_cid(c.id)}/items"

    def at(off: int | None) -> str:
        q = {k: v for k, v in query.items() if k != "offset"}
        if off:
            q["offset"] = str(off)
        return f"{url}?{urlencode(q)}" if q else url

    links = [_link(at(offset), "self", GEOJSON, "This page")]
    if offset + len(page) < matched:
        links.append(_link(at(offset + len(page)), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(_link(at(max(0, offset - limit)), "prev", GEOJSON, "Previous page"))
    links.append(_link(f"{base}/collections/{_cid(c.id)}", "collection", JSON, c.title))
    extra = {
        "links": links,
        "numberMatched": int(matched),
        "numberReturned": len(page),
        "timeStamp": _now(),
    }
    text = io.to_geojson(_ms(page)).rstrip()
    # to_geojson ends with the features array and the closing brace: the members go before it.
    if not text.endswith("]}"):
        raise AssertionError("unexpected GeoJSON layout from io.to_geojson")
    members = json.dumps(extra, ensure_ascii=False, separators=(",", ":"))[1:-1]
    return text[:-1] + "," + members + "}\n"


def feature_doc(row: gpd.GeoDataFrame, c: Collection, base: str) -> dict[str, Any]:
    """One feature (``/collections/{id}/items/{featureId}``) with self and collection links."""
    feature = json.loads(io.to_geojson(_ms(row)))["features"][0]
    coll = f"{base}/collections/{_cid(c.id)}"
    fid = quote(str(feature.get("id", "")), safe="")
    feature["links"] = [
        _link(f"{coll}/items/{fid}", "self", GEOJSON, "This feature"),
        _link(coll, "collection", JSON, c.title),
    ]
    return feature


def _ms(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Times cut to the millisecond: GDAL (QGIS, ArcGIS, ogr2ogr) keeps milliseconds and writes
    59.9996 s as "60.000", which it then cannot read (the whole column turns to text)."""
    cols = [c for c in gdf.columns if isinstance(gdf[c].dtype, pd.DatetimeTZDtype)]
    if not cols:
        return gdf
    out = gdf.copy()
    for c in cols:
        out[c] = out[c].dt.floor("ms")
    return out


def exception(code: str, description: str) -> dict[str, str]:
    """An error document (OGC API exception schema: ``code`` and ``description``)."""
    return {"code": code, "description": description}


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds").replace("+00:00", "Z")
