"""What risk is shown: the order one account is about to send, and a snapshot of its world.

Both are plain values the engine builds from its own state; risk reads no clock and no feed,
so a decision can be replayed from them exactly.
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.instruments import Instrument
from ..core.orders import OrderType, Side


class OrderRequest(NamedTuple):
    """One account's sized order for one signal, before it has an order id or a route.

    A NamedTuple (like `RiskContext`): one is built per account on the order path, and a
    tuple is built in C where a frozen dataclass sets each field through Python.
    """

    signal_id: str
    account: str
    instrument: Instrument
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    price: float = 0.0  # limit price of a LIMIT or SL order; 0 when none

    @property
    def has_limit_price(self) -> bool:
        return self.order_type in (OrderType.LIMIT, OrderType.SL)


class Fingerprint(NamedTuple):
    """What makes two signals look like the same trade to the duplicate-signal guard."""

    account: str
    instrument: str  # EXCHANGE:SYMBOL
    side: Side
    quantity: int


def fingerprint(request: OrderRequest) -> Fingerprint:
    return Fingerprint(request.account, request.instrument.key, request.side, request.quantity)


class RecentSignal(NamedTuple):
    """An order the engine let through lately, for the duplicate-signal guard."""

    signal_id: str
    fingerprint: Fingerprint
    seen_at_ns: int  # monotonic ns


class RiskContext(NamedTuple):
    """The account and market as the engine sees them at `now_ns` (monotonic ns)."""

    now_ns: int
    last_price: float | None = None
    bid: float | None = None  # best bid; None when the book has no bids
    ask: float | None = None  # best ask; None when the book has no asks
    last_tick_ns: int | None = None  # when the last tick arrived (monotonic ns)
    position: int = 0  # this account's net units in this instrument
    pnl: float = 0.0  # this account's realised + unrealised P&L today, rupees
    killed: bool = False  # the kill switch
    recent_signals: tuple[RecentSignal, ...] = ()

    @property
    def tick_age_ns(self) -> int | None:
        return None if self.last_tick_ns is None else self.now_ns - self.last_tick_ns
