"""Alert acknowledgements: an operator says "seen, on it" for a banner, the audit trail keeps
who and when, and the wall marks the banner as acknowledged (for :data:`ACK_HOURS`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo import analyses, audit, situation
from geo.scenario import Scenario
from geo.ui import signin, state
from geo.ui.widgets import plain

__all__ = ["ACK_HOURS", "acknowledged", "key", "panel"]

#: An acknowledgement holds this long (a shift); the same alert later is new again.
ACK_HOURS = 12


def key(alert: situation.Alert) -> str:
    """What an acknowledgement names: the banner's kind and sentence."""
    return f"{alert.kind}: {alert.message}"


def acknowledged() -> dict[str, tuple[str, pd.Timestamp]]:
    """The banners acknowledged in the last :data:`ACK_HOURS`: key -> (who, when), newest."""
    db = signin.accounts_db()
    if db is None:
        return {}
    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=ACK_HOURS)
    log = audit.query(db, action="ack", since=since, limit=500)
    out: dict[str, tuple[str, pd.Timestamp]] = {}
    for target, user, t in zip(log["target"], log["user"], log["time"]):
        out.setdefault(str(target), (str(user), t))  # newest first: the first one wins
    return out


def panel(sc: Scenario) -> None:
    """The current banners with an *Acknowledge* button each (roles that may acknowledge)."""
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
    with st.expander(f"Alerts on the wall ({len(shown)})"):
        for i, a in enumerate(shown):
            st.markdown(f"**{a.level}** · {plain(a.message)}")
            done = acks.get(key(a))
            if done:
                st.caption(f"acknowledged by {plain(done[0])} at {done[1]:%H:%M}")
            elif st.button("Acknowledge", key=f"ack-{i}-{hash(key(a))}"):
                signin.record("ack", target=key(a), detail={"level": a.level})
                st.rerun()
