"""`FanOut`: one signal's orders across accounts, as the user holds it.

Returned the moment every order that could go is on the wire; `await fanout` waits until each
order has the broker's answer (acked, rejected or unknown), `await fanout.done()` until each is
final. `fanout.df` is the per-account table with the latency of each hop.
"""

from __future__ import annotations

import asyncio

import pandas as pd

from ..core.orders import Order
from ..core.states import TERMINAL, OrderStatus
from .views import hop_latencies

S = OrderStatus
_ANSWERED = TERMINAL | {S.ACKED, S.PARTIALLY_FILLED, S.UNKNOWN}


class FanOut:
    def __init__(self, signal_id: str, instrument: str, side: str) -> None:
        self.signal_id, self.instrument, self.side = signal_id, instrument, side
        self.orders: dict[str, Order] = {}  # account -> latest known state
        self.skipped: dict[str, str] = {}  # account -> why no order (sizing)
        loop = asyncio.get_running_loop()
        self._answered, self._done = loop.create_future(), loop.create_future()
        self.recorded = asyncio.Event()  # every order is in Redis
        self._unanswered = self._open = 0  # orders without the broker's answer / not final

    def update(self, order: Order) -> None:
        """Take a newer state of one of the orders (older versions are ignored). O(1): it runs
        for every order of a fan-out while it is written, and for every update after."""
        current = self.orders.get(order.account)
        if current is not None and order.version < current.version:
            return
        self.orders[order.account] = order
        was_unanswered = current is not None and current.status not in _ANSWERED
        was_open = current is not None and current.status not in TERMINAL
        self._unanswered += (order.status not in _ANSWERED) - was_unanswered
        self._open += (order.status not in TERMINAL) - was_open
        if not self._unanswered and not self._answered.done():
            self._answered.set_result(self)
        if not self._open and not self._done.done():
            self._done.set_result(self)

    def __await__(self):
        return asyncio.shield(self._answered).__await__()

    async def done(self, timeout: float | None = None) -> FanOut:
        """Wait until every order is final (filled, cancelled, rejected, expired)."""
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.orders.values():
            counts[o.status.value] = counts.get(o.status.value, 0) + 1
        return counts

    @property
    def df(self) -> pd.DataFrame:
        rows = [
            {
                "account": a,
                "order_id": o.order_id,
                "status": o.status.value,
                "quantity": o.quantity,
                "price": o.price,
                "filled": o.filled_quantity,
                "avg_price": o.average_price,
                "route": o.route,
                "reason": o.reject_reason,
                **hop_latencies(o),
            }
            for a, o in self.orders.items()
        ]
        rows += [{"account": a, "status": "SKIPPED", "quantity": 0, "reason": r} for a, r in self.skipped.items()]
        return pd.DataFrame(rows).set_index("account") if rows else pd.DataFrame()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"<FanOut {self.signal_id} {self.side} {self.instrument}: {counts or 'no orders'}{skipped}>"

    def _repr_html_(self) -> str:
        return f"<b>{self!r}</b>" + self.df.to_html()
