"""Roles, what each may do, and the acting user that every write to the shared record carries.

Four roles, each with everything the one before it has:

- ``viewer``: the wall and a read-only workbench (map, tiles, layers).
- ``analyst``: analyses, uploads into their own session, exports.
- ``operator``: writes to the shared record (incidents, drawings, acknowledgements, feed
  layers in the store) and reads the audit trail.
- ``admin``: users and display links.

Examples
--------
>>> from geo.auth.roles import Actor, may
>>> may("analyst", "export"), may("analyst", "write")
(True, False)
>>> Actor("ana", "operator", "s1", "10.0.0.7").may("write")
True
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["ACTIONS", "ROLES", "Actor", "PermissionDenied", "may", "require"]

#: The roles, least to most.
ROLES: tuple[str, ...] = ("viewer", "analyst", "operator", "admin")

#: Each action and the least role that may do it.
ACTIONS: dict[str, str] = {
    "view": "viewer",
    "analyse": "analyst",
    "upload": "analyst",  # into the user's own session
    "export": "analyst",
    "write": "operator",  # the shared record: the store's layers
    "ack": "operator",
    "audit": "operator",
    "users": "admin",
}


class PermissionDenied(PermissionError):
    """The acting user's role does not allow the action (or there is no acting user)."""


def _rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        return -1  # an unknown role may do nothing


def may(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action`` (a key of :data:`ACTIONS`).

    >>> may("viewer", "view"), may("viewer", "export"), may(None, "view")
    (True, False, False)
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action '{action}' (expected one of {', '.join(ACTIONS)})")
    return role is not None and _rank(role) >= _rank(ACTIONS[action])


@dataclass(frozen=True)
class Actor:
    """Who acts: set by the server from a verified session, never taken from the client.

    Parameters
    ----------
    user : the account name (``ingest`` and the like for service accounts).
    role : one of :data:`ROLES`.
    session : a non-secret id of the sign-in session (or the process, for services).
    client : the client's network address (or the host, for services).
    wall_only : a display-link session: the wall screen and nothing else.

    Examples
    --------
    >>> Actor.service("ingest").user
    'ingest'
    """

    user: str
    role: str
    session: str = ""
    client: str = ""
    wall_only: bool = False

    def may(self, action: str) -> bool:
        """Whether this actor may do ``action`` (a wall session may only view)."""
        if self.wall_only and action != "view":
            return False
        return may(self.role, action)

    @classmethod
    def service(cls, name: str, role: str = "operator") -> Actor:
        """A named service account (the feed ingester, the scenario loader, a script)."""
        return cls(name, role, f"pid:{os.getpid()}", socket.gethostname())


def require(actor: Actor | None, action: str) -> Actor:
    """``actor`` when it may do ``action``; else :class:`PermissionDenied`.

    >>> require(Actor("v", "viewer"), "write")
    Traceback (most recent call last):
    ...
    geo.auth.roles.PermissionDenied: 'v' (viewer) may not write (needs operator)
    """
    if actor is None:
        raise PermissionDenied(f"no signed-in user: {action} needs {ACTIONS[action]}")
    if not actor.may(action):
        what = "display link" if actor.wall_only else actor.role
        raise PermissionDenied(
            f"'{actor.user}' ({what}) may not {action} (needs {ACTIONS[action]})"
        )
    return actor
