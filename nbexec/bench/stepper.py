"""Steps the paper market from a process of its own, one step per line on stdin.

Wire-to-wire trials step the market by hand (`POST /admin/step`). Posted from the process being
measured, the step's HTTP answer would land on its loop in the same instant as the tick and be
billed to whichever stack is armed; from here it lands nowhere that is timed. No answers: a
trial knows its step happened when its tick arrives.
"""

from __future__ import annotations

import asyncio
import http.client
import sys
from urllib.parse import urlsplit


class Stepper:
    """Parent side: `step()` writes one line (no await, nothing read back)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, admin_url: str) -> Stepper:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nbexec.bench.stepper", admin_url, stdin=asyncio.subprocess.PIPE
        )
        return cls(proc)

    # (stdin=PIPE: the process has a stdin, hence the ignores)
    def step(self) -> None:
        self.proc.stdin.write(b"\n")  # type: ignore[union-attr]

    async def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def _main(admin_url: str) -> None:
    url = urlsplit(admin_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)  # type: ignore[arg-type]  # a URL with a host
    for _ in sys.stdin:
        conn.request("POST", f"{url.path}/step?n=1")
        conn.getresponse().read()


if __name__ == "__main__":
    _main(sys.argv[1])
