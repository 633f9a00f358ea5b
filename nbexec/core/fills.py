"""Fills and positions: pure accounting, the same arithmetic the Redis script performs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ValidationError
from .orders import Order, Side
from .states import OrderStatus


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (a trade) of part of an order. `fill_id` is the broker's trade id."""

    fill_id: str
    order_id: str
    account: str
    instrument: str
    side: Side
    quantity: int
    price: float
    ts: int = 0  # monotonic ns when nbexec learnt of it

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValidationError("quantity", self.quantity, "a fill must have a positive quantity")
        if self.price <= 0:
            raise ValidationError("price", self.price, "a fill must have a positive price")


def apply_fill(order: Order, fill: Fill) -> Order:
    """The order after `fill`: filled quantity, volume-weighted average price, next status."""
    filled = order.filled_quantity + fill.quantity
    if filled > order.quantity:
        raise ValidationError(
            "fill.quantity", fill.quantity, f"would fill {filled} of order {order.order_id} for {order.quantity}"
        )
    avg = (order.average_price * order.filled_quantity + fill.price * fill.quantity) / filled
    status = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
    return order.transition(status, filled_quantity=filled, average_price=avg)


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one account in one instrument, from the sums of its fills.

    Four running sums are all that is stored (so an atomic HINCRBY in Redis keeps it); average
    prices and realised P&L derive from them (average-cost on the matched quantity).
    """

    account: str
    instrument: str
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity

    @property
    def buy_price(self) -> float:
        return self.buy_value / self.buy_quantity if self.buy_quantity else 0.0

    @property
    def sell_price(self) -> float:
        return self.sell_value / self.sell_quantity if self.sell_quantity else 0.0

    @property
    def realised_pnl(self) -> float:
        matched = min(self.buy_quantity, self.sell_quantity)
        return (self.sell_price - self.buy_price) * matched

    def unrealised_pnl(self, last_price: float) -> float:
        q = self.quantity
        if q > 0:
            return (last_price - self.buy_price) * q
        if q < 0:
            return (self.sell_price - last_price) * -q
        return 0.0

    def apply(self, fill: Fill) -> Position:
        if fill.side is Side.BUY:
            return replace(
                self,
                buy_quantity=self.buy_quantity + fill.quantity,
                buy_value=self.buy_value + fill.quantity * fill.price,
            )
        return replace(
            self,
            sell_quantity=self.sell_quantity + fill.quantity,
            sell_value=self.sell_value + fill.quantity * fill.price,
        )
