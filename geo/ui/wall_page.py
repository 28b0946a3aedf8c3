"""The wall screen (``?view=wall``): dark, no chrome, the map filling the screen, big tiles,
alert banners and a clock in the scenario's time zone. Readable from 5 m."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import analyses, mapview, situation
from geo.errors import InputError
from geo.ui import state, urlstate

# Hide Streamlit's chrome; size the map iframe to the window (the map inside follows it).
CSS = """
<style>
header[data-testid="stHeader"], [data-testid="stSidebar"], [data-testid="stToolbar"],
[data-testid="stDecoration"], [data-testid="stStatusWidget"], footer,
[data-testid="stSidebarCollapsedControl"] { display: none !important; }
.block-container { padding: 0.6rem 1.2rem 0 1.2rem !important; max-width: 100% !important; }
.stApp { background: #05080d; }
.co-bar { display: flex; align-items: baseline; justify-content: space-between; color: #e6edf3; }
.co-bar h1 { font-size: 2.2rem; margin: 0; padding: 0; }
.co-clock { font-size: 2.6rem; font-variant-numeric: tabular-nums; font-weight: 700; }
.co-clock small { font-size: 1.1rem; opacity: .7; margin-left: .6rem; font-weight: 400; }
.co-tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: .8rem; margin: .6rem 0; }
.co-tile { background: #0d1117; border: 1px solid #30363d; border-radius: 10px;
           padding: .5rem 1rem; color: #e6edf3; }
.co-tile .v { font-size: clamp(2.4rem, 3.6vw, 6.5rem); font-weight: 800; line-height: 1.05;
              font-variant-numeric: tabular-nums; }
.co-tile .l { font-size: clamp(1rem, 1.2vw, 2.2rem); opacity: .8; }
.co-tile.bad .v { color: #ff6b6b; } .co-tile.good .v { color: #3fb950; }
.co-alert { border-radius: 8px; padding: .45rem 1rem; margin: .3rem 0; font-weight: 600;
            font-size: clamp(1.1rem, 1.3vw, 2.4rem); }
.co-alert.critical { background: #8b1a1a; color: #fff; }
.co-alert.warning { background: #7a5a00; color: #fff; }
iframe[title="streamlit_folium.st_folium"] { height: calc(100vh - 19rem) !important;
    min-height: 420px; }
</style>
"""


def render() -> None:
    st.markdown(CSS, unsafe_allow_html=True)
    sc = state.scenario_or_stop()
    now = state.now(sc)
    cordon, catch = _analyses(sc)
    figs = situation.wall_figures(sc, catch, cordon)
    _bar(sc.name, now)
    _tiles(figs)
    for a in situation.alerts(sc, now):
        st.markdown(
            f"<div class='co-alert {a.level}' data-kind='{a.kind}'>⚠ "
            f"{html.escape(a.message)}</div>",
            unsafe_allow_html=True,
        )
    extra = mapview.cordon_layers(cordon.bands, cordon.checkpoints) if cordon else []
    live_map = mapview.build_live_map(
        sc,
        extra,
        base_url=st.get_option("server.baseUrlPath") or "",
        full_height=True,
        hidden=set(urlstate.as_list(urlstate.get("hide"))),
    )
    st_folium(
        live_map.base,
        key="wall-map",
        feature_group_to_add=live_map.groups,
        layer_control=live_map.control(),
        height=900,
        use_container_width=True,
        returned_objects=[],
    )


def _analyses(sc):
    """The standing cordon and the balanced catchments of the people in its lockdown zone."""
    try:
        cordon = analyses.standing_cordon(sc)
    except InputError:
        cordon = None
    within = None
    if cordon is not None:
        within = cordon.bands.set_index("band").geometry.get("lockdown")
    try:
        catch = analyses.catchments(sc, "balanced", "walk", within=within)
    except InputError:
        catch = None
    return cordon, catch


def _bar(name: str, shown: pd.Timestamp) -> None:
    tzname = shown.tzname() or ""
    st.markdown(
        f"<div class='co-bar'><h1>{html.escape(name)}</h1>"
        f"<div class='co-clock' id='co-clock'>{shown:%H:%M}<small>{shown:%a %d %b} "
        f"{html.escape(tzname)}</small></div></div>",
        unsafe_allow_html=True,
    )


def _tile(label: str, value: str, cls: str = "") -> str:
    return (
        f"<div class='co-tile {cls}'><div class='v'>{html.escape(value)}</div>"
        f"<div class='l'>{html.escape(label)}</div></div>"
    )


def _tiles(f: dict) -> None:
    finish, deadline = f["finish_at"], f["deadline"]
    short = f["untested_by_deadline"] or 0.0
    late = (finish is not None and deadline is not None and finish > deadline) or short > 0.5
    over = f["sites_over_capacity"]
    finish_text = "–" if finish is None else f"{finish:%H:%M}"
    if short > 0.5:
        finish_text += f" +{short:,.0f}"  # people still untested at the deadline
    tiles = [
        _tile(f["people_label"], f"{f['people']:,.0f}"),
        _tile("tested · remaining", f"{f['tested']:,.0f} · {f['remaining']:,.0f}"),
        _tile(
            f"projected finish · deadline {deadline:%H:%M}"
            if deadline is not None
            else "projected finish",
            finish_text,
            "bad" if late else "good",
        ),
        _tile("sites over capacity", "–" if over is None else f"{over}", "bad" if over else "good"),
        _tile(
            "checkpoints · staff",
            "–" if f["checkpoints"] is None else f"{f['checkpoints']} · {f['staff']}",
        ),
    ]
    st.markdown(f"<div class='co-tiles'>{''.join(tiles)}</div>", unsafe_allow_html=True)
