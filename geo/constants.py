"""The project's shared constants: one definition each, read by the library, the UI and the CLI.

Examples
--------
>>> from geo.constants import DEFAULT_RINGS_M, DRIVE_KMH, WGS84
>>> WGS84, DEFAULT_RINGS_M
('EPSG:4326', (500.0, 2000.0, 5000.0))
>>> DRIVE_KMH["motorway"], DRIVE_KMH["residential"]
(80.0, 25.0)
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "DEFAULT_RINGS_M",
    "DEFAULT_RINGS_MIN",
    "DEFAULT_STAFF",
    "DRIVE_KMH",
    "MODES",
    "Mode",
    "PER_LANE_PER_H",
    "UNKNOWN_DRIVE_KMH",
    "WALK_KMH",
    "WGS84",
]

#: Every layer and every analysis result is stored in this CRS (RFC 7946's lon/lat).
WGS84 = "EPSG:4326"

#: How people move: on foot or by car.
Mode = Literal["walk", "drive"]
MODES: tuple[str, ...] = ("walk", "drive")

#: Default driving speeds (km/h) per OSM ``highway`` value, when neither the road
#: (``speed_kmh``) nor the scenario (``drive_speeds_kmh``) gives one. Chosen for a Chinese city
#: at night, free-flowing: urban expressways (快速路, OSM ``motorway``) 80, arterials (主干路,
#: ``trunk``) 60, main roads 50, secondary roads (次干路) 40, branch roads (支路, ``tertiary``)
#: 30, local streets 25 -- the design speeds of China's urban road standard CJJ 37-2012, which
#: Shanghai's elevated roads (80 km/h limit) follow. Links and minor classes as OSM practice.
DRIVE_KMH: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 40.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 15.0,
    "services": 15.0,
    "rest_area": 15.0,
}
#: Driving speed for a road class not in :data:`DRIVE_KMH` (and reported as such).
UNKNOWN_DRIVE_KMH = 25.0
#: Walking speed (km/h), also used for the access leg between a point and the road.
WALK_KMH = 4.5

#: Swabs per lane per hour when a site and the scenario say nothing (a working assumption:
#: no official figure was found; 100-200 is the range seen in practice).
PER_LANE_PER_H = 150.0

#: The cordon's lockdown / control / prevention limits: metres (straight or along roads) and
#: minutes (travel time on roads).
DEFAULT_RINGS_M: tuple[float, float, float] = (500.0, 2000.0, 5000.0)
DEFAULT_RINGS_MIN: tuple[float, float, float] = (5.0, 10.0, 15.0)

#: Checkpoint staff per road class crossing a cordon's edge (a made-up staffing table).
DEFAULT_STAFF: dict[str, int] = {
    "motorway": 8,
    "trunk": 6,
    "primary": 4,
    "secondary": 3,
    "tertiary": 2,
    "unclassified": 2,
    "residential": 2,
    "service": 1,
    "footway": 1,
    "path": 1,
}
