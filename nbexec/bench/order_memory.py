"""memory: resident memory after 1,000,000 ticks into ring buffers (`ring_memory`) and 10,000 orders.

The orders part holds 10,000 orders the way the engine does after 200 fan-outs of 50 accounts:
each order built as `OMS.fire` builds it (one validated prototype per signal, re-addressed per
account with `for_account`), moved NEW -> PENDING_SEND -> SENT -> ACKED with every hop stamp
and a broker order id, the latest version kept in a dict by order id (`oms.orders`) and in
its `FanOut` (`oms.fanouts`, by signal id); earlier versions are garbage, as in the engine.
RSS (/proc/self/statm) before and after, after a collection, measured first: after the tick
part the allocator keeps hundreds of freed megabytes resident and new objects land in them
unseen. The orders stay held while the ticks run; `ticks_and_orders_held` adds the growth of
every tick held (rings sized to keep all of them) to the orders' (the rings are freed when
their phase ends, so no single RSS reading shows both).
The engine cannot place 10,000 real orders here in the time budget (Kite allows 200 orders a
minute per account), which is why the orders are built in-process rather than fired.
"""

from __future__ import annotations

import gc
import time

from ..core.orders import Order, OrderType, Side, make_tag
from ..core.states import OrderStatus
from ..engine.fanout import FanOut
from . import ring_memory

S = OrderStatus
ACCOUNTS = 50
FANOUTS = 200


def _fan_out(n: int, accounts: list[str], orders: dict[str, Order], fanouts: dict[str, FanOut]) -> None:
    signal_id = f"sig{n:012d}"
    fanout = fanouts[signal_id] = FanOut(signal_id, "NSE:INFY", "BUY")
    prototype = Order(
        order_id=make_tag(signal_id, "*"),
        signal_id=signal_id,
        account="*",
        instrument="NSE:INFY",
        side=Side.BUY,
        quantity=1,
        order_type=OrderType.LIMIT,
        price=1450.5,
        created_at_ns=time.time_ns(),
        ts_signal=time.monotonic_ns(),
    )
    for i, account in enumerate(accounts):
        order = prototype.for_account(account, make_tag(signal_id, account), 1 + i % 7, Side.BUY)
        order = order.transition(S.PENDING_SEND, ts_risk_passed=time.monotonic_ns())
        order = order.transition(S.SENT, ts_sent=time.monotonic_ns(), route="kite", broker="kite")
        order = order.transition(
            S.ACKED, broker_order_id=f"{250_000_000_000 + n * ACCOUNTS + i}", ts_acked=time.monotonic_ns()
        )
        orders[order.order_id] = order
        fanout.update(order)


def held_orders(orders: dict[str, Order], fanouts: dict[str, FanOut]) -> dict:
    """RSS growth of 10,000 acked orders and their 200 fan-outs, held in the arguments as the engine holds them."""
    accounts = [f"PA{i:04d}" for i in range(1, ACCOUNTS + 1)]
    gc.collect()
    before = ring_memory.resident_mb()
    started = time.perf_counter()
    for n in range(FANOUTS):
        _fan_out(n, accounts, orders, fanouts)
    built_s = time.perf_counter() - started
    gc.collect()
    after = ring_memory.resident_mb()
    growth = after - before
    return {
        "orders": len(orders),
        "fanouts": len(fanouts),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_growth_mb": growth,
        "rss_growth_bytes_per_order": growth * 2**20 / len(orders),
        "us_per_order_built": built_s / len(orders) * 1e6,
    }


async def run(quick: bool) -> dict:
    held: tuple[dict, dict] = ({}, {})
    orders = held_orders(*held)
    results = await ring_memory.run(quick)
    results["orders_10000"] = orders
    ticks = results["kite_decode_append_all_held"]
    results["ticks_and_orders_held"] = {
        "ticks": ticks["held_ticks"],
        "orders": orders["orders"],
        "rss_growth_mb": ticks["rss_growth_mb"] + orders["rss_growth_mb"],
    }
    return results
