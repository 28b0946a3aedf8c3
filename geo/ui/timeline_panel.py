"""The night's timeline: a time slider and a play button; the tiles and the map follow it.

Without an operations store the night is simulated from the plan (:func:`geo.timeline.build`);
with one, it is the store's record (:func:`geo.recording.record`): what every layer was at t.

The replay is on while the URL says ``replay=1``; ``t=HH:MM`` is the time shown (the first such
clock time at or after the start of the night), so a wall screen that reloads comes back to the
same moment. The simulated night follows the plan: the standing cordon and the balanced
catchments of the people in its lockdown zone.
"""

from __future__ import annotations

import html
import time
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from geo import analyses, mapview, recording, timeline
from geo.errors import InputError
from geo.scenario import Scenario
from geo.ui import state, urlstate
from geo.ui.widgets import plain

SPEEDS_MIN_PER_S = (1, 5, 10, 15, 30)
#: Seconds between play ticks: a pause can overshoot by one tick, so half a second at most.
TICK_S = 0.5


def active() -> bool:
    """Whether the page replays the night (``replay=1`` in the URL)."""
    return urlstate.get("replay") == "1"


def set_active(on: bool) -> None:
    urlstate.set_("replay", "1" if on else None)
    if not on:
        urlstate.set_("t", None)
        st.session_state["replay_playing"] = False
        for key in (TIME, SLIDER, SLIDER_SET, SHOWN):
            st.session_state.pop(key, None)


def run_every(default: float | None) -> float | None:
    """The timer of the live fragment: one tick a second while playing."""
    return TICK_S if active() and st.session_state.get("replay_playing") else default


def night(sc: Scenario) -> timeline.Replay | None:
    """The night to replay: the store's record when there is a store (re-read once per refresh
    period, it grows), else the standing plan simulated (:func:`geo.analyses.night`, computed
    once per content of its inputs and shared by every screen)."""
    store = state.store()
    if store is not None:
        # Re-read once per refresh period, not on every play tick (it reads the event log).
        kept: tuple[float, recording.Recording] | None = st.session_state.get("replay_recording")
        if kept is None or time.monotonic() - kept[0] >= (state.refresh_s() or 10.0):
            kept = (time.monotonic(), recording.record(state.scenario_of_session(), store))
            st.session_state["replay_recording"] = kept
        return kept[1]
    try:
        with st.spinner("Simulating the night…"):
            return analyses.night(sc)
    except InputError as exc:
        st.warning(f"The night cannot be replayed.\n\n{plain(exc)}")
        return None


def last_time(tl: timeline.Replay) -> pd.Timestamp:
    """The end of the slider: the last event (the sites closing in the morning) or the end."""
    ends = [tl.end]
    if len(tl.events):
        ends.append(tl.events["time"].max())
    return max(ends)


def _from_url(tl: timeline.Replay, text: str) -> pd.Timestamp:
    h, m = (int(v) for v in text.split(":"))
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(text)
    t = tl.start.normalize() + pd.Timedelta(hours=h, minutes=m)
    return t if t >= tl.start else t + pd.Timedelta(days=1)


def _naive(t: pd.Timestamp) -> datetime:
    # The slider works in naive datetimes: the scenario's wall clock.
    return t.tz_localize(None).to_pydatetime()


# The time shown is the session's own value (TIME), not the slider's: while playing, a click can
# carry the browser's slider value from before the last tick, which would step the replay back.
# So the slider is a display (no key) while playing, and an input only when paused.
TIME = "replay_t"
SLIDER = "replay_slider"
SLIDER_SET = "replay_slider_set"
SHOWN = "replay_shown"


def current(tl) -> pd.Timestamp:
    """The time shown: first the URL's ``t`` (else the start), then where the user put the
    slider, one step on per tick while playing.

    Call it before drawing anything that shows the time; :func:`bar` draws the controls.
    """
    start, end = tl.start, last_time(tl)
    ss = st.session_state
    if TIME not in ss:
        t0 = start
        raw = urlstate.get("t")
        if raw:
            try:
                t0 = min(max(_from_url(tl, raw), start), end)
            except ValueError:
                st.warning(
                    f"The link's parameter 't={plain(raw)}' is not a time (HH:MM); the replay "
                    "starts at the beginning."
                )
        ss[TIME] = t0
    playing = bool(ss.get("replay_playing"))
    if not playing and ss.get(SLIDER) is not None and ss.get(SLIDER) != ss.get(SLIDER_SET):
        ss[TIME] = pd.Timestamp(ss[SLIDER]).tz_localize(start.tz)  # the user moved it
        ss[SLIDER_SET] = ss[SLIDER]
    if playing:
        _advance(end)
    # The clock shows whole minutes: the time shown is the last whole minute reached.
    t = min(max(ss[TIME], start), end).floor("min")
    ss[SHOWN] = t  # what this run puts on screen: a pause stops here
    urlstate.set_("t", f"{t:%H:%M}")
    return t


def bar(tl, events: bool = True) -> pd.Timestamp:
    """Play/pause, speed, the time slider and (``events``) the latest events; returns the
    time shown."""
    t = current(tl)  # idempotent within a tick
    start, end = tl.start, last_time(tl)
    ss = st.session_state
    playing = bool(ss.get("replay_playing"))
    c_play, c_speed, c_slider = st.columns([1, 1.3, 8], vertical_alignment="bottom")
    label = "■ Pause" if playing else "▶ Play"  # ⏸ is missing from common fonts
    if c_play.button(
        label,
        key="replay_play",
        width="stretch",
        type="primary",
        on_click=_toggle_play,
        args=(start, end),
    ):
        st.rerun(scope="app")  # the fragment's timer changes with play/pause
    c_speed.selectbox(
        "Speed",
        SPEEDS_MIN_PER_S,
        index=1,
        key="replay_speed",
        format_func=lambda v: f"{v} min/s",
    )
    lo, hi, step = _naive(start), _naive(end), timedelta(minutes=1)
    if playing:
        c_slider.slider("Replay time", lo, hi, _naive(t), step, format="ddd HH:mm", disabled=True)
    else:
        ss[SLIDER] = ss[SLIDER_SET] = _naive(t)
        c_slider.slider("Replay time", lo, hi, step=step, format="ddd HH:mm", key=SLIDER)
    if events:
        _events(tl, t)
    return t


def _toggle_play(start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Play or pause. A callback runs before the script, so a pause freezes the time that is on
    screen when it is pressed (the rerun it causes does not step the replay on first)."""
    ss = st.session_state
    playing = bool(ss.get("replay_playing"))
    if not playing and ss.get(TIME) is not None and ss[TIME] >= end:
        ss[TIME] = start  # play again from the start
    if playing and ss.get(SHOWN) is not None:
        ss[TIME] = ss[SHOWN]  # not the time a tick may have moved on to since
    ss["replay_playing"] = not playing
    ss["replay_last_tick"] = time.monotonic()


def _advance(end: pd.Timestamp) -> None:
    """Move the replay on by the wall time since the last step times the speed: the speed holds
    however long a tick takes to draw (a tick that is late or skipped is made up, not lost)."""
    now = time.monotonic()
    ss = st.session_state
    last = ss.get("replay_last_tick", now)
    ss["replay_last_tick"] = now
    speed = float(ss.get("replay_speed", SPEEDS_MIN_PER_S[1]))
    nxt = ss[TIME] + pd.Timedelta(minutes=speed * max(now - last, 0.0))
    if nxt >= end:
        nxt = end
        ss["replay_playing"] = False
    ss[TIME] = nxt


def _events(tl: timeline.Replay, t: pd.Timestamp, n: int = 4) -> None:
    ev = tl.events_until(t).tail(n).iloc[::-1]
    if len(ev) == 0:
        st.caption("Nothing has happened yet.")
        return
    rows = "".join(
        f"<li><b>{r.time:%H:%M}</b> {html.escape(str(r.text))}</li>" for r in ev.itertuples()
    )
    st.markdown(f"<ul class='co-events' id='co-events'>{rows}</ul>", unsafe_allow_html=True)


def cordon_layers(tl, t: pd.Timestamp) -> list[mapview.MapLayer]:
    """The standing cordon on the map as it stood at ``t`` in the replay."""
    c = tl.cordon_result(t)
    return [] if c is None else mapview.cordon_layers(c.bands, c.checkpoints)
