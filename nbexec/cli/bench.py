"""`nbexec bench`: run every measurement scenario, print a table, optionally write JSON."""

from __future__ import annotations

import importlib.util
import json

from ..bench.runner import SCENARIOS, format_table, run_all
from ..core.errors import NbexecError

OFFICIAL_SDKS = ("kiteconnect", "dhanhq")


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure latency and throughput, ours vs the alternatives")
    p.add_argument("--quick", action="store_true", help="fewer samples (about a minute)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "scenarios",
        nargs="*",
        choices=[[], *SCENARIOS],
        metavar="SCENARIO",
        help=f"run only these ({', '.join(SCENARIOS)})",
    )
    p.set_defaults(func=run)


def missing_sdks() -> list[str]:
    """The official SDKs the scenarios compare against that are not installed."""
    return [name for name in OFFICIAL_SDKS if importlib.util.find_spec(name) is None]


def run(args) -> int:
    missing = missing_sdks()
    if missing:
        raise NbexecError(
            f"the comparisons need the official SDKs ({', '.join(missing)} missing): "
            "pip install 'nbexec[bench]' (or: make bench)"
        )
    results = run_all(args.scenarios or list(SCENARIOS), quick=args.quick, progress=print)
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json}")
    return 0
