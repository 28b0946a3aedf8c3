"""Local accounts: user names, roles, Argon2id password hashes, and a lockout after repeated
failed sign-ins. The accounts live in the store (``ops_users``, ``ops_login_failures``) or,
without one, in the local accounts database (:mod:`geo.auth.config`).

Passwords are hashed with Argon2id (argon2-cffi, the RFC 9106 parameters it defaults to: a
random salt per hash, 64 MiB, 3 passes), never stored or logged. After :data:`MAX_FAILURES`
failed sign-ins in a row an account name is locked for :data:`LOCK_S` seconds, doubling with each
further failure up to :data:`LOCK_MAX_S`; a success clears the count. A name that does not exist
is counted and timed like one that does, so sign-in answers do not tell which names exist.

Examples
--------
>>> from geo.auth import Actor
>>> from geo.store import open_store
>>> db = open_store("/tmp/doc-accounts.sqlite")  # doctest: +SKIP
>>> add_user(db, "ana", "operator", "a long passphrase", by=Actor.service("cli", "admin"))
...  # doctest: +SKIP
>>> authenticate(db, "ana", "a long passphrase", client="10.0.0.7").ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo import audit
from geo.auth.roles import ROLES, Actor, require
from geo.errors import InputError

if TYPE_CHECKING:
    from geo.store import Store

__all__ = [
    "LOCK_MAX_S",
    "LOCK_S",
    "MAX_FAILURES",
    "MIN_PASSWORD",
    "SignIn",
    "User",
    "add_user",
    "authenticate",
    "count_users",
    "generate_password",
    "get_user",
    "list_users",
    "set_disabled",
    "set_password",
    "set_role",
]

MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCK_S = 60
LOCK_MAX_S = 3600
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_HASHER = PasswordHasher()
_DUMMY: list[str] = []  # a hash to verify against for unknown names (same time as a real one)


@dataclass(frozen=True)
class User:
    """One account (never its password hash)."""

    username: str
    role: str
    disabled: bool
    created_us: int
    last_login_us: int | None


@dataclass(frozen=True)
class SignIn:
    """The answer to a sign-in: ``user`` when it worked; else ``retry_after_s`` when locked."""

    user: User | None
    retry_after_s: int = 0

    @property
    def ok(self) -> bool:
        return self.user is not None


def _now_us() -> int:
    return time.time_ns() // 1000


def check_username(name: str) -> str:
    """``name`` in its stored form (lower case), or InputError.

    >>> check_username("Ana.Li")
    'ana.li'
    """
    low = str(name).strip().lower()
    if not _NAME.fullmatch(low):
        raise InputError(
            f"'{name}' is not a user name",
            field="username",
            expected="1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
        )
    return low


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"'{role}' is not a role", field="role", expected=", ".join(ROLES))
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"the password has {len(password)} characters",
            field="password",
            expected=f"at least {MIN_PASSWORD} characters (a passphrase is best)",
        )


def generate_password() -> str:
    """A random password (about 120 bits) to hand over once.

    >>> len(generate_password()) >= 20
    True
    """
    return secrets.token_urlsafe(15)


_COLS = "username, role, disabled, created, last_login"


def _user(row: tuple) -> User:
    return User(row[0], row[1], bool(row[2]), int(row[3]), row[4])


def get_user(db: Store, username: str) -> User | None:
    """The account named ``username`` (any case), if there is one."""
    rows = db._sql(f"SELECT {_COLS} FROM ops_users WHERE username = ?", (username.lower(),))
    return _user(rows[0]) if rows else None


def list_users(db: Store) -> list[User]:
    """Every account, by name."""
    return [_user(r) for r in db._sql(f"SELECT {_COLS} FROM ops_users ORDER BY username")]


def count_users(db: Store) -> int:
    """How many accounts there are (0 on a first run)."""
    return int(db._sql("SELECT count(*) FROM ops_users")[0][0])


def add_user(db: Store, username: str, role: str, password: str, *, by: Actor) -> User:
    """Create an account.

    Raises
    ------
    InputError : a bad name, role or a short password, or the name is taken.
    PermissionDenied : ``by`` is not an admin.
    """
    require(by, "users")
    name = check_username(username)
    _check_role(role)
    _check_password(password)
    pw_hash = _HASHER.hash(password)
    now = _now_us()
    with db._sql_tx() as run:
        if run("SELECT 1 FROM ops_users WHERE username = ?", (name,)):
            raise InputError(f"the user '{name}' exists already", field="username")
        run(
            "INSERT INTO ops_users (username, role, pw_hash, disabled, created, changed) "
            "VALUES (?, ?, ?, 0, ?, ?)",
            (name, role, pw_hash, now, now),
        )
    audit.record(db, by, "user_add", target=name, detail={"role": role})
    return User(name, role, False, now, None)


def _update(db: Store, username: str, sql: str, params: tuple) -> str:
    name = username.lower()
    with db._sql_tx() as run:
        if not run("SELECT 1 FROM ops_users WHERE username = ?", (name,)):
            raise InputError(f"there is no user '{username}'", field="username")
        run(sql, (*params, _now_us(), name))
    return name


def set_password(db: Store, username: str, password: str, *, by: Actor) -> None:
    """Change a password (an admin for anyone; a user for themself). The user's open sessions
    end."""
    if by.user != username.lower():
        require(by, "users")
    _check_password(password)
    name = _update(
        db,
        username,
        "UPDATE ops_users SET pw_hash = ?, changed = ? WHERE username = ?",
        (_HASHER.hash(password),),
    )
    _end_sessions(db, name)
    audit.record(db, by, "password_change", target=name)


def set_role(db: Store, username: str, role: str, *, by: Actor) -> None:
    """Give a user another role (from their next page run on: roles are read per session
    check, not kept in the cookie)."""
    require(by, "users")
    _check_role(role)
    before = get_user(db, username)
    name = _update(
        db, username, "UPDATE ops_users SET role = ?, changed = ? WHERE username = ?", (role,)
    )
    audit.record(
        db,
        by,
        "role_change",
        target=name,
        detail={"from": before.role if before else None, "to": role},
    )


def set_disabled(db: Store, username: str, disabled: bool = True, *, by: Actor) -> None:
    """Disable (or enable again) an account; disabling ends its open sessions."""
    require(by, "users")
    name = _update(
        db,
        username,
        "UPDATE ops_users SET disabled = ?, changed = ? WHERE username = ?",
        (1 if disabled else 0,),
    )
    if disabled:
        _end_sessions(db, name)
    audit.record(db, by, "user_disable" if disabled else "user_enable", target=name)


def _end_sessions(db: Store, name: str) -> None:
    db._sql(
        "UPDATE ops_sessions SET revoked = ? WHERE username = ? AND revoked IS NULL",
        (_now_us(), name),
    )


def _verify(pw_hash: str | None, password: str) -> bool:
    if pw_hash is None:
        if not _DUMMY:
            _DUMMY.append(_HASHER.hash(secrets.token_hex(16)))
        pw_hash = _DUMMY[0]
        real = False
    else:
        real = True
    try:
        return _HASHER.verify(pw_hash, password) and real
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(db: Store, username: str, password: str, *, client: str = "") -> SignIn:
    """Check a user name and password; record the attempt in the audit trail.

    Returns
    -------
    SignIn : with the user when the password is right, the account enabled and the name not
        locked; else without (``retry_after_s`` > 0 while the name is locked).
    """
    key = str(username).strip().lower()[:64]
    now = _now_us()
    rows = db._sql("SELECT failures, locked_until FROM ops_login_failures WHERE key = ?", (key,))
    failures, locked_until = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
    if locked_until > now:
        wait = -(-(locked_until - now) // 1_000_000)
        audit.record(db, None, "sign_in_refused", target=key, client=client,
                     detail={"locked_s": wait})  # fmt: skip
        return SignIn(None, int(wait))
    found = db._sql(f"SELECT {_COLS}, pw_hash FROM ops_users WHERE username = ?", (key,))
    row = found[0] if found else None
    ok = _verify(row[5] if row else None, password)
    if ok and row is not None and not row[2]:
        user = _user(row[:5])
        with db._sql_tx() as run:
            run("DELETE FROM ops_login_failures WHERE key = ?", (key,))
            run("UPDATE ops_users SET last_login = ? WHERE username = ?", (now, key))
            if _HASHER.check_needs_rehash(row[5]):
                run("UPDATE ops_users SET pw_hash = ? WHERE username = ?",
                    (_HASHER.hash(password), key))  # fmt: skip
        return SignIn(user)
    failures += 1
    lock = 0
    if failures >= MAX_FAILURES:
        lock = min(LOCK_S * 2 ** (failures - MAX_FAILURES), LOCK_MAX_S)
    with db._sql_tx() as run:
        run("DELETE FROM ops_login_failures WHERE key = ? OR last < ?", (key, now - 86_400_000_000))
        run(
            "INSERT INTO ops_login_failures (key, failures, last, locked_until) "
            "VALUES (?, ?, ?, ?)",
            (key, failures, now, now + lock * 1_000_000),
        )
    reason = "disabled" if (ok and row is not None) else "wrong name or password"
    audit.record(db, None, "sign_in_failed", target=key, client=client,
                 detail={"reason": reason, "failures": failures, "locked_s": lock})  # fmt: skip
    return SignIn(None, lock)
