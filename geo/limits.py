"""Input limits: the one place that says how big a file, how many features and how long a value
may be, for uploads, every reader and the feed ingester; and how values are quoted in messages.

Each limit can be changed with an environment variable (read at each call, so a test or a
deployment can set it without restarting anything):

======================  ===========================  ===========================================
limit                   environment variable         default
======================  ===========================  ===========================================
``max_bytes``           ``CITYOPS_MAX_BYTES``        200 MiB: a file read as a layer or uploaded
``max_feed_bytes``      ``CITYOPS_MAX_FEED_BYTES``   20 MiB: one feed file (an update, not a city)
``max_features``        ``CITYOPS_MAX_FEATURES``     2,000,000 features in one layer file
``max_feed_records``    ``CITYOPS_MAX_FEED_RECORDS`` 100,000 records in one feed file
``max_field_chars``     ``CITYOPS_MAX_FIELD_CHARS``  10,000 characters in one value (a cell)
======================  ===========================  ===========================================

Examples
--------
>>> from geo.limits import Limits, excerpt
>>> Limits.from_env({"CITYOPS_MAX_FEATURES": "500"}).max_features
500
>>> excerpt("root:$6$abc\\n" * 10, 16)
"'root:$6$abc\\\\nroot…' (120 characters)"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from geo.errors import InputError

__all__ = ["ENV_PREFIX", "Limits", "excerpt", "limits"]

ENV_PREFIX = "CITYOPS_"


@dataclass(frozen=True)
class Limits:
    """How much input is accepted (see the module docstring for the variables)."""

    max_bytes: int = 200 * 1024 * 1024
    max_feed_bytes: int = 20 * 1024 * 1024
    max_features: int = 2_000_000
    max_feed_records: int = 100_000
    max_field_chars: int = 10_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by ``CITYOPS_MAX_...`` variables of ``environ``.

        Raises
        ------
        InputError : a variable that is not a positive whole number (named in the message).
        """
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            var = ENV_PREFIX + f.name.upper()
            text = env.get(var)
            if text is None or not text.strip():
                continue
            try:
                value = int(text.strip().replace("_", ""))
            except ValueError:
                value = 0
            if value <= 0:
                raise InputError(
                    f"{excerpt(text)} is not a usable limit",
                    field=var,
                    expected="a whole number > 0",
                )
            values[f.name] = value
        return cls(**values)


def limits() -> Limits:
    """The limits in force now (defaults and environment)."""
    return Limits.from_env()


def excerpt(value: object, n: int = 40, *, quote: bool = True) -> str:
    """``value`` quoted for a message: escaped (no newline or control character gets through) and
    cut to ``n`` characters, with the full length said when cut.

    Error reports quote what they refuse; a refused file may hold anything (a password file
    linked into the inbox, a 10 MB id), so no more than a short, inert excerpt is shown.
    ``quote=False`` gives the bare excerpt (for ids inside feature labels).
    """
    text = value if isinstance(value, str) else str(value)
    safe = "".join(_escape(ch, quote) for ch in text[:n])
    if not quote:
        return safe + ("…" if len(text) > n else "")
    if len(text) > n:
        return f"'{safe}…' ({len(text):,} characters)"
    return f"'{safe}'"


def _escape(ch: str, quote: bool = True) -> str:
    if ch == "\\" or (quote and ch == "'"):
        return "\\" + ch
    if ch.isprintable():  # Chinese and other printable text stays readable
        return ch
    return ch.encode("unicode_escape").decode("ascii")
