"""CityOps: Streamlit entry point (page set-up and routing only; the pages live in geo.ui).

streamlit run app.py -- --scenario path/to/folder-or.gpkg
"""

from __future__ import annotations

import argparse
import os
import sys

import streamlit as st

from geo.ui import analyst_page, state, wall_page


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--scenario", default=os.environ.get("CITYOPS_SCENARIO"))
    parser.add_argument("--store", default=os.environ.get("CITYOPS_STORE"))
    parser.add_argument("--refresh", type=float, default=os.environ.get("CITYOPS_REFRESH_S"))
    return parser.parse_known_args(sys.argv[1:])[0]


# ?view=wall is the wall screen; anything else (?view=analyst, or none) the analyst's workbench.
view = st.query_params.get("view", "analyst")
st.set_page_config(
    page_title="CityOps",
    page_icon="🗺️",
    layout="wide",
    initial_sidebar_state="collapsed" if view == "wall" else "auto",
)
args = _args()
state.configure(args.scenario, args.store, float(args.refresh) if args.refresh else None)
(wall_page if view == "wall" else analyst_page).render()
