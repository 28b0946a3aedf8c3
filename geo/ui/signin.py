"""The page's side of sign-in: who acts in this run, checked on every run.

The middleware (:mod:`geo.web.auth`) lets no request without a live session reach the page;
the page checks again, on its own: Streamlit runs it outside that request, so it reads the
websocket's cookie (``st.context.cookies``), verifies its signature with the same key and asks
the store for the session (:func:`geo.auth.sessions.lookup`, at most every few seconds), which
gives the user's *current* role. Live fragments (the wall, the workbench's map) call
:func:`recheck`, so a sign-out, a disabled account or a revoked display link stops them too.

With sign-in off (``CITYOPS_AUTH=off`` on loopback, :mod:`geo.auth.config`) everyone is the
``local`` admin and the workbench says so in a banner.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from typing import Any

import streamlit as st

from geo import audit
from geo.auth import Actor, config, sessions
from geo.store import Store, open_store
from geo.ui import state

__all__ = ["accounts_db", "actor", "auth_off", "gate", "record", "recheck", "sidebar"]

_CACHE_S = 3.0
_checked: dict[str, tuple[float, sessions.Session | None]] = {}


def auth_off() -> bool:
    return config.auth_off(os.environ, st.get_option("server.address"))


@st.cache_resource(show_spinner=False)
def _local_accounts(url: str) -> Store:
    return open_store(url)


def accounts_db() -> Store | None:
    """Where accounts and the audit trail live: the store, else the local accounts file (None
    with sign-in off and no store: the audit then goes to the log only)."""
    db = state.store()
    if db is not None:
        return db
    return None if auth_off() else _local_accounts(config.accounts_url(None))


@st.cache_resource(show_spinner=False)
def _signer() -> sessions.Signer:
    return sessions.Signer(config.secret_key())


def _client() -> str:
    # Streamlit hides a loopback peer (ip_address is None); a real client still sent headers.
    ip = st.context.ip_address
    if isinstance(ip, str) and ip:
        return ip
    try:
        real = len(st.context.headers) > 0
    except TypeError:  # no client at all (a test without a browser)
        real = False
    return "127.0.0.1" if real else "local"


def _session() -> tuple[str | None, sessions.Session | None]:
    sid = _signer().unsign(st.context.cookies.get(sessions.COOKIE))
    if sid is None:
        return None, None
    now = time.monotonic()
    hit = _checked.get(sid)
    if hit is None or now - hit[0] >= _CACHE_S:
        db = accounts_db()
        hit = (now, sessions.lookup(db, sid) if db is not None else None)
        if len(_checked) > 10_000:
            _checked.clear()
        _checked[sid] = hit
    return sid, hit[1]


def _stop(wall: bool) -> None:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    if wall:
        st.error("This screen's display link is no longer valid (revoked or expired).")
    else:
        query = urllib.parse.urlencode({"next": f"{prefix}/", "expired": "1"})
        st.error("You are signed out (or your session has ended).")
        st.link_button("Sign in", f"{prefix}/login?{query}")
    st.stop()


def gate() -> Actor:
    """The acting user of this run (kept for :func:`actor`), or the page stops with a link to
    sign in."""
    if auth_off():
        who = Actor("local", "admin", "auth-off", _client())
    else:
        sid, sess = _session()
        if sess is None:
            _stop(wall=st.session_state.get("_actor_wall", False))
        assert sess is not None and sid is not None
        who = sess.actor(_client())
        st.session_state["_sid"] = sid
        st.session_state["_actor_wall"] = who.wall_only
    st.session_state["_actor"] = who
    return who


def recheck() -> None:
    """In a live fragment: stop it when the session is no longer live."""
    if auth_off():
        return
    _, sess = _session()
    if sess is None:
        _stop(wall=st.session_state.get("_actor_wall", False))
    else:
        st.session_state["_actor"] = sess.actor(_client())


def actor() -> Actor:
    """Who acts in this run (set by :func:`gate`)."""
    who = st.session_state.get("_actor")
    if who is None:  # a page rendered without the gate (a test): act as nobody
        return Actor("anonymous", "viewer", "", _client())
    return who


def record(action: str, **kwargs: Any) -> None:
    """Add a line to the audit trail as the acting user (an export, an acknowledgement)."""
    audit.record(accounts_db(), actor(), action, **kwargs)


def on_export(name: str, layer: str | None = None):  # noqa: ANN201 - a Streamlit callback
    """A download button's ``on_click``: the export goes to the audit trail."""

    def logged() -> None:
        record("export", target=name, layer=layer)

    return logged


def sidebar() -> None:
    """Who is signed in, a sign-out link (with its token: one click, CSRF-safe), the audit
    link for those who may read it, and the loud banner when sign-in is off."""
    who = actor()
    if auth_off():
        st.markdown(
            "<div id='co-auth-off' style='background:#8b1a1a;color:#fff;padding:.5rem .7rem;"
            "border-radius:6px;font-weight:600'>Sign-in is off (CITYOPS_AUTH=off): anyone on "
            "this machine acts as admin. For a single user on loopback only.</div>",
            unsafe_allow_html=True,
        )
        return
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    sid = st.session_state.get("_sid", "")
    token = _signer().token("logout", sid)
    st.caption(f"Signed in as **{_md(who.user)}** · {who.role}")
    links = [f"<a href='{prefix}/logout?t={token}' target='_self' id='co-sign-out'>Sign out</a>"]
    if who.may("audit"):
        links.append(f"<a href='{prefix}/?view=audit' target='_blank' id='co-audit-link'>"
                     "Audit trail ↗</a>")  # fmt: skip
    st.markdown(" · ".join(links), unsafe_allow_html=True)


def _md(text: str) -> str:
    from geo.ui.widgets import plain

    return plain(text)
