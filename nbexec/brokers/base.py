"""The `Broker` interface that `brokers/kite/`, `brokers/dhan/` and the paper client implement.

One instance = one account at one broker, living on the kernel's event loop. What may be sent
again is the contract the engine relies on (see `retry.py` for the mechanics):

* `place` and `modify` are NOT idempotent on the wire. They are retried inside the adapter
  only when the request provably never reached the broker. If it may have, they raise
  `retry.OutcomeUnknown`: the engine marks the order UNKNOWN and resolves it with
  `order_by_tag`, never by calling `place` again.
* `cancel` is idempotent in effect (a second cancel changes nothing at the exchange).
* Every read (`order_by_id`, `order_by_tag`, `orders`, `trades`, `positions`, `funds`) is
  idempotent and safe to retry.
* `start` and `close` are idempotent.

Failures are `nbexec.core.errors.BrokerError` subclasses: `OrderRejected`, `InputError`,
`AuthError`, `RateLimited`, `BrokerUnavailable` (with `transport.TransportError` below it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import Order

from .types import BrokerAck, BrokerOrder, BrokerPosition, BrokerTrade, Funds

__all__ = ["Broker", "MODIFIABLE_FIELDS", "check_changes", "BrokerAck", "BrokerOrder",
           "BrokerPosition", "BrokerTrade", "Funds"]

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


class Broker(ABC):
    """One account's connection to one broker: orders out, order state and positions in."""

    name: ClassVar[str]       # "kite", "dhan", "paper"
    account: str

    @abstractmethod
    async def start(self) -> None:
        """Log in if needed, open and warm the order connections, start the order-update stream.

        After it returns, a `place` pays no connect or handshake. Idempotent.
        """

    @abstractmethod
    async def close(self) -> None:
        """Close connections and streams. Idempotent."""

    @abstractmethod
    async def place(self, order: Order) -> BrokerAck:
        """Send one new order, tagged with `order.tag`.

        Not idempotent: raises `OutcomeUnknown` when the request may have reached the broker,
        `OrderRejected` / `InputError` when it definitely did not take the order.
        """

    @abstractmethod
    async def modify(self, order: Order, **changes: Any) -> BrokerAck:
        """Change an open order's `MODIFIABLE_FIELDS`; same retry contract as `place`."""

    @abstractmethod
    async def cancel(self, order: Order) -> BrokerAck:
        """Cancel an open order. Idempotent in effect, safe to retry."""

    @abstractmethod
    async def order_by_id(self, broker_order_id: str) -> BrokerOrder:
        """The order's current state; raises `OrderNotFound` if the broker has no such order."""

    async def order_by_tag(self, tag: str) -> BrokerOrder | None:
        """The order carrying our tag, or None: how an UNKNOWN order is resolved.

        None means the broker's day book has no such order, so it was never placed. The default
        scans `orders()`; adapters with a direct lookup (Dhan's correlation id) override it.
        """
        matches = [o for o in await self.orders() if o.tag == tag]
        return matches[-1] if matches else None

    @abstractmethod
    async def orders(self) -> list[BrokerOrder]:
        """Today's order book, one entry per order (its latest state)."""

    @abstractmethod
    async def trades(self) -> list[BrokerTrade]:
        """Today's executions."""

    @abstractmethod
    async def positions(self) -> list[BrokerPosition]:
        """Net positions."""

    @abstractmethod
    async def funds(self) -> Funds:
        """Available and used cash."""

    @abstractmethod
    async def instruments(self, cache_dir: str | None = None) -> list[Instrument]:
        """The broker's instrument list (symbols, tokens / security ids, tick and lot sizes),
        cached on disk for the day under `cache_dir`."""

    @abstractmethod
    def order_updates(self) -> AsyncIterator[BrokerOrder]:
        """Order updates as the broker pushes them; they may arrive before `place` returns.

        Reconnects by itself; updates missed while disconnected are recovered by the engine's
        reconciliation against `orders()`, not replayed here.
        """

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
