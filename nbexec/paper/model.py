"""The paper exchange's order model: statuses, orders and their history, trades, positions, funds.

Plain data shared by the engine (`matching.py`) and both front ends; broker-neutral names
(each front end maps them to its broker's spelling). Everything here is importable from
`matching` too.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields

from nbexec.core.instruments import Instrument

# statuses
RECEIVED, VALIDATION_PENDING, OPEN_PENDING = "RECEIVED", "VALIDATION_PENDING", "OPEN_PENDING"
OPEN, TRIGGER_PENDING = "OPEN", "TRIGGER_PENDING"
MODIFY_VALIDATION_PENDING, MODIFY_PENDING, MODIFIED = "MODIFY_VALIDATION_PENDING", "MODIFY_PENDING", "MODIFIED"
CANCEL_PENDING = "CANCEL_PENDING"
COMPLETE, CANCELLED, REJECTED = "COMPLETE", "CANCELLED", "REJECTED"
LIVE = frozenset({OPEN, TRIGGER_PENDING})
TERMINAL = frozenset({COMPLETE, CANCELLED, REJECTED})
INTERIM = frozenset(
    {RECEIVED, VALIDATION_PENDING, OPEN_PENDING, MODIFY_VALIDATION_PENDING, MODIFY_PENDING, MODIFIED, CANCEL_PENDING}
)
# neutral field names carried by ValidationError.field
FIELDS = (
    "account",
    "instrument",
    "side",
    "quantity",
    "order_type",
    "price",
    "trigger_price",
    "product",
    "validity",
    "tag",
    "market_protection",
    "disclosed_quantity",
    "order_id",
)
MAX_MODIFICATIONS = 25


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One entry of an order's history: its status and the fields that change over a life."""

    status: str
    ts: float
    quantity: int
    price: float
    trigger_price: float
    order_type: str
    validity: str
    filled_quantity: int
    average_price: float
    cancelled_quantity: int
    status_message: str


@dataclass(slots=True)
class Order:
    order_id: str
    account: str
    instrument: Instrument
    side: str  # BUY | SELL
    quantity: int
    order_type: str  # MARKET | LIMIT | SL | SL-M
    price: float
    trigger_price: float
    product: str  # CNC | MIS | NRML (front ends map their own names)
    validity: str  # DAY | IOC
    tag: str | None
    market_protection: float
    disclosed_quantity: int
    variety: str
    placed_at: float
    exchange_order_id: str = ""
    status: str = RECEIVED
    status_message: str = ""
    filled_quantity: int = 0
    average_price: float = 0.0
    cancelled_quantity: int = 0
    updated_at: float = 0.0
    modifications: int = 0
    blocked: float = 0.0  # cash reserved for the unfilled part (BUY only)
    meta: dict = field(default_factory=dict)
    history: list[Snapshot] = field(default_factory=list)

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity - self.cancelled_quantity

    @property
    def is_live(self) -> bool:
        return self.status in LIVE


_ORDER_VALUES = operator.attrgetter(*(f.name for f in fields(Order)))


def _clone(order: Order) -> Order:
    """A detached copy with its own history list (far cheaper than copy.copy's generic path;
    one is made per event)."""
    c = Order(*_ORDER_VALUES(order))
    c.history = list(order.history)
    return c


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: str
    order_id: str
    account: str
    instrument: Instrument
    side: str
    product: str
    quantity: int
    price: float
    ts: float
    exchange_order_id: str = ""


@dataclass(slots=True)
class Position:
    """Sums of one account's fills in one (instrument, product): the paper exchange's truth."""

    account: str
    instrument: Instrument
    product: str
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity


@dataclass(frozen=True, slots=True)
class Funds:
    opening_balance: float
    cash: float  # opening balance minus buys plus sells, exactly the fills' value
    blocked: float  # reserved by live BUY orders
    realised: float

    @property
    def available(self) -> float:
        return self.cash - self.blocked


@dataclass(frozen=True, slots=True)
class Event:
    """A state change: `kind` is "order" (status or fill change) or "trade" (one fill)."""

    kind: str
    account: str
    order: Order  # a frozen copy taken at the time of the change
    trade: Trade | None = None
