"""The wall screen (``?view=wall``): dark, no chrome, the map filling the screen, big tiles,
alert banners and a clock in the scenario's time zone. Readable from 5 m."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import analyses, mapview, situation
from geo.errors import InputError
from geo.ui import alerts_panel, signin, state, timeline_panel, urlstate

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
.co-age { font-size: clamp(1rem, 1vw, 2rem); opacity: .75; margin-left: auto;
          margin-right: 2rem; }
.co-clock { font-size: 2.6rem; font-variant-numeric: tabular-nums; font-weight: 700; }
.co-clock small { font-size: 1.1rem; opacity: .7; margin-left: .6rem; font-weight: 400; }
.co-tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: .8rem; margin: .6rem 0; }
/* Tablets: the tiles wrap instead of cutting their values; phones: they stack. */
@media (max-width: 1100px) {
  .co-tiles { grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); }
  .co-tile .v { font-size: clamp(1.8rem, 4.2vw, 3rem); }
  .co-bar h1 { font-size: 1.5rem; } .co-clock { font-size: 1.8rem; }
}
@media (max-width: 600px) {
  .co-tiles { grid-template-columns: 1fr 1fr; gap: .4rem; }
  .co-tile { padding: .3rem .6rem; } .co-tile .v { font-size: 1.8rem; }
  .co-bar { flex-wrap: wrap; } .co-age { display: none; }
}
.co-tile { background: #0d1117; border: 1px solid #30363d; border-radius: 10px;
           padding: .5rem 1rem; color: #e6edf3; }
.co-tile .v { font-size: clamp(2.4rem, 3.6vw, 6.5rem); font-weight: 800; line-height: 1.05;
              font-variant-numeric: tabular-nums; }
.co-tile .l { font-size: clamp(1rem, 1.2vw, 2.2rem); opacity: .8; }
.co-tile .d { font-size: clamp(.85rem, .9vw, 1.7rem); opacity: .65; }
.co-tile.bad .v { color: #ff6b6b; } .co-tile.good .v { color: #3fb950; }
.co-alert { border-radius: 8px; padding: .45rem 1rem; margin: .3rem 0; font-weight: 600;
            font-size: clamp(1.1rem, 1.3vw, 2.4rem); }
.co-alert.critical { background: #8b1a1a; color: #fff; }
.co-alert.warning { background: #7a5a00; color: #fff; }
.co-alert.info { background: #12324f; color: #fff; }
.co-alert.acked { background: #1b2430; color: #c9d1d9; font-weight: 400;
                  font-size: clamp(.9rem, .9vw, 1.6rem); padding: .2rem 1rem; }
.co-replay { font-size: 1.1rem; background: #ff9f1c; color: #000; border-radius: 6px;
             padding: .1rem .5rem; margin-right: .8rem; vertical-align: middle; }
iframe[title="streamlit_folium.st_folium"] { min-height: 420px; }
</style>
"""


def _map_height_css(banners: int, replay: bool) -> str:
    """The map takes what the title, tiles, banners (and replay controls) leave of the screen.

    Banner text is sized in vw, so each banner's height is too (measured in chromium at 1920 and
    3840 px wide: 1.95 vw + 1.4 rem).
    """
    used = f"16.4rem + {banners} * (1.95vw + 1.4rem)" + (" + 5.8rem" if replay else "")
    return (
        '<style>iframe[title="streamlit_folium.st_folium"] '
        f"{{ height: calc(100vh - ({used})) !important; }}</style>"
    )


def render() -> None:
    st.markdown(CSS, unsafe_allow_html=True)
    # With a live store (or while the replay plays) the screen reruns on a timer, alone: the
    # base map stays, the feature groups are swapped, the zoom is kept.
    st.fragment(run_every=timeline_panel.run_every(state.refresh_s()))(_screen)()


def _screen() -> None:
    signin.recheck()  # a revoked display link (or an ended session) stops the screen
    sc = state.scenario_or_stop()
    tl = timeline_panel.night(sc) if timeline_panel.active() else None
    if tl is not None:
        t = timeline_panel.current(tl)
        _bar(sc.name, t, replay=True)
        timeline_panel.bar(tl, events=False)
        sc = tl.at(t)
        now = t
        figs: situation.WallFigures = tl.figures(t)
        extra = timeline_panel.cordon_layers(tl, t)
        # A replay is simulated: its layers are as old as the simulation says, not stale.
        alerts = situation.alerts(sc, now, figures=figs, stale_after_min=float("inf"))
        last = tl.events_until(t).tail(1)
        if len(last):
            alerts.insert(0, situation.Alert("info", "event", None, _event_text(last.iloc[0])))
    else:
        now = state.now(sc)
        plan = analyses.standing_plan(sc)  # computed once per change of its inputs
        figs = situation.wall_figures(sc, plan)
        cordon = plan.cordon
        extra = mapview.cordon_layers(cordon.bands, cordon.checkpoints) if cordon else []
        alerts = situation.alerts(sc, now, figures=figs)
        if plan.problem is not None:  # said on the wall, never swallowed
            alerts.insert(0, situation.Alert("warning", "plan", None, _problem(plan.problem)))
        _bar(sc.name, now, ages=situation.data_age_min(sc, now))
    _tiles(figs)
    shown = situation.banners(alerts)
    acks = alerts_panel.acknowledged() if shown else {}
    # Acknowledged banners fold into one line: the room has seen them, the map gets the space.
    open_ = [a for a in shown if alerts_panel.key(a) not in acks]
    seen = [a for a in shown if alerts_panel.key(a) in acks]
    st.markdown(
        _map_height_css(len(open_) + (1 if seen else 0), tl is not None), unsafe_allow_html=True
    )
    for a in open_:
        st.markdown(
            f"<div class='co-alert {a.level}' data-kind='{a.kind}'>"
            f"{'' if a.level == 'info' else '⚠ '}"
            f"{html.escape(a.message)}</div>",
            unsafe_allow_html=True,
        )
    if seen:
        parts = []
        for a in seen:
            ack = acks[alerts_panel.key(a)]
            note = f" “{html.escape(ack.note)}”" if ack.note else ""
            parts.append(
                f"<span data-kind='{a.kind}'>{html.escape(_short(a))} ✓ "
                f"{html.escape(ack.user)} {ack.time:%H:%M}{note}</span>"
            )
        st.markdown(
            f"<div class='co-alert acked' id='co-acked'>Acknowledged: {' · '.join(parts)}</div>",
            unsafe_allow_html=True,
        )
    if urlstate.get("alarm") == "1":
        alerts_panel.alarm(shown, acks)
    live_map = mapview.build_live_map(
        sc,
        extra,
        base_url=st.get_option("server.baseUrlPath") or "",
        full_height=True,
        hidden=urlstate.hidden_layers(),
        fit_to=("cordon",),  # the wall shows the whole standing cordon
    )
    st_folium(
        live_map.base,
        key="wall-map",
        feature_group_to_add=live_map.groups,
        layer_control=live_map.control(collapsed=True),
        height=900,
        use_container_width=True,
        returned_objects=[],
    )


def _short(a: situation.Alert) -> str:
    """An alert in a few words for the acknowledged line: the group, or its first clause."""
    return a.message.split(" · ")[0].split(":")[0]


def _problem(exc: InputError) -> str:
    return f"No projection: {exc.args[0] if exc.args else exc}"


def _bar(
    name: str, shown: pd.Timestamp, replay: bool = False, ages: dict[str, float] | None = None
) -> None:
    """Title, each live layer's data age (in the same row, so the map keeps its height) and
    the clock."""
    tzname = shown.tzname() or ""
    tag = "<span class='co-replay'>REPLAY</span>" if replay else ""
    age = ""
    if ages:
        parts = " · ".join(
            f"{html.escape(k.replace('_', ' '))} {v:,.0f} min" for k, v in sorted(ages.items())
        )
        age = f"<div class='co-age' id='co-age'>data age · {parts}</div>"
    st.markdown(
        f"<div class='co-bar'><h1>{html.escape(name)}</h1>{age}"
        f"<div class='co-clock' id='co-clock'>{tag}{shown:%H:%M}<small>{shown:%a %d %b} "
        f"{html.escape(tzname)}</small></div></div>",
        unsafe_allow_html=True,
    )


def _event_text(ev: pd.Series) -> str:
    return f"{ev['time']:%H:%M} {ev['text']}"


def _tile(label: str, value: str, cls: str = "", detail: str = "") -> str:
    sub = f"<div class='d'>{html.escape(detail)}</div>" if detail else ""
    return (
        f"<div class='co-tile {cls}'><div class='v'>{html.escape(value)}</div>"
        f"<div class='l'>{html.escape(label)}</div>{sub}</div>"
    )


def _tiles(f: situation.WallFigures) -> None:
    finish, deadline = f["finish_at"], f["deadline"]
    short = f["untested_by_deadline"] or 0.0
    late = (finish is not None and deadline is not None and finish > deadline) or short > 0.5
    late_sites = f["sites_late"]
    finish_text = "–" if finish is None else f"{finish:%H:%M}"
    if short > 0.5:
        finish_text += f" +{short:,.0f}"  # people still untested at the deadline
    tiles = [
        _tile(f["people_label"], f"{f['people']:,.0f}", detail=f.get("people_detail", "")),
        _tile(f"tested · {f['remaining']:,.0f} remaining", f"{f['tested']:,.0f}"),
        _tile(
            f"projected finish · deadline {deadline:%H:%M}"
            if deadline is not None
            else "projected finish",
            finish_text,
            "bad" if late else "good",
        ),
        _tile(
            "sites missing the deadline",
            "–" if late_sites is None else f"{late_sites}",
            "bad" if late_sites else "good",
        ),
        _tile(
            "checkpoints · staff",
            "–" if f["checkpoints"] is None else f"{f['checkpoints']} · {f['staff']}",
        ),
    ]
    st.markdown(f"<div class='co-tiles'>{''.join(tiles)}</div>", unsafe_allow_html=True)
