"""`nbexec sim`: run the paper exchange in the foreground.

When it is ready it prints ONE JSON line on stdout (URLs, accounts with their paper
credentials, instruments) and serves until SIGINT or SIGTERM, then exits 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("sim", help="run the paper exchange (Kite v3 + Dhan v2 protocols) on loopback")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    p.add_argument("--accounts", type=int, default=1, help="number of paper accounts (default 1)")
    p.add_argument(
        "--symbols",
        nargs="+",
        default=None,
        metavar="SYMBOL",
        help="instruments, e.g. INFY NSE:SBIN FOO (unknown names are synthesised)",
    )
    p.add_argument(
        "--tick-rate",
        type=float,
        default=10.0,
        metavar="HZ",
        help="market steps per second (default 10; 0 = only via POST /admin/step)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of prices, credentials and faults")
    p.add_argument(
        "--faults",
        default=None,
        metavar="SPEC",
        help='fault injection, e.g. "500=0.05,429=0.02,hang=0.01,update_dup=0.1"',
    )
    p.add_argument("--no-rate-limits", action="store_true", help="do not enforce the brokers' rate limits")


async def serve(args, ready=None) -> None:
    """Run until SIGINT / SIGTERM; print the info line (or call `ready(info)`) once listening."""
    from nbexec.paper import FRONT_ENDS, PaperExchange

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exchange = PaperExchange(
        FRONT_ENDS,
        host=args.host,
        port=args.port,
        accounts=args.accounts,
        symbols=args.symbols,
        tick_rate=args.tick_rate,
        seed=args.seed,
        faults=args.faults,
        rate_limits=False if args.no_rate_limits else None,
    )
    async with exchange:
        info = exchange.info()
        if ready:
            ready(info)
        else:
            sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
            sys.stdout.flush()
        await stop.wait()


def run(args) -> int:
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="nbexec sim", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
