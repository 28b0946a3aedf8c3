"""Sign-in sessions and wall-screen display links.

A session is a random id held by the browser in a signed, HttpOnly, SameSite=Strict cookie
(:class:`Signer`, itsdangerous); the store keeps only its SHA-256 (``ops_sessions``), with the
user, the kind (``password`` or ``wall``), when it expires and whether it was ended. Every check
(:func:`lookup`) reads the user's *current* role and state, so a role change, a disabled account,
a sign-out or a revoked display link takes effect at the next check, not when the cookie expires.

A display link (:func:`create_wall_link`) is a long random token in a URL (``/wall/<token>``): it
opens a ``wall`` session whose actor is a viewer limited to ``?view=wall``. Only its hash is
stored; revoking it ends every session it opened.

Examples
--------
>>> s = Signer("k" * 64)
>>> s.unsign(s.sign("abc"))
'abc'
>>> s.unsign(s.sign("abc") + "x") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeTimedSerializer

from geo import audit
from geo.auth.roles import Actor, require
from geo.errors import InputError

if TYPE_CHECKING:
    from geo.store import Store

__all__ = [
    "COOKIE",
    "SESSION_HOURS",
    "WALL_DAYS",
    "Session",
    "Signer",
    "WallLink",
    "create_wall_link",
    "end",
    "list_wall_links",
    "lookup",
    "new_session",
    "open_wall_link",
    "ref",
    "revoke_wall_link",
]

COOKIE = "cityops_session"
#: A signed-in session lasts one shift; a display link's session a month (re-opening the link
#: starts a new one).
SESSION_HOURS = 12.0
WALL_DAYS = 30.0
_US_PER_H = 3_600_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ref(sid: str) -> str:
    """A short, non-secret name of a session for the audit trail (the id itself is a bearer
    secret and never recorded).

    >>> len(ref("abc"))
    12
    """
    return _hash(sid)[:12]


class Signer:
    """Signs and checks cookie values and form tokens with the server's secret key."""

    def __init__(self, secret_key: str, max_age_s: float = WALL_DAYS * 86_400) -> None:
        if len(secret_key) < 32:
            raise ValueError("the secret key must have at least 32 characters")
        self._key = secret_key
        self._cookie = URLSafeTimedSerializer(secret_key, salt="cityops-session")
        self.max_age_s = max_age_s

    def sign(self, sid: str) -> str:
        return self._cookie.dumps(sid)

    def unsign(self, value: str | None) -> str | None:
        """The session id in a cookie value, or None when it is not ours (or too old)."""
        if not value:
            return None
        try:
            sid = self._cookie.loads(value, max_age=int(self.max_age_s))
        except BadSignature:  # SignatureExpired is one
            return None
        return sid if isinstance(sid, str) else None

    def token(self, purpose: str, value: str) -> str:
        """A token tying ``value`` (a pre-session nonce, a session id) to ``purpose``, for
        CSRF-safe forms and links."""
        msg = f"{purpose}\x1f{value}".encode()
        return hmac.new(self._key.encode(), msg, hashlib.sha256).hexdigest()

    def check_token(self, purpose: str, value: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.token(purpose, value), str(token))


@dataclass(frozen=True)
class Session:
    """A live session, with its user's current role."""

    ref: str
    username: str
    role: str
    kind: str  # "password" or "wall"
    expires_us: int
    link_id: str | None = None

    def actor(self, client: str) -> Actor:
        """The acting user of this session from ``client``."""
        return Actor(self.username, self.role, self.ref, client, wall_only=self.kind == "wall")


def new_session(
    db: Store,
    username: str,
    *,
    kind: str = "password",
    client: str = "",
    hours: float = SESSION_HOURS,
    link_id: str | None = None,
) -> str:
    """Start a session; returns its id (to sign into the cookie, never to store)."""
    sid = secrets.token_urlsafe(32)
    now = _now_us()
    db._sql(
        "INSERT INTO ops_sessions (sid_hash, username, kind, created, expires, client, link_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (_hash(sid), username, kind, now, now + int(hours * _US_PER_H), client, link_id),
    )
    return sid


def lookup(db: Store, sid: str | None) -> Session | None:
    """The session ``sid`` if it is live: not ended nor expired, its account enabled (or its
    display link not revoked)."""
    if not sid:
        return None
    rows = db._sql(
        "SELECT s.sid_hash, s.username, s.kind, s.expires, s.link_id, u.role, u.disabled, "
        "w.revoked FROM ops_sessions s "
        "LEFT JOIN ops_users u ON u.username = s.username "
        "LEFT JOIN ops_wall_links w ON w.link_id = s.link_id "
        "WHERE s.sid_hash = ? AND s.revoked IS NULL",
        (_hash(sid),),
    )
    if not rows:
        return None
    h, username, kind, expires, link_id, role, disabled, link_revoked = rows[0]
    if int(expires) <= _now_us():
        return None
    if kind == "wall":
        if link_id is None or link_revoked is not None:
            return None
        role = "viewer"
    elif role is None or disabled:
        return None
    return Session(h[:12], username, role, kind, int(expires), link_id)


def end(db: Store, sid: str) -> None:
    """End a session (sign-out)."""
    db._sql(
        "UPDATE ops_sessions SET revoked = ? WHERE sid_hash = ? AND revoked IS NULL",
        (_now_us(), _hash(sid)),
    )


# --- display links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WallLink:
    """A display link (never its token, which is shown once when created)."""

    link_id: str
    label: str
    created_us: int
    created_by: str
    revoked_us: int | None


def create_wall_link(db: Store, label: str, *, by: Actor) -> tuple[WallLink, str]:
    """A new display link for a wall PC: returns it and its token (shown once; the URL is
    ``<app>/wall/<token>``).

    Raises
    ------
    PermissionDenied : ``by`` is not an admin.
    """
    require(by, "users")
    label = str(label).strip()[:80] or "wall"
    token = secrets.token_urlsafe(32)
    link_id = secrets.token_hex(4)
    now = _now_us()
    db._sql(
        "INSERT INTO ops_wall_links (link_id, token_hash, label, created, created_by) "
        "VALUES (?, ?, ?, ?, ?)",
        (link_id, _hash(token), label, now, by.user),
    )
    audit.record(db, by, "wall_link_create", target=link_id, detail={"label": label})
    return WallLink(link_id, label, now, by.user, None), token


def list_wall_links(db: Store) -> list[WallLink]:
    """Every display link, newest first."""
    rows = db._sql(
        "SELECT link_id, label, created, created_by, revoked FROM ops_wall_links "
        "ORDER BY created DESC"
    )
    return [WallLink(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]


def revoke_wall_link(db: Store, link_id: str, *, by: Actor) -> None:
    """Revoke a display link: the walls showing it stop at their next check."""
    require(by, "users")
    now = _now_us()
    with db._sql_tx() as run:
        if not run("SELECT 1 FROM ops_wall_links WHERE link_id = ?", (link_id,)):
            raise InputError(f"there is no display link '{link_id}'", field="link")
        run("UPDATE ops_wall_links SET revoked = ? WHERE link_id = ? AND revoked IS NULL",
            (now, link_id))  # fmt: skip
        run("UPDATE ops_sessions SET revoked = ? WHERE link_id = ? AND revoked IS NULL",
            (now, link_id))  # fmt: skip
    audit.record(db, by, "wall_link_revoke", target=link_id)


def open_wall_link(db: Store, token: str, *, client: str = "") -> str | None:
    """A new ``wall`` session for a valid display-link token (None when unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    rows = db._sql(
        "SELECT link_id, label FROM ops_wall_links WHERE token_hash = ? AND revoked IS NULL",
        (_hash(token),),
    )
    if not rows:
        return None
    link_id, label = rows[0]
    sid = new_session(
        db, f"wall:{link_id}", kind="wall", client=client, hours=WALL_DAYS * 24, link_id=link_id
    )
    who = Actor(f"wall:{link_id}", "viewer", ref(sid), client, wall_only=True)
    audit.record(db, who, "wall_link_open", target=link_id, detail={"label": label})
    return sid
