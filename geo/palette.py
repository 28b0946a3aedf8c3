"""The project's colours, in one place: the map's layers, the legend, drawings and the report.

Examples
--------
>>> from geo.palette import BAND_FILL, density_color
>>> BAND_FILL["lockdown"]
'#e4002b'
>>> density_color(12_000)
'#807dba'
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BAND_COLORS",
    "BAND_FILL",
    "CATEGORY_COLORS",
    "DENSITY_BREAKS",
    "DENSITY_COLORS",
    "FACILITY_COLOR",
    "HOSPITAL_COLOR",
    "INCIDENT_COLOR",
    "SITE_CLOSED_COLOR",
    "SITE_COLOR",
    "SITE_WAIT_COLORS",
    "STAGING_COLOR",
    "THEMES",
    "density_color",
]

#: Page colours per theme (the map has no basemap offline, so the theme paints its background).
THEMES: dict[str, dict[str, str]] = {
    "dark": {
        "background": "#0d1117",
        "road": "#8b949e",
        "major_road": "#d0d7de",
        "boundary": "#a371f7",
        "text": "#e6edf3",
        "panel": "rgba(13,17,23,0.88)",
    },
    "light": {
        "background": "#f4f1ea",
        "road": "#9a9a9a",
        "major_road": "#555555",
        "boundary": "#1f6feb",
        "text": "#1f2328",
        "panel": "rgba(255,255,255,0.92)",
    },
}

# The incident, the lockdown zone and the densest crowd are three colours that stay apart for
# colour-blind viewers (CIEDE2000 >= 20 under simulated protanopia, deuteranopia and tritanopia,
# checked in tests/test_palette.py): the zones keep the red / orange / yellow of Shanghai's
# practice, incidents are cyan, crowd density is a purple ramp (ColorBrewer "Purples").

#: Crowd density classes (people per km²) and their fills, light to dark.
DENSITY_BREAKS = (0, 1_000, 5_000, 10_000, 20_000, 50_000)
DENSITY_COLORS = ("#efedf5", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#3f007d")

INCIDENT_COLOR = "#00e5ff"
SITE_COLOR = "#2ecc71"
#: A site not open (yet, or any more) in a replay.
SITE_CLOSED_COLOR = "#7f8c8d"
#: A site whose queue takes longer than this (minutes of its throughput) to clear shows it.
SITE_WAIT_COLORS = ((45.0, "#f5a623"), (90.0, "#ff5fa2"))
HOSPITAL_COLOR = "#4aa3ff"
FACILITY_COLOR = "#b0b0b0"
STAGING_COLOR = "#ff9f1c"

#: The cordon's three zones (also the outlines drawn by hand).
BAND_FILL = {"lockdown": "#e4002b", "control": "#ff8000", "prevention": "#ffea00"}
#: One colour per category (catchments coloured by site), cycled.
CATEGORY_COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#17becf",
)
#: Ordered bands, near (green) to far (red): isochrones.
BAND_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027")


def density_color(per_km2: float) -> str:
    """The fill of a crowd density (people per km²)."""
    idx = int(np.searchsorted(DENSITY_BREAKS, per_km2, side="right")) - 1
    return DENSITY_COLORS[max(0, min(idx, len(DENSITY_COLORS) - 1))]
