"""Who may do what: roles and the acting user (:mod:`geo.auth.roles`), local accounts with
slow salted password hashes and sign-in lockout (:mod:`geo.auth.accounts`), signed sessions and
wall-screen display links (:mod:`geo.auth.sessions`), where the accounts live
(:mod:`geo.auth.config`).

No Streamlit and no web framework here: the page (``geo.ui.signin``) and the HTTP middleware
(``geo.web.auth``) both build on these.
"""

from __future__ import annotations

from geo.auth.roles import (
    ACTIONS,
    ROLES,
    Actor,
    PermissionDenied,
    may,
    require,
)

__all__ = ["ACTIONS", "ROLES", "Actor", "PermissionDenied", "may", "require"]
