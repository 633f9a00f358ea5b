"""kernel_responsiveness: a real kernel's execute round trip while the engine streams ticks.

One python3 kernel (`nbexec.notebook.runner.LiveKernel`): first idle, then with the engine in
it, every paper instrument subscribed in full mode at 4,000 market steps a second, the desk
(blotter, positions, kill switch) live and orders firing in the background. The tick rate is
what the feed delivered inside the kernel; each round trip is request sent -> reply received,
for a trivial cell, so it measures how long the kernel's loop keeps a user waiting.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from ..notebook.runner import LiveKernel, stop_servers
from .stats import ratio, summary

TICK_RATE_HZ = 4000
START = f"""
%load_ext nbexec
import asyncio, time
from nbexec.engine.config import EngineConfig, PaperConfig
from nbexec.notebook import sync
oms = sync.start(EngineConfig(paper=PaperConfig(tick_rate={TICK_RATE_HZ})))
received = [0]
"""
STREAM = """
feed = %oms subscribe {symbols}
feed.on_tick(lambda batch: received.__setitem__(0, received[0] + len(batch)))
desk = %oms blotter
async def keep_trading():
    for n in range(100_000):
        oms.fire("NSE:INFY", "BUY" if n % 2 else "SELL", 1 + n % 7)
        await asyncio.sleep(0.1)
trading = asyncio.ensure_future(keep_trading())
"""
MEASURE_RATE = """
count0, t0 = received[0], time.monotonic()
await asyncio.sleep({seconds})
rate = (received[0] - count0) / (time.monotonic() - t0)
"""


def _round_trips(kernel: LiveKernel, n: int) -> list[float]:
    return [kernel.run("1 + 1") * 1e3 for _ in range(n)]


def measure(quick: bool) -> dict:
    cells, rate_window_s = (30, 1) if quick else (300, 3)
    data_dir = Path(tempfile.mkdtemp(prefix="nbxk-", dir="/tmp"))
    kernel = LiveKernel(data_dir)
    try:
        idle = _round_trips(kernel, cells)
        kernel.run(START)
        symbols = " ".join(f'"{s}"' if " " in s else s for s in kernel.value("sorted(oms.instruments)"))
        kernel.run(STREAM.format(symbols=symbols))
        kernel.run(MEASURE_RATE.format(seconds=rate_window_s))
        rate = kernel.value("rate")
        loaded = _round_trips(kernel, cells)
        orders = kernel.value("len(oms.orders)")
        kernel.run("trading.cancel()\n%oms stop")
    finally:
        kernel.close()
        stop_servers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    idle_s, loaded_s = summary(idle, "ms"), summary(loaded, "ms")
    return {
        "idle_kernel": idle_s,
        "streaming_with_blotter": loaded_s,
        "ticks_per_s_delivered": rate,
        "orders_fired_meanwhile": orders,
        "p50_ratio_loaded_over_idle": ratio(loaded_s["p50"], idle_s["p50"]),
    }


async def run(quick: bool) -> dict:
    # The kernel client is blocking; keep it off this loop.
    return await asyncio.to_thread(measure, quick)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(asyncio.run(run("--full" not in sys.argv)), indent=2))
