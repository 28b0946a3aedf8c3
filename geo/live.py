"""The live picture: a scenario's layers overlaid with what the operations store holds now."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.auth import Actor
from geo.layers import LIVE_LAYERS
from geo.scenario import Scenario
from geo.store import Store

__all__ = ["live_layer", "overlay"]


def live_layer(
    sc: Scenario, store: Store, kind: str, at: Any = None
) -> tuple[gpd.GeoDataFrame, str | None]:
    """One live layer of ``sc`` as the store has it at ``at``, and the time of its newest update.

    The first time a store sees the layer, the scenario's features are registered in it (see
    :func:`overlay`). The layer comes without the store's ``updated_at`` column.
    """
    if not store.known_ids(kind) and len(sc.layer(kind)):
        # The scenario's own features, loaded by the app itself (not by its user).
        store.register_layer(kind, sc.layer(kind), actor=Actor.service("scenario"))
    cur = store.current(kind, at, tz=sc.settings.timezone)
    stamps = cur["updated_at"].dropna() if "updated_at" in cur else pd.Series(dtype=object)
    newest = pd.Timestamp(stamps.max()).isoformat() if len(stamps) else None
    return cur.drop(columns=["updated_at"], errors="ignore"), newest


def overlay(sc: Scenario, store: Store, at: Any = None) -> Scenario:
    """``sc`` with its live layers as the store has them at ``at`` (default: everything stored).

    The first time a store sees a scenario, the scenario's features are registered in it, so the
    feeds update them (their figures, their status) rather than replace them. The time of the
    newest update of each layer goes to ``settings.extra["updated_at"]`` (the data age shown on
    screen and in the stale-data alerts).
    """
    updated: dict[str, str] = {}
    for kind in LIVE_LAYERS:
        layer, newest = live_layer(sc, store, kind, at)
        if newest is not None:
            updated[kind] = newest
        sc = sc.with_layer(kind, layer)
    extra = {**sc.settings.extra, "updated_at": updated}
    return replace(sc, settings=replace(sc.settings, extra=extra))
