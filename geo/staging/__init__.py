"""Where to stage k resources: p-median, maximal coverage, p-center, set cover, deadline plans.

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

Small instances are solved exactly with a MILP (``scipy.optimize.milp``, HiGHS); larger ones with
heuristics, vectorised with numpy (no Python loop over demand points in the hot paths):

- p-median: greedy, then vertex substitution with the Resende-Werneck swap matrices (all
  k x (m - k) swaps priced at once, incremental updates, each row's short candidate list), then a
  variable neighbourhood search; the bound is Lagrangian (subgradient ascent);
- coverage: greedy + the same swap scheme for coverage, with perturbations; LP or Lagrangian bound;
- p-center: binary search over the distinct costs, each radius a set cover question (greedy,
  then a time-boxed MILP or the coverage search); LP / packing proofs bound it;
- set cover: greedy + redundancy removal + pair merging, then the MILP when affordable or the
  coverage search with one site fewer at a time; LP / packing bound.

``exact=True/False`` overrides the automatic choice; ``time_limit`` caps the wall time (seconds).

Deadline plans (:func:`deadline_plan`, :func:`earliest_finish`) place mobile testing teams so that
everyone can walk or drive to a site and be tested by a deadline, next to existing fixed sites:
a MILP on small instances, max-flow checks with a drop heuristic on large ones.
"""

from geo.staging.common import (
    DEADLINE_EXACT_MAX_PAIRS,
    EXACT_MAX_COVER_NNZ,
    EXACT_MAX_PAIRS,
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
    "EXACT_MAX_PAIRS",
    "LP_BOUND_MAX_NNZ",
    "OBJECTIVES",
    "Objective",
    "StagingProblem",
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
