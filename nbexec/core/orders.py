"""Orders as the OMS sees them, and how they are named at the broker.

An order's `order_id` is also its idempotency tag: at most 20 alphanumeric characters,
derived deterministically from (signal id, account), so it can travel as Kite's `tag` and
Dhan's `correlationId`, and so a restart mid fan-out finds the same order at the broker
instead of sending a second one.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import TypeVar

from .errors import ValidationError
from .states import OrderStatus, check_transition

TAG_MAX_LEN = 20
_TAG_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
# Enum's own value -> member map, typed with its members: a status from its value, no Enum call.
_STATUS_BY_VALUE: dict[str, OrderStatus] = OrderStatus._value2member_map_  # type: ignore[assignment]
E = TypeVar("E", bound=Enum)


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"

    def __str__(self) -> str:
        return self.value

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"  # stop-loss limit: trigger_price and price
    SL_M = "SL-M"  # stop-loss market: trigger_price only

    def __str__(self) -> str:
        return self.value


class Product(str, Enum):
    CNC = "CNC"  # delivery
    MIS = "MIS"  # intraday
    NRML = "NRML"  # carry-forward derivatives

    def __str__(self) -> str:
        return self.value


class Validity(str, Enum):
    DAY = "DAY"
    IOC = "IOC"

    def __str__(self) -> str:
        return self.value


def make_tag(signal_id: str, account: str) -> str:
    """The idempotency tag of (signal, account): the 20 hex digits of an 80-bit BLAKE2b digest.

    Hex, not base 32: it is made once per order on the order path, and `hexdigest` is C
    (80 bits keep a collision among one account's tags of a day out of reach).
    """
    return hashlib.blake2b(f"{signal_id}\x1f{account}".encode(), digest_size=TAG_MAX_LEN // 2).hexdigest()


def validate_tag(tag: str) -> str:
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise ValidationError("tag", tag, "must be 1 to 20 letters or digits (Kite tag / Dhan correlationId)")
    return tag


def _amount(field: str, value: object) -> float:
    """A price field as a plain float: finite and not negative (NumPy numbers too)."""
    # typeshed's numbers.Real declares no reflected comparison (every Real has one)
    if not (isinstance(value, numbers.Real) and 0 <= value < math.inf):  # type: ignore[operator]
        raise ValidationError(field, value, "must be a finite, non-negative number")
    return float(value)


def limit_price(order_type: OrderType, price: object) -> float:
    """`price` as the limit of an `order_type` order: a plain float, above 0 for LIMIT and SL."""
    price = price if type(price) is float and 0 <= price < math.inf else _amount("price", price)
    if order_type in (OrderType.LIMIT, OrderType.SL) and not price > 0:
        raise ValidationError("price", price, f"a {order_type} order needs a positive price")
    return price


def _enum(cls: type[E], field: str, value: object) -> E:
    member = cls._value2member_map_.get(value) if isinstance(value, str) else None
    if member is not None:  # the exact value, as the engine passes it: no Enum call
        return member  # type: ignore[return-value]  # the map holds members of cls only
    try:
        return cls(value.upper() if isinstance(value, str) else value)
    except ValueError:
        raise ValidationError(field, value, f"must be one of {[m.value for m in cls]}") from None


@dataclass(frozen=True)
class Order:
    """One order for one account. Immutable: every change is a new version via `transition`.

    Dict-backed (no slots) on purpose: a transition copies the instance dict, which is the
    cheapest copy Python has; the fan-out makes several per account. The copies keep
    CPython's key-sharing instance dicts (see `evolve`), so a held order is much smaller than
    one with a dict of its own (`nbexec bench memory`; figures: docs/performance.md, Figures
    behind design choices).
    """

    order_id: str
    signal_id: str
    account: str
    instrument: str  # EXCHANGE:SYMBOL
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    price: float = 0.0  # limit price (LIMIT, SL); 0 when none
    trigger_price: float = 0.0  # SL, SL-M
    product: Product = Product.MIS
    validity: Validity = Validity.DAY
    broker: str = ""
    route: str = ""
    status: OrderStatus = OrderStatus.NEW
    version: int = 1
    filled_quantity: int = 0
    average_price: float = 0.0
    broker_order_id: str = ""
    reject_reason: str = ""
    created_at_ns: int = 0  # wall clock (time.time_ns), for display
    # monotonic-ns stamps of each hop (time.monotonic_ns: one clock for the whole machine)
    ts_signal: int = 0
    ts_risk_passed: int = 0
    ts_sent: int = 0
    ts_acked: int = 0
    ts_first_fill: int = 0
    ts_done: int = 0

    def __post_init__(self) -> None:
        validate_tag(self.order_id)
        for name, cls in (
            ("side", Side),
            ("order_type", OrderType),
            ("product", Product),
            ("validity", Validity),
            ("status", OrderStatus),
        ):
            value = getattr(self, name)
            if not isinstance(value, cls):
                object.__setattr__(self, name, _enum(cls, name, value))
        if not self.account:
            raise ValidationError("account", self.account, "must not be empty")
        for name in ("price", "trigger_price"):
            value = getattr(self, name)
            if type(value) is not float or not 0 <= value < math.inf:  # NumPy numbers: plain floats
                object.__setattr__(self, name, _amount(name, value))  # (np.float64's repr is not for the wire)
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool) or self.quantity <= 0:
            raise ValidationError("quantity", self.quantity, "must be a positive whole number")
        limit_price(self.order_type, self.price)
        if self.order_type in (OrderType.SL, OrderType.SL_M) and not self.trigger_price > 0:
            raise ValidationError(
                "trigger_price", self.trigger_price, f"a {self.order_type} order needs a positive trigger price"
            )
        if not 0 <= self.filled_quantity <= self.quantity:
            raise ValidationError(
                "filled_quantity", self.filled_quantity, f"must be between 0 and quantity {self.quantity}"
            )

    @property
    def tag(self) -> str:
        return self.order_id

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    def transition(self, status: OrderStatus | str, **changes: object) -> Order:
        """The next version of this order in `status`; raises if the table forbids the move.
        The one way an order changes status, on the order path too.

        Bookkeeping fields (stamps, broker ids, route, reason) are copied without re-running
        the validation of `__post_init__`, and so are a price and a MARKET / LIMIT type (what
        risk decides), checked on their own: this runs per order on the order path. Any other
        change is validated in full.
        """
        check_transition(self.order_id, self.status, status)
        status = _STATUS_BY_VALUE.get(status) or OrderStatus(status)
        keys = changes.keys()
        if keys <= _BOOKKEEPING:
            return self.evolve(**changes, status=status, version=self.version + 1)
        if keys <= _PRICING and changes.get("order_type", self.order_type) in _UNTRIGGERED:
            order_type = _enum(OrderType, "order_type", changes.get("order_type", self.order_type))
            changes.update(order_type=order_type, price=limit_price(order_type, changes.get("price", self.price)))
            return self.evolve(**changes, status=status, version=self.version + 1)
        # `changes` are checked by __post_init__, as for any new Order
        return replace(self, status=status, version=self.version + 1, **changes)  # type: ignore[arg-type]

    def for_account(self, account: str, order_id: str, quantity: int, side: Side) -> Order:
        """This (validated) order, re-addressed: how a fan-out makes 50 orders from one."""
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError("quantity", quantity, "must be a positive whole number")
        validate_tag(order_id)
        return self.evolve(account=account, order_id=order_id, quantity=quantity, side=Side(side))

    def evolve(self, **changes: object) -> Order:
        """A copy with `changes`, NOT re-validated: for values the engine derived itself (a risk
        decision's price, a route) on the order path, where validation already happened once."""
        new = object.__new__(Order)
        fields = new.__dict__  # filled in place, in field order: it stays a key-sharing dict
        fields.update(self.__dict__)  # (a fraction of the size of a dict of its own)
        fields.update(changes)
        return new


ORDER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Order))
# Fields a transition may set without re-validating the order: they carry no invariant.
_BOOKKEEPING = frozenset(
    {
        "ts_signal",
        "ts_risk_passed",
        "ts_sent",
        "ts_acked",
        "ts_first_fill",
        "ts_done",
        "created_at_ns",
        "broker_order_id",
        "route",
        "broker",
        "reject_reason",
    }
)
# ... and those with a price and an order type that needs no trigger, checked by `limit_price`.
_PRICING = _BOOKKEEPING | {"price", "order_type"}
_UNTRIGGERED = frozenset({OrderType.MARKET, OrderType.LIMIT})
_INT_FIELDS = frozenset(f.name for f in fields(Order) if f.type == "int")
_FLOAT_FIELDS = frozenset(f.name for f in fields(Order) if f.type == "float")


def order_to_fields(order: Order) -> dict[str, str]:
    """Flat string mapping, as stored in a Redis hash."""
    return {
        k: (v.value if isinstance(v, Enum) else repr(v) if isinstance(v, float) else str(v))
        for k, v in asdict(order).items()
    }


def order_from_fields(data: dict) -> Order:
    """Inverse of `order_to_fields`; accepts bytes or str keys and values."""
    clean = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in data.items()
    }
    kwargs: dict[str, object] = {}
    for name in ORDER_FIELDS:
        if name not in clean:
            continue
        value = clean[name]
        kwargs[name] = int(value) if name in _INT_FIELDS else float(value) if name in _FLOAT_FIELDS else value
    return Order(**kwargs)  # type: ignore[arg-type]  # strings from Redis: __post_init__ converts them
