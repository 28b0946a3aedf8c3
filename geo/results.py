"""The process's published results: the latest computed layers, readable outside any session.

Results (a cordon's bands and checkpoints, catchments, staging plans) are computed in a browser
session and kept in its Streamlit state. A panel also *publishes* each result it keeps here, so
the app's OGC API (:mod:`geo.web.ogc`) can serve it to desktop GIS as a collection right after
the run. What is published:

- the most recent run of each kind, from whichever session ran it (a later run of the same kind
  replaces it, in any session); each carries the time it was published and, once sign-in exists,
  the user who ran it;
- at most :data:`MAX_RESULTS` collections (least recently used dropped first), each a copy in
  EPSG:4326 with a unique text ``id`` per feature;
- nothing is withdrawn when a session clears its result: the layer stays until replaced.

Thread-safe: sessions publish from their script threads while the routes read.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(121.66, 31.14)], crs="EPSG:4326")
>>> clear()
>>> publish("results-demo", gdf, "Demo").id
'results-demo'
>>> [r.id for r in collections()]
['results-demo']
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.constants import WGS84

__all__ = [
    "MAX_RESULTS",
    "Published",
    "clear",
    "collections",
    "get",
    "publish",
    "publish_catchments",
    "publish_cordon",
    "publish_plan",
]

#: How many result collections the process keeps (the least recently used goes first).
MAX_RESULTS = 16
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """One published result: a collection of the OGC API.

    ``time`` names the feature's time column, or its (start, end) interval columns, when the
    result has one (``datetime`` queries filter on it).
    """

    id: str
    title: str
    description: str
    features: gpd.GeoDataFrame
    published_at: pd.Timestamp
    user: str | None = None
    time: tuple[str, str | None] | None = None


_lock = threading.Lock()
_results: OrderedDict[str, Published] = OrderedDict()


def publish(
    name: str,
    gdf: gpd.GeoDataFrame,
    title: str,
    *,
    description: str = "",
    user: str | None = None,
    time: tuple[str, str | None] | None = None,
    id_column: str | None = None,
) -> Published:
    """Publish ``gdf`` as the collection ``name``, replacing what was published under it.

    Parameters
    ----------
    name : collection id: lower-case letters, digits, ``-`` and ``_``.
    gdf : the layer (any CRS; stored as a copy in EPSG:4326).
    title : what a GIS shows as the layer's name.
    description : a sentence on what it is and how it was made.
    user : who ran it (None until sign-in exists).
    time : the time column, or (start, end) columns, of the features, if any.
    id_column : column whose values become the feature ids (default ``id``; without one the
        ids are ``1``, ``2``, ... in row order).

    Raises
    ------
    ValueError : a malformed name, a layer without CRS, or duplicate feature ids.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame({"site": ["s1"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    >>> publish("results-x", g, "X", id_column="site").features["id"].tolist()
    ['s1']
    """
    if not _NAME.match(name):
        raise ValueError(f"'{name}' is not a collection id (a-z, 0-9, '-', '_')")
    if gdf.crs is None:
        raise ValueError(f"result '{name}' has no CRS")
    out = gdf.to_crs(WGS84) if gdf.crs != WGS84 else gdf.copy()
    source = id_column or "id"
    if source in out.columns:
        ids = out[source].map(lambda v: None if pd.isna(v) else str(v))
    else:
        ids = pd.Series([str(i + 1) for i in range(len(out))], index=out.index)
    if ids.isna().any() or ids.duplicated().any():
        raise ValueError(f"result '{name}': feature ids in '{source}' are missing or repeated")
    out = out.drop(columns=["id"], errors="ignore")
    out.insert(0, "id", ids.to_numpy())
    out = out.reset_index(drop=True)
    for col in time or ():
        if col is not None and col not in out.columns:
            raise ValueError(f"result '{name}' has no time column '{col}'")
    item = Published(name, title, description, out, pd.Timestamp.now(tz="UTC"), user, time or None)
    with _lock:
        _results.pop(name, None)
        _results[name] = item
        while len(_results) > MAX_RESULTS:
            _results.popitem(last=False)
    return item


def get(name: str) -> Published | None:
    """The result published as ``name`` (it becomes the most recently used), or None."""
    with _lock:
        item = _results.get(name)
        if item is not None:
            _results.move_to_end(name)
        return item


def collections() -> list[Published]:
    """Every published result, ordered by id (a stable order for a GIS's layer list)."""
    with _lock:
        return sorted(_results.values(), key=lambda r: r.id)


def clear() -> None:
    """Forget every published result (tests; a restart does the same)."""
    with _lock:
        _results.clear()


# --- the panels' results ----------------------------------------------------------------------
# A result that cannot be published (e.g. repeated ids) is logged, never raised: the session's
# own result (on screen, exported) must not be lost because the OGC copy failed.


def _safely(make: Any) -> list[Published]:
    try:
        return make()
    except ValueError as exc:
        _log.warning("result not published to the OGC API: %s", exc)
        return []


def _describe(params: dict[str, Any] | None) -> str:
    if not params:
        return ""
    return " Parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()) + "."


def publish_cordon(result: Sequence[Any], *, user: str | None = None) -> list[Published]:
    """Publish a cordon (``analyses.cordon``'s bands, checkpoints, summary) as two collections:
    ``results-cordon-bands`` (id = band) and ``results-checkpoints``."""
    bands, checkpoints = result[0], result[1]
    return _safely(
        lambda: [
            publish(
                "results-cordon-bands",
                bands,
                "Cordon bands",
                description="Lockdown, control and prevention zones of the latest cordon, with "
                "the people inside each.",
                user=user,
                id_column="band",
            ),
            publish(
                "results-checkpoints",
                checkpoints,
                "Cordon checkpoints",
                description="Checkpoints where roads cross the latest cordon's bands, with staff.",
                user=user,
            ),
        ]
    )


def publish_catchments(
    result: Any,
    isochrones: gpd.GeoDataFrame | None = None,
    *,
    params: dict[str, Any] | None = None,
    user: str | None = None,
) -> list[Published]:
    """Publish catchments (``analyses.catchments``: ``.sites``, id = site) and, when computed,
    isochrones as ``results-catchments`` and ``results-isochrones``."""
    sites = result.sites
    time = ("start_at", "finish_at") if {"start_at", "finish_at"} <= set(sites.columns) else None

    def make() -> list[Published]:
        out = [
            publish(
                "results-catchments",
                sites,
                "Catchments",
                description="Each testing site's catchment in the latest run: people, travel, "
                "load and finish time (the time interval is testing start to finish)."
                + _describe(params),
                user=user,
                time=time,
                id_column="site_id",
            )
        ]
        if isochrones is not None and len(isochrones):
            iso = isochrones.copy()
            iso["iso_id"] = iso["site_id"].astype(str) + ":" + iso["min_to"].map("{:g}".format)
            out.append(
                publish(
                    "results-isochrones",
                    iso,
                    "Isochrones",
                    description="Travel-time bands around each testing site (latest run).",
                    user=user,
                    id_column="iso_id",
                )
            )
        return out

    return _safely(make)


def publish_plan(
    result: Any,
    *,
    slot: str | None = None,
    params: dict[str, Any] | None = None,
    user: str | None = None,
) -> list[Published]:
    """Publish a staging plan (``analyses.stage``: ``.sites``, id = candidate) as
    ``results-plan``, or ``results-plan-a`` / ``-b`` for a plan kept for comparison."""
    name = "results-plan" if slot is None else f"results-plan-{slot.lower()}"
    title = "Staging plan" if slot is None else f"Staging plan {slot.upper()}"
    return _safely(
        lambda: [
            publish(
                name,
                result.sites,
                title,
                description="Suggested staging sites, ranked, with why each was chosen."
                + _describe(params),
                user=user,
                id_column="candidate_id",
            )
        ]
    )
