"""Planning: a signal's market-independent part, done before (or apart from) its trigger.

`Planner.plan` validates the inputs, chooses and sizes the accounts and tags each order;
nothing in a `Plan` depends on the tick that will trigger it, so `oms.arm` builds one ahead
and `armed.fire()` only readies and commits it. `Planner.targets` turns "hold N" into each
account's delta. No clock (but the wall stamp risk will add), no I/O, nothing sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core.fills import Position
from ..core.instruments import Instrument
from ..core.orders import Order, Side, make_tag
from ..risk.context import Fingerprint, OrderRequest, fingerprint
from ..risk.limits import RiskLimits
from .accounts import Account, select_accounts
from .fanout import FanOut
from .market_data import MarketData
from .sizing import Sized, size_for, target_delta

PROTOTYPES = 1024  # validated signal shapes kept (`Planner._prototype`); all dropped when full

Targets = dict[str, tuple[Side, int]]  # account -> the order that takes it to its target


@dataclass(frozen=True, slots=True)
class Plan:
    """A signal's market-independent part: what readying and committing start from."""

    signal_id: str
    instrument: Instrument
    limits: RiskLimits  # with the signal's own slippage
    prototype: Order  # the validated signal, account "*"
    fanout: FanOut  # holds the accounts sizing skipped
    # one tagged, sized NEW order per account to send, with what risk sees of it at the planned
    # price and its fingerprint for the duplicate-signal guard (the same at any price)
    orders: list[tuple[Account, Order, OrderRequest, Fingerprint]]
    quote: Any  # the newest LastQuote when planned (sizing's price), or None


class Planner:
    """Plans signals for `accounts` at `risk`'s limits, reading prices from `market`."""

    def __init__(self, accounts: Mapping[str, Account], market: MarketData, risk: RiskLimits) -> None:
        self.accounts, self.market, self.risk = accounts, market, risk
        self._prototypes: dict[tuple, Order] = {}

    def plan(
        self,
        symbol: str,
        side: Side | str,
        qty: int | None,
        accounts: str | Sequence[str],
        order_type: str,
        price: float | None,
        trigger_price: float | None,
        max_slippage_bps: float | None,
        product: str,
        validity: str,
        signal_id: str | None,
        targets: Targets | None,
    ) -> Plan:
        """Validated inputs, accounts sized (or each given its `targets` order), orders tagged.
        Bad input raises a `ValidationError` naming the field, before anything else happens."""
        instrument = self.market.instrument(symbol)  # bad input is named first, whatever the engine's state
        side = Side(side.upper() if isinstance(side, str) else side)
        chosen = select_accounts(self.accounts, accounts)
        signal_id = signal_id or uuid.uuid4().hex[:16]
        limits = self.risk if max_slippage_bps is None else replace(self.risk, max_slippage_bps=max_slippage_bps)
        fanout = FanOut(signal_id, instrument.key, side.value)
        quote = self.market.last_quote(instrument.key)
        reference = price or (quote.last_price if quote else None)
        # One validated prototype per signal; each account's order is one unvalidated copy of it
        # (its tag, quantity and side are made here, its price and type by risk).
        prototype = self._prototype(
            instrument.key, side, order_type, price or 0.0, trigger_price or 0.0, product, validity
        ).evolve(signal_id=signal_id)
        sizes: dict[tuple, Sized] = {}  # sizing per distinct (rule, capital)
        orders: list[tuple[Account, Order, OrderRequest, Fingerprint]] = []
        for account in chosen:
            if targets is not None:
                if account.id not in targets:
                    continue
                side_for, quantity = targets[account.id]
            else:
                key = (account.sizing, account.capital)
                sized = sizes.get(key)
                if sized is None:  # (a qty of None, without targets, is refused by size_for's own check)
                    sized = sizes[key] = size_for(
                        account.sizing,
                        qty,  # type: ignore[arg-type]
                        instrument,
                        reference,
                        account.capital,
                    )
                if sized.skipped:
                    fanout.skipped[account.id] = sized.skipped_reason
                    continue
                side_for, quantity = side, sized.quantity
            request = OrderRequest(
                signal_id, account.id, instrument, side_for, quantity, prototype.order_type, prototype.price
            )
            orders.append(
                (
                    account,
                    prototype.evolve(
                        account=account.id, order_id=make_tag(signal_id, account.id), quantity=quantity, side=side_for
                    ),
                    request,
                    fingerprint(request),
                )
            )
        return Plan(signal_id, instrument, limits, prototype, fanout, orders, quote)

    def targets(
        self, symbol: str, qty: int, accounts: str | Sequence[str], position: Callable[[str, str], Position]
    ) -> Targets:
        """Each account's order to hold `qty` x its sizing rule (signed) of `symbol`, given its
        `position(account, instrument)` now; accounts already there are left out."""
        instrument = self.market.instrument(symbol)
        tick = self.market.last_tick(instrument.key)
        targets: Targets = {}
        for account in select_accounts(self.accounts, accounts):
            wanted = (
                size_for(
                    account.sizing, abs(qty), instrument, tick.last_price if tick else None, account.capital
                ).quantity
                if qty
                else 0
            )
            held = position(account.id, instrument.key).quantity
            delta = target_delta(wanted if qty >= 0 else -wanted, held)
            if delta:
                targets[account.id] = delta
        return targets

    def _prototype(self, *shape: Any) -> Order:
        """The validated order of this (instrument, side, type, price, trigger, product,
        validity), account "*", no signal: built once per shape (a strategy sends a few shapes
        again and again, and `Order`'s checks are the dearest part of planning), at most
        `PROTOTYPES` kept."""
        try:
            return self._prototypes[shape]
        except (KeyError, TypeError):  # new, or unhashable: bad input, which `Order` names
            pass
        instrument, side, order_type, price, trigger_price, product, validity = shape
        prototype = Order(
            order_id="prototype",
            signal_id="",
            account="*",
            instrument=instrument,
            side=side,
            quantity=1,
            order_type=order_type,
            price=price,
            trigger_price=trigger_price,
            product=product,
            validity=validity,
        )
        if len(self._prototypes) >= PROTOTYPES:
            self._prototypes.clear()
        self._prototypes[shape] = prototype
        return prototype


class Armed:
    """One signal prepared by `oms.arm(...)`, sent by `fire()`; see `OMS.arm`.

    Firing twice sends nothing more: the signal id is the same, so the second call returns
    the first call's `FanOut`. `fire(price=...)` replaces a LIMIT / SL price given when armed.
    """

    __slots__ = ("plan", "_trigger", "__weakref__")

    def __init__(self, plan: Plan, trigger: Callable[[Plan, float | None], FanOut]) -> None:
        self.plan, self._trigger = plan, trigger

    @property
    def signal_id(self) -> str:
        return self.plan.signal_id

    @property
    def accounts(self) -> dict[str, int]:
        """Account -> signed quantity each order will carry (skipped accounts left out)."""
        return {o.account: o.quantity * o.side.sign for _, o, _, _ in self.plan.orders}

    def fire(self, price: float | None = None) -> FanOut:
        """Send it now (safe in a tick callback); returns as `oms.fire` does."""
        return self._trigger(self.plan, price)

    def __repr__(self) -> str:
        plan = self.plan
        return (
            f"Armed({plan.signal_id}: {plan.prototype.side._value_} {plan.instrument.key} "
            f"{plan.prototype.order_type._value_}, {len(plan.orders)} orders)"
        )
