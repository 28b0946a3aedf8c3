"""``cityops``: the analyses from the shell.

Exit status: 0 success, 1 bad input (the message says which file, feature and field), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geo import analyses, columns, io, staging
from geo import scenario as scen
from geo.constants import DEFAULT_RINGS_M
from geo.errors import InputError
from geo.layers import LAYER_KINDS

__all__ = ["STORE_ENV", "build_parser", "crowd_aggregate", "main"]

Command = Callable[[argparse.Namespace], int]

#: The operations store's URL when ``--store`` is not given (also read by the app).
STORE_ENV = "CITYOPS_STORE"


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--datum",
        choices=["wgs84", "gcj02", "bd09"],
        default="wgs84",
        help="coordinates from Amap/Tencent (gcj02) or Baidu (bd09) are converted",
    )
    p.add_argument("--crs", dest="assume_crs", help="CRS to assume when the file declares none")
    p.add_argument("--swap-xy", action="store_true", help="the file has lat/lon swapped")
    p.add_argument("--tz", default="Asia/Shanghai", help="zone for times written without one")
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN,...",
        help="which column holds a field, e.g. --map name=名称,lanes=车道数 (also lon=, lat=); "
        "known aliases (OSM tags, English variants, Chinese headers) need none",
    )
    p.add_argument(
        "--scenario",
        help="scenario folder, scenario.json or 'demo' whose settings give the defaults "
        "(per_lane_per_h, the date of times of day); default: the project's",
    )


def _read_args(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`geo.io.read_layer` that the read options give."""
    return {
        "datum": args.datum,
        "assume_crs": args.assume_crs,
        "swap_xy": args.swap_xy,
        "tz": args.tz,
        "mapping": columns.parse_mapping(args.map),
        "defaults": _defaults(args.scenario),
    }


def _defaults(where: str | None) -> dict[str, Any] | None:
    if where is None:
        return None
    if where == "demo":
        return columns.scenario_defaults(scen.demo().settings)
    path = Path(where)
    file = path / scen.SETTINGS_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read the scenario's settings ({exc})",
            file=str(file),
            field="--scenario",
            expected="a scenario folder with scenario.json, or the scenario.json file",
        ) from exc
    return columns.scenario_defaults(scen.Settings.from_dict(data, source=str(file)))


def cmd_validate(args: argparse.Namespace) -> int:
    _, report = io.read_layer(args.file, args.layer, **_read_args(args))
    print(f"OK {report.summary()}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """``cityops ingest``: 0 when every file went in whole, 1 when anything was rejected.

    A store error while watching (database gone) ends the run with a traceback; every file is
    atomic, so a supervisor (systemd, a container restart policy) can simply start it again.
    """
    from geo import feeds  # the store needs psycopg only for PostGIS URLs
    from geo.store import StoreError, open_store

    if not args.store:
        raise InputError("no store given", field="--store", expected=f"--store URL or ${STORE_ENV}")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    from geo.auth import Actor

    try:
        store = open_store(args.store, actor=Actor.service(args.service))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        summary = feeds.ingest_folder(
            args.folder,
            store,
            once=args.once,
            poll_s=args.poll,
            settle_s=args.settle,
            datum=args.datum,
            log=log,
        )
    finally:
        store.close()
    print(summary.summary(), flush=True)
    return 1 if summary.rejected or summary.quarantined else 0


def _add_ingest_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingest feed files dropped in a folder into the operations store",
        description="Ingest the feed files dropped in a folder (GeoJSON or CSV) into the "
        "operations store, each exactly once; bad records are quarantined in rejected/.",
    )
    p.add_argument("folder", help="the inbox folder (processed/ and rejected/ go inside it)")
    p.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV),
        help=f"store URL: sqlite:///ops.sqlite or postgresql://... (default: ${STORE_ENV})",
    )
    p.add_argument("--once", action="store_true", help="one pass, then exit (else keep watching)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks (watching)")
    p.add_argument(
        "--settle", type=float, default=1.0, help="seconds a file must stay unchanged to be taken"
    )
    p.add_argument(
        "--datum",
        choices=["wgs84", "gcj02", "bd09"],
        default="wgs84",
        help="coordinates from Amap/Tencent (gcj02) or Baidu (bd09) are converted",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.add_argument(
        "--as",
        dest="service",
        default="ingest",
        help="the service account the events are written as (kept in the audit trail)",
    )
    p.set_defaults(func=cmd_ingest)


def cmd_export(args: argparse.Namespace) -> int:
    sc = _scenario(args.scenario)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for kind in LAYER_KINDS:
        path = out / f"{kind}.geojson"
        io.write_geojson(sc.layer(kind), path)
        print(f"wrote {path} ({len(sc.layer(kind))} features)")
    if args.gpkg:
        scen.save(sc, out / "scenario.gpkg")
        print(f"wrote {out / 'scenario.gpkg'}")
    return 0


def _scenario(path: str) -> scen.Scenario:
    return scen.demo() if path == "demo" else scen.load(path)


def cmd_catchment(args: argparse.Namespace) -> int:
    result = analyses.catchments(_scenario(args.scenario), args.kind, args.mode, cell_m=args.cell)
    sites = result.sites.copy()
    sites.insert(0, "id", sites["site_id"])
    io.write_geojson(sites, args.out)
    s = result.summary
    print(
        f"wrote {args.out}: {len(sites)} catchments; people {s['people']:,.0f}, "
        f"assigned {s['assigned']:,.0f}, untested {s.get('untested', 0):,.0f}"
    )
    table = sites.drop(columns="geometry").sort_values("finish_at", na_position="last")
    for _, r in table.iterrows():
        print(f"  {r['site_id']:<32} people {r['people']:>9,.0f}  finishes {r['finish_at']}")
    return 0


def cmd_isochrones(args: argparse.Namespace) -> int:
    minutes = tuple(float(m) for m in args.minutes.split(","))
    iso = analyses.isochrones(_scenario(args.scenario), args.mode, minutes)
    iso = iso.copy()
    iso.insert(
        0,
        "id",
        [f"{s}:{a:g}-{b:g}" for s, a, b in zip(iso["site_id"], iso["min_from"], iso["min_to"])],
    )
    io.write_geojson(iso, args.out)
    print(f"wrote {args.out}: {len(iso)} bands")
    return 0


def cmd_cordon(args: argparse.Namespace) -> int:
    sc = _scenario(args.scenario)
    ids = [i for i in args.incident.split(",") if i] if args.incident else None
    bands, cps, s = analyses.cordon(
        sc,
        ids,
        analyses.parse_rings(args.rings),
        by=args.by,
        unit=args.unit,
        mode=args.mode,
        include_footpaths=not args.no_footpaths,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bands = bands.copy()
    bands.insert(0, "id", bands["band"])
    io.write_geojson(bands, out / "cordon_bands.geojson")
    io.write_geojson(cps, out / "checkpoints.geojson")
    for band, people in s["people"].items():
        print(f"{band:<11} {people:>12,.0f} people  {s['area_km2'][band]:>8.2f} km²")
    print(
        f"checkpoints {s['checkpoints']:,}  staff {s['staff_total']:,}  "
        f"by class {s['checkpoints_by_class']}"
    )
    print(f"wrote {out / 'cordon_bands.geojson'} and {out / 'checkpoints.geojson'}")
    return 0


def cmd_crowd_aggregate(args: argparse.Namespace) -> int:
    options = {
        k: v for k, v in (("lon", args.lon), ("lat", args.lat), ("weight", args.weight)) if v
    }
    return crowd_aggregate(
        args.input,
        args.cell,
        args.out,
        args.scheduler,
        datum=args.datum,
        swap_xy=args.swap_xy,
        on_bad=args.on_bad,
        observed_at=args.observed_at,
        **options,
    )


def crowd_aggregate(
    input: str | os.PathLike[str],  # noqa: A002 - the CLI's own word
    cell_m: float,
    out: str | os.PathLike[str],
    scheduler: object = None,
    *,
    show_progress: bool = True,
    observed_at: object = None,
    **options: Any,
) -> int:
    """``cityops crowd aggregate INPUT --cell 100 --out grid.gpkg [--scheduler ADDRESS]``.

    Parameters
    ----------
    input : a GeoParquet/Parquet or CSV file of points.
    cell_m : cell size in metres.
    out : output .gpkg or .geojson.
    scheduler : ``None`` for the single-machine path; ``"local"`` for a dask LocalCluster;
        the address of a running dask scheduler (``tcp://host:8786``), or a ``Client``.
    show_progress : draw a progress bar on stderr.
    observed_at, **options : as for :func:`geo.crowd.aggregate_grid`.

    Returns
    -------
    0 on success (bad input raises InputError, which :func:`main` turns into exit status 1).
    """
    from geo import crowd

    t0 = time.perf_counter()
    progress, close = _progress_bar("reading") if show_progress else (None, _nothing)
    try:
        if scheduler:
            from geo import crowd_dask

            grid = crowd_dask.aggregate_grid_dask(
                input,
                cell_m,
                scheduler=scheduler,
                observed_at=observed_at,
                progress=progress,
                **options,
            )
        else:
            grid = crowd.aggregate_grid(
                input, cell_m, observed_at=observed_at, progress=progress, **options
            )
    finally:
        close()
    path = crowd.write_layer(grid, out)
    s = grid.attrs.get("crowd", {})
    print(
        f"wrote {path}: {len(grid)} cells of {crowd.check_cell(cell_m):g} m, "
        f"{s.get('people', float(grid['people'].sum())):,.0f} people from "
        f"{s.get('points_used', 0):,} points"
        + (f" ({s['skipped_rows']:,} bad rows skipped)" if s.get("skipped_rows") else "")
        + f" in {time.perf_counter() - t0:.1f} s",
        file=sys.stdout,
    )
    return 0


def _nothing() -> None:
    return None


def _progress_bar(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A stderr progress bar (tqdm if installed) fed by the library's ``progress(done, total)``
    callback, and a function that closes it."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional

        def plain(done: int, total: int) -> None:
            print(f"\r{label}: {100 * done / max(total, 1):5.1f} %", end="", file=sys.stderr)

        return plain, lambda: print(file=sys.stderr)

    bar = tqdm(
        total=100,
        desc=label,
        unit="%",
        file=sys.stderr,
        leave=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
    )

    def update(done: int, total: int) -> None:
        pct = 100.0 * done / max(total, 1)
        bar.update(max(pct - bar.n, 0.0))

    return update, bar.close


def cmd_stage(args: argparse.Namespace) -> int:
    sc = _scenario(args.scenario)
    if args.deadline:
        sc = analyses.with_deadline(sc, args.deadline)
    within = analyses.held_area(sc) if analyses.scope_key(args.demand) == "held" else None
    r = analyses.stage(
        sc,
        args.objective,
        k=args.k,
        within_min=args.within,
        mode=args.mode,
        lanes=args.lanes,
        within=within,
        exact=True if args.exact else None,
        capacity=args.capacity,
    )
    out = r.sites.copy()
    out.insert(0, "id", out["candidate_id"].astype(str))
    io.write_geojson(out, args.out)
    print(r.plan.summary())
    if len(out) == 0:
        print("  no new site needed: the existing sites already meet the goal")
    for _, row in out.iterrows():
        print(f"  #{row['rank']} {row['candidate_id']}: {row['reason']}")
    b, a = r.before, r.after
    print(
        f"within {args.within:g} min: {b['covered_pct']:.1f}% -> {a['covered_pct']:.1f}%; "
        f"mean {b['mean_min']:.1f} -> {a['mean_min']:.1f} min; "
        f"worst {b['max_min']:.1f} -> {a['max_min']:.1f} min"
    )
    print(f"wrote {args.out}")
    return 0


def cmd_demo_city(args: argparse.Namespace) -> int:
    from geo import synthetic

    for name in ("roads", "sites", "cells", "incidents"):
        if getattr(args, name) < 1:
            raise InputError(
                f"--{name} {getattr(args, name)} is not usable", field=name, expected="at least 1"
            )
    out = synthetic.write_city(
        args.out, args.roads, args.sites, args.cells, args.incidents, seed=args.seed
    )
    print(f"wrote a SYNTHETIC city (made up, see {out / 'README.md'}) to {out}")
    print(f"open it with: make run SCENARIO={out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The situation report (offline HTML) and/or the print sheet (A3 landscape PDF) of the
    scenario's standing plan."""
    from geo import pdfprint, printsheet, report

    if not args.pdf and not args.html:
        print("error: give --pdf OUT.pdf and/or --html OUT.html", file=sys.stderr)
        return 2
    sc = _scenario(args.scenario)
    c = report.standing_contents(sc)
    if c.problem:
        print(f"note: no catchments in the report: {c.problem}", file=sys.stderr)
    missing = ""
    if args.html:
        page = report.build(sc, c.extra, c.figures, c.tables, title=args.title)
        Path(args.html).write_text(page.html, encoding="utf-8")
        missing += page.missing
        print(f"wrote {args.html} ({len(page.html.encode()) / 1e6:.1f} MB, opens offline)")
    if args.pdf:
        t0 = time.perf_counter()
        sheet = printsheet.sheet_html(sc, c.extra, figures=c.figures, title=args.title)
        data = pdfprint.html_to_pdf(sheet.html, size_mm=printsheet.A3_MM)
        Path(args.pdf).write_bytes(data)
        missing += sheet.missing
        print(
            f"wrote {args.pdf} (A3 landscape, {len(data) / 1e3:,.0f} kB, scale bar "
            f"{sheet.scale.label}, 1 : {sheet.scale.denominator:,}; "
            f"{time.perf_counter() - t0:.1f} s)"
        )
    if missing:
        chars = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in sorted(set(missing)))
        print(f"note: characters not in the embedded font: {chars}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityops", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check one layer file and report what is wrong")
    p.add_argument("file")
    p.add_argument("--layer", required=True, choices=LAYER_KINDS)
    _add_read_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", help="write every layer as RFC 7946 GeoJSON")
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--gpkg", action="store_true", help="also write scenario.gpkg")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("catchment", help="testing-site catchments with load and finish times")
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument("--kind", choices=analyses.CATCHMENT_KINDS, default="travel_time")
    p.add_argument("--mode", choices=["walk", "drive"], default="walk")
    p.add_argument("--cell", type=float, default=250.0, help="demand cell size in metres")
    p.add_argument("--out", required=True, help="output .geojson")
    p.set_defaults(func=cmd_catchment)

    p = sub.add_parser("isochrones", help="travel-time bands around every testing site")
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument("--mode", choices=["walk", "drive"], default="walk")
    p.add_argument("--minutes", default="5,10,15,30", help="band limits, e.g. 5,10,15,30")
    p.add_argument("--out", required=True, help="output .geojson")
    p.set_defaults(func=cmd_isochrones)

    p = sub.add_parser("cordon", help="three-tier zones, people inside, checkpoints to staff")
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument("--incident", help="incident id(s), comma-separated (default: all)")
    p.add_argument(
        "--rings",
        default=",".join(f"{r:g}" for r in DEFAULT_RINGS_M),
        help="lockdown,control,prevention limits",
    )
    p.add_argument("--by", choices=["distance", "network"], default="distance")
    p.add_argument("--unit", choices=["m", "min"], default="m", help="min: travel time (network)")
    p.add_argument("--mode", choices=["walk", "drive"], default="walk")
    p.add_argument("--no-footpaths", action="store_true", help="no checkpoints on footpaths")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_cordon)

    p = sub.add_parser("stage", help="where to stage testing teams, checkpoints, ambulances")
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument(
        "--objective",
        choices=analyses.OBJECTIVES,
        default="coverage",
        help="; ".join(f"{name}: {goal.label}" for name, goal in staging.OBJECTIVES.items()),
    )
    p.add_argument("--k", type=int, default=3, help="number of new sites (goals that take k)")
    p.add_argument("--within", type=float, default=15.0, help="T in minutes (coverage, cover)")
    p.add_argument("--deadline", help="HH:MM or ISO 8601 (default: the scenario's)")
    p.add_argument("--mode", choices=["walk", "drive"], default="walk")
    p.add_argument("--lanes", type=int, default=10, help="lanes per mobile testing team")
    p.add_argument(
        "--demand",
        choices=[*analyses.DEMAND_SCOPES, "lockdown"],
        default="all",
        help="held: the people to test (the standing cordon's lockdown zone and the venues its "
        "incidents close; 'lockdown' is an older name for it); all: everyone",
    )
    p.add_argument("--exact", action="store_true", help="force the exact MILP")
    p.add_argument(
        "--capacity",
        action="store_true",
        help="p_median: each site serves at most what its lanes can test by the deadline",
    )
    p.add_argument("--out", required=True, help="output .geojson")
    p.set_defaults(func=cmd_stage)

    p = sub.add_parser(
        "report",
        help="situation report (offline HTML) and A3 print sheet (PDF) of the standing plan",
    )
    p.add_argument("scenario", help="scenario folder, .gpkg, or 'demo'")
    p.add_argument("--pdf", help="write the print sheet here (A3 landscape PDF)")
    p.add_argument("--html", help="write the offline HTML report here")
    p.add_argument("--title", help="title (default: the report's or the scenario's name)")
    p.set_defaults(func=cmd_report)

    crowd_p = sub.add_parser("crowd", help="city-scale crowd points (telecom device counts)")
    crowd_sub = crowd_p.add_subparsers(dest="crowd_command", required=True)
    p = crowd_sub.add_parser("aggregate", help="points to a metric grid (a crowd_zones layer)")
    p.add_argument("input", help="GeoParquet, Parquet or CSV (lon, lat[, devices])")
    p.add_argument("--cell", type=float, default=100.0, help="grid cell size in metres")
    p.add_argument("--out", required=True, help="output .gpkg or .geojson")
    p.add_argument("--scheduler", help="dask scheduler address, or 'local' for a LocalCluster")
    p.add_argument("--lon", help="longitude column (default: detected)")
    p.add_argument("--lat", help="latitude column (default: detected)")
    p.add_argument("--weight", help="count column (default: devices/count/people/weight or 1)")
    p.add_argument("--datum", choices=["wgs84", "gcj02", "bd09"], default="wgs84")
    p.add_argument("--swap-xy", action="store_true", help="the file has lat/lon swapped")
    p.add_argument(
        "--on-bad",
        choices=["raise", "skip"],
        default="raise",
        help="skip (and count) bad rows instead of stopping at the first",
    )
    p.add_argument("--observed-at", help="ISO 8601 time of the counts (default: now)")
    p.set_defaults(func=cmd_crowd_aggregate)

    demo_p = sub.add_parser("demo", help="write a made-up scenario to try the app with")
    demo_sub = demo_p.add_subparsers(dest="demo_command", required=True)
    p = demo_sub.add_parser("city", help="a synthetic city (clearly labelled as made up)")
    p.add_argument("--out", required=True, help="output scenario folder")
    p.add_argument("--roads", type=int, default=100_000, help="road segments (about)")
    p.add_argument("--sites", type=int, default=2_000, help="testing sites")
    p.add_argument("--cells", type=int, default=20_000, help="crowd cells (about)")
    p.add_argument("--incidents", type=int, default=200, help="incidents")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same city)")
    p.set_defaults(func=cmd_demo_city)

    _add_ingest_parser(sub)
    from geo import cli_auth

    cli_auth.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cityops`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:  # geo.auth.PermissionDenied
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
