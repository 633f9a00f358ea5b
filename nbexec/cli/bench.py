"""`nbexec bench`: run every measurement scenario, print a table, optionally write JSON."""

from __future__ import annotations

import json

from ..bench.runner import SCENARIOS, format_table, run_all


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure latency and throughput, ours vs the alternatives")
    p.add_argument("--quick", action="store_true", help="fewer samples (about a minute)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], metavar="SCENARIO",
                   help=f"run only these ({', '.join(SCENARIOS)})")
    p.set_defaults(func=run)


def run(args) -> int:
    results = run_all(args.scenarios or list(SCENARIOS), quick=args.quick, progress=print)
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json}")
    return 0
