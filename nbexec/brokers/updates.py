"""Order updates as every adapter hands them out, and fills derived from them.

`UpdateHub` fans one broker connection's updates out to any number of subscribers; a
subscription is registered when `subscribe()` returns (not at the first `__anext__`), so an
update that overtakes the place's ack is not missed. Queues are unbounded: an update is never
dropped here. All of it runs on the loop that publishes (the kernel's loop).

`FillTracker` turns successive updates of an order (filled quantity, average price) into fills
with stable ids `<broker_order_id>:<filled_quantity>`: a duplicate or late update yields
nothing, and the same update seen again after a restart yields the same id, so the store can
apply fills idempotently.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from .types import BrokerOrder

_CLOSED = object()


class UpdateSubscription:
    """An async iterator of `BrokerOrder`s; ends when the hub closes or `close()` is called."""

    def __init__(self, hub: UpdateHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue = asyncio.Queue()

    def __aiter__(self) -> UpdateSubscription:
        return self

    async def __anext__(self) -> BrokerOrder:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)     # later calls end too
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        self._hub._subscriptions.discard(self)
        self._queue.put_nowait(_CLOSED)


class UpdateHub:
    """Publish once, every subscription receives it, in publication order."""

    def __init__(self) -> None:
        self._subscriptions: set[UpdateSubscription] = set()
        self.published = 0

    def subscribe(self) -> UpdateSubscription:
        subscription = UpdateSubscription(self)
        self._subscriptions.add(subscription)
        return subscription

    def publish(self, order: BrokerOrder) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            subscription._queue.put_nowait(order)

    def close(self) -> None:
        """End every subscription (the broker is closing)."""
        for subscription in list(self._subscriptions):
            subscription.close()


class FillDelta(NamedTuple):
    """What one update adds: `quantity` more filled at `price` (the increment's own average)."""

    fill_id: str
    broker_order_id: str
    quantity: int
    price: float


def fill_delta(order: BrokerOrder, filled_before: int, average_before: float) -> FillDelta | None:
    """The fill between a known state and `order`, or None when nothing new was filled.

    The increment's price comes from the two cumulative averages:
    (avg_now * filled_now - avg_before * filled_before) / (filled_now - filled_before).
    """
    quantity = order.filled_quantity - filled_before
    if quantity <= 0:
        return None
    value = order.average_price * order.filled_quantity - average_before * filled_before
    return FillDelta(f"{order.broker_order_id}:{order.filled_quantity}", order.broker_order_id,
                     quantity, round(value / quantity, 6))


class FillTracker:
    """Remembers each order's last filled quantity and average; `observe` yields new fills."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}

    def observe(self, order: BrokerOrder) -> FillDelta | None:
        before = self._seen.get(order.broker_order_id, (0, 0.0))
        delta = fill_delta(order, *before)
        if delta is not None:
            self._seen[order.broker_order_id] = (order.filled_quantity, order.average_price)
        return delta

    def forget(self, broker_order_id: str) -> None:
        """Drop a finished order's state."""
        self._seen.pop(broker_order_id, None)
