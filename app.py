"""CityOps: the entry point. Page set-up and routing only; the pages live in geo.ui, the extra
HTTP routes (tiles, OGC API, health) in geo.web.

    streamlit run app.py -- --scenario path/to/folder-or.gpkg

``streamlit run`` finds the ``App`` below and serves it with uvicorn: it imports this file as
the module ``app`` (which builds the ASGI app with our routes) and runs it again as the page
script (``__name__ == "__main__"``) for every browser session.
"""

from __future__ import annotations

import argparse
import os
import sys

from streamlit.starlette import App

from geo import web


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--scenario", default=os.environ.get("CITYOPS_SCENARIO"))
    parser.add_argument("--store", default=os.environ.get("CITYOPS_STORE"))
    parser.add_argument("--refresh", type=float, default=os.environ.get("CITYOPS_REFRESH_S"))
    return parser.parse_known_args(sys.argv[1:])[0]


def page() -> None:
    """One run of the page: ``?view=wall`` is the wall screen, anything else the workbench."""
    import streamlit as st

    from geo.ui import analyst_page, audit_panel, signin, state, wall_page

    view = st.query_params.get("view", "analyst")
    st.set_page_config(
        page_title="CityOps",
        page_icon="🗺️",
        layout="wide",
        initial_sidebar_state="collapsed" if view == "wall" else "auto",
    )
    args = _args()
    state.configure(args.scenario, args.store, float(args.refresh) if args.refresh else None)
    actor = signin.gate()  # stops the page without a live session
    if actor.wall_only:  # a display link shows the wall, whatever its URL says
        view = "wall"
    pages = {"wall": wall_page, "audit": audit_panel}
    pages.get(view, analyst_page).render()


if __name__ == "__main__":
    page()
else:
    app = App(__file__, routes=web.routes(), middleware=web.middleware(_args().store))
