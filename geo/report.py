"""Everything out at once: a zip of RFC 7946 GeoJSON + a GeoPackage + an offline HTML report."""

from __future__ import annotations

import html
import io as pyio
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo import io, mapview
from geo.scenario import Scenario, save


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


def situation_report(
    sc: Scenario,
    extra: Sequence[mapview.MapLayer] = (),
    figures: Mapping[str, str] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    title: str | None = None,
) -> str:
    """A self-contained HTML page (Leaflet inlined, no request leaves the file): the map with
    every layer and result, the headline figures and the tables. Opens offline."""
    map_html = mapview.to_html(sc, extra, theme="light")
    k = sc.kpis()
    figs = {
        "Open incidents": f"{k['open_incidents']:,}",
        "People in crowd zones": f"{k['people_in_crowd_zones']:,.0f}",
        "Testing sites": f"{k['testing_sites']:,}",
        "Tests per hour": f"{k['tests_per_hour']:,.0f}",
        **(figures or {}),
    }
    tiles = "".join(
        f"<div class='tile'><div class='v'>{html.escape(v)}</div>"
        f"<div class='l'>{html.escape(label)}</div></div>"
        for label, v in figs.items()
    )
    sections = "".join(
        f"<h2>{html.escape(name)}</h2>{df.to_html(index=False, escape=True, na_rep='–')}"
        for name, df in (tables or {}).items()
    )
    now = sc.settings.time("now")
    when = f"{now:%Y-%m-%d %H:%M %Z}" if now is not None else ""
    heading = html.escape(title or f"Situation report: {sc.name}")
    # The map is its own document; srcdoc keeps the report one file.
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{heading}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }}
.tiles {{ display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }}
.tile {{ border: 1px solid #d0d7de; border-radius: 8px; padding: .5rem 1rem; min-width: 10rem; }}
.tile .v {{ font-size: 1.8rem; font-weight: 700; }}
iframe {{ width: 100%; height: 70vh; border: 1px solid #d0d7de; }}
table {{ border-collapse: collapse; margin-bottom: 1rem; }}
td, th {{ border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; }}
</style></head><body>
<h1>{heading}</h1><p>{html.escape(when)} · {html.escape(sc.settings.description)}</p>
<div class="tiles">{tiles}</div>
<iframe title="map" srcdoc="{html.escape(map_html, quote=True)}"></iframe>
{sections}
</body></html>"""
