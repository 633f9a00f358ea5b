"""`OrderRoute`: everything the engine calls on a broker, and the retry contract behind it.

One route = one account at one broker (`brokers/kite/`, `brokers/dhan/`; both implement it
through `pooled.PooledBroker`), living on the kernel's event loop. What may be sent again is
the contract the engine relies on (see `retry.py` for the mechanics):

* a place and a modify are NOT idempotent on the wire. They are retried inside the adapter
  only when the request provably never reached the broker. If it may have, they raise
  `retry.OutcomeUnknown`: the engine marks the order UNKNOWN and resolves it with
  `order_by_tag` (`reconcile.resolve_unknown`), never by placing it again.
* `cancel` is idempotent in effect (a second cancel changes nothing at the exchange).
* Every read (`order_by_id`, `order_by_tag`, `orders`, `trades`, `positions`, `funds`) is
  idempotent and safe to retry.
* `start` and `close` are idempotent.

Failures are `nbexec.core.errors.BrokerError` subclasses: `OrderRejected`, `InputError`,
`AuthError`, `RateLimited`, `BrokerUnavailable` (with `transport.TransportError` below it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, runtime_checkable

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import Order

from .types import BrokerAck, BrokerOrder, BrokerPosition, BrokerTrade, Funds

__all__ = [
    "OrderRoute",
    "MODIFIABLE_FIELDS",
    "check_changes",
    "BrokerAck",
    "BrokerOrder",
    "BrokerPosition",
    "BrokerTrade",
    "Funds",
]

# What a modify may change, in nbexec's field names (adapters translate to the broker's).
MODIFIABLE_FIELDS = frozenset({"quantity", "price", "trigger_price", "order_type", "validity"})


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate a modify's changes up front, before anything is sent."""
    if not changes:
        raise ValidationError("changes", changes, "a modify needs at least one field to change")
    unknown = sorted(set(changes) - MODIFIABLE_FIELDS)
    if unknown:
        raise ValidationError("changes", unknown, f"only {sorted(MODIFIABLE_FIELDS)} can be modified")
    return changes


@runtime_checkable
class OrderRoute(Protocol):
    """One account's connection to one broker: orders out, order state and positions in."""

    @property
    def name(self) -> str:
        """The broker's name ("kite", "dhan"): what an order records as its `broker`."""

    @property
    def account(self) -> str:
        """nbexec's name for the account at this broker."""

    async def start(self) -> None:
        """Log in if needed, open and warm the order connections, start the order-update stream.

        After it returns, a place pays no connect or handshake. Idempotent.
        """

    async def close(self) -> None:
        """Close connections and streams. Idempotent."""

    def prepare_place(self, order: Order) -> bytes:
        """The place request's body for `order`; raises `ValidationError` (also when not
        started), sends nothing: the fan-out builds every body before it writes any."""

    def send_place(
        self, order: Order, body: bytes | None = None, *, on_write: Callable[[], object] | None = None
    ) -> asyncio.Future[BrokerAck]:
        """Send one new order, tagged with `order.tag` (`body`: from `prepare_place`, else built
        now); the future holds the broker's ack. `on_write` is called when the bytes left.

        Not idempotent: the future raises `OutcomeUnknown` when the request may have reached
        the broker (never send the order again: resolve it with `order_by_tag`), and
        `OrderRejected` / `InputError` when the broker definitely did not take it.
        """

    async def modify(self, order: Order, **changes: Any) -> BrokerAck:
        """Change an open order's `MODIFIABLE_FIELDS`; same retry contract as `send_place`."""

    async def cancel(self, order: Order) -> BrokerAck:
        """Cancel an open order. Idempotent in effect, safe to retry."""

    async def order_by_id(self, broker_order_id: str) -> BrokerOrder:
        """The order's current state; raises `OrderNotFound` if the broker has no such order."""

    async def order_by_tag(self, tag: str) -> BrokerOrder | None:
        """The order carrying our tag, or None: how an UNKNOWN order is resolved.

        None means the broker's day book has no such order, so it was never placed.
        """

    async def orders(self) -> list[BrokerOrder]:
        """Today's order book, one entry per order (its latest state)."""

    async def trades(self) -> list[BrokerTrade]:
        """Today's executions."""

    async def positions(self) -> list[BrokerPosition]:
        """Net positions."""

    async def funds(self) -> Funds:
        """Available and used cash."""

    async def instruments(self, cache_dir: str | os.PathLike | None = None) -> list[Instrument]:
        """The broker's instrument list (symbols, tokens / security ids, tick and lot sizes),
        cached on disk for the day under `cache_dir`."""

    def order_updates(self) -> AsyncIterator[BrokerOrder]:
        """Order updates as the broker pushes them; they may arrive before the place's ack.

        Reconnects by itself; updates missed while disconnected are recovered by the engine's
        reconciliation against `orders()`, not replayed here.
        """
