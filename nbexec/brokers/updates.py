"""Order updates as every adapter hands them out.

`UpdateHub` fans one broker connection's updates out to any number of subscribers; a
subscription is registered when `subscribe()` returns (not at the first `__anext__`), so an
update that overtakes the place's ack is not missed. Queues are unbounded: an update is never
dropped here. All of it runs on the loop that publishes (the kernel's loop).
"""

from __future__ import annotations

import asyncio

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
            self._queue.put_nowait(_CLOSED)  # later calls end too
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
