"""The map's colours stay apart for colour-blind viewers (issue #17 item 9), and the legend shows
the colours the map draws."""

from __future__ import annotations

import itertools

import pytest
from coloraide import Color

from geo import mapstyle, mapview, palette

SIMULATIONS = (None, "protan", "deutan", "tritan")


def _seen(hex_color: str, kind: str | None) -> Color:
    c = Color(hex_color)
    return c if kind is None else c.filter(kind, 1.0, space="srgb-linear").convert("srgb")


def _apart(a: str, b: str, kind: str | None) -> float:
    return _seen(a, kind).delta_e(_seen(b, kind), method="2000")


@pytest.mark.parametrize("kind", SIMULATIONS)
def test_incident_lockdown_and_densest_crowd_stay_apart(kind):
    three = {
        "incident": palette.INCIDENT_COLOR,
        "lockdown": palette.BAND_FILL["lockdown"],
        "densest crowd": palette.DENSITY_COLORS[-1],
    }
    for (na, a), (nb, b) in itertools.combinations(three.items(), 2):
        assert _apart(a, b, kind) >= 20, (kind, na, nb)


@pytest.mark.parametrize("kind", SIMULATIONS)
def test_the_three_zones_stay_apart(kind):
    for a, b in itertools.combinations(palette.BAND_FILL.values(), 2):
        assert _apart(a, b, kind) >= 10, (kind, a, b)


def test_the_reference_colours_are_told_apart_by_the_check():
    """The check can fail: yesterday's incident red and lockdown red are the same to a deutan."""
    assert _apart("#ff3b30", "#ff1744", "deutan") < 10


def test_the_legend_shows_the_colours_the_map_draws(demo):
    layers = {lay.key: lay for lay in mapstyle.scenario_layers(demo)}
    incident = layers["incidents"]
    row = incident.gdf.iloc[0]
    assert incident.style(row)["color"] in {c for c, _ in incident.legend}
    zones = layers["crowd_zones"]
    fills = {zones.style(r)["fillColor"] for _, r in zones.gdf.iterrows()}
    assert fills <= {c for c, _ in zones.legend}
    bands = mapview.cordon_layers(
        *(lambda c: (c.bands, c.checkpoints))(__import__("geo.analyses").analyses.cordon(demo))
    )[0]
    drawn = {bands.style(r)["fillColor"] for _, r in bands.gdf.iterrows()}
    assert drawn == {c for c, _ in bands.legend}
