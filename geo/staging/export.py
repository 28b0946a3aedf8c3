"""Plans as GeoDataFrames."""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.errors import InputError
from geo.staging.common import (
    _labeller,
)
from geo.staging.plan import Plan

__all__ = [
    "plan_to_geodataframe",
]


def plan_to_geodataframe(
    plan: Plan,
    candidates_gdf: Any,
    demand_gdf: Any = None,
    *,
    id_column: str = "id",
) -> Any:
    """The chosen sites as points (EPSG:4326) with rank, candidate id, reason and figures.

    Parameters
    ----------
    plan : a plan from any solver here; its candidate columns index ``candidates_gdf`` rows.
    candidates_gdf : the candidates (one row per cost column), any CRS; polygons are represented
        by an interior point.
    demand_gdf : the demand points (one row per cost row), optional: adds ``n_demand`` (demand
        points served) and ``farthest_demand_id``.
    id_column : the id column of both (row numbers as text when missing).

    Returns
    -------
    GeoDataFrame
        Columns: rank, candidate_id, problem, people, covered, sole, drop, alternative_id,
        alternative_delta, mean_cost, max_cost, teams, finish_min, reason, geometry.
    """
    import geopandas as gpd

    if not isinstance(candidates_gdf, gpd.GeoDataFrame):
        raise InputError(
            "candidates must be a GeoDataFrame",
            field="candidates_gdf",
            expected="a GeoDataFrame with one row per cost column",
        )
    if len(candidates_gdf) != plan.n_candidates:
        raise InputError(
            f"candidates has {len(candidates_gdf)} rows but the plan has {plan.n_candidates} "
            "candidate columns",
            field="candidates_gdf",
            expected="the same candidates, in the same order, as the cost matrix columns",
        )
    if candidates_gdf.crs is None:
        raise InputError(
            "candidates have no CRS",
            field="geometry",
            expected="a GeoDataFrame with a CRS (EPSG:4326 for layers)",
        )
    cand = candidates_gdf.to_crs(4326)
    ids = (
        cand[id_column].astype(str).tolist()
        if id_column in cand.columns
        else [str(i) for i in range(len(cand))]
    )
    label = _labeller(ids)
    frame = plan.to_frame(ids)
    geom = cand.geometry.iloc[plan.sites].reset_index(drop=True)
    not_point = ~geom.geom_type.isin(["Point"])
    if not_point.any():
        geom[not_point] = geom[not_point].representative_point()
    out = gpd.GeoDataFrame(
        {
            "rank": frame["rank"].astype(int),
            "candidate_id": frame["candidate"].astype(str),
            "problem": plan.problem,
            "people": frame["people"].astype(float),
            "covered": frame["covered"].astype(float),
            "sole": frame["sole"].astype(float),
            "drop": frame["drop"].astype(float),
            "alternative_id": [label(r.alternative) for r in plan.explanations],
            "alternative_delta": frame["alternative_delta"].astype(float),
            "mean_cost": frame["mean_cost"].astype(float),
            "max_cost": frame["max_cost"].astype(float),
            "teams": frame["teams"].astype(int),
            "finish_min": frame["finish_min"].astype(float),
            "reason": frame["reason"].astype(str),
        },
        geometry=geom.to_numpy(),
        crs="EPSG:4326",
    )
    if demand_gdf is not None:
        if len(demand_gdf) != len(plan.assignment):
            raise InputError(
                f"demand has {len(demand_gdf)} rows but the plan has {len(plan.assignment)} "
                "demand rows",
                field="demand_gdf",
                expected="the same demand points, in the same order, as the cost matrix rows",
            )
        dids = (
            demand_gdf[id_column].astype(str).to_numpy()
            if id_column in demand_gdf.columns
            else np.arange(len(demand_gdf)).astype(str)
        )
        n_dem: list[int] = []
        far: list[str | None] = []
        for r in plan.explanations:  # per chosen site, not per demand point
            mine = np.flatnonzero(plan.assignment == r.site)
            n_dem.append(int(mine.size))
            if mine.size and plan.assigned_cost.size == len(plan.assignment):
                far.append(str(dids[mine[np.argmax(plan.assigned_cost[mine])]]))
            else:
                far.append(None)
        out["n_demand"] = n_dem
        out["farthest_demand_id"] = far
    return out
