"""The OGC API's HTTP handlers (Starlette): parse the request, build the answer off the event
loop (``run_in_threadpool``: geopandas work must not stall the page's websockets), reply.

Every handler runs through :func:`_answer`, which turns :class:`ParamError` into 400 and an
unknown collection or feature into 404, each with an OGC exception document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from geo import config
from geo.web.ogc import catalogue, documents, params, query
from geo.web.ogc.openapi import openapi

__all__ = ["PREFIX", "routes"]

#: Where the API lives on the app's origin.
PREFIX = "/ogc"
_log = logging.getLogger(__name__)


class _NotFound(LookupError):
    pass


def _base(request: Request) -> str:
    """The API's absolute base URL as this client reached it (links are built on it)."""
    return str(request.base_url).rstrip("/") + PREFIX


async def _answer(
    request: Request, make: Callable[[], Response], allowed: tuple[str, ...]
) -> Response:
    # Access: the app's sign-in middleware wraps every route, these included. A per-role rule
    # for the OGC API would check ``request.state.user`` here, before any data is read.
    try:
        params.check_params(request.query_params, allowed)
        return await run_in_threadpool(make)
    except params.ParamError as exc:
        code = "InvalidParameterValue" if exc.param in allowed else "UnknownParameter"
        return _error(400, code, str(exc))
    except _NotFound as exc:
        return _error(404, "NotFound", str(exc))
    except Exception as exc:  # a store that cannot be read, a broken scenario: say so in JSON
        _log.exception("OGC API request failed: %s", request.url)
        return _error(500, "ServerError", f"{type(exc).__name__}: {exc}")


def _error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse(documents.exception(code, description), status_code=status)


def _json(doc: dict[str, Any], media: str = documents.JSON) -> JSONResponse:
    return JSONResponse(doc, media_type=media)


def _collection(request: Request) -> catalogue.Collection:
    cid = request.path_params["collection_id"]
    c = catalogue.collection(cid)
    if c is None:
        raise _NotFound(f"no collection '{cid}' (see /collections)")
    return c


async def landing(request: Request) -> Response:
    """``GET /ogc``: the landing page."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json",))
        return _json(documents.landing(_base(request), config.scenario().name))

    return await _answer(request, make, ("f",))


async def api(request: Request) -> Response:
    """``GET /ogc/api``: the OpenAPI 3.0 definition."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json",))
        ids = [c.id for c in catalogue.collections()]
        doc = openapi(_base(request), ids, config.scenario().name)
        return _json(doc, documents.OPENAPI_JSON)

    return await _answer(request, make, ("f",))


async def conformance(request: Request) -> Response:
    """``GET /ogc/conformance``: the conformance classes."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json",))
        return _json(documents.conformance(_base(request)))

    return await _answer(request, make, ("f",))


async def collections(request: Request) -> Response:
    """``GET /ogc/collections``: every collection with its extent."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json",))
        return _json(documents.collections_doc(catalogue.collections(), _base(request)))

    return await _answer(request, make, ("f",))


async def collection(request: Request) -> Response:
    """``GET /ogc/collections/{collectionId}``: one collection."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json",))
        return _json(documents.collection_doc(_collection(request), _base(request)))

    return await _answer(request, make, ("f",))


async def items(request: Request) -> Response:
    """``GET /ogc/collections/{collectionId}/items``: a page of the features that match
    ``bbox`` and ``datetime``."""

    def make() -> Response:
        q = request.query_params
        params.parse_f(q.get("f"), ("json", "geojson"))
        limit = params.parse_limit(q.get("limit"))
        offset = params.parse_offset(q.get("offset"))
        bbox = params.parse_bbox(q.get("bbox"))
        interval = params.parse_datetime(q.get("datetime"))
        c = _collection(request)
        hits = query.select(c.features, bbox, interval, c.time)
        page = c.features.iloc[hits[offset : offset + limit]]
        text = documents.items_text(
            page, c, _base(request), dict(q.items()), offset, limit, len(hits)
        )
        return Response(text, media_type=documents.GEOJSON)

    return await _answer(request, make, params.ITEMS_PARAMS)


async def feature(request: Request) -> Response:
    """``GET /ogc/collections/{collectionId}/items/{featureId}``: one feature."""

    def make() -> Response:
        params.parse_f(request.query_params.get("f"), ("json", "geojson"))
        c = _collection(request)
        fid = request.path_params["feature_id"]
        row = c.features[c.features["id"].astype(str) == fid] if len(c.features) else c.features
        if not len(row):
            raise _NotFound(f"no feature '{fid}' in the collection '{c.id}'")
        return _json(documents.feature_doc(row.iloc[:1], c, _base(request)), documents.GEOJSON)

    return await _answer(request, make, ("f",))


def routes() -> list[BaseRoute]:
    """The API's routes under :data:`PREFIX` (GET; Starlette answers HEAD too)."""
    p = PREFIX
    return [
        Route(p, landing, methods=["GET"]),
        Route(f"{p}/", landing, methods=["GET"]),
        Route(f"{p}/api", api, methods=["GET"]),
        Route(f"{p}/conformance", conformance, methods=["GET"]),
        Route(f"{p}/collections", collections, methods=["GET"]),
        Route(f"{p}/collections/{{collection_id}}", collection, methods=["GET"]),
        Route(f"{p}/collections/{{collection_id}}/items", items, methods=["GET"]),
        Route(
            f"{p}/collections/{{collection_id}}/items/{{feature_id:path}}",
            feature,
            methods=["GET"],
        ),
    ]
