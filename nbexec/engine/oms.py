"""The OMS: one signal in, correctly sized and risk-checked orders on the wire at once, each
tracked in Redis from signal to fill.

Runs in the current asyncio loop (the kernel's, in Jupyter); every method is called from it.
The order path (`fire`) is synchronous up to the last byte written: sizing, risk, the journal
line and the writes happen in one step of the loop, with no await in front of the wire. Redis
is written right after, in one pipelined round trip; acks, fills and broker updates follow as
tasks. Redis unreachable = fail closed: new signals are refused until it is back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, NamedTuple, Sequence, TypeVar

import pandas as pd

from ..brokers.reconcile import resolve_unknown
from ..brokers.retry import OutcomeUnknown
from ..brokers.types import BrokerAck, BrokerOrder
from ..brokers.wire import TransportError
from ..core.errors import (BrokerError, BrokerUnavailable, InvalidTransition, NbexecError, RateLimited,
                           RiskRejected, StaleVersion, StoreUnavailable, ValidationError)
from ..core.fills import Fill, Position
from ..core.instruments import Instrument, parse_instrument_key
from ..core.orders import Order, Side, limit_price, make_tag
from ..core.states import TERMINAL, OrderStatus
from ..risk.context import Fingerprint, OrderRequest, RecentSignal, RiskContext, fingerprint
from ..risk.limits import RiskLimits
from ..risk.pretrade import evaluate, price_for_market
from ..risk.verdict import Decision
from ..store import OrderStore
from .accounts import Account, select_accounts
from .busy_poll import BusyPoll
from .config import EngineConfig
from .fanout import FanOut
from .journal import SignalJournal, begin_line
from .routing import NoRoute, choose, record_failure, record_success
from .sizing import size_for, target_delta
from .tasks import BackgroundTasks
from .updates import Move, plan_update

log = logging.getLogger(__name__)
S = OrderStatus
T = TypeVar("T")
SENT_PATH = (S.NEW, S.PENDING_SEND, S.SENT)
PENDING_PATH = (S.NEW, S.PENDING_SEND)
REJECTED_PATH = (S.NEW, S.RISK_REJECTED)
PROTOTYPES = 1024   # validated signal shapes kept (`OMS._prototype`); all dropped when full


class OMS:
    """The engine. Build it with `await nbexec.engine.start(...)`, which wires the parts."""

    def __init__(self, config: EngineConfig, store: OrderStore, accounts: dict[str, Account],
                 instruments: dict[str, Instrument], journal: SignalJournal, *,
                 unknown_grace_s: float = 2.0, cancel_attempts: int = 30) -> None:
        self.config, self.store, self.accounts = config, store, accounts
        self.instruments, self.journal = instruments, journal
        self.unknown_grace_s, self.cancel_attempts = unknown_grace_s, cancel_attempts
        self.feeds: list[Any] = []                        # nbexec.feeds.Feed, newest last
        self.fanouts: dict[str, FanOut] = {}              # signal id -> fan-out
        self.orders: dict[str, Order] = {}                # order id (= tag) -> latest known
        self.positions: dict[tuple[str, str], Position] = {}
        self.fills: list[Fill] = []                       # fills applied by this engine, oldest first
        self.feed_factory = None                          # (instruments, mode) -> Feed; set by start()
        self.paper_info: dict | None = None               # the paper exchange's URLs, in paper mode
        self.recovery = None                              # what startup recovery found (RecoveryReport)
        self.killed = False
        self.redis_ok = True
        self.stopped = False
        self._recent: dict[Fingerprint, RecentSignal] = {}   # newest signal per (account, symbol, side, qty)
        self.tasks = BackgroundTasks("engine", log)
        self._cancel_on_ack: set[str] = set()
        self._answers: dict[str, asyncio.Future] = {}     # order id -> place answer still awaited
        self._written: dict[str, int] = {}                # order id -> monotonic ns its bytes left
        self._withdrawn: set[str] = set()                 # cancelled before their bytes left
        self._busy_poll = BusyPoll(warm=self._rehearse)
        self._armed: weakref.WeakSet[Armed] = weakref.WeakSet()   # rehearsed while busy polling
        self._rehearsals = 0
        self._prototypes: dict[tuple, Order] = {}         # see `_prototype`

    # -- the order path -------------------------------------------------------------------
    def fire(self, symbol: str, side: Side | str, qty: int | None = None, *,
             accounts: str | Sequence[str] = "all", order_type: str = "MARKET", price: float | None = None,
             trigger_price: float | None = None, max_slippage_bps: float | None = None,
             product: str = "MIS", validity: str = "DAY", signal_id: str | None = None,
             targets: dict[str, tuple[Side, int]] | None = None) -> FanOut:
        """Size, check and write one signal's orders now; returns before any answer.

        Safe to call from a tick callback. `signal_id` makes the signal idempotent: the same id
        never yields a second order for an account, here, after a restart or from another kernel.

        Python's cyclic garbage collector is held off until the last byte is written: a
        collection triggered by the orders' own allocations costs 1-2 ms here (more than the
        whole fan-out's writes), and it runs right after instead.
        """
        t_signal = time.monotonic_ns()

        def fire_now() -> FanOut:
            plan = self._plan(symbol, side, qty, accounts, order_type, price, trigger_price, max_slippage_bps,
                              product, validity, signal_id, targets)
            return self._go(plan, t_signal, None, plan.quote)
        return _without_gc(fire_now)

    def arm(self, symbol: str, side: Side | str, qty: int | None = None, *,
            accounts: str | Sequence[str] = "all", order_type: str = "MARKET", price: float | None = None,
            trigger_price: float | None = None, max_slippage_bps: float | None = None,
            product: str = "MIS", validity: str = "DAY", signal_id: str | None = None) -> "Armed":
        """Prepare one signal now and send it later with `armed.fire()`, e.g. in a tick callback.

        Same arguments as `fire`. What does not depend on the market is done here: the
        arguments are validated, the accounts chosen and sized (a capital share at the price
        known now) and each order tagged; `armed.fire()` then does the rest as `fire` would at
        that moment (kill switch, Redis, every risk check against the newest tick and
        positions, route, journal line, writes), in about two thirds of `fire`'s time.
        """
        armed = Armed(self, _without_gc(lambda: self._plan(
            symbol, side, qty, accounts, order_type, price, trigger_price, max_slippage_bps, product, validity,
            signal_id, None)))
        self._armed.add(armed)
        return armed

    def _fire_armed(self, plan: "_Plan", price: float | None) -> FanOut:
        t_signal = time.monotonic_ns()
        return _without_gc(lambda: self._go(plan, t_signal, price, self.last_quote(plan.instrument.key)))

    def _plan(self, symbol, side, qty, accounts, order_type, price, trigger_price, max_slippage_bps,
              product, validity, signal_id, targets) -> "_Plan":
        """A signal's market-independent part: validated inputs, accounts sized, orders tagged."""
        instrument = self.instrument(symbol)  # bad input is named first, whatever the engine's state
        side = Side(side.upper() if isinstance(side, str) else side)
        chosen = select_accounts(self.accounts, accounts)
        signal_id = signal_id or uuid.uuid4().hex[:16]
        limits = self.config.risk if max_slippage_bps is None else replace(self.config.risk, max_slippage_bps=max_slippage_bps)
        fanout = FanOut(signal_id, instrument.key, side.value)
        quote = self.last_quote(instrument.key)
        reference = price or (quote.last_price if quote else None)
        # One validated prototype per signal; each account's order is one unvalidated copy of it
        # (its tag, quantity and side are made here, its price and type by risk).
        prototype = self._prototype(instrument.key, side, order_type, price or 0.0, trigger_price or 0.0,
                                    product, validity).evolve(signal_id=signal_id)
        sizes: dict[tuple, object] = {}       # sizing per distinct (rule, capital)
        orders: list[tuple[Account, Order]] = []
        for account in chosen:
            if targets is not None:
                if account.id not in targets:
                    continue
                side_for, quantity = targets[account.id]
            else:
                key = (account.sizing, account.capital)
                sized = sizes.get(key)
                if sized is None:
                    sized = sizes[key] = size_for(account.sizing, qty, instrument, reference, account.capital)
                if sized.skipped:
                    fanout.skipped[account.id] = sized.skipped_reason
                    continue
                side_for, quantity = side, sized.quantity
            request = OrderRequest(signal_id, account.id, instrument, side_for, quantity, prototype.order_type,
                                   prototype.price)
            orders.append((account, prototype.evolve(account=account.id, order_id=make_tag(signal_id, account.id),
                                                     quantity=quantity, side=side_for), request, fingerprint(request)))
        return _Plan(signal_id, instrument, limits, prototype, fanout, orders, quote)

    def _prototype(self, *shape) -> Order:
        """The validated order of this (instrument, side, type, price, trigger, product,
        validity), account "*", no signal: built once per shape (a strategy sends a few shapes
        again and again, and `Order`'s checks cost ~20-50 us), at most `PROTOTYPES` kept."""
        try:
            return self._prototypes[shape]
        except (KeyError, TypeError):   # new, or unhashable: bad input, which `Order` names
            pass
        instrument, side, order_type, price, trigger_price, product, validity = shape
        prototype = Order(order_id="prototype", signal_id="", account="*", instrument=instrument, side=side,
                          quantity=1, order_type=order_type, price=price, trigger_price=trigger_price,
                          product=product, validity=validity)
        if len(self._prototypes) >= PROTOTYPES:
            self._prototypes.clear()
        self._prototypes[shape] = prototype
        return prototype

    def _go(self, plan: "_Plan", t_signal: int, price: float | None, quote) -> FanOut:
        """A planned signal at its trigger: `_ready` it against `quote` (the newest `LastQuote`,
        or None), then `_commit` it; `price` replaces the planned one."""
        if self.killed:
            raise RiskRejected("kill_switch", "the kill switch is on: no new orders (%oms unkill)")
        if not self.redis_ok:
            raise StoreUnavailable("Redis is unreachable: new signals are refused until it is back")
        if plan.signal_id in self.fanouts:
            return self.fanouts[plan.signal_id]
        return self._commit(plan, self._ready(plan, t_signal, price, quote))

    def _ready(self, plan: "_Plan", t_signal: int, price: float | None, quote, *,
               rehearsal: bool = False) -> "_Ready":
        """Everything a signal needs before its first side effect: risk against `quote` and the
        positions now, each accepted order's route and request body, the journal line.

        Changes nothing (with `rehearsal`, not even a half-open route's probe is taken), so
        busy polling can run it ahead to keep this path warm (`_rehearse`). An order whose
        route is missing or whose request cannot be built is refused alone, with the reason.
        """
        signal_id, instrument, limits, prototype = plan.signal_id, plan.instrument, plan.limits, plan.prototype
        price = prototype.price if price is None else limit_price(prototype.order_type, price)
        market = _Market(quote)
        wall = time.time_ns()
        verdicts: dict[Side, object] = {}     # market-level risk verdict per side, shared by all accounts
        planned: list[tuple[Account, Order, bytes]] = []
        rejected: list[Order] = []
        recent: list[RecentSignal] = []
        for account, order, request, seen in plan.orders:
            if price != request.price:   # `armed.fire(price=...)`
                request = request._replace(price=price)
            context = self._risk_context(account.id, instrument.key, seen, market, wall)
            verdict = verdicts.get(order.side) or verdicts.setdefault(order.side, price_for_market(request, limits, context))
            decision = evaluate(request, limits, context, verdict)
            if not decision.accepted:
                refused = f"{decision.rejection.check}: {decision.rejection.reason}"
            else:
                refused, routed, body = self._routed(account, order, decision, wall, t_signal, rehearsal)
            if refused is not None:
                rejected.append(order.evolve(price=price, created_at_ns=wall, ts_signal=t_signal).transition(
                    S.RISK_REJECTED, reject_reason=refused))
                continue
            recent.append(RecentSignal(signal_id, seen, wall))
            planned.append((account, routed, body))
        line = begin_line(
            signal_id, instrument=instrument.key, trigger_price=prototype.trigger_price,
            product=prototype.product._value_, validity=prototype.validity._value_, created_at_ns=wall,
            ts_signal=t_signal,
            # `_value_`: the enum `.value` property costs ~1.5 us a read here, twice per order
            orders=[(o.account, o.side._value_, o.quantity, o.order_type._value_, o.price) for _, o, _ in planned],
            rejected=[(o.account, o.side._value_, o.quantity, o.order_type._value_, o.price, o.reject_reason)
                      for o in rejected])
        return _Ready(planned, rejected, recent, line)

    @staticmethod
    def _routed(account: Account, order: Order, decision: Decision, wall: int, t_signal: int,
                rehearsal: bool) -> tuple[str | None, Order | None, bytes | None]:
        """(None, the accepted order priced by risk and on its route, its request body), or
        (why it cannot go, None, None)."""
        try:
            route = choose(account.routes, t_signal, admit=not rehearsal).route.name
        except NoRoute as exc:   # every route of this account is open: refused here, not sent
            return f"no_route: {exc}", None, None
        broker = account.brokers[route]
        routed = order.evolve(order_type=decision.order_type, price=decision.price, route=route, broker=broker.name,
                              status=S.PENDING_SEND, version=order.version + 1, created_at_ns=wall,
                              ts_signal=t_signal, ts_risk_passed=time.monotonic_ns())
        try:
            return None, routed, broker.prepare_place(routed)
        except ValidationError as exc:   # the broker cannot express it (or is not started)
            return f"broker_request: {exc}", None, None

    def _commit(self, plan: "_Plan", ready: "_Ready") -> FanOut:
        """A ready signal made real. The journal line goes first: a kill from there on still
        finishes this signal exactly once (and records what risk refused). Then the writes,
        nothing else between them, then the records."""
        self.journal.begin(ready.line)
        sent = [self._send(account, order, body) for account, order, body in ready.planned]   # the wire
        for recent in ready.recent:
            self._recent[recent.fingerprint] = recent
        answers: dict[str, asyncio.Future] = {}
        recorded: list[tuple[Order, Sequence[S]]] = [(o, REJECTED_PATH) for o in ready.rejected]
        for (_, order, _), answer in zip(ready.planned, sent):
            answers[order.order_id] = answer
            order = self._as_written(order)
            recorded.append((order, SENT_PATH if order.status is S.SENT else PENDING_PATH))
        fanout = plan.fanout
        for order, _ in recorded:
            self._remember(order, fanout)
        self.fanouts[plan.signal_id] = fanout
        self.tasks.spawn(self._complete(fanout, recorded, answers))
        return fanout

    def _rehearse(self) -> None:
        """Busy polling's warm-up (`nbexec.engine.busy_poll`): the next armed signal in turn,
        readied as if fired now (`_ready`) and thrown away, after its instrument's feeds
        decoded their newest tick message again and the journal's next pages were touched;
        nothing is sent or changed."""
        armed = [a for a in self._armed if a.signal_id not in self.fanouts]
        if not armed or self.killed or not self.redis_ok:
            return
        plan = armed[self._rehearsals % len(armed)]._plan
        self._rehearsals += 1
        for feed in self.feeds:
            if plan.instrument.key in feed.instruments:
                feed.rehearse()
        self.journal.warm()
        _without_gc(lambda: self._ready(plan, time.monotonic_ns(), None, self.last_quote(plan.instrument.key),
                                        rehearsal=True))

    async def signal(self, symbol: str, side: Side | str, qty: int | None = None, **kwargs: Any) -> FanOut:
        """`fire`, for `await` in cells and strategies (see `fire` for the arguments)."""
        return self.fire(symbol, side, qty, **kwargs)

    async def target(self, symbol: str, qty: int, *, accounts: str | Sequence[str] = "all",
                     signal_id: str | None = None, **kwargs: Any) -> FanOut:
        """Trade each account to a position of `qty` x its sizing rule: sends the deltas."""
        instrument = self.instrument(symbol)
        targets: dict[str, tuple[Side, int]] = {}
        tick = self.last_tick(instrument.key)
        for account in select_accounts(self.accounts, accounts):
            wanted = size_for(account.sizing, abs(qty), instrument, tick.last_price if tick else None,
                              account.capital).quantity if qty else 0
            held = self.position(account.id, instrument.key).quantity
            delta = target_delta(wanted if qty >= 0 else -wanted, held)
            if delta:
                targets[account.id] = delta
        return self.fire(symbol, Side.BUY, None, accounts=accounts, signal_id=signal_id, targets=targets, **kwargs)

    def _send(self, account: Account, order: Order, body: bytes | None = None) -> asyncio.Future:
        """Hand `order`'s place request (`body`, if already built) to its route. Written at once
        when a rate token and a warm connection are free, else as soon as they are; the write
        time lands in `_written`."""
        order_id = order.order_id
        answer = account.brokers[order.route].send_place(
            order, body, on_write=lambda: self._written.setdefault(order_id, time.monotonic_ns()))
        self._answers[order_id] = answer
        return answer

    def _as_written(self, order: Order) -> Order:
        """SENT if `order`'s bytes have left (NEW -> PENDING_SEND -> SENT is checked when the
        path is recorded), else the PENDING_SEND order unchanged."""
        written = self._written.get(order.order_id)
        return order.evolve(status=S.SENT, version=order.version + 1, ts_sent=written) if written else order

    async def _complete(self, fanout: FanOut, recorded: list[tuple[Order, Sequence[S]]],
                        answers: dict[str, asyncio.Future]) -> None:
        """After the wire: record everything in Redis, then collect each answer."""
        try:
            results = await self._retry_store(lambda: self.store.create_batch(recorded))
            for (order, _), result in zip(recorded, results):
                if isinstance(result, NbexecError):
                    log.error("recording order %s failed: %s", order.order_id, result)
            self.journal.done(fanout.signal_id)
        finally:
            # Updates for these orders wait on this; whatever happened, they must not wait
            # forever (unrecorded orders stay in the journal for recovery).
            fanout.recorded.set()
        await asyncio.gather(*(self._follow(self.orders[o.order_id], answers[o.order_id])
                               for o, _ in recorded if o.order_id in answers))

    async def _follow(self, order: Order, answer: asyncio.Future) -> None:
        """Drive one order to the broker's answer: ACKED, REJECTED, UNKNOWN, or CANCELLED when
        withdrawn (kill switch, cancel) before its bytes left."""
        account = self.accounts[order.account]
        order_id = order.order_id
        try:
            while True:
                try:
                    ack: BrokerAck = await answer
                except asyncio.CancelledError:
                    if order_id not in self._withdrawn:
                        raise  # the engine is stopping
                    await self._move(self.orders[order_id], S.CANCELLED, reject_reason="withdrawn before it was sent")
                    return
                except TransportError as exc:
                    record_failure(self._route(account, order.route), time.monotonic_ns())
                    if not exc.maybe_delivered:  # provably never left: another route may take it
                        answer = await self._fail_over(account, self.orders[order_id], exc)
                        if answer is None:
                            return
                        continue
                    await self._unknown(order_id, exc)
                    return
                except OutcomeUnknown as exc:
                    record_failure(self._route(account, order.route), time.monotonic_ns())
                    await self._unknown(order_id, exc)
                    return
                except BrokerError as exc:
                    current = await self._mark_sent(self.orders[order_id])
                    await self._move(current, S.REJECTED, reject_reason=exc.broker_message or str(exc))
                    return
                record_success(self._route(account, order.route), ack.round_trip_ns)
                current = await self._mark_sent(self.orders[order_id])
                if current.status in (S.SENT, S.UNKNOWN):
                    current = await self._move(current, S.ACKED, expected=current.version,
                                               broker_order_id=ack.broker_order_id,
                                               ts_acked=ack.t_acked_ns or time.monotonic_ns())
                return
        finally:
            self._answers.pop(order_id, None)
            self._written.pop(order_id, None)   # its SENT is recorded (or it never left)

    async def _mark_sent(self, order: Order) -> Order:
        """Record SENT for an order whose bytes left after `fire` returned (it was PENDING_SEND)."""
        if order.status is not S.PENDING_SEND:
            return order
        return await self._move(order, S.SENT, ts_sent=self._written.get(order.order_id) or time.monotonic_ns(),
                                route=order.route, broker=order.broker)

    async def _unknown(self, order_id: str, exc: Exception) -> None:
        """The request may have reached the broker: UNKNOWN, resolved by tag (never blindly resent)."""
        current = await self._mark_sent(self.orders[order_id])
        current = await self._move(current, S.UNKNOWN, reject_reason=str(exc))
        self.tasks.spawn(self._resolve_unknown(current))

    async def _fail_over(self, account: Account, order: Order, exc: Exception) -> asyncio.Future | None:
        """The request provably never left: send it on the next healthy route, or reject it."""
        try:
            choice = choose(account.routes, time.monotonic_ns())
        except NbexecError as no_route:
            sent = await self._mark_sent(order)
            await self._move(sent, S.REJECTED if sent.status is S.SENT else S.CANCELLED,
                             reject_reason=f"{exc}; {no_route}")
            return None
        moved = order.evolve(route=choice.route.name, broker=account.brokers[choice.route.name].name)
        self._remember(moved)
        return self._send(account, moved)

    async def _resolve_unknown(self, order: Order) -> None:
        """Look the order up by its tag; send it again only if the broker provably lacks it."""
        await asyncio.sleep(self.unknown_grace_s)  # let a request still in flight land first
        account = self.accounts[order.account]
        seen = await resolve_unknown(account.brokers[order.route], order)
        if seen is not None:
            await self.apply_broker_order(order.account, seen)
        elif not self.killed:
            sent = await self._move(self.orders[order.order_id], S.SENT, ts_sent=time.monotonic_ns())
            self._written.pop(order.order_id, None)
            await self._follow(sent, self._send(account, sent))
        else:
            await self._move(self.orders[order.order_id], S.CANCELLED, reject_reason="kill switch: not resent")


    # -- state from the brokers ---------------------------------------------------------------
    async def apply_broker_order(self, account_id: str, seen: BrokerOrder) -> Order | None:
        """Bring our order up to the broker's view of it (update stream, lookup or reconcile)."""
        order = self.orders.get(seen.tag)
        if order is None:
            try:
                order = await self.store.get(account_id, seen.tag)
            except NbexecError:
                return None  # not ours: placed from another app, or another desk's tag
        fanout = self.fanouts.get(order.signal_id)
        if fanout is not None:
            await fanout.recorded.wait()  # the update may overtake our own Redis write
        for _ in range(5):
            order = self.orders.get(order.order_id, order)
            try:
                for action in plan_update(order, seen, time.monotonic_ns()):
                    order = await self._apply(order, action)
                return order
            except StaleVersion:
                order = await self.store.get(account_id, order.order_id)
                self._remember(order)
        log.warning("order %s: gave up applying a broker update after 5 races", order.order_id)
        return order

    async def _apply(self, order: Order, action: Fill | Move) -> Order:
        if isinstance(action, Fill):
            result = await self._retry_store(lambda: self.store.apply_fill(action))
            if not result.duplicate_fill:
                key = (order.account, order.instrument)
                self.positions[key] = self.position(*key).apply(action)
                self.fills.append(action)
        else:
            await self._retry_store(lambda: self.store.transition(order, action.status, expected_version=order.version,
                                                                  **action.fields))
        fresh = await self._retry_store(lambda: self.store.get(order.account, order.order_id))
        self._remember(fresh)
        return fresh

    async def _move(self, order: Order, status: S, *, expected: int | None = None, **fields: Any) -> Order:
        """Record one transition and keep the in-memory copy and the fan-out current."""
        try:
            result = await self._retry_store(lambda: self.store.transition(order, status, expected_version=expected, **fields))
        except (InvalidTransition, StaleVersion):
            return self.orders.get(order.order_id, order)  # another writer (a broker update) got there first
        moved = replace(order, status=result.status, version=result.version, **fields)
        self._remember(moved)
        return moved

    def _remember(self, order: Order, fanout: FanOut | None = None) -> None:
        """Keep the newest state of an order; every writer (acks, broker updates, recovery)
        comes through here, so a cancel waiting for the broker's id is sent from here."""
        known = self.orders.get(order.order_id)
        if known is None or order.version >= known.version:
            self.orders[order.order_id] = order
            if order.order_id in self._cancel_on_ack and order.broker_order_id \
                    and order.status not in (S.PENDING_SEND, S.SENT):
                self._cancel_on_ack.discard(order.order_id)
                if order.status not in TERMINAL:
                    self.tasks.spawn(self._cancel_one(order))
        fanout = fanout or self.fanouts.get(order.signal_id)
        if fanout is not None:
            fanout.update(order)

    async def _retry_store(self, call, attempts: int = 50, delay: float = 0.2):
        """Redis writes after the wire must land: retry while Redis is down (fail closed meanwhile)."""
        for attempt in range(attempts):
            try:
                result = await call()
                self.redis_ok = True
                return result
            except StoreUnavailable as exc:
                self.redis_ok = False
                log.warning("Redis write failed (attempt %d of %d), retrying: %s", attempt + 1, attempts, exc)
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(delay)

    # -- cancel and the kill switch ---------------------------------------------------------
    async def cancel(self, order_id: str = "all") -> list[Order]:
        """Cancel one open order, or all of them ("all")."""
        if order_id == "all":
            targets = [o for o in self.orders.values() if o.status not in TERMINAL]
        elif order_id in self.orders:
            targets = [self.orders[order_id]]
        else:
            raise ValidationError("order_id", order_id, "no such order in this session (see oms.orders_df())")
        return list(await asyncio.gather(*(self._cancel_one(o) for o in targets)))

    async def _cancel_one(self, order: Order) -> Order:
        order = self.orders.get(order.order_id, order)
        answer = self._answers.get(order.order_id)
        if answer is not None and order.order_id not in self._written:
            self._withdrawn.add(order.order_id)   # still waiting for a token or a connection
            answer.cancel()                       # `_follow` records it CANCELLED
            return order
        if order.status in (S.PENDING_SEND, S.SENT) or not order.broker_order_id:
            self._cancel_on_ack.add(order.order_id)  # cancelled the moment its ack arrives
            return order
        if order.status in TERMINAL:
            return order
        broker = self.accounts[order.account].brokers[order.route]
        # A cancel is idempotent: keep at it while the broker is busy (429) or unreachable, so a
        # kill switch in a burst of orders still reaches every open one.
        for attempt in range(self.cancel_attempts):
            try:
                await broker.cancel(order)
                return order
            except (RateLimited, BrokerUnavailable) as exc:
                log.warning("cancel of %s not through yet (%s), retrying", order.order_id, exc)
                await asyncio.sleep(min(0.2 * 2 ** attempt, 2.0))
                if self.orders[order.order_id].status in TERMINAL:
                    return self.orders[order.order_id]
            except BrokerError as exc:  # refused for good: typically already final at the broker
                log.warning("cancel of %s refused: %s", order.order_id, exc)
                return order
        log.error("cancel of %s gave up after %d attempts", order.order_id, self.cancel_attempts)
        return order

    async def kill(self) -> list[Order]:
        """Kill switch on: refuse new orders, withdraw unsent ones, cancel open ones; it lives in
        Redis, so it survives restarts and holds for every kernel sharing the store."""
        self.killed = True
        await self.store.redis.set(self._kill_key, "1")
        return await self.cancel("all")

    async def unkill(self) -> None:
        self.killed = False
        await self.store.redis.delete(self._kill_key)

    @property
    def _kill_key(self) -> str:
        return f"{self.store.keys.prefix}:kill"

    # -- market data and views -------------------------------------------------------------
    @property
    def busy_poll(self) -> bool:
        """True: the loop polls its sockets instead of sleeping, so a tick reaches the
        strategy sooner and more evenly, and armed signals are rehearsed meanwhile (see
        `rehearse_every_s` and `nbexec.engine.busy_poll`), at the cost of one CPU core held
        busy. Off by default; `stop()` turns it off."""
        return self._busy_poll.active

    @busy_poll.setter
    def busy_poll(self, on: bool) -> None:
        if on and self.stopped:
            raise NbexecError("the engine is stopped: busy polling would outlive it")
        if on:
            self._busy_poll.on()
        else:
            self._busy_poll.off()

    @property
    def rehearse_every_s(self) -> float | None:
        """While busy polling, how often one armed signal (each in turn) is readied as if
        fired and thrown away, nothing sent or changed, so its order path stays warm in the
        CPU's caches: every 1 ms by default, None for never."""
        return self._busy_poll.warm_every_s

    @rehearse_every_s.setter
    def rehearse_every_s(self, seconds: float | None) -> None:
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or not 0 < seconds < float("inf")):
            raise ValidationError("rehearse_every_s", seconds, "must be a positive number of seconds, or None")
        self._busy_poll.warm_every_s = seconds

    def instrument(self, symbol: str) -> Instrument:
        exchange, name = parse_instrument_key(symbol)
        try:
            return self.instruments[f"{exchange}:{name}"]
        except KeyError:
            raise ValidationError("symbol", symbol, f"unknown instrument (known: {', '.join(sorted(self.instruments)[:8])}...)") from None

    async def subscribe(self, *symbols: str, mode: str = "full", first_tick_timeout: float = 5.0):
        """Stream ticks of `symbols` into DataFrames (`feed.df`, `feed.bars("1s")`); returns the Feed.

        `full` (the default) carries the best bid and ask that slippage protection and the
        spread check price MARKET orders from. Returns once every symbol's newest tick is in
        `mode` (or after `first_tick_timeout`), so a signal sent next has a price to be
        protected and checked against: Kite subscribes a token in quote mode before the mode
        message moves it, and a tick sent in between carries no bid or ask (a MARKET signal
        right after it was refused by the spread check).
        """
        instruments = [self.instrument(s) for s in symbols]
        feed = self.feed_factory(instruments, mode)
        try:
            await feed.start()
            await feed.wait_connected()
        except BaseException:
            await feed.close()  # no reconnect loop left behind
            raise
        self.feeds.append(feed)
        deadline = time.monotonic() + first_tick_timeout
        while any(not _in_mode(feed.last(i.key), mode) for i in instruments) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return feed

    def last_tick(self, symbol: str):
        """The newest tick of `symbol` (a `Tick`) from the newest feed that has one, or None."""
        return self._newest(symbol, lambda feed: feed.last(symbol))

    def last_quote(self, symbol: str):
        """`last_tick`'s prices and arrival only (a `LastQuote`): what the order path reads."""
        return self._newest(symbol, lambda feed: feed.quote(symbol))

    def _newest(self, symbol: str, read):
        for feed in reversed(self.feeds):
            if symbol in feed.instruments:
                found = read(feed)
                if found is not None:
                    return found
        return None

    def position(self, account: str, instrument: str) -> Position:
        return self.positions.get((account, instrument)) or Position(account, instrument)

    def _risk_context(self, account: str, instrument: str, seen: Fingerprint, market: "_Market",
                      now_ns: int) -> RiskContext:
        position = self.positions.get((account, instrument))
        recent = self._recent.get(seen)
        if position is None:
            quantity, pnl = 0, 0.0
        else:
            last = market.last_price
            quantity, pnl = position.quantity, position.realised_pnl + (position.unrealised_pnl(last) if last else 0.0)
        return RiskContext(now_ns, market.last_price, market.bid, market.ask, market.tick_ns, quantity, pnl,
                           self.killed, (recent,) if recent else ())

    @staticmethod
    def _route(account: Account, name: str):
        return next(r for r in account.routes if r.name == name)

    def orders_df(self) -> pd.DataFrame:
        from .fanout import hop_latencies
        rows = [{"order_id": o.order_id, "signal_id": o.signal_id, "account": o.account, "instrument": o.instrument,
                 "side": o.side.value, "quantity": o.quantity, "type": o.order_type.value, "price": o.price,
                 "status": o.status.value, "filled": o.filled_quantity, "avg_price": o.average_price,
                 "broker_order_id": o.broker_order_id, "route": o.route, "reason": o.reject_reason,
                 "created": pd.Timestamp(o.created_at_ns, unit="ns", tz="UTC"), **hop_latencies(o)}
                for o in self.orders.values()]
        return pd.DataFrame(rows).set_index("order_id") if rows else pd.DataFrame()

    def fills_df(self) -> pd.DataFrame:
        rows = [{"fill_id": f.fill_id, "order_id": f.order_id, "account": f.account, "instrument": f.instrument,
                 "side": f.side.value, "quantity": f.quantity, "price": f.price} for f in self.fills]
        return pd.DataFrame(rows, columns=["fill_id", "order_id", "account", "instrument", "side", "quantity", "price"])

    def latency_df(self) -> pd.DataFrame:
        """Percentiles (us) of each hop over this session's orders."""
        from .fanout import HOPS, hop_latencies
        samples = {name: [] for name, _, _ in HOPS}
        for order in self.orders.values():
            for name, value in hop_latencies(order).items():
                if value is not None:
                    samples[name].append(value)
        rows = {name: pd.Series(v, dtype=float).describe(percentiles=[0.5, 0.9, 0.99]) for name, v in samples.items()}
        return pd.DataFrame(rows).T[["count", "50%", "90%", "99%", "max"]]

    def positions_df(self) -> pd.DataFrame:
        rows = []
        for (account, key), p in sorted(self.positions.items()):
            tick = self.last_tick(key)
            rows.append({"account": account, "instrument": key, "quantity": p.quantity, "buy_qty": p.buy_quantity,
                         "buy_price": p.buy_price, "sell_qty": p.sell_quantity, "sell_price": p.sell_price,
                         "realised_pnl": p.realised_pnl, "last_price": tick.last_price if tick else None,
                         "unrealised_pnl": p.unrealised_pnl(tick.last_price) if tick else None})
        return pd.DataFrame(rows)


class _Market:
    """The last tick's figures risk reads, taken once per signal (not once per account)."""

    __slots__ = ("last_price", "bid", "ask", "tick_ns")

    def __init__(self, quote) -> None:
        if quote is None:
            self.last_price = self.bid = self.ask = self.tick_ns = None
        else:
            self.last_price, self.bid, self.ask = quote.last_price, quote.bid or None, quote.ask or None
            self.tick_ns = quote.received_ns


def _in_mode(tick, mode: str) -> bool:
    return tick is not None and tick.mode == mode


def _without_gc(run: Callable[[], T]) -> T:
    """`run()` with Python's cyclic collector held off, then left as it was found: a collection
    triggered by a fan-out's own allocations costs 1-2 ms here, more than all its writes."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return run()
    finally:
        if collecting:
            gc.enable()


class _Ready(NamedTuple):
    """A signal readied at its trigger (`OMS._ready`): what `OMS._commit` writes."""

    planned: list[tuple[Account, Order, bytes]]   # each accepted order, routed, with its request body
    rejected: list[Order]                         # RISK_REJECTED, each with its reason
    recent: list[RecentSignal]                    # for the duplicate-signal guard, once committed
    line: bytes                                   # the journal's begin line


@dataclass(frozen=True, slots=True)
class _Plan:
    """A signal's market-independent part (`OMS._plan`): what `OMS._go` starts from."""

    signal_id: str
    instrument: Instrument
    limits: RiskLimits                         # with the signal's own slippage
    prototype: Order                           # the validated signal, account "*"
    fanout: FanOut                             # holds the accounts sizing skipped
    # one tagged, sized NEW order per account to send, with what risk sees of it at the planned
    # price and its fingerprint for the duplicate-signal guard (the same at any price)
    orders: list[tuple[Account, Order, OrderRequest, Fingerprint]]
    quote: Any                                 # the newest LastQuote when planned (sizing's price), or None


class Armed:
    """One signal prepared by `oms.arm(...)`, sent by `fire()`; see `OMS.arm`.

    Firing twice sends nothing more: the signal id is the same, so the second call returns
    the first call's `FanOut`. `fire(price=...)` replaces a LIMIT / SL price given when armed.
    """

    __slots__ = ("_oms", "_plan", "__weakref__")

    def __init__(self, oms: OMS, plan: _Plan) -> None:
        self._oms, self._plan = oms, plan

    @property
    def signal_id(self) -> str:
        return self._plan.signal_id

    @property
    def accounts(self) -> dict[str, int]:
        """Account -> signed quantity each order will carry (skipped accounts left out)."""
        return {o.account: o.quantity * o.side.sign for _, o, _, _ in self._plan.orders}

    def fire(self, price: float | None = None) -> FanOut:
        """Send it now (safe in a tick callback); returns as `oms.fire` does."""
        return self._oms._fire_armed(self._plan, price)

    def __repr__(self) -> str:
        plan = self._plan
        return (f"Armed({plan.signal_id}: {plan.prototype.side._value_} {plan.instrument.key} "
                f"{plan.prototype.order_type._value_}, {len(plan.orders)} orders)")
