"""Where the accounts live, the server's secret key, and whether sign-in is on.

- Accounts, sessions, display links and the audit table live in the operations store when the
  app has one (``--store`` / ``CITYOPS_STORE``), else in a local SQLite file,
  ``$CITYOPS_HOME/accounts.sqlite`` (default ``~/.config/cityops``).
- The secret key that signs cookies comes from ``CITYOPS_SECRET_KEY`` (give every app process
  behind one address the same), else from ``$CITYOPS_HOME/secret_key``, created on first run
  (mode 0600; never commit it).
- ``CITYOPS_AUTH=off`` turns sign-in off, for a single user on their own machine and for the
  test suite. It is honoured only when the server listens on loopback (127.0.0.1 or ::1), and
  the page says so in a banner; anywhere else the server refuses to start with it.

Examples
--------
>>> auth_off({"CITYOPS_AUTH": "off"}, "127.0.0.1"), auth_off({"CITYOPS_AUTH": "off"}, "0.0.0.0")
(True, False)
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from geo.auth import accounts
from geo.auth.roles import Actor

__all__ = [
    "AUTH_ENV",
    "HOME_ENV",
    "SECRET_ENV",
    "accounts_url",
    "auth_off",
    "first_run_admin",
    "home",
    "is_loopback",
    "secret_key",
]

AUTH_ENV = "CITYOPS_AUTH"
HOME_ENV = "CITYOPS_HOME"
SECRET_ENV = "CITYOPS_SECRET_KEY"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def home() -> Path:
    """CityOps' own folder for the local accounts database and the secret key."""
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else Path.home() / ".config" / "cityops"


def accounts_url(store_url: str | None) -> str:
    """The store that keeps the accounts: the operations store, else the local file."""
    return store_url or f"sqlite:///{home() / 'accounts.sqlite'}"


def secret_key() -> str:
    """The key that signs session cookies and form tokens (see the module docstring)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        if len(env) < 32:
            raise ValueError(f"{SECRET_ENV} must have at least 32 characters")
        return env
    path = home() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once do not overwrite each other's key
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def is_loopback(address: str | None) -> bool:
    """Whether a bind (or client) address is this machine only."""
    return (address or "").strip("[]") in _LOOPBACK


def auth_off(env: Mapping[str, str], bind_address: str | None) -> bool:
    """Whether sign-in is off: ``CITYOPS_AUTH=off`` and the server bound to loopback."""
    return env.get(AUTH_ENV, "").lower() == "off" and is_loopback(bind_address)


def first_run_admin(db, *, out=sys.stderr) -> str | None:  # noqa: ANN001
    """On a first run (no account at all) create ``admin`` with a generated password and print
    it once to ``out`` (the terminal that started CityOps); returns the password."""
    if accounts.count_users(db):
        return None
    password = accounts.generate_password()
    try:
        accounts.add_user(db, "admin", "admin", password, by=Actor.service("first-run", "admin"))
    except Exception:  # noqa: BLE001 - another process created it meanwhile
        return None
    print(
        "\n"
        "  CityOps first run: created the account 'admin' with the password\n"
        f"      {password}\n"
        "  It is shown only now. Sign in, then add accounts with `cityops user add`.\n",
        file=out,
        flush=True,
    )
    return password
