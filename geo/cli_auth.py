"""``cityops user``, ``cityops wall-link`` and ``cityops audit``: accounts, display links and the
audit trail from the shell (the argument parsing and printing; the logic is in geo.auth and
geo.audit).

The commands act on the store given by ``--store`` (or ``$CITYOPS_STORE``), else on the local
accounts database (``$CITYOPS_HOME/accounts.sqlite``), as the service account ``cli`` with the
admin role: whoever can run them can write that database anyway. Passwords are read from the
terminal (twice) or, with ``--password-stdin``, from the first line of standard input; a
generated one is printed once.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime
from typing import Any

__all__ = ["add_parsers"]

STORE_ENV = "CITYOPS_STORE"


def _db(args: argparse.Namespace) -> Any:
    from geo.auth import config
    from geo.store import open_store

    return open_store(config.accounts_url(args.store))


def _admin() -> Any:
    from geo.auth import Actor

    return Actor.service("cli", "admin")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated)."""
    from geo.auth import accounts

    if getattr(args, "generate", False):
        return accounts.generate_password(), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        from geo.errors import InputError

        raise InputError("the two passwords differ", field="password")
    return first, False


def _when(us: int | None) -> str:
    return (
        "–"
        if us is None
        else datetime.fromtimestamp(us / 1e6).astimezone().isoformat("T", "seconds")
    )


def cmd_user(args: argparse.Namespace) -> int:
    from geo.auth import accounts

    db = _db(args)
    try:
        if args.user_command == "list":
            for u in accounts.list_users(db):
                state = "disabled" if u.disabled else "active"
                print(
                    f"{u.username:<24} {u.role:<9} {state:<9} last sign-in {_when(u.last_login_us)}"
                )
            return 0
        if args.user_command == "add":
            password, generated = _password(args)
            accounts.add_user(db, args.name, args.role, password, by=_admin())
            print(f"added {args.name.lower()} ({args.role})")
        elif args.user_command == "passwd":
            password, generated = _password(args)
            accounts.set_password(db, args.name, password, by=_admin())
            print(f"password of {args.name.lower()} changed; their sessions ended")
        elif args.user_command == "role":
            accounts.set_role(db, args.name, args.role, by=_admin())
            print(f"{args.name.lower()} is now {args.role}")
            return 0
        else:  # disable / enable
            accounts.set_disabled(db, args.name, args.user_command == "disable", by=_admin())
            print(f"{args.name.lower()} {args.user_command}d")
            return 0
        if generated:
            print(f"password (shown once): {password}")
        return 0
    finally:
        db.close()


def cmd_wall_link(args: argparse.Namespace) -> int:
    from geo.auth import sessions

    db = _db(args)
    try:
        if args.link_command == "create":
            link, token = sessions.create_wall_link(db, args.label, by=_admin())
            base = args.url.rstrip("/")
            print(f"display link {link.link_id} ({link.label}); open on the wall PC (shown once):")
            print(f"{base}/wall/{token}")
        elif args.link_command == "revoke":
            sessions.revoke_wall_link(db, args.id, by=_admin())
            print(f"display link {args.id} revoked; its walls stop within seconds")
        else:
            for w in sessions.list_wall_links(db):
                state = "revoked " + _when(w.revoked_us) if w.revoked_us else "active"
                print(
                    f"{w.link_id}  {w.label:<24} by {w.created_by:<12} "
                    f"{_when(w.created_us)}  {state}"
                )
        return 0
    finally:
        db.close()


def cmd_audit(args: argparse.Namespace) -> int:
    from geo import audit

    db = _db(args)
    try:
        frame = audit.query(
            db, since=args.since, until=args.until, user=args.user, layer=args.layer,
            action=args.action, limit=args.limit,
        )  # fmt: skip
    finally:
        db.close()
    if args.csv:
        sys.stdout.write(audit.to_csv(frame))
        return 0
    for r in frame.itertuples(index=False):
        who = r.user if isinstance(r.user, str) else "–"
        what = " ".join(str(v) for v in (r.layer, r.target) if isinstance(v, str) and v)
        print(f"{r.time:%Y-%m-%d %H:%M:%S%z}  {who:<16} {r.action:<22} {what:<32} "
              f"{r.client or ''}")  # fmt: skip
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``user``, ``wall-link`` and ``audit`` to the ``cityops`` parser."""
    from geo.auth import ROLES

    def store_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--store",
            default=os.environ.get(STORE_ENV),
            help=f"the store that keeps the accounts (default: ${STORE_ENV}, else the local "
            "accounts file under $CITYOPS_HOME)",
        )

    user = sub.add_parser("user", help="accounts: add, passwd, role, disable, enable, list")
    usub = user.add_subparsers(dest="user_command", required=True)
    p = usub.add_parser("add", help="add an account")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--generate", action="store_true", help="generate a password, print it once")
    store_opt(p)
    p = usub.add_parser("passwd", help="set an account's password (ends its sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--generate", action="store_true", help="generate a password, print it once")
    store_opt(p)
    p = usub.add_parser("role", help="give an account another role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    store_opt(p)
    for name in ("disable", "enable"):
        p = usub.add_parser(name, help=f"{name} an account")
        p.add_argument("name")
        store_opt(p)
    p = usub.add_parser("list", help="list the accounts")
    store_opt(p)
    user.set_defaults(func=cmd_user)

    link = sub.add_parser("wall-link", help="display links for wall PCs: create, revoke, list")
    lsub = link.add_subparsers(dest="link_command", required=True)
    p = lsub.add_parser("create", help="a new display link (its URL is shown once)")
    p.add_argument("--label", default="wall", help="which screen, e.g. 'main hall'")
    p.add_argument("--url", default="http://127.0.0.1:8501", help="the app's address")
    store_opt(p)
    p = lsub.add_parser("revoke", help="revoke a display link")
    p.add_argument("id")
    store_opt(p)
    p = lsub.add_parser("list", help="list the display links")
    store_opt(p)
    link.set_defaults(func=cmd_wall_link)

    p = sub.add_parser("audit", help="the audit trail: who changed what, when, from where")
    p.add_argument("--since", help="ISO 8601 time with its offset, e.g. 2026-12-08T08:00+08:00")
    p.add_argument("--until", help="ISO 8601 time with its offset")
    p.add_argument("--user", help="only this user")
    p.add_argument("--layer", help="only this layer (incidents, cordons, ...)")
    p.add_argument("--action", help="only this action (sign_in, export, cordon, ...)")
    p.add_argument("--limit", type=int, default=10_000, help="at most this many lines (newest)")
    p.add_argument("--csv", action="store_true", help="CSV on standard output")
    store_opt(p)
    p.set_defaults(func=cmd_audit)
