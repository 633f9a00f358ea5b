"""`make demo`: the main job, end to end on this machine.

Starts the embedded Redis, shows `nbexec doctor`, creates an order, walks it through its life
(risk, send, ack, two fills) and prints its event history and the account's position.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from .cli.doctor import report
from .core.fills import Fill
from .core.orders import Order, make_tag
from .core.states import OrderStatus as S
from .store import OrderStore, connect, resolve_redis_url


async def walk_one_order(url: str) -> None:
    store = OrderStore(connect(url), prefix="demo")
    signal_id = f"demo-{uuid.uuid4().hex[:8]}"
    order, _ = await store.create(Order(
        order_id=make_tag(signal_id, "DEMO1"), signal_id=signal_id, account="DEMO1",
        instrument="NSE:INFY", side="BUY", quantity=10, order_type="LIMIT", price=1500.25,
        created_at_ns=time.time_ns(), ts_signal=time.monotonic_ns()))
    await store.transition(order, S.PENDING_SEND, ts_risk_passed=time.monotonic_ns())
    await store.transition(order, S.SENT, ts_sent=time.monotonic_ns())
    await store.transition(order, S.ACKED, ts_acked=time.monotonic_ns(), broker_order_id="PAPER-1")
    for trade_id, qty, price in (("T1", 4, 1500.20), ("T2", 6, 1500.25)):
        await store.apply_fill(Fill(f"{signal_id}-{trade_id}", order.order_id, "DEMO1", "NSE:INFY",
                                    order.side, qty, price))
    final = await store.get("DEMO1", order.order_id)
    print(f"\norder {final.order_id}: {final.status} {final.filled_quantity}/{final.quantity} "
          f"@ {final.average_price:.4f}, signal -> done {(final.ts_done - final.ts_signal) / 1e3:.0f} us")
    print("\nevent history (from the Redis stream):")
    for event in await store.events("DEMO1"):
        if event.order_id == order.order_id:
            print(f"  v{event.version:<2} {event.from_status or '-':>14} -> {event.to_status}")
    for position in await store.positions("DEMO1"):
        print(f"\nposition {position.instrument}: {position.quantity} @ {position.buy_price:.4f}")
    await store.close()


def main() -> None:
    print("nbexec doctor")
    for key, value in report().items():
        print(f"  {key:<13} {value}")
    asyncio.run(walk_one_order(resolve_redis_url()))


if __name__ == "__main__":
    main()
