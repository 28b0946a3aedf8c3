"""CityOps: the entry point. Page set-up and routing only; the pages live in geo.ui, the extra
HTTP routes (tiles, OGC API, health) in geo.web.

    streamlit run app.py -- --scenario path/to/folder-or.gpkg

``streamlit run`` finds the ``App`` below and serves it with uvicorn: it imports this file as
the module ``app`` (which builds the ASGI app with our routes) and runs it again as the page
script (``__name__ == "__main__"``) for every browser session.
"""

from __future__ import annotations

from streamlit.starlette import App

from geo import config, web


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
    cfg = config.from_args()
    config.configure(cfg)  # the routes (geo.web) serve what the page shows
    state.configure(cfg.scenario, cfg.store, cfg.refresh_s)
    actor = signin.gate()  # stops the page without a live session
    if actor.wall_only:  # a display link shows the wall, whatever its URL says
        view = "wall"
    pages = {"wall": wall_page, "audit": audit_panel}
    pages.get(view, analyst_page).render()


if __name__ == "__main__":
    page()
else:
    app = App(__file__, routes=web.routes(), middleware=web.middleware(config.from_args().store))
