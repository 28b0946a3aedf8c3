"""The app's own HTTP routes next to the Streamlit page (tiles, OGC API, health), on one origin.

``app.py`` mounts :func:`routes` and :func:`middleware` into ``streamlit.starlette.App``, which
``streamlit run app.py`` discovers. Each feature adds its routes in its own module; this is the
one list of them. No Streamlit here: these handlers run on the server's event loop, outside any
page session.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from geo.web import ogc

__all__ = ["middleware", "routes"]


async def _version(request: Request) -> JSONResponse:
    from geo import __version__

    return JSONResponse({"name": "cityops", "version": __version__})


def routes() -> list[BaseRoute]:
    """Every extra route the app serves, in the order Starlette matches them."""
    from geo.web import tiles

    return [Route("/api/version", _version), *ogc.routes(), *tiles.routes()]


def middleware(store_url: str | None = None) -> list[Middleware]:
    """Middleware applied to the extra routes and the page alike (outermost first): sign-in in
    front of everything (:mod:`geo.web.auth`), with the accounts in the store at ``store_url``
    (or the local accounts file)."""
    from streamlit import config

    from geo.web.auth import AuthMiddleware, gate_from_env

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    gate = gate_from_env(store_url, config.get_option("server.address"), f"/{base}" if base else "")
    return [Middleware(AuthMiddleware, gate=gate)]
