"""Vector tile routes: tiles, build status and tooltips of the heavy layers, by content hash.

    GET /tiles/{hash}/{layer}/{z}/{x}/{y}.pbf   a gzip-compressed MVT (empty body: no features)
    GET /tiles/{hash}/{layer}/status.json       the build's status, progress and error
    GET /tiles/{hash}/{layer}/tip/{id}          a tiled feature's pre-escaped tooltip (HTML)

The URL carries the content hash, so a tile never changes: strong ETag and
``Cache-Control: immutable``. Unknown hashes and layers are 404, malformed z/x/y 400, a tile
whose build is not finished 503; every error is a short JSON message, never a traceback.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from geo.tiles import cache

MVT_TYPE = "application/vnd.mapbox-vector-tile"
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_Z = 24


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _tileset(request: Request) -> cache.TileSet | JSONResponse:
    h, layer = request.path_params["hash"], request.path_params["layer"]
    ts = cache.get(h)
    if ts is None or ts.key != layer:
        return _error(404, f"no tiles for layer '{layer}' with content hash '{h}'")
    return ts


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


async def tile(request: Request) -> Response:
    """One tile (the body as stored: gzip-compressed MVT)."""
    p = request.path_params
    z, x, y = _int(p["z"]), _int(p["x"]), _int(p["y"])
    if z is None or x is None or y is None or z > MAX_Z or x >= 2**z or y >= 2**z:
        return _error(400, f"not a tile: z/x/y = {p['z']}/{p['x']}/{p['y']}")
    ts = _tileset(request)
    if isinstance(ts, JSONResponse):
        return ts
    if ts.status != "ready":
        why = ts.error if ts.status == "failed" else f"tiles being built ({ts.progress:.0%})"
        return _error(503, why or ts.status)
    etag = f'"{ts.hash}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    arc = ts.archive()
    data = arc.get(z, x, y) if arc is not None else None
    if not data:
        return Response(b"", media_type=MVT_TYPE, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(bytes(data), media_type=MVT_TYPE, headers=headers)


async def status(request: Request) -> Response:
    """The tile set's build status (polled by the map while it builds)."""
    ts = _tileset(request)
    if isinstance(ts, JSONResponse):
        return ts
    return JSONResponse(ts.state(), headers={"Cache-Control": "no-store"})


async def tip(request: Request) -> Response:
    """The pre-escaped tooltip of the tiled feature with MVT id ``id`` (row position + 1)."""
    ts = _tileset(request)
    if isinstance(ts, JSONResponse):
        return ts
    fid = _int(request.path_params["id"])
    if fid is None or not 1 <= fid <= ts.features:
        return _error(400, f"no feature {request.path_params['id']!r} in this layer")
    if ts.tip is None:
        return _error(404, "tooltips of this layer are not available (open the page again)")
    try:
        text = ts.tip(fid - 1)
    except Exception as exc:  # never a traceback: the message says what went wrong
        return _error(500, f"tooltip failed: {type(exc).__name__}")
    return HTMLResponse(text, headers={"Cache-Control": "private, max-age=3600"})


def routes() -> list[BaseRoute]:
    """The tile routes, for :func:`geo.web.routes`."""
    return [
        Route("/tiles/{hash}/{layer}/status.json", status),
        Route("/tiles/{hash}/{layer}/tip/{id}", tip),
        Route("/tiles/{hash}/{layer}/{z}/{x}/{y}.pbf", tile),
    ]
