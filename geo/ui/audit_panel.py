"""The audit trail (``?view=audit``, operators and admins): who changed what, from where and
when, filtered by user, layer and time, and downloaded as CSV (:mod:`geo.audit`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo import audit
from geo.store import STORE_LAYERS
from geo.ui import signin

__all__ = ["render"]

PERIODS = {"1 hour": 1, "24 hours": 24, "7 days": 24 * 7, "30 days": 24 * 30, "everything": None}


def render() -> None:
    """The audit page (refused, on the server, to roles that may not read it)."""
    who = signin.actor()
    st.title("Audit trail")
    if not who.may("audit"):
        st.error(f"The audit trail is for operators and admins; you are {who.role}.")
        st.stop()
    db = signin.accounts_db()
    if db is None:
        st.info("Sign-in is off and there is no store: nothing is recorded but the server log.")
        return
    c1, c2, c3 = st.columns(3)
    period = c1.selectbox("Period", list(PERIODS), index=1, key="audit_period")
    user = c2.text_input("User", key="audit_user", placeholder="every user").strip() or None
    layer = c3.selectbox("Layer", ["every layer", *STORE_LAYERS], key="audit_layer")
    hours = PERIODS[period]
    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=hours) if hours else None
    frame = audit.query(
        db,
        since=since,
        user=user.lower() if user else None,
        layer=None if layer == "every layer" else layer,
        limit=5000,
    )
    st.caption(f"{len(frame):,} line(s), newest first (at most 5,000 shown)")
    shown = frame.copy()
    shown["time"] = shown["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    st.dataframe(shown, hide_index=True, width="stretch", key="audit_table")
    st.download_button(
        "Audit trail · CSV",
        audit.to_csv(frame),
        file_name="cityops_audit.csv",
        mime="text/csv",
        key="dl-audit",
        on_click=signin.on_export("cityops_audit.csv"),
    )
