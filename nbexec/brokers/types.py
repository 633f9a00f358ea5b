"""What every broker's answers look like once normalised: `OrderRoute`'s results.

Broker-specific field names stop at the adapter; these carry the trader's words and the
nbexec `OrderStatus`. `raw` keeps the broker's own object for display and debugging (it is
left out of reprs and comparisons).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nbexec.core.orders import Side
from nbexec.core.states import OrderStatus


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BrokerAck:
    """The broker accepted a place / modify / cancel request (not: the order is filled or open)."""

    broker_order_id: str
    tag: str
    t_written_ns: int = 0  # monotonic ns right after the request's bytes were written
    t_acked_ns: int = 0  # monotonic ns when the broker's answer was framed
    raw: Mapping[str, Any] = _raw()

    @property
    def round_trip_ns(self) -> int:
        return self.t_acked_ns - self.t_written_ns


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order as the broker sees it now (book, lookup or a pushed order update)."""

    broker_order_id: str
    tag: str  # our order_id: Kite `tag`, Dhan `correlationId`
    status: OrderStatus  # mapped from `broker_status`
    quantity: int = 0
    filled_quantity: int = 0
    average_price: float = 0.0
    reject_reason: str = ""
    broker_status: str = ""  # the broker's own word: OPEN, TRIGGER PENDING, PART_TRADED, ...
    instrument: str = ""  # EXCHANGE:SYMBOL
    exchange_order_id: str = ""
    raw: Mapping[str, Any] = _raw()

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class BrokerTrade:
    """One execution (fill) of an order."""

    trade_id: str
    broker_order_id: str
    instrument: str
    side: Side
    quantity: int
    price: float
    exchange_trade_id: str = ""
    timestamp: str = ""  # the broker's exchange timestamp, as sent (IST, naive)
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """Net position in one instrument and product, as the broker reports it."""

    instrument: str
    product: str
    quantity: int  # signed: long > 0, short < 0
    average_price: float = 0.0
    realised_pnl: float = 0.0
    unrealised_pnl: float = 0.0
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Funds:
    """Cash an account can trade with now, and what is already used."""

    available_cash: float
    utilised: float = 0.0
    raw: Mapping[str, Any] = _raw()
