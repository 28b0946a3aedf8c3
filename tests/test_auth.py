"""Sign-in and roles (issue #18, part 1): accounts, sessions, display links, the store's
refusals and the middleware in front of the app, without a browser (tests/test_auth_browser.py
drives the whole app)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import threading
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
import shapely

from geo import audit
from geo.auth import Actor, PermissionDenied, accounts, may, sessions
from geo.errors import InputError
from geo.store import SCHEMA_VERSION, Event, open_store
from geo.web.auth import AuthMiddleware, Gate, safe_next
from tests.pg_server import backend_url, backends

ADMIN = Actor.service("test-admin", "admin")
PASSWORD = "correct horse battery"
KEY = "k" * 64


@pytest.fixture
def db(tmp_path: Path):
    st = open_store(tmp_path / "ops.sqlite")
    yield st
    st.close()


def _incident(i: str = "i1") -> Event:
    props = {"kind": "fire", "severity": 4, "reported_at": "2021-10-31T18:05:00+08:00"}
    return Event("incident", i, "2021-10-31T18:05:00+08:00", props, shapely.Point(121.66, 31.14))


# --- roles and the store ------------------------------------------------------------------------


def test_roles_are_ordered_and_a_display_link_only_views() -> None:
    assert [may(r, "write") for r in ("viewer", "analyst", "operator", "admin")] == [
        False, False, True, True,
    ]  # fmt: skip
    assert may("analyst", "export") and not may("viewer", "export")
    assert not may("nobody", "view")
    wall = Actor("wall:x", "viewer", wall_only=True)
    assert wall.may("view") and not wall.may("export")


@pytest.mark.parametrize("backend", backends())
def test_the_store_refuses_a_write_without_a_permitted_user(backend: str, tmp_path: Path) -> None:
    with open_store(backend_url(backend, tmp_path)) as st:
        with pytest.raises(PermissionDenied, match="no signed-in user"):
            st.append([_incident()])
        for role in ("viewer", "analyst"):
            with pytest.raises(PermissionDenied, match=f"\\({role}\\) may not write"):
                st.append([_incident()], actor=Actor("v", role, "s", "10.0.0.9"))
            with pytest.raises(PermissionDenied):
                st.remove("cordons", "c1", actor=Actor("v", role))
            with pytest.raises(PermissionDenied):
                st.put_drawing("cordons", "c1", shapely.box(0, 0, 1, 1), actor=Actor("v", role))
        with pytest.raises(PermissionDenied):  # a display link can never write, whatever role
            st.append([_incident()], actor=Actor("w", "admin", wall_only=True))
        assert st.count() == 0
        op = Actor("olga", "operator", "abc123", "10.0.0.7")
        st.append([_incident()], actor=op)
        ev = st.events()
        assert ev[["actor", "session", "client"]].iloc[0].tolist() == ["olga", "abc123", "10.0.0.7"]


def test_a_schema_1_store_is_migrated_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE ops_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO ops_meta VALUES ('schema_version', '1');
        CREATE TABLE ops_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL
            UNIQUE, kind TEXT NOT NULL, layer TEXT NOT NULL, entity_id TEXT NOT NULL,
            t INTEGER NOT NULL, received INTEGER NOT NULL, source TEXT, props TEXT NOT NULL,
            geom BLOB);
        CREATE TABLE ops_entities (layer TEXT NOT NULL, entity_id TEXT NOT NULL,
            PRIMARY KEY (layer, entity_id)) WITHOUT ROWID;
        """
    )
    wkb = shapely.to_wkb(shapely.Point(121.66, 31.14))
    props = '{"kind":"fire","reported_at":"2021-10-31T18:05:00+08:00","severity":4}'
    con.execute(
        "INSERT INTO ops_events (event_id, kind, layer, entity_id, t, received, source, props, "
        "geom) VALUES ('e1', 'incident', 'incidents', 'i0', 1635674700000000, 1, 'app', ?, ?)",
        (props, wkb),
    )
    con.execute("INSERT INTO ops_entities VALUES ('incidents', 'i0')")
    con.commit()
    con.close()
    with open_store(path) as st:
        assert list(st.current("incidents")["id"]) == ["i0"]
        assert st.events()["actor"].isna().all()  # written before anyone signed in
        st.append([_incident("i1")], actor=Actor("olga", "operator", "s", "c"))
        assert sorted(st.current("incidents")["id"]) == ["i0", "i1"]
        assert accounts.count_users(st) == 0  # the accounts tables exist now
    version = sqlite3.connect(path).execute("SELECT value FROM ops_meta").fetchone()[0]
    assert int(version) == SCHEMA_VERSION == 2


# --- accounts -----------------------------------------------------------------------------------


def test_passwords_are_argon2id_hashes_and_sign_in_checks_them(db) -> None:
    accounts.add_user(db, "Ana", "operator", PASSWORD, by=ADMIN)
    (stored,) = db._sql("SELECT pw_hash FROM ops_users WHERE username = 'ana'")[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    (other,) = db._sql("SELECT pw_hash FROM ops_users")[0]
    assert accounts.authenticate(db, "ANA", PASSWORD, client="10.0.0.1").user.role == "operator"
    assert not accounts.authenticate(db, "ana", PASSWORD + "x").ok
    assert not accounts.authenticate(db, "nobody", PASSWORD).ok
    with pytest.raises(InputError, match="exists already"):
        accounts.add_user(db, "ana", "viewer", PASSWORD, by=ADMIN)
    with pytest.raises(InputError, match="characters"):
        accounts.add_user(db, "bob", "viewer", "short", by=ADMIN)
    with pytest.raises(InputError, match="not a user name"):
        accounts.add_user(db, "<b>x</b>", "viewer", PASSWORD, by=ADMIN)
    with pytest.raises(InputError, match="not a role"):
        accounts.add_user(db, "bob", "root", PASSWORD, by=ADMIN)
    with pytest.raises(PermissionDenied):
        accounts.add_user(db, "bob", "admin", PASSWORD, by=Actor("ana", "operator"))
    # two hashes of one password differ (a salt each)
    accounts.add_user(db, "bob", "viewer", PASSWORD, by=ADMIN)
    hashes = {r[0] for r in db._sql("SELECT pw_hash FROM ops_users")}
    assert len(hashes) == 2 and other in hashes


def test_repeated_failures_lock_the_name_even_for_the_right_password(db, monkeypatch) -> None:
    accounts.add_user(db, "ana", "analyst", PASSWORD, by=ADMIN)
    for _ in range(accounts.MAX_FAILURES - 1):
        assert accounts.authenticate(db, "ana", "wrong password!").retry_after_s == 0
    locked = accounts.authenticate(db, "ana", "wrong password!")
    assert not locked.ok and locked.retry_after_s == accounts.LOCK_S
    assert not accounts.authenticate(db, "ana", PASSWORD).ok  # locked: refused all the same
    # the lock doubles with the next failure after it expires; a success clears the count
    db._sql("UPDATE ops_login_failures SET locked_until = 0")
    assert accounts.authenticate(db, "ana", "wrong again!!").retry_after_s == 2 * accounts.LOCK_S
    db._sql("UPDATE ops_login_failures SET locked_until = 0")
    assert accounts.authenticate(db, "ana", PASSWORD).ok
    assert db._sql("SELECT count(*) FROM ops_login_failures")[0][0] == 0
    log = audit.query(db, action="sign_in_failed")
    assert len(log) == accounts.MAX_FAILURES + 1 and set(log["target"]) == {"ana"}
    assert len(audit.query(db, action="sign_in_refused")) == 1


def test_disabled_accounts_and_role_changes_take_effect_at_the_next_check(db) -> None:
    accounts.add_user(db, "ana", "analyst", PASSWORD, by=ADMIN)
    sid = sessions.new_session(db, "ana")
    assert sessions.lookup(db, sid).role == "analyst"
    accounts.set_role(db, "ana", "operator", by=ADMIN)
    assert sessions.lookup(db, sid).role == "operator"
    accounts.set_disabled(db, "ana", by=ADMIN)
    assert sessions.lookup(db, sid) is None
    assert not accounts.authenticate(db, "ana", PASSWORD).ok
    accounts.set_disabled(db, "ana", False, by=ADMIN)
    sid = sessions.new_session(db, "ana")
    accounts.set_password(db, "ana", PASSWORD + "!", by=ADMIN)
    assert sessions.lookup(db, sid) is None  # a new password ends the open sessions
    actions = list(audit.query(db)["action"])
    assert {"role_change", "user_disable", "user_enable", "password_change"} <= set(actions)


def test_sessions_expire_end_and_are_stored_hashed(db) -> None:
    accounts.add_user(db, "ana", "viewer", PASSWORD, by=ADMIN)
    sid = sessions.new_session(db, "ana", client="10.0.0.1")
    assert not db._sql("SELECT 1 FROM ops_sessions WHERE sid_hash = ?", (sid,))
    assert sessions.lookup(db, sid).actor("10.0.0.2").client == "10.0.0.2"
    sessions.end(db, sid)
    assert sessions.lookup(db, sid) is None
    old = sessions.new_session(db, "ana", hours=-1)
    assert sessions.lookup(db, old) is None
    assert sessions.lookup(db, "made-up") is None


def test_cookies_are_signed() -> None:
    s = sessions.Signer(KEY)
    value = s.sign("abc")
    assert s.unsign(value) == "abc"
    assert s.unsign(value[:-2] + "xx") is None
    assert sessions.Signer("z" * 64).unsign(value) is None  # another server's key
    assert s.unsign("abc") is None and s.unsign(None) is None
    with pytest.raises(ValueError):
        sessions.Signer("short")


def test_a_display_link_opens_a_wall_session_until_revoked(db) -> None:
    with pytest.raises(PermissionDenied):
        sessions.create_wall_link(db, "hall", by=Actor("o", "operator"))
    link, token = sessions.create_wall_link(db, "main hall", by=ADMIN)
    assert len(token) >= 40 and not db._sql(
        "SELECT 1 FROM ops_wall_links WHERE token_hash = ?", (token,)
    )
    sid = sessions.open_wall_link(db, token, client="10.1.1.1")
    who = sessions.lookup(db, sid).actor("10.1.1.1")
    assert who.wall_only and who.role == "viewer" and not who.may("export")
    assert sessions.open_wall_link(db, token[:-1] + "x") is None
    sessions.revoke_wall_link(db, link.link_id, by=ADMIN)
    assert sessions.lookup(db, sid) is None
    assert sessions.open_wall_link(db, token) is None
    assert [w.revoked_us is not None for w in sessions.list_wall_links(db)] == [True]


# --- the middleware -----------------------------------------------------------------------------


class _Inner:
    """Stands for Streamlit behind the middleware: says what it got."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Actor | None]] = []

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        self.seen.append((scope["path"], scope.get("state", {}).get("cityops_actor")))
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def _call(app, path: str, *, method: str = "GET", headers=None, body: bytes = b"",
          client: str = "10.0.0.5", ws: bool = False):  # fmt: skip
    """One request through an ASGI app; returns (status, headers dict, body)."""
    path, _, query = path.partition("?")
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    hdrs.append((b"host", b"testserver"))
    scope = {
        "type": "websocket" if ws else "http", "method": method, "path": path,
        "raw_path": path.encode(), "query_string": query.encode(), "headers": hdrs,
        "client": (client, 5555), "server": ("testserver", 80), "scheme": "http",
        "root_path": "", "http_version": "1.1",
    }  # fmt: skip
    out: dict = {"status": None, "headers": [], "body": b""}
    sent = [False]

    async def receive():
        if ws:
            return {"type": "websocket.connect"}
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"], out["headers"] = msg["status"], msg.get("headers", [])
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")
        elif msg["type"] == "websocket.close":
            out["status"] = ("close", msg["code"])
        elif msg["type"] == "websocket.accept":
            out["status"] = "accept"

    # In a thread of its own: a Playwright browser in this worker keeps an event loop running
    # in the main thread, where asyncio.run() refuses to start another.
    worker = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    worker.start()
    worker.join()
    heads: dict[str, list[str]] = {}
    for k, v in out["headers"]:
        heads.setdefault(k.decode().lower(), []).append(v.decode())
    return out["status"], heads, out["body"].decode("utf-8", "replace")


@pytest.fixture
def gated(db):
    accounts.add_user(db, "vera", "viewer", PASSWORD, by=ADMIN)
    accounts.add_user(db, "ana", "analyst", PASSWORD, by=ADMIN)
    accounts.add_user(db, "root", "admin", PASSWORD, by=ADMIN)
    inner = _Inner()
    gate = Gate(lambda: db, KEY)
    return AuthMiddleware(inner, gate), inner, gate


def _sign_in(app, user: str, password: str = PASSWORD, next_url: str = "/"):
    status, heads, _ = _call(app, "/login", headers={"accept": "text/html"})
    nonce = next(c for c in heads["set-cookie"] if c.startswith("cityops_login="))
    nonce = nonce.split(";")[0].split("=", 1)[1]
    page = _call(app, "/login", headers={"cookie": f"cityops_login={nonce}"})[2]
    csrf = page.split("name='csrf' value='")[1].split("'")[0]
    form = urllib.parse.urlencode(
        {"csrf": csrf, "next": next_url, "username": user, "password": password}
    )
    return _call(
        app, "/login", method="POST", body=form.encode(),
        headers={"cookie": f"cityops_login={nonce}", "content-type":
                 "application/x-www-form-urlencoded", "origin": "http://testserver"},
    )  # fmt: skip


def _session_cookie(heads) -> str:
    c = next(c for c in heads["set-cookie"] if c.startswith(sessions.COOKIE + "="))
    return c.split(";")[0]


def test_nothing_is_served_without_a_session_but_health_and_sign_in(gated) -> None:
    app, inner, _ = gated
    status, heads, _ = _call(app, "/?view=wall", headers={"accept": "text/html"})
    assert status == 303 and heads["location"] == ["/login?next=%2F%3Fview%3Dwall"]
    for path in ("/_stcore/upload_file/s/f", "/_stcore/metrics", "/app/static/x.js", "/api/v"):
        assert _call(app, path)[0] == 401, path
    assert _call(app, "/_stcore/stream", ws=True)[0] == ("close", 1008)
    assert _call(app, "/_stcore/health")[0] == 200
    forged = {"cookie": f"{sessions.COOKIE}=" + sessions.Signer("x" * 64).sign("abc")}
    assert _call(app, "/", headers=forged)[0] == 401
    assert [p for p, _ in inner.seen] == ["/_stcore/health"]


def test_sign_in_sets_a_strict_httponly_cookie_and_roles_are_enforced(gated, db) -> None:
    app, inner, _ = gated
    status, heads, _ = _sign_in(app, "vera", next_url="/?view=wall")
    assert status == 303 and heads["location"] == ["/?view=wall"]
    cookie = next(c for c in heads["set-cookie"] if c.startswith(sessions.COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    vera = {"cookie": _session_cookie(heads)}
    assert _call(app, "/", headers=vera)[0] == 200
    assert inner.seen[-1][1].user == "vera" and inner.seen[-1][1].client == "10.0.0.5"
    # a viewer's direct upload is refused by the server, whatever the page shows
    assert _call(app, "/_stcore/upload_file/s/f", method="PUT", headers=vera)[0] == 403
    assert _call(app, "/_stcore/metrics", headers=vera)[0] == 403
    ana = {"cookie": _session_cookie(_sign_in(app, "ana")[1])}
    assert _call(app, "/_stcore/upload_file/s/f", method="PUT", headers=ana)[0] == 200
    assert _call(app, "/_stcore/metrics", headers=ana)[0] == 403
    root = {"cookie": _session_cookie(_sign_in(app, "root")[1])}
    assert _call(app, "/_stcore/metrics", headers=root)[0] == 200
    assert _call(app, "/_stcore/stream", ws=True, headers=ana)[0] == "accept"
    signed_in = audit.query(db, action="sign_in")
    assert sorted(signed_in["user"]) == ["ana", "root", "vera"]
    assert set(signed_in["client"]) == {"10.0.0.5"}


def test_the_sign_in_form_is_csrf_safe_and_says_nothing_about_names(gated, db) -> None:
    app, _, _ = gated
    form = urllib.parse.urlencode({"username": "vera", "password": PASSWORD}).encode()
    status, _, page = _call(app, "/login", method="POST", body=form)
    assert status == 400 and "expired" in page  # no nonce cookie, no token: no sign-in
    cross = _call(app, "/login", method="POST", body=form, headers={"origin": "http://evil.x"})
    assert cross[0] == 403
    wrong = _sign_in(app, "vera", "not the password")
    unknown = _sign_in(app, "nobody", "not the password")
    assert wrong[0] == unknown[0] == 401
    assert (
        "Wrong user name or password." in wrong[2] and "Wrong user name or password." in unknown[2]
    )
    assert sessions.COOKIE not in " ".join(wrong[1].get("set-cookie", []))
    assert len(audit.query(db, action="sign_in_failed")) == 2
    # the form echoes the name typed, escaped
    assert "&lt;b&gt;" in _sign_in(app, "<b>x</b>", "nope")[2]


def test_sign_out_needs_the_pages_token_and_ends_the_session(gated, db) -> None:
    app, _, gate = gated
    heads = _sign_in(app, "ana")[1]
    ana = {"cookie": _session_cookie(heads)}
    sid = gate.signer.unsign(ana["cookie"].split("=", 1)[1])
    status, _, page = _call(app, "/logout", headers=ana)  # a bare link (or a forged one): asks
    assert status == 200 and "Sign out of CityOps?" in page
    assert _call(app, "/", headers=ana)[0] == 200
    token = gate.signer.token("logout", sid)
    status, heads, _ = _call(app, f"/logout?t={token}", headers=ana)
    assert status == 303 and heads["location"] == ["/login?out=1"]
    gate.forget(sid)
    assert _call(app, "/", headers=ana)[0] == 401
    assert list(audit.query(db, action="sign_out")["user"]) == ["ana"]


def test_a_display_link_signs_a_wall_in_and_can_only_view(gated, db) -> None:
    app, inner, _ = gated
    link, token = sessions.create_wall_link(db, "hall", by=ADMIN)
    assert _call(app, "/wall/not-a-token")[0] == 404
    status, heads, _ = _call(app, f"/wall/{token}")
    assert status == 303 and heads["location"] == ["/?view=wall"]
    wall = {"cookie": _session_cookie(heads)}
    assert _call(app, "/", headers=wall)[0] == 200 and inner.seen[-1][1].wall_only
    assert _call(app, "/_stcore/upload_file/a/b", method="PUT", headers=wall)[0] == 403
    assert _call(app, "/api/anything", method="POST", headers=wall)[0] == 403


def test_sign_in_off_is_for_loopback_clients_only(db) -> None:
    inner = _Inner()
    app = AuthMiddleware(inner, Gate(lambda: db, KEY, off=True))
    assert _call(app, "/", client="127.0.0.1")[0] == 200
    assert inner.seen[-1][1].user == "local"
    assert _call(app, "/", client="10.0.0.5")[0] == 403
    proxied = {"x-forwarded-for": "10.0.0.5"}
    assert _call(app, "/", client="127.0.0.1", headers=proxied)[0] == 403


def test_after_sign_in_the_browser_only_goes_to_this_site() -> None:
    assert safe_next("/?view=wall&cordon.rings=1") == "/?view=wall&cordon.rings=1"
    for bad in ("//evil.x/", "https://evil.x/", "/\\evil.x", "javascript:alert(1)", None, ""):
        assert safe_next(bad) == "/"


def test_the_audit_times_are_the_servers(db) -> None:
    before = pd.Timestamp.now(tz="UTC")
    audit.record(db, Actor("ana", "analyst", "s", "c"), "export", target="x.geojson")
    t = audit.query(db)["time"].iloc[0]
    assert before - pd.Timedelta(seconds=1) <= t <= pd.Timestamp.now(tz="UTC")


def test_one_address_may_only_try_so_many_sign_ins_a_minute(gated, monkeypatch) -> None:
    from geo.web import auth

    app, _, gate = gated
    gate.throttle = auth._Throttle(3)
    statuses = [_sign_in(app, "vera", "wrong password!")[0] for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert _call(app, "/login", method="POST", client="10.9.9.9")[0] == 400  # another address


def test_a_first_run_creates_admin_once_and_the_sign_in_page_says_where_its_password_is(
    tmp_path: Path,
) -> None:
    from geo.auth import config

    out = io.StringIO()
    with open_store(tmp_path / "ops.sqlite") as db:
        password = config.first_run_admin(db, out=out)
        assert password and password in out.getvalue()
        assert config.first_run_admin(db, out=io.StringIO()) is None  # once
        assert accounts.authenticate(db, "admin", password).user.role == "admin"
        app = AuthMiddleware(_Inner(), Gate(lambda: db, KEY))
        db._sql("UPDATE ops_users SET last_login = NULL")
        assert "printed once in the terminal" in _call(app, "/login")[2]
        accounts.authenticate(db, "admin", password)
        assert "printed once" not in _call(app, "/login")[2]


def test_sign_in_off_refuses_to_start_on_a_network_address(monkeypatch, tmp_path: Path) -> None:
    from geo.web.auth import gate_from_env

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    monkeypatch.setenv("CITYOPS_AUTH", "off")
    with pytest.raises(SystemExit, match="only honoured when the server listens on 127.0.0.1"):
        gate_from_env(None, "0.0.0.0")
    with pytest.raises(SystemExit):
        gate_from_env(None, None)  # Streamlit's default: every interface
    assert gate_from_env(None, "127.0.0.1").off
    assert not (tmp_path / "accounts.sqlite").exists()  # sign-in off touches no accounts


def test_the_secret_key_is_generated_once_private_or_taken_from_the_environment(
    monkeypatch, tmp_path: Path
) -> None:
    from geo.auth import config

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    monkeypatch.delenv("CITYOPS_SECRET_KEY", raising=False)
    key = config.secret_key()
    assert len(key) == 64 and config.secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("CITYOPS_SECRET_KEY", "s" * 40)
    assert config.secret_key() == "s" * 40
    monkeypatch.setenv("CITYOPS_SECRET_KEY", "short")
    with pytest.raises(ValueError):
        config.secret_key()
