"""store_transition: one atomic transition (one Lua round trip) vs the naive HSET-then-PUBLISH.

The script also checks the table and version, appends to the stream and updates the open set,
so it does strictly more work than the naive pair; the naive pair pays a second round trip
and can be observed half-done.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from ..core.errors import NbexecError
from ..core.orders import Order, Side, make_tag
from ..core.states import OrderStatus
from ..store import OrderStore, connect
from ..store.embedded import EmbeddedRedis
from ..store.order_store import Move, TransitionResult
from .stats import ratio, summary


async def run(quick: bool) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="nbxb-", dir="/tmp"))
    server = EmbeddedRedis(data_dir)
    try:
        store = OrderStore(connect(server.start()), prefix="bench")
        try:
            return await _measure(store, rounds=2_000 if quick else 20_000, pipelined=5_000 if quick else 50_000)
        finally:
            await store.close()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _measure(store: OrderStore, rounds: int, pipelined: int) -> dict:
    order = Order(
        order_id=make_tag("bench", "B1"),
        signal_id="bench",
        account="B1",
        instrument="NSE:INFY",
        side=Side.BUY,
        quantity=1,
    )
    await store.create(order)
    for status in (OrderStatus.PENDING_SEND, OrderStatus.SENT, OrderStatus.ACKED):
        await store.transition(order, status)
    key, channel, redis = store.keys.order("B1", order.order_id), store.keys.channel(), store.redis

    script_us, naive_us = [], []
    for i in range(rounds):  # alternate, so both paths see the same machine state
        t0 = time.perf_counter_ns()
        await store.transition(order, OrderStatus.ACKED, price=float(i))
        t1 = time.perf_counter_ns()
        await redis.hset(key, mapping={"price": repr(float(i)), "status": "ACKED"})
        await redis.publish(channel, order.order_id)
        t2 = time.perf_counter_ns()
        script_us.append((t1 - t0) / 1e3)
        naive_us.append((t2 - t1) / 1e3)

    moves = [Move(order, OrderStatus.ACKED, {"price": float(i)}) for i in range(1_000)]
    began = time.perf_counter()
    for _ in range(pipelined // len(moves)):
        results = await store.transition_batch(moves)
        refused = [r for r in results if not isinstance(r, TransitionResult)]
        if refused:
            raise NbexecError(f"store_transition bench: {len(refused)} pipelined moves refused: {refused[0]}")
    elapsed = time.perf_counter() - began
    script, naive = summary(script_us, "us"), summary(naive_us, "us")
    return {
        "script_one_round_trip": script,
        "naive_hset_then_publish": naive,
        "p50_ratio_naive_over_script": ratio(naive["p50"], script["p50"]),
        "pipelined_transitions_per_s": pipelined / elapsed,
        "pipelined_samples": pipelined,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run(quick=True)), indent=2))
