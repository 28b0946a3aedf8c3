"""Why each chosen site is there, in words: one text function per problem.

The texts are keyed by the registry's problem names (:data:`REASON_TEXTS`); a plan whose problem
has no entry is a programming error and raises, rather than silently borrowing another
problem's wording.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from geo.staging.common import _clock, _people

if TYPE_CHECKING:
    from geo.staging.plan import Plan, SiteReason

__all__ = [
    "REASON_TEXTS",
    "Label",
    "reason_text",
]

Label = Callable[[int], Any]


def _p_median(plan: Plan, r: SiteReason, alt: str | None) -> str:
    u, obj = plan.unit, plan.objective
    text = f"Nearest site for {_people(r.people)} people (mean {r.mean_cost:.1f} {u})."
    if math.isinf(r.drop):
        text += (
            " Without it more people could not be served (the others are full)."
            if plan.capacitated
            else " Without it some people could not reach any site."
        )
    elif obj and math.isfinite(obj):
        text += f" Without it total travel rises by {r.drop:,.0f} person-{u} (+{r.drop / obj:.1%})."
    if alt and math.isfinite(r.alternative_delta) and obj and math.isfinite(obj):
        text += (
            f" Best swap: {alt} (+{r.alternative_delta:,.0f} person-{u}, "
            f"+{r.alternative_delta / obj:.2%})."
        )
    if plan.capacitated:
        text += " Capacity respected: people beyond it go to the next site."
    return text


def _covering(lost: str) -> Callable[[Plan, SiteReason, str | None], str]:
    def text_of(plan: Plan, r: SiteReason, alt: str | None) -> str:
        text = (
            f"Puts {_people(r.covered)} people within {plan.within:g} {plan.unit}; for "
            f"{_people(r.sole)} of them it is the only site in reach."
        )
        if alt:
            if r.alternative_delta <= 1e-9:
                text += f" Best swap: {alt} (reaches as many)."
            else:
                text += f" Best swap: {alt} ({_people(r.alternative_delta)} {lost})."
        return text

    return text_of


def _p_center(plan: Plan, r: SiteReason, alt: str | None) -> str:
    u, obj = plan.unit, plan.objective
    text = f"Nearest site for {_people(r.people)} people (farthest {r.max_cost:.1f} {u})."
    if math.isfinite(r.drop):
        text += f" Without it the worst travel becomes {obj + r.drop:.1f} {u}."
    if alt and math.isfinite(r.alternative_delta):
        text += f" Best swap: {alt} (worst travel {obj + r.alternative_delta:.1f} {u})."
    return text


def _deadline(plan: Plan, r: SiteReason, alt: str | None) -> str:
    start = getattr(plan, "start", None)
    text = (
        f"{r.teams} team{'s' if r.teams != 1 else ''}; tests {_people(r.people)} people "
        f"(mean {r.mean_cost:.0f} min to get there), done by {_clock(r.finish_min, start)}."
    )
    if math.isfinite(r.drop):
        text += (
            f" Without it {_people(r.drop)} people would miss the deadline."
            if r.drop > 1e-6
            else " The others could absorb its people."
        )
    if alt and math.isfinite(r.alternative_delta) and r.people > 0:
        text += (
            f" Nearest alternative: {alt} ({r.alternative_delta / r.people:+.1f} min each, "
            "capacity not re-checked)."
        )
    return text


REASON_TEXTS: dict[str, Callable[[Plan, SiteReason, str | None], str]] = {
    "p_median": _p_median,
    "coverage": _covering("fewer people covered"),
    "set_cover": _covering("people left out"),
    "p_center": _p_center,
    "deadline": _deadline,
    "earliest_finish": _deadline,
}


def reason_text(plan: Plan, r: SiteReason, label: Label) -> str:
    """The reason text of site ``r`` in ``plan``; ``label`` names candidate columns.

    Raises
    ------
    KeyError
        When ``plan.problem`` has no text (not one of :data:`REASON_TEXTS`).
    """
    try:
        text_of = REASON_TEXTS[plan.problem]
    except KeyError:
        raise KeyError(
            f"no reason text for problem {plan.problem!r}; known: {', '.join(REASON_TEXTS)}"
        ) from None
    alt = f"candidate {label(r.alternative)}" if r.alternative >= 0 else None
    return text_of(plan, r, alt)
