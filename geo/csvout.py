"""Every CSV the project writes goes through here: cells that a spreadsheet would run as a
formula are neutralised.

People open the CSVs CityOps writes (quarantined feed records, tables) in Excel or WPS to fix
them; a cell such as ``=HYPERLINK("http://...")`` or ``=cmd|' /C calc'!A0`` would run there
(CSV/formula injection, OWASP). A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, which spreadsheets show as text and do not evaluate.

What counts as data: a number is never a formula, so numeric values (``int``/``float``) and text
that is exactly a plain decimal number (``-3.5``, ``+86``, ``1e-3``) are written as they are: a
spreadsheet reads them as the same number, and prefixing them would corrupt numeric columns (a
negative queue correction, a longitude west of Greenwich). Anything else that starts with one of
those characters (``-2+3``, ``-cmd|...``, ``+A1``, ``@SUM(...)``) is neutralised.

Examples
--------
>>> from geo.csvout import csv_text, safe_cell
>>> [safe_cell(v) for v in ["=1+1", "-3.5", -3.5, "@SUM(A1)", "Gate 1", "-2+3"]]
["'=1+1", '-3.5', -3.5, "'@SUM(A1)", 'Gate 1', "'-2+3"]
>>> csv_text(["id", "note"], [{"id": "s1", "note": "=HYPERLINK(1)"}])
"id,note\\r\\ns1,'=HYPERLINK(1)\\r\\n"
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FORMULA_STARTS", "csv_text", "safe_cell", "write_csv"]

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as it may be written to a CSV cell (text that would run as a formula is
    prefixed with ``'``; numbers and other text unchanged)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_text(
    header: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], *, sep: str = ","
) -> str:
    """CSV text with ``header`` and ``rows`` (dicts keyed by header name, or sequences), every
    cell, header included, passed through :func:`safe_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep)
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        cells = [row.get(h) for h in header] if isinstance(row, Mapping) else list(row)
        w.writerow([safe_cell(c) for c in cells])
    return buf.getvalue()


def write_csv(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    sep: str = ",",
) -> Path:
    """Write :func:`csv_text` to ``path`` (UTF-8 with a BOM, so Excel reads Chinese text right;
    written beside and renamed, so no reader sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(csv_text(header, rows, sep=sep), encoding="utf-8-sig", newline="")
    os.replace(tmp, path)
    return path
