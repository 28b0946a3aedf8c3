"""The night's timeline: a time slider and a play button; the tiles and the map follow it.

The replay is on while the URL says ``replay=1``; ``t=HH:MM`` is the time shown (the first such
clock time at or after the start of the night), so a wall screen that reloads comes back to the
same moment. The night is simulated from the plan (:mod:`geo.timeline`): the standing cordon and
the balanced catchments of the people in its lockdown zone.
"""

from __future__ import annotations

import html
import time
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from geo import analyses, mapview, timeline
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state, urlstate

SPEEDS_MIN_PER_S = (1, 5, 10, 15, 30)
TICK_S = 1.0


def active() -> bool:
    """Whether the page replays the night (``replay=1`` in the URL)."""
    return urlstate.get("replay") == "1"


def set_active(on: bool) -> None:
    urlstate.set_("replay", "1" if on else None)
    if not on:
        urlstate.set_("t", None)
        st.session_state["replay_playing"] = False


def run_every(default: float | None) -> float | None:
    """The timer of the live fragment: one tick a second while playing."""
    return TICK_S if active() and st.session_state.get("replay_playing") else default


def night(sc: Scenario) -> timeline.Timeline | None:
    """The simulated night of this session's scenario (built once per scenario version)."""
    kept = st.session_state.get("replay_timeline")
    if kept and kept[0] == state.version():
        return kept[1]
    try:
        with st.spinner("Simulating the night…"):
            cordon = analyses.standing_cordon(sc)
            within = None if cordon is None else cordon.bands.set_index("band").geometry["lockdown"]
            catch = analyses.catchments(sc, "balanced", "walk", within=within)
            tl = timeline.build(sc, catch, cordon)
    except InputError as exc:
        st.warning(f"The night cannot be replayed.\n\n{exc}")
        return None
    st.session_state["replay_timeline"] = (state.version(), tl)
    return tl


def last_time(tl: timeline.Timeline) -> pd.Timestamp:
    """The end of the slider: the last event (the sites closing in the morning) or the end."""
    ends = [tl.end]
    if len(tl.events):
        ends.append(tl.events["time"].max())
    return max(ends)


def _from_url(tl: timeline.Timeline, text: str) -> pd.Timestamp:
    h, m = (int(v) for v in text.split(":"))
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(text)
    t = tl.start.normalize() + pd.Timedelta(hours=h, minutes=m)
    return t if t >= tl.start else t + pd.Timedelta(days=1)


def _naive(t: pd.Timestamp) -> datetime:
    # The slider works in naive datetimes: the scenario's wall clock.
    return t.tz_localize(None).to_pydatetime()


def current(tl: timeline.Timeline) -> pd.Timestamp:
    """The time shown: the slider's (first from the URL's ``t``), one step on while playing.

    Call it before drawing anything that shows the time; :func:`bar` draws the controls.
    """
    start, end = tl.start, last_time(tl)
    if "replay_slider" not in st.session_state:
        t0 = start
        raw = urlstate.get("t")
        if raw:
            try:
                t0 = min(max(_from_url(tl, raw), start), end)
            except ValueError:
                st.warning(
                    f"The link's parameter 't={raw}' is not a time (HH:MM); the replay starts "
                    "at the beginning."
                )
        st.session_state["replay_slider"] = _naive(t0)
    if st.session_state.get("replay_playing"):
        _advance(end)
    t = pd.Timestamp(st.session_state["replay_slider"]).tz_localize(start.tz)
    urlstate.set_("t", f"{t:%H:%M}")
    return t


def bar(tl: timeline.Timeline, events: bool = True) -> pd.Timestamp:
    """Play/pause, speed, the time slider and (``events``) the latest events; returns the
    time shown."""
    current(tl)  # idempotent within a tick
    start, end = tl.start, last_time(tl)
    tz = start.tz
    playing = bool(st.session_state.get("replay_playing"))
    c_play, c_speed, c_slider = st.columns([1, 1.3, 8], vertical_alignment="bottom")
    label = "⏸ Pause" if playing else "▶ Play"
    if c_play.button(label, key="replay_play", width="stretch", type="primary"):
        now_shown = pd.Timestamp(st.session_state["replay_slider"]).tz_localize(tz)
        if not playing and now_shown >= end:
            st.session_state["replay_slider"] = _naive(start)  # play again from the start
        st.session_state["replay_playing"] = not playing
        st.session_state["replay_last_tick"] = time.monotonic()
        st.rerun(scope="app")  # the fragment's timer changes with play/pause
    c_speed.selectbox(
        "Speed",
        SPEEDS_MIN_PER_S,
        index=1,
        key="replay_speed",
        format_func=lambda v: f"{v} min/s",
    )
    shown = c_slider.slider(
        "Replay time",
        min_value=_naive(start),
        max_value=_naive(end),
        step=timedelta(minutes=1),
        format="ddd HH:mm",
        key="replay_slider",
    )
    t = pd.Timestamp(shown).tz_localize(tz)
    urlstate.set_("t", f"{t:%H:%M}")
    if events:
        _events(tl, t)
    return t


def _advance(end: pd.Timestamp) -> None:
    """One play step (at most one per tick, whatever else reran the fragment)."""
    now = time.monotonic()
    last = st.session_state.get("replay_last_tick", 0.0)
    if now - last < 0.8 * TICK_S:
        return
    st.session_state["replay_last_tick"] = now
    speed = st.session_state.get("replay_speed", SPEEDS_MIN_PER_S[1])
    nxt = pd.Timestamp(st.session_state["replay_slider"]) + pd.Timedelta(minutes=speed)
    if nxt >= end.tz_localize(None):
        nxt = end.tz_localize(None)
        st.session_state["replay_playing"] = False
    st.session_state["replay_slider"] = nxt.to_pydatetime()


def _events(tl: timeline.Timeline, t: pd.Timestamp, n: int = 4) -> None:
    ev = tl.events_until(t).tail(n).iloc[::-1]
    if len(ev) == 0:
        st.caption("Nothing has happened yet.")
        return
    rows = "".join(
        f"<li><b>{r.time:%H:%M}</b> {html.escape(str(r.text))}</li>" for r in ev.itertuples()
    )
    st.markdown(f"<ul class='co-events' id='co-events'>{rows}</ul>", unsafe_allow_html=True)


def cordon_layers(tl: timeline.Timeline, t: pd.Timestamp) -> list[mapview.MapLayer]:
    """The standing cordon on the map once it is drawn in the replay."""
    c = tl.cordon
    if c is None or tl.cordon_at is None or t < tl.cordon_at:
        return []
    return mapview.cordon_layers(c.bands, c.checkpoints)
