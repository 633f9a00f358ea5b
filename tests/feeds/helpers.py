"""Waiting for conditions, and checking that a closed feed left no task or socket behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fixtures.waiting import wait_until  # noqa: F401  (the feeds' tests import it from here)


def feed_tasks() -> list[asyncio.Task]:
    """Pending tasks running code of nbexec.feeds (the exchange's are not)."""
    out = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code else ""
        if not task.done() and "nbexec/feeds" in filename:
            out.append(task)
    return out


def client_sockets_to(port: int) -> int:
    """Established TCP connections whose remote end is `port` on this machine (Linux)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count
