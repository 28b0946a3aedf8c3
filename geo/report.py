"""Everything out at once: a zip of RFC 7946 GeoJSON + a GeoPackage + an offline HTML report.

The report is one file that opens anywhere without a network: Leaflet and the CJK characters it
shows (a cut of the vendored Noto Sans SC, :mod:`geo.fonts`) are inside it. Every figure and
table is made readable on the way in (:mod:`geo.readable`); the map fits what is drawn and its
legend sits beside it (:mod:`geo.legend`), not on top of the layer switcher.

Examples
--------
>>> from geo import scenario
>>> classification(scenario.demo())
'Unclassified — for operational use'
"""

from __future__ import annotations

import html
import io as pyio
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo import fonts, io, legend, readable, reportmap
from geo.errors import InputError
from geo.layers import SCHEMAS
from geo.mapstyle import MapLayer
from geo.scenario import SETTINGS_FILE, Scenario, save

__all__ = [
    "DEFAULT_CLASSIFICATION",
    "Contents",
    "MAP_HEIGHT_PX",
    "Page",
    "build",
    "classification",
    "data_notes",
    "export_zip",
    "situation_report",
    "situation_time",
    "sources",
    "standing_contents",
]


def _with_ids(gdf: gpd.GeoDataFrame, id_col: str | None) -> gpd.GeoDataFrame:
    if "id" in gdf.columns or id_col is None or id_col not in gdf.columns:
        return gdf
    out = gdf.copy()
    out.insert(0, "id", out[id_col].astype(str))
    return out


def _result_ids(name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for col in ("site_id", "band", "candidate_id"):
        if col in gdf.columns and "id" not in gdf.columns:
            return _with_ids(gdf, col)
    if "id" not in gdf.columns:
        out = gdf.copy()
        out.insert(0, "id", [f"{name}-{i}" for i in range(len(out))])
        return out
    return gdf


def export_zip(
    sc: Scenario,
    results: Mapping[str, gpd.GeoDataFrame] | None = None,
    report_html: str | None = None,
) -> bytes:
    """A zip with one RFC 7946 GeoJSON per layer and per result, the scenario as a GeoPackage,
    ``scenario.json``, ``data_notes.txt`` (what was done to each file read: repairs, columns
    recognised or mapped by hand, defaults, generated ids), and (when given) the HTML
    situation report."""
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for kind, gdf in sc.layers.items():
            z.writestr(f"layers/{kind}.geojson", io.to_geojson(gdf))
        for name, gdf in (results or {}).items():
            z.writestr(f"results/{name}.geojson", io.to_geojson(_result_ids(name, gdf)))
        with tempfile.TemporaryDirectory() as tmp:
            folder = save(sc, Path(tmp) / "scenario")
            z.write(folder / "scenario.json", "scenario.json")
            gpkg = save(sc, Path(tmp) / "scenario.gpkg")
            z.write(gpkg, "scenario.gpkg")
        z.writestr("data_notes.txt", data_notes(sc))
        if report_html is not None:
            z.writestr("report.html", report_html)
    return buf.getvalue()


def data_notes(sc: Scenario) -> str:
    """The data notes of every layer read into ``sc``, one block per file: its summary, then
    each column read under another name (``column -> field``)."""
    blocks = []
    for r in sc.reports:
        lines = [r.summary()]
        lines += [f"  column '{col}' -> {field}" for col, field in r.mapping.items()]
        blocks.append("\n".join(lines))
    return ("\n\n".join(blocks) or "no files read beyond the scenario's own") + "\n"


#: The classification line when scenario.json does not set ``classification``.
DEFAULT_CLASSIFICATION = "Unclassified — for operational use"
#: The report's map height: fixed, not a share of the window (a full-page screenshot or a print
#: makes the window as tall as the page, and a ``vh`` map then covers the whole page).
MAP_HEIGHT_PX = 620


def classification(sc: Scenario) -> str:
    """The classification line printed at the top and bottom of every report and sheet:
    scenario.json's ``classification`` (e.g. ``"内部 INTERNAL"``), else
    :data:`DEFAULT_CLASSIFICATION`.

    >>> from geo import scenario
    >>> classification(scenario.demo())
    'Unclassified — for operational use'
    """
    value = sc.settings.extra.get("classification")
    if value is None:
        return DEFAULT_CLASSIFICATION
    if not isinstance(value, str) or not value.strip() or len(value) > 120:
        raise InputError(
            f"classification {value!r} cannot be printed",
            file=sc.source or SETTINGS_FILE,
            field="classification",
            expected='a line of text up to 120 characters, such as "内部 INTERNAL"',
        )
    return value.strip()


def situation_time(sc: Scenario) -> str:
    """The situation time (the scenario's ``now``) as a person reads it, with its offset.

    >>> from geo import scenario
    >>> situation_time(scenario.demo())
    'Sun 31 Oct 2021, 18:05 (UTC+08:00)'
    """
    now = sc.settings.time("now")
    if now is None:
        return "time not set (scenario.json 'now')"
    offset = now.strftime("%z")
    return f"{now:%a %d %b %Y, %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def sources(sc: Scenario, extra: Sequence[MapLayer] = ()) -> list[str]:
    """Where what is shown comes from: the scenario's description, each file read (with its
    features) and the analyses drawn on top.

    >>> from geo import scenario
    >>> sources(scenario.demo())[1]
    'Files: incidents.geojson (3), testing_sites.geojson (12), crowd_zones.geojson (23), \
roads.geojson (1,578), facilities.geojson (39), boundary.geojson (1)'
    """
    out = [sc.settings.description] if sc.settings.description else []
    files = [f"{r.source} ({r.features:,})" for r in sc.reports]
    if files:
        out.append("Files: " + ", ".join(files))
    results = list(dict.fromkeys(layer.name for layer in extra if len(layer.gdf)))
    if results:
        out.append("Analyses (CityOps): " + ", ".join(results))
    return out


def _notes(sc: Scenario) -> list[str]:
    """The data notes as lines a person reads (the zip's ``data_notes.txt`` says the same)."""
    out = []
    for r in sc.reports:
        what = SCHEMAS[r.kind].title.lower() if r.kind in SCHEMAS else r.kind
        parts = [f"{r.source}: {r.features:,} {what}"]
        if r.repaired:
            parts.append(f"{len(r.repaired):,} invalid geometries repaired")
        parts += r.notes
        parts += [f"column '{col}' read as {field}" for col, field in r.mapping.items()]
        out.append("; ".join(parts))
    return out or ["No files read beyond the scenario's own."]


@dataclass(frozen=True)
class Page:
    """A report: the HTML, and the wide characters its embedded font could not draw."""

    html: str
    missing: str


def _table_html(df: pd.DataFrame, tz: str | None) -> str:
    shown = readable.table(df, tz)
    numeric = {
        c: all(readable.NUMERIC.match(v) or v == "–" for v in shown[c]) and len(shown) > 0
        for c in shown.columns
    }
    head = "".join(
        f"<th{' class=num' if numeric[c] else ''}>{html.escape(str(c))}</th>" for c in shown.columns
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if numeric[c] else ''}>{html.escape(v)}</td>"
            for c, v in zip(shown.columns, r)
        )
        + "</tr>"
        for r in shown.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


PAGE_CSS = """
body { font: 15px/1.45 __STACK__; margin: 0 auto; padding: 0 1.5rem; color: #1f2328;
  max-width: 1400px; }
.classification { text-align: center; font-weight: 700; letter-spacing: .04em; padding: .3rem;
  background: #1f2328; color: #fff; margin: 0 -1.5rem; }
h1 { margin: 1rem 0 .2rem; }
.when { color: #57606a; margin: 0 0 .4rem; }
.tiles { display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }
.tile { border: 1px solid #d0d7de; border-radius: 8px; padding: .5rem 1rem; min-width: 10rem; }
.tile .v { font-size: 1.8rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.maprow { display: grid; grid-template-columns: minmax(0, 1fr) 17rem; gap: 1rem;
  align-items: start; }
.maprow iframe { width: 100%; height: __MAPH__px; border: 1px solid #d0d7de; display: block; }
@media (max-width: 900px) { .maprow { grid-template-columns: 1fr; } }
.co-legend-sheet { font-size: 13px; line-height: 1.3; }
.co-lg h4 { margin: .5rem 0 .2rem; font-size: 13px; }
.co-lg ul { list-style: none; margin: 0; padding: 0; }
.co-lg li { display: flex; align-items: center; gap: .4rem; margin: 1px 0; }
.co-sym { flex: none; }
table { border-collapse: collapse; margin-bottom: 1rem; font-size: 14px; }
td, th { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes { color: #57606a; font-size: 13px; }
.notes li { white-space: pre-wrap; }
@media print { .maprow iframe { height: 150mm; } h2, table, .maprow { break-inside: avoid; } }
"""


def build(
    sc: Scenario,
    extra: Sequence[MapLayer] = (),
    figures: Mapping[str, object] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    title: str | None = None,
) -> Page:
    """The situation report of ``sc`` with ``extra`` result layers, headline ``figures`` and
    ``tables`` (any table: each is made readable, see :func:`geo.readable.table`).

    Parameters
    ----------
    sc : the scenario.
    extra : result layers drawn on the map (cordon, catchments, staging...).
    figures : more headline tiles (label -> value; numbers are formatted).
    tables : section title -> table.
    title : the page's title (default ``Situation report: <scenario name>``).

    Returns
    -------
    Page : the HTML (self-contained: Leaflet, the map and the CJK font inside; nothing is
        loaded from anywhere) and the wide characters the embedded font lacks (also listed on
        the page).

    Examples
    --------
    >>> from geo import scenario
    >>> import pandas as pd
    >>> page = build(scenario.demo(), tables={"Zones": pd.DataFrame({"band_zh": ["封控区"]})})
    >>> "Zone (中文)" in page.html and "@font-face" in page.html
    True
    """
    tz = sc.settings.timezone
    k = sc.kpis()
    figs = {
        "Open incidents": k["open_incidents"],
        "People in crowd zones": round(k["people_in_crowd_zones"]),
        "Testing sites": k["testing_sites"],
        "Tests per hour": round(k["tests_per_hour"]),
        **(figures or {}),
    }
    tiles = "".join(
        f"<div class='tile'><div class='v'>{html.escape(readable.value(v, tz))}</div>"
        f"<div class='l'>{html.escape(label)}</div></div>"
        for label, v in figs.items()
    )
    sections = "".join(
        f"<h2>{html.escape(name)}</h2>{_table_html(df, tz)}" for name, df in (tables or {}).items()
    )
    heading = html.escape(title or f"Situation report: {sc.name}")
    cls = html.escape(classification(sc))
    map_doc, map_font = reportmap.map_document(reportmap.report_map(sc, extra))
    key = legend.legend_html(reportmap.drawn_layers(sc, extra))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in _notes(sc))
    body = f"""<div class="classification">{cls}</div>
<h1>{heading}</h1><p class="when">Situation at {html.escape(situation_time(sc))}</p>
<p>{html.escape(sc.settings.description)}</p>
<div class="tiles">{tiles}</div>
<div class="maprow"><iframe title="map" srcdoc="@@MAP@@"></iframe>{key}</div>
{sections}
<h2>Data notes</h2><ul class="notes">{notes}</ul>
@@MISSING@@
<div class="classification">{cls}</div>"""
    page_font = fonts.embed(fonts.page_text(body + heading))
    missing = "".join(sorted(set(page_font.missing) | set(map_font.missing)))
    note = (
        f"<p class='notes' id='co-missing-glyphs'>Characters not in the embedded font (shown "
        f"in the reader's own fonts, or as boxes): "
        f"{html.escape(', '.join(f'{c} (U+{ord(c):04X})' for c in missing))}</p>"
        if missing
        else ""
    )
    css = PAGE_CSS.replace("__STACK__", fonts.STACK).replace("__MAPH__", str(MAP_HEIGHT_PX))
    # The map is its own document (srcdoc keeps the report one file, and Leaflet's CSS away
    # from the page's); it carries its own cut of the font.
    body = body.replace("@@MAP@@", html.escape(map_doc, quote=True)).replace("@@MISSING@@", note)
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>{page_font.css}
{css}</style></head><body>
{body}
</body></html>"""
    return Page(doc, missing)


def situation_report(
    sc: Scenario,
    extra: Sequence[MapLayer] = (),
    figures: Mapping[str, object] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    title: str | None = None,
) -> str:
    """The HTML of :func:`build` (a self-contained page: the map with every layer and result,
    its legend, the headline figures, the tables and the data notes). Opens offline.

    Examples
    --------
    >>> from geo import scenario
    >>> 'iframe title="map"' in situation_report(scenario.demo())  # doctest: +SKIP
    True
    """
    return build(sc, extra, figures, tables, title).html


@dataclass(frozen=True)
class Contents:
    """What a report or a sheet shows besides the scenario: result layers, tables, figures."""

    extra: list[MapLayer]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, object]
    problem: str | None = None


def standing_contents(sc: Scenario) -> Contents:
    """The standing plan of ``sc`` (:func:`geo.analyses.standing_plan`: the cordon of the open
    severe incidents and the balanced catchments of the people held) as report contents: what
    every screen shows without anyone running an analysis, and what ``cityops report`` prints.

    Examples
    --------
    >>> from geo import scenario
    >>> c = standing_contents(scenario.demo())  # doctest: +SKIP
    >>> [layer.key for layer in c.extra], list(c.tables)  # doctest: +SKIP
    (['cordon', 'checkpoints', 'catchments'], ['Cordon', 'Catchments'])
    """
    from geo import analyses, mapview, tables

    plan = analyses.standing_plan(sc)
    extra: list[MapLayer] = []
    shown: dict[str, pd.DataFrame] = {}
    figures: dict[str, object] = {"People to test": round(plan.people)}
    if plan.cordon is not None:
        extra += mapview.cordon_layers(plan.cordon.bands, plan.cordon.checkpoints)
        shown["Cordon"] = tables.present(plan.cordon.bands.drop(columns="geometry"), "cordon_bands")
    if plan.catchments is not None:
        sites = plan.catchments.sites
        extra.append(mapview.catchment_layer(sites))
        shown["Catchments"] = tables.present(
            sites.drop(columns="geometry"), "catchment_sites", sc.settings.timezone
        )
    problem = None if plan.problem is None else str(plan.problem)
    return Contents(extra, shown, figures, problem)
