"""Alert acknowledgements: an operator says "seen, on it" (with a note) for a banner, the
audit trail keeps who and when, and the wall folds acknowledged banners into one line for
:data:`ACK_HOURS`. A wall opened with ``alarm=1`` rings and notifies on a new alert."""

from __future__ import annotations

import json
from typing import NamedTuple

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from geo import analyses, audit, situation
from geo.scenario import Scenario
from geo.ui import signin, state
from geo.ui.widgets import plain

__all__ = ["ACK_HOURS", "Ack", "acknowledged", "alarm", "key", "panel"]

#: An acknowledgement holds this long (a shift); the same alert later is new again.
ACK_HOURS = 12


class Ack(NamedTuple):
    """Who acknowledged an alert, when, and what they said."""

    user: str
    time: pd.Timestamp
    note: str


def key(alert: situation.Alert) -> str:
    """What an acknowledgement names: the alert's kind and feature (not its sentence, whose
    figures change with every refresh); a banner grouping several features is ``kind:*``."""
    return f"{alert.kind}:{alert.feature_id or '*'}"


def acknowledged() -> dict[str, Ack]:
    """The alerts acknowledged in the last :data:`ACK_HOURS`: key -> the newest Ack."""
    db = signin.accounts_db()
    if db is None:
        return {}
    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=ACK_HOURS)
    log = audit.query(db, action="ack", since=since, limit=500)
    out: dict[str, Ack] = {}
    details = log["detail"] if "detail" in log else [None] * len(log)
    for target, user, t, detail in zip(log["target"], log["user"], log["time"], details):
        note = ""
        if isinstance(detail, str):
            try:
                note = str(json.loads(detail).get("note") or "")
            except (ValueError, AttributeError):
                note = ""
        elif isinstance(detail, dict):
            note = str(detail.get("note") or "")
        out.setdefault(str(target), Ack(str(user), t, note))  # newest first: the first wins
    return out


def panel(sc: Scenario) -> None:
    """The current banners, each with a note and an *Acknowledge* button (roles that may)."""
    who = state.actor()
    if not who.may("ack"):
        return
    plan = analyses.standing_plan(sc)
    shown = situation.banners(
        situation.alerts(sc, state.now(sc), figures=situation.wall_figures(sc, plan))
    )
    if not shown:
        return
    acks = acknowledged()
    open_ = [a for a in shown if key(a) not in acks]
    with st.expander(f"Alerts on the wall ({len(open_)} new, {len(shown) - len(open_)} seen)"):
        for a in shown:
            st.markdown(f"**{a.level}** · {plain(a.message)}")
            done = acks.get(key(a))
            if done:
                said = f" · “{plain(done.note)}”" if done.note else ""
                st.caption(f"acknowledged by {plain(done.user)} at {done.time:%H:%M}{said}")
                continue
            with st.form(f"ack-{key(a)}", border=False):
                note = st.text_input("Note", max_chars=200, placeholder="what is being done")
                if st.form_submit_button("Acknowledge"):
                    signin.record(
                        "ack", target=key(a), detail={"level": a.level, "note": note.strip()}
                    )
                    st.rerun()


_ALARM = """
<div id="co-alarm" style="font:14px system-ui;color:#e6edf3">
  <button id="co-alarm-on" style="display:none">Allow notifications</button>
</div>
<script>
(function () {
  const alerts = %s;  // [key, text] of the alerts not acknowledged
  const seen = new Set(JSON.parse(localStorage.getItem("cityops.alarm.seen") || "[]"));
  const fresh = alerts.filter(a => !seen.has(a[0]));
  alerts.forEach(a => seen.add(a[0]));
  localStorage.setItem("cityops.alarm.seen", JSON.stringify([...seen].slice(-200)));
  const btn = document.getElementById("co-alarm-on");
  if ("Notification" in window && Notification.permission === "default") {
    btn.style.display = "inline";
    btn.onclick = () => Notification.requestPermission().then(() => btn.remove());
  }
  if (!fresh.length) return;
  const rings = Number(localStorage.getItem("cityops.alarm.rings") || 0) + fresh.length;
  localStorage.setItem("cityops.alarm.rings", String(rings));
  try {  // two short tones, made here: no sound file, nothing fetched
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    [0, 0.35].forEach(t => {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.2;
      o.connect(g); g.connect(ctx.destination);
      o.start(ctx.currentTime + t); o.stop(ctx.currentTime + t + 0.2);
    });
  } catch (e) {}
  if ("Notification" in window && Notification.permission === "granted") {
    fresh.forEach(a => new Notification("CityOps alert", {body: a[1], tag: a[0]}));
  }
})();
</script>
"""


def alarm(shown: list[situation.Alert], acks: dict[str, Ack]) -> None:
    """On a wall opened with ``alarm=1``: a tone and a browser notification for each alert not
    seen before on this screen (and not acknowledged); opt-in, because a room may not want it."""
    fresh = [[key(a), a.message] for a in shown if a.level != "info" and key(a) not in acks]
    components.html(_ALARM % json.dumps(fresh, ensure_ascii=False), height=34)
