"""Waiting for conditions, and checking that a closed feed left no task or socket behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path


async def wait_until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Poll `condition` until true; fail (not a timing assert: a generous upper bound) if never."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.005)


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
