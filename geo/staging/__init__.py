"""Where to stage k resources: coverage, p-median, p-center, set cover, deadline plans.

One module per problem: :mod:`~geo.staging.coverage` (maximal coverage),
:mod:`~geo.staging.set_cover`, :mod:`~geo.staging.p_median` (with
:mod:`~geo.staging.radius`, its exact search, and :mod:`~geo.staging.capacity`, capacitated
sites), :mod:`~geo.staging.p_center`, :mod:`~geo.staging.deadline` (with
:mod:`~geo.staging.deadline_model`); :mod:`~geo.staging.plan` holds the result types and the one
plan builder, :mod:`~geo.staging.texts` the reasons in words, and
:mod:`~geo.staging.objectives` the registry the app and the CLI use (:data:`OBJECTIVES`,
:class:`StagingProblem`: existing sites open for every goal).

Every solver works on a plain cost matrix, so standard benchmark instances run on it too:

- ``cost[i, j]`` is the cost (minutes or metres) from demand point ``i`` to candidate ``j``;
  ``+inf`` means unreachable, NaN and negative values are errors;
- ``weights[i]`` is the number of people at demand point ``i`` (default: 1 each). Rows with weight 0
  do not influence the choice; they still get an assignment in the result;
- ``fixed`` (optional) lists candidate columns that are open already (existing sites); ``k``
  counts the new sites only.

Each solver returns a :class:`Plan`: the chosen candidate columns, the assignment of every demand
point, the objective, a proven bound and the gap, the solve time, the method, and for each site why
it is there (what it serves, how much worse the objective gets without it, the best swap).

- p-median: greedy + vertex substitution (Resende-Werneck swap matrices) + variable
  neighbourhood search, certified by a Lagrangian bound; then, to prove the optimum, Benders
  cuts of the radius formulation with branch and cut on HiGHS (:mod:`radius`). With
  ``capacity``, a MILP with split demand (:mod:`capacity`);
- coverage: greedy + the same swap scheme for coverage, with perturbations; LP or Lagrangian
  bound, then the MILP on small instances;
- p-center: binary search over the radius; each decision a set cover question answered exactly
  by HiGHS on a growing pool of demand rows (row generation), time-boxed, with proven bounds;
- set cover: greedy + redundancy removal + pair merging, then the MILP when affordable or the
  coverage search with one site fewer at a time; LP / packing bound.

``exact=True/False`` overrides the automatic choice; ``time_limit`` caps the wall time (seconds).

Deadline plans (:func:`deadline_plan`, :func:`earliest_finish`) place mobile testing teams so that
everyone can walk or drive to a site and be tested by a deadline, next to existing fixed sites:
a MILP on small instances, max-flow checks with a drop heuristic on large ones.
"""

from geo.staging.capacity import capacitated_assignment
from geo.staging.common import (
    DEADLINE_EXACT_MAX_PAIRS,
    EXACT_MAX_COVER_NNZ,
    LP_BOUND_MAX_NNZ,
    evaluate_sites,
)
from geo.staging.coverage import max_coverage
from geo.staging.deadline import deadline_plan, earliest_finish
from geo.staging.export import plan_to_geodataframe
from geo.staging.objectives import OBJECTIVES, Objective, StagingProblem
from geo.staging.p_center import p_center
from geo.staging.p_median import p_median
from geo.staging.plan import DeadlinePlan, InfeasibleError, Plan, SiteReason
from geo.staging.set_cover import set_cover

__all__ = [
    "DEADLINE_EXACT_MAX_PAIRS",
    "EXACT_MAX_COVER_NNZ",
    "LP_BOUND_MAX_NNZ",
    "OBJECTIVES",
    "Objective",
    "StagingProblem",
    "capacitated_assignment",
    "DeadlinePlan",
    "InfeasibleError",
    "Plan",
    "SiteReason",
    "deadline_plan",
    "earliest_finish",
    "evaluate_sites",
    "max_coverage",
    "p_center",
    "p_median",
    "plan_to_geodataframe",
    "set_cover",
]
