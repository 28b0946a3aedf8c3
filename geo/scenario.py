"""A Scenario: the layers and settings of one situation; load and save a folder or a GeoPackage."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from geo import columns, io, layers
from geo.constants import DEFAULT_STAFF, DRIVE_KMH, PER_LANE_PER_H, WALK_KMH
from geo.crs import local_crs
from geo.errors import InputError
from geo.layers import LAYER_KINDS, LayerReport

__all__ = [
    "DEFAULT_DRIVE_KMH",
    "DEFAULT_STAFF",
    "DEMO_DIR",
    "SETTINGS_FILE",
    "Scenario",
    "Settings",
    "demo",
    "load",
    "now_in",
    "save",
]

DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "disney_2021"
SETTINGS_FILE = "scenario.json"

# The scenario's defaults are the project's (one table each, in geo.constants).
DEFAULT_DRIVE_KMH = DRIVE_KMH


@dataclass
class Settings:
    """Scenario-wide parameters (``scenario.json``)."""

    name: str = "Untitled scenario"
    description: str = ""
    timezone: str = "Asia/Shanghai"
    now: str | None = None
    deadline: str | None = None
    per_lane_per_h: float = PER_LANE_PER_H
    walk_kmh: float = WALK_KMH
    drive_speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DRIVE_KMH))
    checkpoint_staff: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_STAFF))
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = SETTINGS_FILE) -> Settings:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        s = cls(**kwargs, extra=extra)
        s.check(source)
        return s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        return {**d, **extra}

    def check(self, source: str = SETTINGS_FILE) -> None:
        """Raise InputError for a setting that cannot be used."""
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise InputError(
                f"unknown time zone '{self.timezone}'",
                file=source,
                field="timezone",
                expected="an IANA zone such as Asia/Shanghai",
            ) from exc
        for key in ("now", "deadline"):
            value = getattr(self, key)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except ValueError as exc:
                    raise InputError(
                        f"'{value}' is not a time",
                        file=source,
                        field=key,
                        expected="ISO 8601 such as 2021-10-31T23:00:00+08:00",
                    ) from exc
        for key in ("per_lane_per_h", "walk_kmh"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or value <= 0:
                raise InputError(
                    f"{value!r} is not usable", file=source, field=key, expected="a positive number"
                )

    def time(self, key: Literal["now", "deadline"]) -> pd.Timestamp | None:
        """``now`` or ``deadline`` as a tz-aware timestamp in the scenario's zone."""
        value = getattr(self, key)
        if value is None:
            return None
        t = pd.Timestamp(value)
        if t.tzinfo is None:
            t = t.tz_localize(self.timezone)
        return t.tz_convert(self.timezone)


@dataclass
class Scenario:
    """The layers of one situation (every kind present, possibly empty) and its settings."""

    layers: dict[str, gpd.GeoDataFrame]
    settings: Settings = field(default_factory=Settings)
    reports: list[LayerReport] = field(default_factory=list)
    source: str | None = None

    def __post_init__(self) -> None:
        for kind in LAYER_KINDS:
            if kind not in self.layers:  # not setdefault: an empty layer costs ~7 ms to build
                self.layers[kind] = layers.empty(kind)

    @property
    def name(self) -> str:
        return self.settings.name

    def layer(self, kind: str) -> gpd.GeoDataFrame:
        """The layer of ``kind`` (an empty layer when the scenario has none)."""
        return self.layers[kind]

    def hospitals(self) -> gpd.GeoDataFrame:
        fac = self.layers["facilities"]
        return fac[fac["kind"] == "hospital"]

    def extent(self) -> gpd.GeoSeries:
        """All geometries of the scenario (the boundary when there is one)."""
        boundary = self.layers["boundary"]
        if len(boundary):
            return boundary.geometry
        parts = [g.geometry for g in self.layers.values() if len(g)]
        if not parts:
            raise InputError("the scenario has no features", file=self.source)
        return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=layers.WGS84)

    def metric_crs(self) -> CRS:
        """The metric CRS every distance and area of this scenario is measured in."""
        return local_crs(self.extent())

    def with_layer(
        self,
        kind: str,
        gdf: gpd.GeoDataFrame,
        report: LayerReport | None = None,
        mode: Literal["replace", "append"] = "replace",
    ) -> Scenario:
        """A new scenario with ``gdf`` replacing (or appended to) the layer of ``kind``.

        The scenario it is called on is not modified, so a failed upload loses nothing.
        """
        if kind not in LAYER_KINDS:
            raise InputError(f"unknown layer kind '{kind}'", expected=", ".join(LAYER_KINDS))
        if mode == "append" and len(self.layers[kind]):
            old = self.layers[kind]
            clash = sorted(set(old["id"]) & set(gdf["id"]))
            if clash:
                raise InputError(
                    f"{len(clash)} id(s) already in the {kind} layer: {', '.join(clash[:5])}",
                    file=report.source if report else None,
                    field="id",
                    expected="ids not used by the existing layer (or choose 'replace')",
                )
            gdf = gpd.GeoDataFrame(pd.concat([old, gdf], ignore_index=True), crs=layers.WGS84)
        new_layers = dict(self.layers)
        new_layers[kind] = gdf
        reports = [*self.reports, report] if report else list(self.reports)
        return replace(self, layers=new_layers, reports=reports)

    def kpis(self) -> dict[str, float]:
        """Headline figures for the tiles."""
        inc = self.layers["incidents"]
        status = inc["status"].fillna("open") if len(inc) else inc["status"]
        sites = self.layers["testing_sites"]
        lanes = sites["lanes"].fillna(0).astype(float)
        return {
            "open_incidents": int((status == "open").sum()),
            "people_in_crowd_zones": float(self.layers["crowd_zones"]["people"].sum()),
            "testing_sites": len(sites),
            "lanes": int(lanes.sum()),
            "tests_per_hour": float((lanes * sites["per_lane_per_h"].astype(float)).sum()),
        }


def load(path: str | Path) -> Scenario:
    """Load a scenario folder (``scenario.json`` + one GeoJSON per layer) or a GeoPackage."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "no such file or folder", file=str(path), expected="a scenario folder or a .gpkg file"
        )
    if path.is_dir():
        return _load_folder(path)
    if path.suffix.lower() == ".gpkg":
        found, settings_dict = io.read_gpkg(path)
        settings = Settings.from_dict(settings_dict or {"name": path.stem}, source=str(path))
        return Scenario(dict(found), settings, source=str(path))
    raise InputError(
        "not a scenario",
        file=str(path),
        expected="a folder with scenario.json and layer files, or a .gpkg",
    )


def _load_folder(folder: Path) -> Scenario:
    settings_path = folder / SETTINGS_FILE
    if settings_path.exists():
        try:
            data = json.loads(settings_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(
                f"not valid JSON ({exc})",
                file=str(settings_path),
                expected="a JSON object of settings",
            ) from exc
        if not isinstance(data, dict):
            raise InputError(
                "not a JSON object", file=str(settings_path), expected="a JSON object of settings"
            )
        settings = Settings.from_dict(data, source=str(settings_path))
    else:
        settings = Settings(name=folder.name)
    found: dict[str, gpd.GeoDataFrame] = {}
    reports: list[LayerReport] = []
    for kind in LAYER_KINDS:
        candidates = [folder / f"{kind}.{ext}" for ext in ("geojson", "json", "gpkg", "csv")]
        file = next((p for p in candidates if p.exists()), None)
        if file is None:
            continue
        defaults = columns.scenario_defaults(settings)
        gdf, report = io.read_layer(
            file, kind, tz=settings.timezone, allow_empty=True, defaults=defaults
        )
        found[kind] = gdf
        reports.append(report)
    if not found:
        raise InputError(
            "the folder holds no layer files",
            file=str(folder),
            expected="files named like " + ", ".join(f"{k}.geojson" for k in LAYER_KINDS),
        )
    return Scenario(found, settings, reports, source=str(folder))


def save(scenario: Scenario, path: str | Path) -> Path:
    """Write ``scenario`` as a folder (GeoJSON per layer) or, for a ``.gpkg`` path, a GeoPackage."""
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        io.write_gpkg(scenario.layers, path, settings=scenario.settings.to_dict())
        return path
    path.mkdir(parents=True, exist_ok=True)
    (path / SETTINGS_FILE).write_text(
        json.dumps(scenario.settings.to_dict(), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    for kind, gdf in scenario.layers.items():
        io.write_geojson(gdf, path / f"{kind}.geojson")
    return path


def demo() -> Scenario:
    """The embedded demo: Shanghai Disney Resort on the evening of 31 October 2021."""
    return load(DEMO_DIR)


def now_in(settings: Settings) -> datetime:
    """The scenario's 'now' (its own clock for a replayed scenario, else the wall clock)."""
    t = settings.time("now")
    return t.to_pydatetime() if t is not None else datetime.now(ZoneInfo(settings.timezone))
