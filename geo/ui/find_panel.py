"""Find a place: a search box over every named feature; the map flies there and opens its
tooltip (issue #17, search)."""

from __future__ import annotations

import streamlit as st

from geo import mapstyle, search
from geo.scenario import Scenario
from geo.ui import state

KEY = "find_query"
FOUND = "found_place"


def controls(sc: Scenario, container: st.delta_generator.DeltaGenerator) -> None:
    """The search box (in ``container``) and, when it matches, the list of places."""
    query = container.text_input(
        "Find a place",
        key=KEY,
        placeholder="name, in Chinese or English",
        help="Any named feature of any layer: sites, zones, roads, hospitals, incidents... "
        "Parts of names match, in any order.",
    )
    if not query:
        st.session_state.pop(FOUND, None)
        return
    hits = search.find(search.index(sc), query)
    if not hits:
        container.caption(f"Nothing is called {query!r}.")
        st.session_state.pop(FOUND, None)
        return
    pick = container.selectbox(
        "Places found",
        range(len(hits)),
        format_func=lambda i: hits[i].title,
        key=f"find_pick:{search.normalise(query)}",
        label_visibility="collapsed",
    )
    place = hits[int(pick or 0)]
    chosen = (place.layer, place.feature_id)
    if st.session_state.get(FOUND) != chosen:
        st.session_state[FOUND] = chosen
        state.show_result("found")  # the map flies there once


def map_layers() -> list[mapstyle.MapLayer]:
    """The place found, ringed, its tooltip open."""
    found = st.session_state.get(FOUND)
    if not found:
        return []
    layer = mapstyle.found_layer(state.live_scenario(), *found)
    return [] if layer is None else [layer]


def results() -> None:
    """Nothing beside the map: the tooltip on the map says what was found."""
