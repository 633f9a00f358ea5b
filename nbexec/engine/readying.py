"""Readying: a planned signal at the moment of its trigger, up to (not including) its first
side effect.

`Readier.ready` runs risk against the newest quote and the positions now, chooses each
accepted order's route, builds its request body and formats the signal's journal line. It
changes nothing (with `rehearsal=True` not even a half-open route's probe is taken), so busy
polling can run it ahead of the trigger to keep this path warm; the engine then commits the
result. An order whose route is missing or whose request cannot be built is refused alone,
with the reason.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from ..core.errors import ValidationError
from ..core.fills import Position
from ..core.orders import Order, Side, limit_price
from ..core.states import OrderStatus
from ..risk.context import Fingerprint, RecentSignal, RiskContext
from ..risk.pretrade import evaluate, price_for_market
from ..risk.verdict import Decision
from .accounts import Account
from .gate import Gate
from .journal import begin_line
from .planning import Plan
from .routing import NoRoute, choose

S = OrderStatus


class Ready(NamedTuple):
    """A signal readied at its trigger: what the engine commits."""

    planned: list[tuple[Account, Order, bytes]]  # each accepted order, routed, with its request body
    rejected: list[Order]  # RISK_REJECTED, each with its reason
    recent: list[RecentSignal]  # for the duplicate-signal guard, once committed
    line: bytes  # the journal's begin line


class Readier:
    """Readies signals against `positions` (the tracker's, by (account, instrument)), the kill
    switch in `gate`, and the signals it was told were sent (`note_sent`), which the
    duplicate-signal guard compares with."""

    def __init__(self, positions: dict[tuple[str, str], Position], gate: Gate) -> None:
        self.positions, self.gate = positions, gate
        self.recent: dict[Fingerprint, RecentSignal] = {}  # newest signal per (account, symbol, side, qty)

    def ready(self, plan: Plan, t_signal: int, price: float | None, quote: Any, *, rehearsal: bool = False) -> Ready:
        """`plan` readied against `quote` (the newest `LastQuote`, or None); `price` replaces
        the planned limit price. See the module doc."""
        signal_id, instrument, limits, prototype = plan.signal_id, plan.instrument, plan.limits, plan.prototype
        price = prototype.price if price is None else limit_price(prototype.order_type, price)
        market = _Market(quote)
        wall = time.time_ns()
        verdicts: dict[Side, Decision] = {}  # market-level risk verdict per side, shared by all accounts
        planned: list[tuple[Account, Order, bytes]] = []
        rejected: list[Order] = []
        recent: list[RecentSignal] = []
        for account, order, request, seen in plan.orders:
            if price != request.price:  # `armed.fire(price=...)`
                request = request._replace(price=price)
            context = self._risk_context(account.id, instrument.key, seen, market, wall)
            verdict = verdicts.get(order.side) or verdicts.setdefault(
                order.side, price_for_market(request, limits, context)
            )
            decision = evaluate(request, limits, context, verdict)
            rejection = decision.rejection  # (`decision.accepted`, without the property call)
            refused: str | None
            if rejection is not None:
                refused = f"{rejection.check}: {rejection.reason}"
            else:
                refused, routed, body = _routed(account, order, decision, wall, t_signal, rehearsal)
            if refused is not None:
                rejected.append(
                    order.transition(
                        S.RISK_REJECTED, price=price, created_at_ns=wall, ts_signal=t_signal, reject_reason=refused
                    )
                )
                continue
            recent.append(RecentSignal(signal_id, seen, wall))
            planned.append((account, routed, body))  # type: ignore[arg-type]  # not refused: both are set
        line = begin_line(
            signal_id,
            instrument=instrument.key,
            trigger_price=prototype.trigger_price,
            product=prototype.product._value_,
            validity=prototype.validity._value_,
            created_at_ns=wall,
            ts_signal=t_signal,
            # `_value_`: the enum's `.value` is a property, dearer than the attribute, twice per order
            orders=[(o.account, o.side._value_, o.quantity, o.order_type._value_, o.price) for _, o, _ in planned],
            rejected=[
                (o.account, o.side._value_, o.quantity, o.order_type._value_, o.price, o.reject_reason)
                for o in rejected
            ],
        )
        return Ready(planned, rejected, recent, line)

    def note_sent(self, recent: list[RecentSignal]) -> None:
        """A readied signal was committed: its orders are what the duplicate guard compares with."""
        for signal in recent:
            self.recent[signal.fingerprint] = signal

    def _risk_context(
        self, account: str, instrument: str, seen: Fingerprint, market: _Market, now_ns: int
    ) -> RiskContext:
        position = self.positions.get((account, instrument))
        recent = self.recent.get(seen)
        if position is None:
            quantity, pnl = 0, 0.0
        else:
            last = market.last_price
            quantity, pnl = position.quantity, position.realised_pnl + (position.unrealised_pnl(last) if last else 0.0)
        return RiskContext(
            now_ns,
            market.last_price,
            market.bid,
            market.ask,
            market.tick_ns,
            quantity,
            pnl,
            self.gate.killed,
            (recent,) if recent else (),
        )


def _routed(
    account: Account, order: Order, decision: Decision, wall: int, t_signal: int, rehearsal: bool
) -> tuple[str | None, Order | None, bytes | None]:
    """(None, the accepted order priced by risk, PENDING_SEND on its route, its request body),
    or (why it cannot go, None, None)."""
    try:
        route = choose(account.routes, t_signal, admit=not rehearsal).route.name
    except NoRoute as exc:  # every route of this account is open: refused here, not sent
        return f"no_route: {exc}", None, None
    broker = account.brokers[route]
    routed = order.transition(
        S.PENDING_SEND,
        order_type=decision.order_type,
        price=decision.price,
        route=route,
        broker=broker.name,
        created_at_ns=wall,
        ts_signal=t_signal,
        ts_risk_passed=time.monotonic_ns(),
    )
    try:
        return None, routed, broker.prepare_place(routed)
    except ValidationError as exc:  # the broker cannot express it (or is not started)
        return f"broker_request: {exc}", None, None


class _Market:
    """The last tick's figures risk reads, taken once per signal (not once per account)."""

    __slots__ = ("last_price", "bid", "ask", "tick_ns")

    def __init__(self, quote: Any) -> None:
        if quote is None:
            self.last_price = self.bid = self.ask = self.tick_ns = None
        else:
            self.last_price, self.bid, self.ask = quote.last_price, quote.bid or None, quote.ask or None
            self.tick_ns = quote.received_ns
