"""The OGC API's query parameters, parsed and checked: each bad value is a :class:`ParamError`
(HTTP 400) that names the parameter and says what was expected.

Examples
--------
>>> parse_bbox("121.6,31.1,121.7,31.2")
(121.6, 31.1, 121.7, 31.2)
>>> parse_limit("50000")  # over the maximum: the maximum (the spec allows fewer, never more)
10000
>>> parse_datetime("2021-10-31T18:00:00+08:00/..")
(Timestamp('2021-10-31 10:00:00+0000', tz='UTC'), None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import pandas as pd
from starlette.datastructures import QueryParams

__all__ = [
    "DEFAULT_LIMIT",
    "ITEMS_PARAMS",
    "MAX_LIMIT",
    "Bbox",
    "Interval",
    "ParamError",
    "check_params",
    "parse_bbox",
    "parse_datetime",
    "parse_f",
    "parse_limit",
    "parse_offset",
]

#: Features per page when the request names no ``limit``, and the most one page holds.
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
#: The parameters of ``/collections/{id}/items`` (any other is answered with 400).
ITEMS_PARAMS = ("bbox", "datetime", "limit", "offset", "f")

Bbox = tuple[float, float, float, float]
#: (start, end), UTC; None is an open end; an instant has start == end.
Interval = tuple[pd.Timestamp | None, pd.Timestamp | None]

# RFC 3339, section 5.6 (date-time: full-date "T" full-time, with a zone).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DT_EXAMPLE = "RFC 3339 such as 2021-10-31T18:00:00+08:00 or 2021-10-31T10:00:00Z"


class ParamError(ValueError):
    """A query parameter the API does not know or cannot use (answered with HTTP 400)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def check_params(query: QueryParams, allowed: Iterable[str]) -> None:
    """Refuse parameters the API definition does not name, and repeated ones.

    Raises
    ------
    ParamError : for the first such parameter.
    """
    allowed = tuple(allowed)
    for key in query.keys():
        if key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise ParamError(key, f"unknown parameter (this resource takes: {known})")
        if len(query.getlist(key)) > 1:
            raise ParamError(key, "given more than once")


def parse_f(text: str | None, allowed: tuple[str, ...]) -> None:
    """Check the ``f`` (format) parameter: the one format each resource has is JSON."""
    if text is not None and text not in allowed:
        raise ParamError("f", f"'{text}' is not served (use {' or '.join(allowed)})")


def parse_limit(text: str | None) -> int:
    """``limit``: an integer >= 1; above :data:`MAX_LIMIT` the maximum is used."""
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise ParamError("limit", f"'{text}' is not an integer (1 to {MAX_LIMIT})") from None
    if value < 1:
        raise ParamError("limit", f"{value} is below the minimum of 1")
    return min(value, MAX_LIMIT)


def parse_offset(text: str | None) -> int:
    """``offset`` (from the ``next`` and ``prev`` links): features to skip, an integer >= 0."""
    if text is None:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ParamError("offset", f"'{text}' is not an integer >= 0") from None
    if value < 0:
        raise ParamError("offset", f"{value} is negative")
    return value


def parse_bbox(text: str | None) -> Bbox | None:
    """``bbox``: minlon,minlat,maxlon,maxlat in CRS84 (6 numbers: the heights are ignored, the
    layers are 2-D). A box with minlon > maxlon crosses the antimeridian."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise ParamError(
            "bbox", f"{len(parts)} numbers; expected 4 (minlon,minlat,maxlon,maxlat) or 6"
        )
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ParamError("bbox", f"'{text}' is not a list of numbers") from None
    if not all(math.isfinite(n) for n in nums):
        raise ParamError("bbox", "numbers must be finite")
    x0, y0, x1, y1 = nums if len(nums) == 4 else (nums[0], nums[1], nums[3], nums[4])
    if len(nums) == 6 and nums[2] > nums[5]:
        raise ParamError("bbox", "the lower height is above the upper height")
    if not all(-180 <= x <= 180 for x in (x0, x1)) or not all(-90 <= y <= 90 for y in (y0, y1)):
        raise ParamError("bbox", "outside CRS84 (longitude -180..180, latitude -90..90)")
    if y0 > y1:
        raise ParamError("bbox", "the lower latitude is above the upper latitude")
    return (x0, y0, x1, y1)


def _instant(text: str) -> pd.Timestamp:
    if not _DATE_TIME.match(text):
        raise ParamError("datetime", f"'{text}' is not a date-time ({_DT_EXAMPLE})")
    try:
        return pd.Timestamp(text.upper()).tz_convert("UTC")
    except ValueError:
        raise ParamError("datetime", f"'{text}' is not a valid date-time") from None


def parse_datetime(text: str | None) -> Interval | None:
    """``datetime``: an instant, a closed interval ``a/b`` or a half-bounded one (``../b``,
    ``a/..``, or an empty end), in UTC."""
    if text is None:
        return None
    parts = text.split("/")
    if len(parts) == 1:
        t = _instant(parts[0])
        return (t, t)
    if len(parts) != 2:
        raise ParamError("datetime", f"'{text}' is not an instant or an interval a/b")
    ends = [None if p in ("", "..") else _instant(p) for p in parts]
    start, end = ends
    if start is None and end is None:
        raise ParamError("datetime", "an interval needs at least one end")
    if start is not None and end is not None and start > end:
        raise ParamError("datetime", "the interval ends before it starts")
    return (start, end)
