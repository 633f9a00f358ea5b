"""ring_memory: resident memory and throughput of decode + ring append, the feed's hot path.

Pushes 1,000,000 Kite full-mode ticks (100 instruments, 100 packets a message, as Kite batches
them) through `decode_message` and `TickRings.append`, twice: with rings big enough to hold
every tick (memory grows by 384 B a tick) and with small rings (memory stops at
instruments x capacity x 384 B however many ticks pass). Also Dhan, whose server sends one
packet a message, so the per-message cost dominates. Resident memory is read from
/proc/self/statm (Linux); messages are encoded before the clock starts.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time

from ..brokers.dhan.ticks import decode_packets
from ..brokers.kite.ticks import decode_message
from ..core.instruments import DHAN_SEGMENT_ENUM, Instrument
from ..core.market import DepthLevel, Quote
from ..feeds.ring import RING_DTYPE, TickRings
from ..paper.dhan.ticks import encode_full
from ..paper.kite.ticks import encode_message, encode_packet

INSTRUMENTS = 100
DISTINCT_MESSAGES = 64  # cycled: encoding a million packets would measure the encoder


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _quote(rng: random.Random, price: float, volume: int) -> Quote:
    bids = tuple(DepthLevel(round(price - 0.05 * (i + 1), 2), rng.randint(1, 500), rng.randint(1, 9)) for i in range(5))
    asks = tuple(DepthLevel(round(price + 0.05 * (i + 1), 2), rng.randint(1, 500), rng.randint(1, 9)) for i in range(5))
    return Quote(
        last_price=price,
        last_quantity=rng.randint(1, 50),
        average_price=price,
        volume=volume,
        total_buy_quantity=10_000,
        total_sell_quantity=12_000,
        open=price,
        high=price + 5,
        low=price - 5,
        close=price - 1,
        last_trade_time=1_750_000_000,
        exchange_timestamp=1_750_000_000,
        bids=bids,
        asks=asks,
    )


def _instruments() -> list[Instrument]:
    return [Instrument("NSE", f"SYM{i:03d}", 10_000 + i) for i in range(INSTRUMENTS)]


def _kite_messages(instruments: list[Instrument], rng: random.Random) -> list[bytes]:
    return [
        encode_message(
            [
                encode_packet(i.kite_token, _quote(rng, 100.0 + rng.random() * 1000, 1000 * m), "full")
                for i in instruments
            ]
        )
        for m in range(DISTINCT_MESSAGES)
    ]


def _dhan_messages(instruments: list[Instrument], rng: random.Random) -> list[bytes]:
    segment = DHAN_SEGMENT_ENUM["NSE_EQ"]
    return [
        encode_full(segment, i.security_id, _quote(rng, 100.0 + rng.random() * 1000, 1000 * m))
        for m in range(DISTINCT_MESSAGES // 4)
        for i in instruments
    ]


def _push(messages: list[bytes], decode, rings: TickRings | None, ticks: int) -> dict:
    """Decode (and append) messages until `ticks` ticks went through; figures of that run."""
    gc.collect()
    before = resident_mb()
    done, n, count = 0, len(messages), 0
    started = time.perf_counter()
    while done < ticks:
        decoded = decode(messages[count % n])
        if rings is not None:
            rings.append(decoded, time.time_ns())
        done += len(decoded)
        count += 1
    elapsed = time.perf_counter() - started
    out = {"ticks": done, "messages": count, "ticks_per_s": done / elapsed, "us_per_message": elapsed / count * 1e6}
    if rings is not None:
        out.update(
            rss_before_mb=before,
            rss_after_mb=resident_mb(),
            held_ticks=len(rings),
            bound_mb=len(rings.ids) * rings.capacity * RING_DTYPE.itemsize / 2**20,
        )
        out["rss_growth_mb"] = out["rss_after_mb"] - before
        out["rss_growth_bytes_per_held_tick"] = out["rss_growth_mb"] * 2**20 / max(len(rings), 1)
    return out


async def run(quick: bool) -> dict:
    rng = random.Random(7)
    instruments = _instruments()
    total = 200_000 if quick else 1_000_000
    kite = _kite_messages(instruments, rng)
    dhan = _dhan_messages(instruments, rng)
    kite_ids = [(i.kite_token, i.kite_token & 0xFF) for i in instruments]
    dhan_ids = [(i.security_id, DHAN_SEGMENT_ENUM["NSE_EQ"]) for i in instruments]
    results = {
        "instruments": INSTRUMENTS,
        "ring_row_bytes": RING_DTYPE.itemsize,
        "kite_decode_only": _push(kite, decode_message, None, total),
    }
    # Every tick held: capacity per instrument = ticks per instrument.
    results["kite_decode_append_all_held"] = _push(
        kite, decode_message, TickRings(kite_ids, capacity=total // INSTRUMENTS), total
    )
    gc.collect()
    # Rings of 1,000 ticks: the same million ticks, a fixed 38 MB.
    results["kite_decode_append_capacity_1000"] = _push(
        kite, decode_message, TickRings(kite_ids, capacity=1_000), total
    )
    dhan_total = total // 5
    results["dhan_decode_only"] = _push(dhan, decode_packets, None, dhan_total)
    results["dhan_decode_append"] = _push(dhan, decode_packets, TickRings(dhan_ids, capacity=1_000), dhan_total)
    return results


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(asyncio.run(run(quick="--quick" in sys.argv)), indent=2))
