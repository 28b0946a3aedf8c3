"""Text in the user's language: one message catalogue (gettext .po files read with Babel),
Simplified Chinese and English, and numbers and times in the language's style.

The language is a context variable: the page sets it at the start of every run from the URL
(``lang=zh``), and every string the page, the library's messages and the report show goes through
:func:`_` (``gettext``). English is the source language: a message without a translation is
shown in English (and ``tests/test_i18n.py`` fails until it has one).

Examples
--------
>>> with language("zh"):
...     _("people to test"), number(34283), clock_text(pd.Timestamp("2021-10-31 23:00"))
('待检人数', '34,283', '周日23:00')
>>> _("people to test")
'people to test'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import pandas as pd
from babel import Locale
from babel.dates import format_skeleton
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["LANGS", "_", "clock_text", "current", "language", "n_", "number", "set_language"]

#: The languages of the interface: code -> its own name.
LANGS: dict[str, str] = {"en": "English", "zh": "简体中文"}
#: Babel locale per language code.
_LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "cityops"

_lang: ContextVar[str] = ContextVar("cityops_lang", default="en")


def current() -> str:
    """The language of this run (``en`` unless set)."""
    return _lang.get()


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of this run (unknown or None: English); returns the code."""
    code = lang if lang in LANGS else "en"
    _lang.set(code)
    return code


@contextlib.contextmanager
def language(lang: str) -> Iterator[str]:
    """``with language("zh"):`` text in Chinese inside the block."""
    token = _lang.set(lang if lang in LANGS else "en")
    try:
        yield _lang.get()
    finally:
        _lang.reset(token)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of ``lang`` (empty for English and for a missing file)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def _(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return catalogue(_lang.get()).get(message, message) if _lang.get() != "en" else message


def n_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it now (tables of labels that
    are translated when shown)."""
    return message


def number(value: float, digits: int = 0) -> str:
    """A number in the language's style, rounded to ``digits`` decimals."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(round(float(value), digits), pattern, locale=_LOCALES[_lang.get()])


def clock_text(t: pd.Timestamp) -> str:
    """A time on a night's board: weekday and 24-hour clock (``Sun 23:00``, ``周日23:00``)."""
    loc = Locale.parse(_LOCALES[_lang.get()])
    return format_skeleton("EEEHHmm", t.to_pydatetime(), locale=loc)
