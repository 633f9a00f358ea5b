"""`make demo`: run notebooks/quickstart.ipynb in a real Jupyter kernel and say what happened.

    python -m nbexec.notebook.demo [--notebook PATH] [--out PATH] [--keep]

The notebook runs in a fresh ipykernel against the paper exchange and an embedded Redis, both
in a private data dir under /tmp (stopped and removed at the end unless --keep). The executed
notebook, outputs and widget state included, is written to notebooks/executed/, and a summary
is printed: orders by status, fills, and the latency percentiles of each hop.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
from nbclient.exceptions import CellExecutionError

from .runner import execute, stop_servers

REPO = Path(__file__).resolve().parents[2]
SUMMARY_PROBE = """
probe(orders=oms.orders_df().status.value_counts().to_dict(),
      fills=oms.fills_df()[["quantity", "price"]].to_dict("list"),
      latency=oms.latency_df()[["count", "50%", "90%", "99%"]].to_dict("index"))
"""


def summary(facts: dict) -> str:
    fills = pd.DataFrame(facts["fills"])
    lines = ["orders:    " + (", ".join(f"{status} {n}" for status, n in sorted(facts["orders"].items())) or "none")]
    if len(fills):
        average = (fills.quantity * fills.price).sum() / fills.quantity.sum()
        lines.append(f"fills:     {len(fills)}, {int(fills.quantity.sum())} units at {average:,.2f} on average")
    latency = pd.DataFrame(facts["latency"]).T.rename(columns={"50%": "p50", "90%": "p90", "99%": "p99"})
    lines.append("latency (us, per hop):")
    lines += ["  " + line for line in latency.to_string(float_format=lambda v: f"{v:,.0f}").splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbexec.notebook.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=REPO / "notebooks" / "quickstart.ipynb")
    parser.add_argument("--out", type=Path, default=REPO / "notebooks" / "executed" / "quickstart.ipynb")
    parser.add_argument(
        "--keep", action="store_true", help="leave the paper exchange, Redis and their data dir running (printed)"
    )
    args = parser.parse_args(argv)
    if not args.notebook.exists():
        parser.error(f"{args.notebook} not found (run from a source checkout, or pass --notebook)")
    data_dir = Path(tempfile.mkdtemp(prefix="nbexec-demo-", dir="/tmp"))
    print(f"running {args.notebook.name} in a python3 kernel (paper exchange + embedded Redis in {data_dir}) ...")
    try:
        nb, facts = execute(args.notebook, data_dir, probe=SUMMARY_PROBE)
    except CellExecutionError as exc:
        print(f"the notebook failed:\n{exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            stop_servers(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, args.out)
    print(summary(facts))
    print(f"executed notebook: {args.out}")
    if args.keep:
        print(f"still running (NBEXEC_DATA_DIR={data_dir}): the paper exchange and Redis")
    return 0


if __name__ == "__main__":
    sys.exit(main())
