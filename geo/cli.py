"""``cityops``: the analyses from the shell.

Exit status: 0 success, 1 bad input (the message says which file, feature and field), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from geo import io
from geo import scenario as scen
from geo.errors import InputError
from geo.layers import LAYER_KINDS

Command = Callable[[argparse.Namespace], int]


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


def cmd_validate(args: argparse.Namespace) -> int:
    _, report = io.read_layer(
        args.file,
        args.layer,
        datum=args.datum,
        assume_crs=args.assume_crs,
        swap_xy=args.swap_xy,
        tz=args.tz,
    )
    print(f"OK {report.summary()}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    sc = scen.load(args.scenario) if args.scenario != "demo" else scen.demo()
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cityops`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
