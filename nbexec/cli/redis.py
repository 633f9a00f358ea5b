"""`nbexec redis`: run the embedded Redis in the foreground, print its URL, stop it on Ctrl-C."""

from __future__ import annotations

import signal
import threading

from ..store.embedded import EmbeddedRedis


def register(subparsers) -> None:
    p = subparsers.add_parser("redis", help="run the embedded Redis in the foreground and print its URL")
    p.add_argument(
        "--fsync",
        choices=("always", "everysec", "no"),
        default=None,
        help="AOF fsync policy (default: NBEXEC_REDIS_FSYNC or everysec)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    server = EmbeddedRedis.default()
    if args.fsync:
        server = EmbeddedRedis(server.data_dir, appendfsync=args.fsync)
    already = server.is_running()
    print(server.start(), flush=True)
    if already:
        print("(already running; left running on exit)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if not server.is_running():
            print("embedded Redis exited", flush=True)
            return 1
    if not already:
        server.stop()
    return 0
