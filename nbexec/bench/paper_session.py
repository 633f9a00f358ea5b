"""The paper exchange for benches: `nbexec sim` in its own process, its admin API, and the engine.

The exchange always runs in a process of its own (an exchange on the measuring process's loop
would compete for the same core and bill its work to the client). Its admin API stamps what it
received and sent with `time.monotonic_ns()`, one clock for every process on the machine, so
figures read from it are the exchange's, not the client's own account of itself.

- `start_sim` / `stop_sim`: a bare `nbexec sim` (adapter-level benches, no engine).
- `engine_session`: the whole engine in zero-config paper mode, as a user starts it, with a
  private Redis and data dir under /tmp, everything stopped and removed on exit.
- `Admin`: the admin endpoints the benches read.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ..core.errors import NbexecError
from ..engine.config import EngineConfig, PaperConfig
from ..engine.lifecycle import start, stop
from ..engine.oms import OMS
from ..engine.paper import PaperSupervisor
from ..risk.limits import RiskLimits
from ..store.embedded import EmbeddedRedis

# The official SDKs use requests / autobahn, which honour HTTP(S)_PROXY: keep loopback direct.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

# Benches send the same order shape again and again, and the market moves only when a bench
# steps it: the duplicate-signal guard and the stale-tick check would refuse what is measured.
BENCH_RISK = RiskLimits(duplicate_window_s=None, max_tick_age_s=None)


async def start_sim(accounts: int, *args: str) -> tuple[asyncio.subprocess.Process, dict]:
    """`nbexec sim --tick-rate 0 --accounts N [args]` on a free port: (process, its info line)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nbexec.cli.main",
        "sim",
        "--port",
        "0",
        "--accounts",
        str(accounts),
        "--tick-rate",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 60)  # type: ignore[union-attr]  # stdout=PIPE
    try:
        return proc, json.loads(line)
    except ValueError:
        proc.kill()
        await proc.wait()
        raise NbexecError(f"nbexec sim did not start (said {line[:200]!r})") from None


async def stop_sim(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


class Admin:
    """The paper exchange's admin API (loopback, no auth).

    `new_requests` / `new_frames` return what was recorded since their previous call, so each
    trial reads only its own records (call both once before the first trial to skip warm-up).
    """

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self._requests_seen = self._frames_seen = 0

    async def _call(self, method: str, path: str) -> dict:
        async with self.http.request(method, self.url + path) as r:
            r.raise_for_status()
            return await r.json()

    async def step(self, n: int = 1) -> None:
        """Advance the market `n` steps: each subscribed feed connection is sent a frame."""
        await self._call("POST", f"/step?n={n}")

    async def new_requests(self) -> list[dict]:
        """Order requests received since the previous call, each with `recv_ns` and `tag`."""
        data = await self._call("GET", f"/requests?since={self._requests_seen}")
        self._requests_seen = data["last"]
        return data["requests"]

    async def new_frames(self) -> list[list]:
        """Feed frames sent since the previous call: [seq, send_ns, channel, conn, bytes, ids]."""
        data = await self._call("GET", f"/ticks?since={self._frames_seen}")
        self._frames_seen = data["last"]
        return data["frames"]

    async def received(self, tags: Collection[str], not_before: int) -> list[int]:
        """`recv_ns` of the new order requests carrying `tags`, one per tag, in arrival order.

        A stamp before `not_before` (when the trial started, same clock) is the exchange's bug,
        never a figure: it raises rather than let a negative latency into the results.
        """
        stamps = sorted(r["recv_ns"] for r in await self.new_requests() if r["tag"] in tags)
        if len(stamps) != len(tags):
            raise NbexecError(f"the exchange received {len(stamps)} of {len(tags)} orders")
        if stamps[0] < not_before:
            raise NbexecError(
                f"the exchange stamped an order {(not_before - stamps[0]) / 1e6:.1f} ms "
                "before the trial began (a stale arrival stamp in the paper exchange)"
            )
        return stamps

    async def counters(self) -> dict:
        return await self._call("GET", "/counters")


@dataclass
class EngineSession:
    oms: OMS
    info: dict  # the exchange's info line: URLs, accounts, instruments
    admin: Admin
    start_seconds: float  # engine start (adapters, warm pools, update streams), the exchange already up


@asynccontextmanager
async def engine_session(accounts: int, prefix: str = "bench") -> AsyncIterator[EngineSession]:
    """The engine as `%oms start` makes it (zero-config paper mode, tick rate 0), on this loop."""
    data_dir = Path(tempfile.mkdtemp(prefix="nbxe-", dir="/tmp"))  # short: it holds a unix socket
    redis = EmbeddedRedis(data_dir)
    paper = PaperConfig(accounts=accounts, tick_rate=0)
    config = EngineConfig(paper=paper, prefix=prefix, risk=BENCH_RISK)
    supervisor = PaperSupervisor(data_dir, paper)
    oms = None
    try:
        url = await asyncio.to_thread(redis.start)
        await asyncio.to_thread(supervisor.start)
        loop = asyncio.get_running_loop()
        started = loop.time()
        oms = await start(config, data_dir=data_dir, redis_url=url)
        start_seconds = loop.time() - started
        async with aiohttp.ClientSession() as http:
            info: dict = oms.paper_info  # type: ignore[assignment]  # a paper engine has it
            yield EngineSession(oms, info, Admin(http, info["admin"]), start_seconds)
    finally:
        if oms is not None:
            await stop(oms)
        await asyncio.to_thread(supervisor.stop)
        await asyncio.to_thread(redis.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
