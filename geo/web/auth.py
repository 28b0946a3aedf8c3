"""Sign-in in front of everything the app serves: an ASGI middleware.

Every HTTP request and websocket (the page, ``/_stcore/stream``, ``/_stcore/upload_file``,
``/_stcore/metrics``, ``/app/static``, components, media, and the app's own routes) needs a live
session (:mod:`geo.auth.sessions`): a signed, HttpOnly, SameSite=Strict cookie whose session the
store knows, not ended, not expired, its account enabled. Open without one: ``/_stcore/health``,
``/login``, ``/logout`` and ``/wall/<token>`` (a display link). A page request without a session
is sent to ``/login``; anything else gets 401 (a websocket is closed before it opens).

Role rules on the server (the page hides what a role may not use, and checks again):

- ``/_stcore/upload_file``: the ``upload`` action (analyst and up; never a display link);
- ``/_stcore/metrics``: admin only;
- a display-link session: ``GET`` and the websocket only (the page shows it the wall only).

The acting user goes to ``scope["state"]["cityops_actor"]`` for the app's own routes
(``request.state.cityops_actor``); the page reads the same cookie and checks it itself
(``geo.ui.signin``), since Streamlit runs the page outside this request.

``/login`` is a small HTML form (CSRF: a nonce cookie and an HMAC of it in the form, and the
``Origin`` checked); failed attempts are counted and lock the name (:mod:`geo.auth.accounts`).
Sign-ins, failures, sign-outs and display-link use go to the audit trail.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from geo import audit
from geo.auth import Actor, accounts, config, sessions
from geo.web import auth_pages

__all__ = ["AuthMiddleware", "Gate", "safe_next"]

log = logging.getLogger("cityops.auth")

_LOGIN_NONCE = "cityops_login"
_CACHE_S = 3.0  # a session check is re-read from the store at most this often per session
_MAX_FORM = 8192
#: Sign-in attempts one client address may make per minute (each costs an Argon2 hash; the
#: per-name lockout does not stop one client trying many names).
LOGIN_PER_MINUTE = 20


class _Throttle:
    """At most ``limit`` events per ``window_s`` per key, in memory (one app process)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, list[float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        if len(self._seen) > 10_000:
            self._seen.clear()
        recent = [t for t in self._seen.get(key, []) if now - t < self.window_s]
        ok = len(recent) < self.limit
        if ok:
            recent.append(now)
        self._seen[key] = recent
        return ok


def safe_next(value: str | None, prefix: str = "") -> str:
    """Where to go after signing in: a path on this site only (never another host).

    >>> safe_next("/?view=wall"), safe_next("//evil.example/x"), safe_next("https://e.x/")
    ('/?view=wall', '/', '/')
    """
    home = (prefix or "") + "/"
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return home
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        return home
    return value


@dataclass
class Gate:
    """What the middleware needs: the accounts store, the signer, and whether sign-in is off.

    Parameters
    ----------
    open_db : opens the store that keeps the accounts (called once, lazily).
    secret_key : signs cookies and form tokens.
    off : sign-in off (``CITYOPS_AUTH=off`` on loopback; see :mod:`geo.auth.config`).
    prefix : the server's base URL path (``server.baseUrlPath``), ``""`` for none.
    secure_cookie : set the cookie's Secure flag (also set whenever the request is HTTPS).
    """

    open_db: Callable[[], Any]
    secret_key: str
    off: bool = False
    prefix: str = ""
    secure_cookie: bool = False
    _db: Any = None
    _cache: dict[str, tuple[float, sessions.Session | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.signer = sessions.Signer(self.secret_key)
        self.throttle = _Throttle(LOGIN_PER_MINUTE)

    @property
    def db(self) -> Any:
        if self._db is None:
            self._db = self.open_db()
        return self._db

    def session(self, cookie: str | None) -> sessions.Session | None:
        """The live session of a cookie value (blocking: run it in a thread)."""
        sid = self.signer.unsign(cookie)
        if sid is None:
            return None
        now = time.monotonic()
        hit = self._cache.get(sid)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        found = sessions.lookup(self.db, sid)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[sid] = (now, found)
        return found

    def forget(self, sid: str) -> None:
        self._cache.pop(sid, None)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class AuthMiddleware:
    """The ASGI middleware (see the module docstring); register it outermost."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        g = self.gate
        path = scope.get("path", "")
        if g.prefix and path.startswith(g.prefix):
            path = path[len(g.prefix) :] or "/"
        if path == "/_stcore/health":
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and (path in ("/login", "/logout") or path.startswith("/wall/")):
            request = Request(scope, receive)
            if path == "/login":
                response = await self._login(request)
            elif path == "/logout":
                response = await self._logout(request)
            else:
                response = await self._wall(request, path[len("/wall/") :])
            await response(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if g.off:
            # Loopback only, and never through a proxy (which would make everyone local).
            if _client(scope) in ("127.0.0.1", "::1") and "x-forwarded-for" not in headers:
                self._set_actor(scope, Actor("local", "admin", "auth-off", _client(scope)))
                await self.app(scope, receive, send)
                return
            await self._deny(scope, receive, send, 403, "sign-in is off: loopback only")
            return
        cookie = _cookie(headers, sessions.COOKIE)
        sess = await run_in_threadpool(g.session, cookie) if cookie else None
        if sess is None:
            await self._deny(scope, receive, send, 401, "sign in first")
            return
        actor = sess.actor(_client(scope))
        refusal = _refusal(path, scope, actor)
        if refusal:
            log.warning("refused %s %s for %s (%s)", scope.get("method", "WS"), path,
                        actor.user, refusal)  # fmt: skip
            await self._deny(scope, receive, send, 403, refusal)
            return
        self._set_actor(scope, actor)
        await self.app(scope, receive, send)

    @staticmethod
    def _set_actor(scope: Scope, actor: Actor) -> None:
        scope.setdefault("state", {})["cityops_actor"] = actor

    async def _deny(
        self, scope: Scope, receive: Receive, send: Send, status: int, why: str
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": why[:100]})
            return
        headers = Headers(scope=scope)
        page = scope.get("method") == "GET" and "text/html" in headers.get("accept", "")
        response: Response
        if page and status == 401:
            target = scope.get("path", "/")
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            query = urllib.parse.urlencode({"next": target})
            response = RedirectResponse(f"{self.gate.prefix}/login?{query}", status_code=303)
        elif page:
            response = HTMLResponse(
                auth_pages.message_page("Not allowed", f"Your role may not open this ({why})."),
                status_code=status,
            )
        else:
            response = PlainTextResponse(why, status_code=status)
        await response(scope, receive, send)

    # --- pages --------------------------------------------------------------------------------

    def _cookie_opts(self, request: Request) -> dict[str, Any]:
        secure = self.gate.secure_cookie or request.url.scheme == "https"
        return {
            "httponly": True,
            "samesite": "strict",
            "secure": secure,
            "path": self.gate.prefix or "/",
        }

    def _login_form(
        self,
        request: Request,
        message: str = "",
        user: str = "",
        status: int = 200,
        note: str = "",
    ) -> Response:
        g = self.gate
        nonce = request.cookies.get(_LOGIN_NONCE) or secrets.token_urlsafe(24)
        nxt = safe_next(request.query_params.get("next"), g.prefix)
        if request.query_params.get("out"):
            note = "You have signed out."
        elif request.query_params.get("expired"):
            note = "Your session has ended: sign in again."
        page = auth_pages.login_page(
            f"{g.prefix}/login", g.signer.token("login", nonce), nxt, message=message,
            note=note, user=user,
        )  # fmt: skip
        response = HTMLResponse(page, status_code=status)
        opts = self._cookie_opts(request)
        response.set_cookie(_LOGIN_NONCE, nonce, max_age=3600, **opts)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _login(self, request: Request) -> Response:
        g = self.gate
        if g.off:
            return RedirectResponse(f"{g.prefix}/", status_code=303)
        if request.method == "GET":
            first = await run_in_threadpool(_first_run, g.db)
            note = (
                "First run: the password of 'admin' was printed once in the terminal that "
                "started CityOps."
                if first
                else ""
            )
            return self._login_form(request, note=note)
        if request.method != "POST":
            return PlainTextResponse("method not allowed", status_code=405)
        origin = request.headers.get("origin")
        if origin and urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
            return PlainTextResponse("cross-site sign-in refused", status_code=403)
        if not g.throttle.allow(_client(request.scope)):
            return self._login_form(
                request, "Too many sign-in attempts from this address: wait a minute.", status=429
            )
        body = await request.body()
        if len(body) > _MAX_FORM:
            return PlainTextResponse("form too large", status_code=413)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        field_ = {k: v[0] for k, v in form.items() if v}
        nonce = request.cookies.get(_LOGIN_NONCE, "")
        if not nonce or not g.signer.check_token("login", nonce, field_.get("csrf")):
            return self._login_form(request, "The form had expired: please sign in again.",
                                    status=400)  # fmt: skip
        username = field_.get("username", "")[:64]
        password = field_.get("password", "")[:1024]
        client = _client(request.scope)
        result = await run_in_threadpool(
            accounts.authenticate, g.db, username, password, client=client
        )
        if not result.ok or result.user is None:
            if result.retry_after_s:
                minutes = max(1, round(result.retry_after_s / 60))
                msg = f"Too many failed sign-ins for this name: try again in {minutes} min."
            else:
                msg = "Wrong user name or password."
            return self._login_form(request, msg, user=username, status=401)
        user = result.user
        sid = await run_in_threadpool(sessions.new_session, g.db, user.username, client=client)
        actor = Actor(user.username, user.role, sessions.ref(sid), client)
        await run_in_threadpool(audit.record, g.db, actor, "sign_in")
        nxt = safe_next(field_.get("next"), g.prefix)
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(
            sessions.COOKIE, g.signer.sign(sid), max_age=int(sessions.SESSION_HOURS * 3600),
            **self._cookie_opts(request),
        )  # fmt: skip
        response.delete_cookie(_LOGIN_NONCE, path=g.prefix or "/")
        return response

    async def _logout(self, request: Request) -> Response:
        g = self.gate
        cookie = request.cookies.get(sessions.COOKIE)
        sid = g.signer.unsign(cookie)
        if sid is None:
            return RedirectResponse(f"{g.prefix}/login?out=1", status_code=303)
        if request.method == "POST":
            body = await request.body()
            form = urllib.parse.parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
            token = (form.get("t") or [""])[0]
        else:
            token = request.query_params.get("t", "")
        if not g.signer.check_token("logout", sid, token):
            return HTMLResponse(
                auth_pages.logout_page(f"{g.prefix}/logout", g.signer.token("logout", sid))
            )
        sess = await run_in_threadpool(g.session, cookie)
        await run_in_threadpool(sessions.end, g.db, sid)
        g.forget(sid)
        if sess is not None:
            actor = sess.actor(_client(request.scope))
            await run_in_threadpool(audit.record, g.db, actor, "sign_out")
        response = RedirectResponse(f"{g.prefix}/login?out=1", status_code=303)
        response.delete_cookie(sessions.COOKIE, path=g.prefix or "/")
        return response

    async def _wall(self, request: Request, token: str) -> Response:
        g = self.gate
        if request.method != "GET":
            return PlainTextResponse("method not allowed", status_code=405)
        client = _client(request.scope)
        sid = await run_in_threadpool(sessions.open_wall_link, g.db, token, client=client)
        if sid is None:
            return HTMLResponse(
                auth_pages.message_page(
                    "Display link not valid",
                    "This display link is not valid: it was revoked or mistyped. Ask an "
                    "administrator for a new one (cityops wall-link create).",
                ),
                status_code=404,
            )
        response = RedirectResponse(f"{g.prefix}/?view=wall", status_code=303)
        response.set_cookie(
            sessions.COOKIE, g.signer.sign(sid), max_age=int(sessions.WALL_DAYS * 86400),
            **self._cookie_opts(request),
        )  # fmt: skip
        response.headers["Referrer-Policy"] = "no-referrer"  # the token stays off other logs
        return response


def _first_run(db: Any) -> bool:
    """Only the first-run admin exists and has never signed in."""
    users = accounts.list_users(db)
    return len(users) == 1 and users[0].username == "admin" and users[0].last_login_us is None


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _refusal(path: str, scope: Scope, actor: Actor) -> str | None:
    """Why ``actor`` may not make this request (None: allowed)."""
    method = scope.get("method", "GET")
    if path.startswith("/_stcore/upload_file") and not actor.may("upload"):
        return "uploads need the analyst role"
    if path.startswith("/_stcore/metrics") and not actor.may("users"):
        return "metrics are for admins"
    if actor.wall_only and scope["type"] == "http" and method not in ("GET", "HEAD"):
        return "a display link only shows the wall"
    return None


def gate_from_env(store_url: str | None, bind_address: str | None, prefix: str = "") -> Gate:
    """The app's gate: accounts in the store (or the local file), the key from the environment
    (or the local file), sign-in off only as :func:`geo.auth.config.auth_off` allows; a first
    run creates ``admin`` and prints its password once."""
    from geo.store import open_store

    off = config.auth_off(os.environ, bind_address)
    if os.environ.get(config.AUTH_ENV, "").lower() == "off" and not off:
        raise SystemExit(
            f"{config.AUTH_ENV}=off is only honoured when the server listens on 127.0.0.1 "
            f"(it listens on {bind_address or 'every interface'}): refusing to start"
        )
    url = config.accounts_url(store_url)

    def open_db() -> Any:
        db = open_store(url)
        config.first_run_admin(db)
        return db

    gate = Gate(
        open_db,
        config.secret_key() if not off else secrets.token_hex(32),
        off=off,
        prefix=prefix,
        secure_cookie=os.environ.get("CITYOPS_COOKIE_SECURE", "") == "1",
    )
    if off:
        log.warning(
            "SIGN-IN IS OFF (%s=off): anyone who can reach this machine's loopback acts as "
            "admin. Never use it behind a proxy or on a shared machine.",
            config.AUTH_ENV,
        )
    else:
        gate.db  # noqa: B018 - open now: a first run prints the admin password at start
    return gate
