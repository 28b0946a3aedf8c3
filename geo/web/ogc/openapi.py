"""The API definition (``/api``): an OpenAPI 3.0 document naming every path, parameter and
response of the API, one set of paths per collection (as in the spec's example 2), so a
client or validator reads each collection's parameters from it.

Examples
--------
>>> doc = openapi("http://h/ogc", ["incidents"], "Demo")
>>> sorted(doc["paths"])[:3]
['/', '/api', '/collections']
>>> [p["$ref"].rsplit("/", 1)[1] for p in doc["paths"]["/collections/incidents/items"]["get"]
...  ["parameters"]]
['bbox', 'datetime', 'limit', 'offset', 'f-items']
"""

from __future__ import annotations

from typing import Any

from geo.web.ogc.documents import GEOJSON, JSON, OPENAPI_JSON
from geo.web.ogc.params import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["openapi"]


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "style": "form",
        "explode": False,
        "description": description,
    }


_PARAMETERS: dict[str, dict[str, Any]] = {
    "bbox": _param(
        "bbox",
        {
            "type": "array",
            "minItems": 4,
            "maxItems": 6,
            "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
            "items": {"type": "number"},
        },
        "Only features whose geometry intersects the box: minlon,minlat,maxlon,maxlat in "
        "CRS84 (6 numbers: the heights are ignored).",
    ),
    "datetime": _param(
        "datetime",
        {"type": "string"},
        "Only features whose time intersects this RFC 3339 instant or interval "
        "(a/b, ../b, a/..). Collections without time ignore it.",
    ),
    "limit": _param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"Features per page (above {MAX_LIMIT}: {MAX_LIMIT}).",
    ),
    "offset": _param(
        "offset",
        {"type": "integer", "minimum": 0, "default": 0},
        "Features to skip (the next and prev links set it).",
    ),
    "f": _param("f", {"type": "string", "enum": ["json"]}, "The format: JSON."),
    "f-items": _param("f", {"type": "string", "enum": ["json", "geojson"]}, "The format: GeoJSON."),
    "featureId": {
        "name": "featureId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The feature's id.",
    },
}

_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "link": {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {"title": {"type": "string"}, "links": _LINKS},
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "links": _LINKS},
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {
            "links": _LINKS,
            "collections": {"type": "array", "items": {"$ref": "#/components/schemas/collection"}},
        },
    },
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
            "links": _LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
    "featureGeoJSON": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "id": {"type": "string"},
            "links": _LINKS,
        },
    },
    "exception": {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
    },
}


def _response(description: str, media: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS = {
    "400": _response("A query parameter is unknown or has an invalid value.", JSON, "exception"),
    "404": _response("No such collection or feature.", JSON, "exception"),
    "500": _response("A server error.", JSON, "exception"),
}


def _get(summary: str, op: str, ok: dict[str, Any], params: list[str]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "operationId": op,
            "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params],
            "responses": {"200": ok, **_ERRORS},
        }
    }


def openapi(base: str, collection_ids: list[str], name: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of the API at ``base`` serving ``collection_ids``."""
    paths: dict[str, Any] = {
        "/": _get("Landing page", "getLandingPage", _ok(JSON, "landingPage"), ["f"]),
        "/api": _get(
            "This API definition",
            "getAPI",
            {"description": "The API definition.", "content": {OPENAPI_JSON: {}}},
            ["f"],
        ),
        "/conformance": _get(
            "Conformance classes", "getConformance", _ok(JSON, "confClasses"), ["f"]
        ),
        "/collections": _get("The collections", "getCollections", _ok(JSON, "collections"), ["f"]),
    }
    for cid in collection_ids:
        op = "".join(part.capitalize() for part in cid.replace("_", "-").split("-"))
        paths[f"/collections/{cid}"] = _get(
            f"The collection {cid}", f"describe{op}", _ok(JSON, "collection"), ["f"]
        )
        paths[f"/collections/{cid}/items"] = _get(
            f"Features of {cid}",
            f"get{op}Features",
            _ok(GEOJSON, "featureCollectionGeoJSON"),
            ["bbox", "datetime", "limit", "offset", "f-items"],
        )
        paths[f"/collections/{cid}/items/{{featureId}}"] = _get(
            f"One feature of {cid}",
            f"get{op}Feature",
            _ok(GEOJSON, "featureGeoJSON"),
            ["featureId", "f-items"],
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"CityOps OGC API - Features: {name}",
            "version": "1.0.0",
            "description": "Read-only OGC API - Features (Part 1: Core, GeoJSON) of the "
            "scenario's layers, the live layers and the latest computed results.",
            "license": {"name": "MIT"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": _PARAMETERS, "schemas": _SCHEMAS},
    }


def _ok(media: str, schema: str) -> dict[str, Any]:
    return _response("Success.", media, schema)
