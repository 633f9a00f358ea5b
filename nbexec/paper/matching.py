"""The paper exchange's matching engine: orders, fills, cash and positions. Broker-neutral.

Pure and synchronous: no asyncio, no I/O; the wall clock (`clock() -> epoch seconds`) and the
seed are injected, so a run is reproducible. Both protocol front ends (Kite, Dhan) drive this
one engine and translate its neutral vocabulary into their own.

Contract for front ends
-----------------------
* Input errors (a missing or malformed field, an unknown instrument, a change to a finished
  order) raise `nbexec.core.errors.ValidationError`; `.field` is a neutral name from
  `FIELDS` (map it to the broker's own name: 400 InputException / DH-905). An unknown order id
  raises `OrderNotFound`.
* Exchange-level rejects (lot size, tick grid, circuit band, funds) are not exceptions: the
  order is created in status REJECTED with a `status_message`, as Kite does.
* Statuses: live OPEN, TRIGGER_PENDING; terminal COMPLETE, CANCELLED, REJECTED; interim
  (seen only in `Order.history`) RECEIVED, VALIDATION_PENDING, OPEN_PENDING,
  MODIFY_VALIDATION_PENDING, MODIFY_PENDING, MODIFIED, CANCEL_PENDING. A partial fill leaves
  the order OPEN with `filled_quantity` > 0 and adds an OPEN entry to its history.
* Every state change (each history entry, and each fill) calls the listeners with an `Event`
  carrying a frozen copy of the order, in order, synchronously, inside the engine call.
* Returned `Order` objects are live: read them, never mutate them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nbexec.core.errors import OrderNotFound, ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.market import Quote
from nbexec.core.orders import OrderType, Product, Side, Validity

from .book import Book
from .model import (  # noqa: F401
    CANCEL_PENDING,
    CANCELLED,
    COMPLETE,
    FIELDS,
    INTERIM,
    LIVE,
    MAX_MODIFICATIONS,
    MODIFIED,
    MODIFY_PENDING,
    MODIFY_VALIDATION_PENDING,
    OPEN,
    OPEN_PENDING,
    RECEIVED,
    REJECTED,
    TERMINAL,
    TRIGGER_PENDING,
    VALIDATION_PENDING,
    Event,
    Funds,
    Order,
    Position,
    Snapshot,
    Trade,
    _clone,
)
from .resting import LiveOrders


@dataclass(slots=True)
class _Account:
    id: str
    opening: float
    cash: float
    blocked: float = 0.0
    orders: dict[str, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)


def _enum_value(cls, name: str, value) -> str:
    try:
        return cls(value.upper() if isinstance(value, str) else value).value
    except ValueError:
        raise ValidationError(name, value, f"must be one of {[m.value for m in cls]}") from None


class Engine:
    """One matching engine for every account and instrument of the paper exchange.

    `listings` are (Instrument, previous close) pairs. Each instrument walks with its own RNG
    seeded from (`seed`, instrument key), so adding an instrument does not change the others.
    """

    def __init__(
        self,
        listings: Iterable[tuple[Instrument, float]],
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        circuit_pct: float = 20.0,
        depth_lots: int = 50,
        order_id_base: int = 250_000_000_000_000,
    ) -> None:
        self.clock = clock
        self.seed = seed
        now = clock()
        self.books: dict[str, Book] = {}
        self.instruments: dict[str, Instrument] = {}
        for inst, close in listings:
            rng = random.Random(f"{seed}:{inst.key}")
            self.books[inst.key] = Book(inst, close, rng, circuit_pct=circuit_pct, depth_lots=depth_lots, now=now)
            self.instruments[inst.key] = inst
        self.by_kite_token = {i.kite_token: i for i in self.instruments.values()}
        self.by_security_id = {(i.dhan_segment, i.security_id): i for i in self.instruments.values()}
        self._accounts: dict[str, _Account] = {}
        self._orders: dict[str, Order] = {}
        self._live: dict[str, LiveOrders] = {k: LiveOrders() for k in self.books}
        self._next_order = order_id_base
        self._next_trade = 10_000_000
        self.listeners: list[Callable[[Event], None]] = []
        self.steps = 0

    # -- accounts ---------------------------------------------------------------------------
    def add_account(self, account: str, cash: float = 1_000_000.0) -> None:
        """Open an account with `cash` rupees. Idempotent for an existing id (cash unchanged)."""
        self._accounts.setdefault(account, _Account(account, float(cash), float(cash)))

    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def _acct(self, account: str) -> _Account:
        try:
            return self._accounts[account]
        except KeyError:
            raise ValidationError("account", account, "no such account") from None

    def instrument(self, key: str) -> Instrument:
        """Look up `EXCHANGE:SYMBOL`; raises ValidationError(field="instrument")."""
        try:
            return self.instruments[key]
        except KeyError:
            raise ValidationError("instrument", key, "unknown instrument") from None

    # -- orders -----------------------------------------------------------------------------
    def place(
        self,
        account: str,
        instrument: str,
        side: str,
        quantity: int,
        *,
        order_type: str = "MARKET",
        price: float = 0.0,
        trigger_price: float = 0.0,
        product: str = "MIS",
        validity: str = "DAY",
        tag: str | None = None,
        market_protection: float = 0.0,
        disclosed_quantity: int = 0,
        variety: str = "regular",
        meta: dict | None = None,
    ) -> Order:
        """Place an order; it is matched at once if marketable. Returns the live order.

        Raises ValidationError for input errors (nothing is created). Exchange rejects return
        an order in REJECTED. A marketable remainder beyond displayed depth stays OPEN
        (DAY) or is CANCELLED (IOC).
        """
        acct = self._acct(account)
        inst = self.instrument(instrument)
        if not inst.tradable:
            raise ValidationError("instrument", instrument, "an index cannot be traded")
        side = _enum_value(Side, "side", side)
        order_type = _enum_value(OrderType, "order_type", order_type)
        product = _enum_value(Product, "product", product)
        validity = _enum_value(Validity, "validity", validity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError("quantity", quantity, "must be a positive whole number")
        price, trigger_price = float(price or 0), float(trigger_price or 0)
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise ValidationError("price", price, f"a {order_type} order needs a positive price")
        if order_type in ("SL", "SL-M") and trigger_price <= 0:
            raise ValidationError("trigger_price", trigger_price, f"a {order_type} order needs a trigger price")
        if order_type in ("MARKET", "SL-M"):
            price = 0.0
        if order_type in ("MARKET", "LIMIT"):
            trigger_price = 0.0
        if order_type == "SL" and (
            (side == "BUY" and trigger_price > price) or (side == "SELL" and trigger_price < price)
        ):
            raise ValidationError(
                "trigger_price",
                trigger_price,
                f"a {side} SL order's trigger must be on the far side of its price {price}",
            )
        if tag is not None and (not isinstance(tag, str) or not 0 < len(tag) <= 20):
            raise ValidationError("tag", tag, "must be 1 to 20 characters")
        if not -1 <= float(market_protection) <= 100:
            raise ValidationError("market_protection", market_protection, "must be -1, 0 or 1..100")
        if disclosed_quantity and not 0 <= int(disclosed_quantity) <= quantity:
            raise ValidationError("disclosed_quantity", disclosed_quantity, "must not exceed quantity")

        now = self.clock()
        self._next_order += 1
        order = Order(
            str(self._next_order),
            account,
            inst,
            side,
            quantity,
            order_type,
            price,
            trigger_price,
            product,
            validity,
            tag,
            float(market_protection),
            int(disclosed_quantity or 0),
            variety,
            now,
            meta=dict(meta or {}),
        )
        self._orders[order.order_id] = order
        acct.orders[order.order_id] = order
        self._record(order, RECEIVED, now)
        self._record(order, VALIDATION_PENDING, now)
        reason = self._reject_reason(acct, order)
        if reason:
            order.status_message = reason
            self._record(order, REJECTED, now)
            return order
        order.exchange_order_id = str(1_100_000_000_000_000 + self._next_order % 10**15)
        order.blocked = self._block(acct, order)
        self._record(order, OPEN_PENDING, now)
        book = self.books[inst.key]
        if order_type in ("SL", "SL-M") and not self._triggered(order, book):
            self._record(order, TRIGGER_PENDING, now)
        else:
            self._record(order, OPEN, now)
            self._match(order, book, now)
        if order.is_live:
            self._live[inst.key].file(order)
        return order

    def modify(
        self,
        account: str,
        order_id: str,
        *,
        quantity: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: str | None = None,
        validity: str | None = None,
        disclosed_quantity: int | None = None,
    ) -> Order:
        """Change a live order's open fields (None = unchanged); it may match at once.

        Raises ValidationError if the order is not live, the change is invalid (off grid, out
        of band, below the filled quantity, lot size, funds) or the 25-modification limit is
        reached; the order is then left as it was.
        """
        acct = self._acct(account)
        order = self._own(acct, order_id)
        if not order.is_live:
            raise ValidationError("order_id", order_id, f"order is {order.status} and cannot be modified")
        if order.modifications >= MAX_MODIFICATIONS:
            raise ValidationError("order_id", order_id, "Maximum allowed order modifications exceeded")
        new = _clone(order)
        if order_type is not None:
            new.order_type = _enum_value(OrderType, "order_type", order_type)
        if validity is not None:
            new.validity = _enum_value(Validity, "validity", validity)
        if quantity is not None:
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= order.filled_quantity:
                raise ValidationError(
                    "quantity", quantity, f"must be a whole number above the filled {order.filled_quantity}"
                )
            new.quantity = quantity
        if price is not None:
            new.price = float(price)
        if trigger_price is not None:
            new.trigger_price = float(trigger_price)
        if disclosed_quantity is not None:
            new.disclosed_quantity = int(disclosed_quantity)
        if new.order_type in ("LIMIT", "SL") and new.price <= 0:
            raise ValidationError("price", new.price, f"a {new.order_type} order needs a positive price")
        if new.order_type in ("SL", "SL-M") and new.trigger_price <= 0:
            raise ValidationError("trigger_price", new.trigger_price, "a stop order needs a trigger price")
        if new.order_type in ("MARKET", "SL-M"):
            new.price = 0.0
        if new.order_type in ("MARKET", "LIMIT"):
            new.trigger_price = 0.0
        acct.blocked -= order.blocked
        new.blocked = 0.0
        reason = self._reject_reason(acct, new)
        if reason:
            acct.blocked += order.blocked
            field_name = "quantity" if "lot" in reason or "funds" in reason.lower() else "price"
            raise ValidationError(field_name, getattr(new, field_name), reason)
        now = self.clock()
        was_stop = order.order_type in ("SL", "SL-M")
        for name in ("order_type", "validity", "quantity", "price", "trigger_price", "disclosed_quantity"):
            setattr(order, name, getattr(new, name))
        order.modifications += 1
        order.blocked = self._block(acct, order)
        was = order.status
        self._record(order, MODIFY_VALIDATION_PENDING, now)
        self._record(order, MODIFY_PENDING, now)
        self._record(order, MODIFIED, now)
        book = self.books[order.instrument.key]
        # a stop waits for its trigger again if it was waiting, or has just become a stop
        waits = was == TRIGGER_PENDING or not was_stop
        if order.order_type in ("SL", "SL-M") and waits and not self._triggered(order, book):
            self._record(order, TRIGGER_PENDING, now)
        else:
            self._record(order, OPEN, now)
            self._match(order, book, now)
        if order.is_live:
            self._live[order.instrument.key].file(order)
        return order

    def cancel(self, account: str, order_id: str) -> Order:
        """Cancel a live order's unfilled part. Raises ValidationError if it is not live."""
        acct = self._acct(account)
        order = self._own(acct, order_id)
        if not order.is_live:
            raise ValidationError("order_id", order_id, f"order is {order.status} and cannot be cancelled")
        now = self.clock()
        self._record(order, CANCEL_PENDING, now)
        self._finish(order, CANCELLED, now, "Cancelled by user")
        return order

    # -- the market -------------------------------------------------------------------------
    def step(self, keys: Iterable[str] | None = None) -> list[str]:
        """Advance the walk of `keys` (default: all) by one step and match their live orders."""
        now = self.clock()
        stepped = list(self.books) if keys is None else list(keys)
        for key in stepped:
            book = self.books[key]
            book.step(now)
            live = self._live[key]
            if live:
                self._match_live(live, book, now)
        self.steps += 1
        return stepped

    def _match_live(self, live: LiveOrders, book: Book, now: float) -> None:
        """Trigger and match one book's live orders after its step, oldest first.

        Resting limits short of the best opposite level are not visited (`LiveOrders.due`):
        `take` would find nothing for them, and a long session rests thousands. The two levels
        are read once: fills only empty levels, so within the step they only move away, and a
        stale one lets through at worst an order that finds nothing.
        """
        half_tick = book.tick / 2  # prices are on the grid: compare them as floats, with slack
        buy_reach, sell_reach = book.reach("BUY"), book.reach("SELL")
        buys_from = None if buy_reach is None else buy_reach - half_tick
        sells_up_to = None if sell_reach is None else sell_reach + half_tick
        for order in live.due(buys_from, sells_up_to):
            if order.status == TRIGGER_PENDING and self._triggered(order, book):
                self._record(order, OPEN, now)
            if order.status == OPEN and _reaches(order, buys_from, sells_up_to):
                self._match(order, book, now)
            if order.is_live:
                live.file(order)

    def quote(self, key: str) -> Quote:
        """The instrument's current snapshot (last trade, OHLC, volume, 5-level depth)."""
        return self._book(key).quote(self.clock())

    def circuit(self, key: str) -> tuple[float, float]:
        """(lower, upper) circuit limits of the day."""
        book = self._book(key)
        return book.lower_circuit, book.upper_circuit

    def _book(self, key: str) -> Book:
        try:
            return self.books[key]
        except KeyError:
            raise ValidationError("instrument", key, "unknown instrument") from None

    # -- reads ------------------------------------------------------------------------------
    def orders(self, account: str) -> list[Order]:
        """The account's orders of the day, oldest first."""
        return list(self._acct(account).orders.values())

    def order(self, account: str, order_id: str) -> Order:
        return self._own(self._acct(account), order_id)

    def by_tag(self, account: str, tag: str) -> list[Order]:
        """The account's orders placed with `tag` (Kite tag / Dhan correlationId), oldest first."""
        return [o for o in self._acct(account).orders.values() if o.tag == tag]

    def trades(self, account: str, order_id: str | None = None) -> list[Trade]:
        trades = self._acct(account).trades
        return [t for t in trades if t.order_id == order_id] if order_id else list(trades)

    def positions(self, account: str) -> list[Position]:
        return list(self._acct(account).positions.values())

    def funds(self, account: str) -> Funds:
        a = self._acct(account)
        realised = 0.0
        for p in a.positions.values():
            m = min(p.buy_quantity, p.sell_quantity)
            if m:
                realised += (p.sell_value / p.sell_quantity - p.buy_value / p.buy_quantity) * m
        return Funds(a.opening, a.cash, max(0.0, a.blocked), realised)

    # -- internals --------------------------------------------------------------------------
    def _own(self, acct: _Account, order_id: str) -> Order:
        order = acct.orders.get(str(order_id))
        if order is None:
            raise OrderNotFound(f"order_id={order_id!r}: no such order for account {acct.id}")
        return order

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _snapshot(self, order: Order, status: str, now: float) -> Snapshot:
        return Snapshot(
            status,
            now,
            order.quantity,
            order.price,
            order.trigger_price,
            order.order_type,
            order.validity,
            order.filled_quantity,
            order.average_price,
            order.cancelled_quantity,
            order.status_message,
        )

    def _record(self, order: Order, status: str, now: float) -> None:
        order.status = status
        order.updated_at = now
        order.history.append(self._snapshot(order, status, now))
        if self.listeners:
            frozen = _clone(order)
            self._emit(Event("order", order.account, frozen))

    def _reject_reason(self, acct: _Account, order: Order) -> str:
        inst, book = order.instrument, self.books[order.instrument.key]
        if order.quantity % inst.lot_size:
            return f"Quantity {order.quantity} is not a multiple of the lot size {inst.lot_size}"
        for name in ("price", "trigger_price"):
            value = getattr(order, name)
            if value:
                if not inst.is_on_tick(value):
                    return f"The {name} {value} is not a multiple of the tick size {inst.tick_size}"
                t = inst.to_ticks(value)
                if not book.lower_t <= t <= book.upper_t:
                    return (
                        f"The {name} {value} is outside the day's circuit limits "
                        f"{book.lower_circuit} - {book.upper_circuit}"
                    )
        need = self._required(order) * (order.quantity - order.filled_quantity)
        if need > acct.cash - acct.blocked + 1e-9:
            return (
                f"Insufficient funds. Required margin is {need:.2f} but available margin is "
                f"{acct.cash - acct.blocked:.2f}"
            )
        return ""

    def _required(self, order: Order) -> float:
        """Cash reserved per unit of a BUY: its limit, or last price plus protection for market."""
        if order.side != "BUY":
            return 0.0
        if order.order_type in ("LIMIT", "SL"):
            return order.price
        ref = max(self.books[order.instrument.key].last_price, order.trigger_price)
        return ref * (1 + max(order.market_protection, 1.0) / 100)

    def _block(self, acct: _Account, order: Order) -> float:
        amount = self._required(order) * order.pending_quantity
        acct.blocked += amount
        return amount

    @staticmethod
    def _triggered(order: Order, book: Book) -> bool:
        ltp = book.last_price
        return ltp >= order.trigger_price if order.side == "BUY" else ltp <= order.trigger_price

    def _limit_ticks(self, order: Order, book: Book) -> int:
        if order.order_type in ("LIMIT", "SL"):
            return order.instrument.to_ticks(order.price)
        mp = order.market_protection
        if mp > 0:  # protection: at most mp percent away from the last price
            off = int(book.ltp_t * mp / 100)
            return book.ltp_t + off if order.side == "BUY" else book.ltp_t - off
        return book.upper_t if order.side == "BUY" else book.lower_t

    def _match(self, order: Order, book: Book, now: float) -> None:
        fills = book.take(order.side, self._limit_ticks(order, book), order.pending_quantity)
        for price_t, qty in fills:
            self._fill(order, book, price_t, qty, now)
        if order.pending_quantity == 0:
            self._finish(order, COMPLETE, now, "")
        elif order.validity == "IOC":
            self._finish(order, CANCELLED, now, "IOC order's unfilled quantity cancelled")
        elif fills:  # a partial fill: a new OPEN entry with the larger filled quantity
            self._record(order, OPEN, now)

    def _fill(self, order: Order, book: Book, price_t: int, qty: int, now: float) -> None:
        acct = self._accounts[order.account]
        price = book.price(price_t)
        value = price * qty
        if order.side == "BUY":
            release = min(order.blocked, self._required(order) * qty)
            order.blocked -= release
            acct.blocked -= release
            acct.cash -= value
        else:
            acct.cash += value
        filled = order.filled_quantity + qty
        order.average_price = (order.average_price * order.filled_quantity + value) / filled
        order.filled_quantity = filled
        self._next_trade += 1
        trade = Trade(
            str(self._next_trade),
            order.order_id,
            order.account,
            order.instrument,
            order.side,
            order.product,
            qty,
            price,
            now,
            order.exchange_order_id,
        )
        acct.trades.append(trade)
        pkey = (order.instrument.key, order.product)
        pos = acct.positions.get(pkey)
        if pos is None:
            pos = acct.positions[pkey] = Position(order.account, order.instrument, order.product)
        if order.side == "BUY":
            pos.buy_quantity += qty
            pos.buy_value += value
        else:
            pos.sell_quantity += qty
            pos.sell_value += value
        book.record_trade(price_t, qty, now)
        if self.listeners:
            frozen = _clone(order)
            self._emit(Event("trade", order.account, frozen, trade))

    def _finish(self, order: Order, status: str, now: float, message: str) -> None:
        if status == CANCELLED:
            order.cancelled_quantity = order.pending_quantity
        acct = self._accounts[order.account]
        acct.blocked -= order.blocked
        order.blocked = 0.0
        if message:
            order.status_message = message
        self._live[order.instrument.key].drop(order)
        self._record(order, status, now)


def _reaches(order: Order, buys_from: float | None, sells_up_to: float | None) -> bool:
    """Whether an open order may take anything: a market order always, a limit priced at the
    step's threshold for its side (`LiveOrders.due`'s, None: nothing reaches)."""
    if order.order_type not in ("LIMIT", "SL"):
        return True
    if order.side == "BUY":
        return buys_from is not None and order.price >= buys_from
    return sells_up_to is not None and order.price <= sells_up_to
