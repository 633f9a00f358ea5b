"""Tick decode rate: nbexec's NumPy decoders against the official SDK parsers, in one run.

Workloads (docs/performance.md, The scenarios), all built before timing:
* kite_full  - 10,000 full-mode ticks as 100 messages of 100 packets, tokens (n<<8)|1.
* kite_mixed - the same, packets cycled ltp/quote/full 1:1:1.
* dhan_full  - 10,000 full packets, one per message as Dhan sends them.
* dhan_full_batched - the same packets 100 to a buffer (what our decoder does if the server
  ever batches); the official parser cannot read that, so its side is still one per call.
Each run times one pass of ours, then one pass of the official parser, alternating, so drift
on a shared machine hits both. Reported: median ticks/s, the min and max of per-run rates.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence, Sized
from importlib import metadata

from nbexec.brokers.dhan import ticks as dhan
from nbexec.brokers.kite import ticks as kite
from nbexec.core.market import DepthLevel, Quote
from nbexec.paper.dhan import ticks as paper_dhan
from nbexec.paper.kite import ticks as paper_kite

TICKS = 10_000
PER_MESSAGE = 100


def _quote(n: int) -> Quote:
    """A busy full-depth quote around 1500 rupees, varied a little by `n`."""
    ltp = 1500.0 + (n % 200) * 0.05
    return Quote(
        last_price=ltp,
        last_quantity=1 + n % 50,
        average_price=ltp - 0.5,
        volume=100_000 + n,
        total_buy_quantity=5_000 + n,
        total_sell_quantity=6_000 + n,
        open=1490.0,
        high=1520.0,
        low=1480.0,
        close=1495.0,
        last_trade_time=1_700_000_000 + n,
        oi=50_000 + n,
        oi_day_high=60_000,
        oi_day_low=40_000,
        exchange_timestamp=1_700_000_000 + n,
        bids=tuple(DepthLevel(ltp - 0.05 * (i + 1), 10 * (i + 1), i + 1) for i in range(5)),
        asks=tuple(DepthLevel(ltp + 0.05 * (i + 1), 12 * (i + 1), i + 2) for i in range(5)),
    )


def kite_messages(modes: Sequence[str]) -> list[bytes]:
    """TICKS packets, PER_MESSAGE to a message, mode of packet i = modes[i % len(modes)]."""
    packets = [
        paper_kite.encode_packet((n << 8) | 1, _quote(n), modes[(n - 1) % len(modes)]) for n in range(1, TICKS + 1)
    ]
    return [paper_kite.encode_message(packets[i : i + PER_MESSAGE]) for i in range(0, TICKS, PER_MESSAGE)]


def dhan_packets() -> list[bytes]:
    return [paper_dhan.encode_full(1, n, _quote(n)) for n in range(1, TICKS + 1)]


def _timed_pass(decode: Callable[[bytes], Sized], frames: Sequence[bytes]) -> tuple[float, int]:
    count = 0
    start = time.perf_counter()
    for frame in frames:
        count += len(decode(frame))
    return time.perf_counter() - start, count


def _rates(samples: list[float]) -> dict:
    return {"median": round(statistics.median(samples)), "min": round(min(samples)), "max": round(max(samples))}


def compare(
    ours: Callable, ours_frames: Sequence[bytes], official: Callable, official_frames: Sequence[bytes], runs: int
) -> dict:
    """Alternate one timed pass of each; both must decode exactly TICKS ticks every pass."""
    ours_rates: list[float] = []
    official_rates: list[float] = []
    for _ in range(runs):
        for decode, frames, rates in ((ours, ours_frames, ours_rates), (official, official_frames, official_rates)):
            seconds, count = _timed_pass(decode, frames)
            if count != TICKS:
                raise RuntimeError(f"{decode!r} decoded {count} ticks, expected {TICKS}")
            rates.append(count / seconds)
    mine, theirs = _rates(ours_rates), _rates(official_rates)
    return {
        "nbexec_ticks_per_s": mine["median"],
        "official_ticks_per_s": theirs["median"],
        "ratio": round(mine["median"] / theirs["median"], 1),
        "nbexec_min_max": [mine["min"], mine["max"]],
        "official_min_max": [theirs["min"], theirs["max"]],
        "runs": runs,
        "ticks_per_run": TICKS,
        "frames_per_run": {"nbexec": len(ours_frames), "official": len(official_frames)},
    }


def measure(quick: bool) -> dict:
    """All scenarios, synchronously (CPU-bound; call from a worker thread inside a loop)."""
    from dhanhq import MarketFeed
    from kiteconnect import KiteTicker

    runs = 3 if quick else 9
    ticker = KiteTicker("key", "token")  # unconnected: _parse_binary is the SDK's own parser
    feed = MarketFeed.__new__(MarketFeed)  # __init__ would install an event loop; unneeded
    full, mixed = kite_messages(["full"]), kite_messages(["ltp", "quote", "full"])
    packets = dhan_packets()
    batched = [b"".join(packets[i : i + PER_MESSAGE]) for i in range(0, TICKS, PER_MESSAGE)]

    def dhan_official(packet: bytes) -> list:
        return [feed.process_data(packet)]

    return {
        "kite_full": compare(kite.decode_message, full, ticker._parse_binary, full, runs),
        "kite_mixed": compare(kite.decode_message, mixed, ticker._parse_binary, mixed, runs),
        "dhan_full": compare(dhan.decode_packets, packets, dhan_official, packets, runs),
        "dhan_full_batched": compare(dhan.decode_packets, batched, dhan_official, packets, runs),
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "numpy": metadata.version("numpy"),
            "kiteconnect": metadata.version("kiteconnect"),
            "dhanhq": metadata.version("dhanhq"),
            "quick": quick,
        },
    }


async def run(quick: bool) -> dict:
    """Scenario entry point for `nbexec bench`; runs off the loop so the loop stays live."""
    return await asyncio.to_thread(measure, quick)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run("--quick" in sys.argv[1:])), indent=2))
