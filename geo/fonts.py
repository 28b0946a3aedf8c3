"""Chinese in a self-contained page: a CJK font cut to the characters the page holds.

A report opened on a machine without CJK fonts (most servers, many laptops outside China, a
fresh headless Chromium) draws 封控区 as empty boxes. The project vendors Noto Sans SC (SIL OFL
1.1) once, cut to the GB 2312 character set (``static/vendor/noto-sans-sc-2.004``); at report
time :func:`embed` cuts that file again to the wide (East Asian) characters a page actually
contains and returns a base64 ``@font-face`` for the page. Latin text keeps the reader's own
fonts: the face declares a ``unicode-range`` of exactly its characters, so it is used for them
and nothing else. Wide characters the vendored file lacks (rare names outside GB 2312, Hangul,
emoji) are returned in ``missing`` for the page to say so.

Examples
--------
>>> e = embed("<td>lockdown 封控区</td>")
>>> e.chars, e.missing, e.css.startswith("@font-face")
('区封控', '', True)
>>> embed("no Chinese here").css
''
"""

from __future__ import annotations

import base64
import html
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "FAMILY",
    "FONT_FILE",
    "STACK",
    "Embedded",
    "embed",
    "gb2312_chars",
    "page_text",
    "subset_woff",
    "vendor_subset",
    "wide_chars",
]

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "noto-sans-sc-2.004"
FONT_FILE = FONT_DIR / "NotoSansSC-Regular-GB2312.woff"
#: The embedded face's family name (never a system font's, so the embed is always the one used).
FAMILY = "CityOps CJK"
#: The font stack of every page that embeds the face: CJK from the embed, the rest from the
#: reader's own sans-serif.
STACK = f'"{FAMILY}", system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


@dataclass(frozen=True)
class Embedded:
    """A page's CJK font: the ``@font-face`` rule (empty when the page needs none), the
    characters it holds, and the wide characters the vendored font lacks."""

    css: str
    chars: str
    missing: str


# A surrogate pair (astral characters such as 𠀀), or one BMP character.
_JSON_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})"
)


def page_text(doc: str) -> str:
    r"""The characters a browser may show from ``doc``: its text with HTML entities decoded, then
    the characters of the ``\uXXXX`` escapes of inline JSON (folium's GeoJSON, tooltips).

    >>> page_text('<b>&#23553;</b> {"n": "\\u63a7\\ud840\\udc00"}')[-2:]
    '控𠀀'
    """
    text = html.unescape(doc)
    chars = set()
    for hi, lo, bmp in set(_JSON_ESCAPE.findall(text)):
        if bmp:
            chars.add(chr(int(bmp, 16)))
        else:
            chars.add(chr(0x10000 + ((int(hi, 16) - 0xD800) << 10) + (int(lo, 16) - 0xDC00)))
    return text + "".join(sorted(chars))


def wide_chars(text: str) -> str:
    """The distinct wide (East Asian Wide or Fullwidth) characters of ``text``, sorted: those a
    Latin font lacks and the embedded face is for.

    >>> wide_chars("Zone 封控区, 封控区 (１)")
    '区封控１'
    """
    # distinct characters first: a report is megabytes of mostly the same few hundred
    return "".join(sorted(c for c in set(text) if unicodedata.east_asian_width(c) in ("W", "F")))


@lru_cache(maxsize=1)
def _vendored() -> tuple[bytes, frozenset[int]]:
    from fontTools.ttLib import TTFont

    data = FONT_FILE.read_bytes()
    cmap = TTFont(io.BytesIO(data), lazy=True).getBestCmap()
    return data, frozenset(cmap)


@lru_cache(maxsize=32)
def subset_woff(chars: str) -> bytes:
    """The vendored font cut to ``chars`` (those it has), as WOFF bytes (zlib; no brotli).

    >>> len(subset_woff("封控区")) < 10_000
    True
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    data, _ = _vendored()
    font = TTFont(io.BytesIO(data))
    opts = subset.Options()
    opts.hinting = False
    opts.layout_features = ["locl", "vert", "vrt2", "kern", "palt"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    font.flavor = "woff"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _ranges(codepoints: list[int]) -> str:
    """CSS ``unicode-range`` of sorted code points: ``U+533A,U+5C01-5C02``."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"U+{start:X}" if start == prev else f"U+{start:X}-{prev:X}")
        start = prev = cp
    return ",".join(parts)


def embed(text: str) -> Embedded:
    """The ``@font-face`` rule (family :data:`FAMILY`) that draws the wide characters of
    ``text`` (an HTML document or plain text) without any font installed.

    Parameters
    ----------
    text : everything the page may show; pass :func:`page_text` of a document whose inline
        JSON escapes its characters.

    Returns
    -------
    Embedded : ``css`` to put in a ``<style>`` (empty when no wide character is drawable),
        the characters embedded, and the wide characters the vendored font lacks (shown in
        the reader's fonts, or as boxes: say so on the page).

    Examples
    --------
    >>> e = embed("上海 𠀀")
    >>> e.chars, e.missing
    ('上海', '𠀀')
    """
    wide = wide_chars(text)
    _, cmap = _vendored()
    have = "".join(c for c in wide if ord(c) in cmap)
    missing = "".join(c for c in wide if ord(c) not in cmap)
    if not have:
        return Embedded("", "", missing)
    b64 = base64.b64encode(subset_woff(have)).decode("ascii")
    css = (
        f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; font-weight: 400; '
        f"font-display: block; unicode-range: {_ranges([ord(c) for c in have])}; "
        f'src: url(data:font/woff;base64,{b64}) format("woff"); }}'
    )
    return Embedded(css, have, missing)


# --- how the vendored file was made (once; not at run time) ----------------------------------


def gb2312_chars() -> str:
    """Every character of GB 2312 (6,763 hanzi, kana, Greek, Cyrillic, symbols), decoded from
    its two-byte table by Python's codec.

    >>> s = gb2312_chars()
    >>> len(s), "封" in s, "喆" in s
    (7445, True, False)
    """
    out = []
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(out)


def vendor_subset(src: Path, dst: Path) -> int:
    """Cut a full Noto Sans SC (``src``, TTF) to GB 2312 plus CJK punctuation and fullwidth
    forms and write it to ``dst`` as WOFF; return the number of glyphs kept.

    The vendored file was made from npm ``@expo-google-fonts/noto-sans-sc`` 0.4.3
    (``400Regular/NotoSansSC_400Regular.ttf``, Noto Sans SC 2.004) with this function.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    codepoints = {ord(c) for c in gb2312_chars()}
    codepoints |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    font = TTFont(src)
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=codepoints)
    sub.subset(font)
    font.flavor = "woff"
    font.save(dst)
    return len(font.getGlyphOrder())
