"""What the Kite and Dhan adapters share: the order path over a warm pool, the REST client,
the order-update stream, start and close. `PooledBroker` is an `OrderRoute` (`base.py`) less
each broker's own parts: a broker's `adapter.py` supplies its requests, its ack parser, its
update source, its reads and its instrument list; the mechanics live here once.

The fan-out pattern this serves (all on the kernel's loop):

    bodies = [broker.prepare_place(o) for broker, o in work]          # may raise, nothing sent
    acks = [broker.send_place(o, body) for (broker, o), body in ...]  # each written now
    results = await asyncio.gather(*acks, return_exceptions=True)     # then wait for answers

`send_place` writes the request before it returns whenever the account's order limiter has a
token and its pool has an idle warm connection (`channel.start_eagerly`); otherwise the write
follows as soon as one is free, inside the returned future.
"""

from __future__ import annotations

import asyncio
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from nbexec.core.errors import AuthError, BrokerUnavailable, ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import Order

from .channel import OrderChannel
from .order_fields import modified
from .rest_client import RestClient
from .retry import Operation
from .types import BrokerAck, BrokerOrder, BrokerPosition, BrokerTrade, Funds
from .updates import UpdateHub, UpdateSubscription
from .wire import RequestTemplate, Response

log = logging.getLogger(__name__)


class OrderRequests(Protocol):
    """A broker's `requests.py` builder: templates plus pure body builders."""

    place: RequestTemplate
    modify: RequestTemplate
    cancel: RequestTemplate

    def place_body(self, order: Order) -> bytes: ...

    def modify_body(self, order: Order, changed: set[str]) -> bytes: ...

    def order_path(self, broker_order_id: str) -> bytes: ...


class UpdateSource(Protocol):
    """A broker's order-update connection: publishes `BrokerOrder`s into an `UpdateHub`."""

    def start(self) -> None: ...

    async def wait_connected(self, timeout: float | None = None) -> None: ...

    async def close(self) -> None: ...


class BrokerReads(Protocol):
    """A broker's `rest.py`: the reads, already normalised to the `types.py` results."""

    async def order(self, broker_order_id: str) -> BrokerOrder: ...

    async def orders(self) -> list[BrokerOrder]: ...

    async def trades(self) -> list[BrokerTrade]: ...

    async def positions(self) -> list[BrokerPosition]: ...

    async def funds(self) -> Funds: ...


class PooledBroker(ABC):
    """An `OrderRoute` with orders over `channel`, reads over `rest` / `reads` and updates from
    a stream.

    Subclasses set `name`, `account`, `channel`, `rest`, `reads`, `parse_ack` and implement
    `_requests()` (built at start, after any login), `_update_source(hub)` and `instruments()`.
    `stream_timeout_s`: how long `start` waits for the update stream before going on without
    it (it keeps reconnecting; missed updates are recovered by reconciliation against
    `orders()`).
    """

    name: ClassVar[str]  # "kite", "dhan"
    account: str
    channel: OrderChannel
    rest: RestClient
    reads: BrokerReads
    parse_ack: Callable[[Response, str], BrokerAck]
    stream_timeout_s: float = 5.0

    def __init__(self) -> None:
        self.hub = UpdateHub()
        self.requests: OrderRequests | None = None
        self._updates: UpdateSource | None = None

    @abstractmethod
    def _requests(self) -> OrderRequests:
        """The broker's request builder; called by `start`, after any login."""

    @abstractmethod
    def _update_source(self, hub: UpdateHub) -> UpdateSource:
        """The broker's order-update connection, publishing into `hub`."""

    @abstractmethod
    async def instruments(self, cache_dir: str | os.PathLike | None = None) -> list[Instrument]:
        """The broker's instrument list, cached on disk for the day under `cache_dir`."""

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Build the templates, open and warm the order pool, start the update stream."""
        if self.requests is not None:
            return
        await self.rest.start()
        requests = self._requests()
        await self.channel.start()
        self._updates = self._update_source(self.hub)
        self._updates.start()
        self.requests = requests
        try:
            await self._updates.wait_connected(self.stream_timeout_s)
        except AuthError:
            await self.close()
            raise
        except (TimeoutError, BrokerUnavailable):
            log.warning(
                "%s %s: order-update stream not connected after %.1f s; it keeps trying",
                self.name,
                self.account,
                self.stream_timeout_s,
            )

    async def close(self) -> None:
        if self._updates is not None:
            updates, self._updates = self._updates, None
            await updates.close()
        self.requests = None
        self.hub.close()
        await self.channel.close()
        await self.rest.close()

    def _started(self) -> OrderRequests:
        if self.requests is None:
            raise ValidationError("broker", f"{self.name}:{self.account}", "is not started (await start())")
        return self.requests

    # -- the order path -------------------------------------------------------------------
    def prepare_place(self, order: Order) -> bytes:
        """The place request's body for `order`; raises `ValidationError`, sends nothing."""
        return self._started().place_body(order)

    def send_place(
        self, order: Order, body: bytes | None = None, *, on_write: Callable[[], object] | None = None
    ) -> asyncio.Future[BrokerAck]:
        """Write `order`'s place request now (see the module doc) and return its answer's future.

        Not idempotent: never call it again for an order whose future raised `OutcomeUnknown`;
        resolve it with `reconcile.resolve_unknown`. Must be called on the broker's loop.
        `on_write` tells when the bytes left (see `OrderChannel.submit`).
        """
        requests = self._started()
        if body is None:
            body = requests.place_body(order)
        tag = order.tag
        return self.channel.submit(
            Operation.PLACE, requests.place, body, lambda response: self.parse_ack(response, tag), on_write=on_write
        )

    async def place(self, order: Order) -> BrokerAck:
        """One order, its ack awaited: `send_place` outside a fan-out."""
        return await self.send_place(order)

    def send_modify(self, order: Order, **changes: Any) -> asyncio.Future[BrokerAck]:
        """Like `send_place` for a modify of the open order `order` (same retry contract)."""
        requests = self._started()
        path = requests.order_path(order.broker_order_id)
        body = requests.modify_body(modified(order, changes), set(changes))
        tag = order.tag
        return self.channel.submit(
            Operation.MODIFY, requests.modify, body, lambda response: self.parse_ack(response, tag), path
        )

    async def modify(self, order: Order, **changes: Any) -> BrokerAck:
        return await self.send_modify(order, **changes)

    def send_cancel(self, order: Order) -> asyncio.Future[BrokerAck]:
        """Cancel `order`; idempotent in effect, retried on timeouts and 5xx too."""
        requests = self._started()
        path = requests.order_path(order.broker_order_id)
        tag = order.tag
        return self.channel.submit(
            Operation.CANCEL, requests.cancel, b"", lambda response: self.parse_ack(response, tag), path
        )

    async def cancel(self, order: Order) -> BrokerAck:
        return await self.send_cancel(order)

    # -- reads (idempotent, retried inside `rest`) ------------------------------------------
    async def order_by_id(self, broker_order_id: str) -> BrokerOrder:
        return await self.reads.order(broker_order_id)

    async def order_by_tag(self, tag: str) -> BrokerOrder | None:
        """The newest order carrying `tag` in `orders()`, or None: a broker with a direct
        lookup (Dhan's correlation id) overrides it."""
        matches = [o for o in await self.orders() if o.tag == tag]
        return matches[-1] if matches else None

    async def orders(self) -> list[BrokerOrder]:
        return await self.reads.orders()

    async def trades(self) -> list[BrokerTrade]:
        return await self.reads.trades()

    async def positions(self) -> list[BrokerPosition]:
        return await self.reads.positions()

    async def funds(self) -> Funds:
        return await self.reads.funds()

    # -- updates --------------------------------------------------------------------------
    def order_updates(self) -> UpdateSubscription:
        """A new subscription, registered now: updates published from here on are in it."""
        return self.hub.subscribe()

    async def __aenter__(self) -> PooledBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.account!r}, started={self.requests is not None})"
