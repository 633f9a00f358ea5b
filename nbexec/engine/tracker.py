"""`OrderTracker`: every order from the moment its bytes are handed to a route until it is final.

It keeps the newest state of each order (and of its fan-out, positions and fills), records
every change in Redis through the store's checked transitions, follows each place answer
(ACKED, REJECTED, UNKNOWN, or a fail-over when the request provably never left), resolves
UNKNOWN orders by looking them up at the broker by tag, applies the brokers' own view of an
order (update stream, lookups, recovery) and cancels. The engine's order path hands it what it
wrote (`send`, then `track`); recovery uses the same public methods.

Runs on the engine's loop. Redis is never awaited in front of the wire: `track` records in a
background task, and a write that fails while Redis is away is retried (`retry_store`) with the
gate closed meanwhile, so new signals are refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..brokers.reconcile import resolve_unknown
from ..brokers.retry import OutcomeUnknown
from ..brokers.types import BrokerAck, BrokerOrder
from ..brokers.wire import TransportError
from ..core.errors import (
    BrokerError,
    BrokerUnavailable,
    InvalidTransition,
    NbexecError,
    RateLimited,
    StaleVersion,
    StoreUnavailable,
)
from ..core.fills import Fill, Position
from ..core.orders import Order
from ..core.states import TERMINAL, OrderStatus
from ..store import OrderStore
from .accounts import Account
from .fanout import FanOut
from .gate import Gate
from .journal import SignalJournal
from .readying import Ready
from .routing import Route, choose, record_failure, record_success
from .tasks import BackgroundTasks
from .updates import Move, plan_update

log = logging.getLogger(__name__)
S = OrderStatus
T = TypeVar("T")
SENT_PATH = (S.NEW, S.PENDING_SEND, S.SENT)
PENDING_PATH = (S.NEW, S.PENDING_SEND)
REJECTED_PATH = (S.NEW, S.RISK_REJECTED)


class OrderTracker:
    """Orders of `accounts`, recorded in `store`; see the module doc.

    `unknown_grace_s`: how long an UNKNOWN order waits before it is looked up (a request still
    in flight lands first). `cancel_attempts`: how often a cancel is retried while the broker
    is busy (429) or unreachable.
    """

    def __init__(
        self,
        store: OrderStore,
        accounts: Mapping[str, Account],
        gate: Gate,
        journal: SignalJournal,
        tasks: BackgroundTasks,
        *,
        unknown_grace_s: float = 2.0,
        cancel_attempts: int = 30,
    ) -> None:
        self.store, self.accounts, self.gate, self.journal, self.tasks = store, accounts, gate, journal, tasks
        self.unknown_grace_s, self.cancel_attempts = unknown_grace_s, cancel_attempts
        self.orders: dict[str, Order] = {}  # order id (= tag) -> latest known
        self.fanouts: dict[str, FanOut] = {}  # signal id -> fan-out
        self.positions: dict[tuple[str, str], Position] = {}
        self.fills: list[Fill] = []  # fills applied by this engine, oldest first
        self._cancel_on_ack: set[str] = set()  # cancelled before the broker's id was known
        self._answers: dict[str, asyncio.Future] = {}  # order id -> place answer still awaited
        self._written: dict[str, int] = {}  # order id -> monotonic ns its bytes left
        self._withdrawn: set[str] = set()  # cancelled before their bytes left

    # -- the wire ---------------------------------------------------------------------------
    def send(self, account: Account, order: Order, body: bytes | None = None) -> asyncio.Future:
        """Hand `order`'s place request (`body`, if already built) to its route. Written at once
        when a rate token and a warm connection are free, else as soon as they are."""
        order_id = order.order_id
        answer = account.brokers[order.route].send_place(
            order, body, on_write=lambda: self._written.setdefault(order_id, time.monotonic_ns())
        )
        self._answers[order_id] = answer
        return answer

    def as_written(self, order: Order) -> Order:
        """SENT if `order`'s bytes have left, else the PENDING_SEND order unchanged."""
        written = self._written.get(order.order_id)
        return order.transition(S.SENT, ts_sent=written) if written else order

    def track(self, fanout: FanOut, ready: Ready, answers: Sequence[asyncio.Future]) -> FanOut:
        """A committed signal: `answers` are its planned orders' `send` futures, in order.
        Remembers every order (refused ones too), then records and follows them in the
        background."""
        answered: dict[str, asyncio.Future] = {}
        recorded: list[tuple[Order, Sequence[S]]] = [(o, REJECTED_PATH) for o in ready.rejected]
        # One answer per planned order (oms._commit builds them from ready.planned); no strict=:
        # zip with a keyword argument is a slower call, made on every signal's commit.
        for (_, order, _), answer in zip(ready.planned, answers):  # noqa: B905
            answered[order.order_id] = answer
            order = self.as_written(order)
            recorded.append((order, SENT_PATH if order.status is S.SENT else PENDING_PATH))
        for order, _ in recorded:
            self.remember(order, fanout)
        self.fanouts[fanout.signal_id] = fanout
        self.tasks.spawn(self._record_and_follow(fanout, recorded, answered))
        return fanout

    async def _record_and_follow(
        self, fanout: FanOut, recorded: list[tuple[Order, Sequence[S]]], answers: dict[str, asyncio.Future]
    ) -> None:
        """After the wire: record everything in Redis, then collect each answer."""
        try:
            results = await self.retry_store(lambda: self.store.create_batch(recorded))
            for (order, _), result in zip(recorded, results, strict=True):
                if isinstance(result, NbexecError):
                    log.error("recording order %s failed: %s", order.order_id, result)
            self.journal.done(fanout.signal_id)
        finally:
            # Updates for these orders wait on this; whatever happened, they must not wait
            # forever (unrecorded orders stay in the journal for recovery).
            fanout.recorded.set()
        await asyncio.gather(
            *(self.follow(self.orders[o.order_id], answers[o.order_id]) for o, _ in recorded if o.order_id in answers)
        )

    async def follow(self, order: Order, answer: asyncio.Future) -> None:
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
                    self._withdrawn.discard(order_id)
                    await self.move(self.orders[order_id], S.CANCELLED, reject_reason="withdrawn before it was sent")
                    return
                except TransportError as exc:
                    record_failure(_route(account, order.route), time.monotonic_ns())
                    if not exc.maybe_delivered:  # provably never left: another route may take it
                        resent = await self.fail_over(account, self.orders[order_id], exc)
                        if resent is None:
                            return
                        answer = resent
                        continue
                    await self._unknown(order_id, exc)
                    return
                except OutcomeUnknown as exc:
                    record_failure(_route(account, order.route), time.monotonic_ns())
                    await self._unknown(order_id, exc)
                    return
                except BrokerError as exc:
                    current = await self.mark_sent(self.orders[order_id])
                    await self.move(current, S.REJECTED, reject_reason=exc.broker_message or str(exc))
                    return
                record_success(_route(account, order.route), ack.round_trip_ns)
                current = await self.mark_sent(self.orders[order_id])
                if current.status in (S.SENT, S.UNKNOWN):
                    current = await self.move(
                        current,
                        S.ACKED,
                        expected=current.version,
                        broker_order_id=ack.broker_order_id,
                        ts_acked=ack.t_acked_ns or time.monotonic_ns(),
                    )
                return
        finally:
            self._answers.pop(order_id, None)
            self._written.pop(order_id, None)  # its SENT is recorded (or it never left)

    async def mark_sent(self, order: Order) -> Order:
        """Record SENT for an order whose bytes left after the order path returned (it was
        PENDING_SEND); any other order is returned as it is."""
        if order.status is not S.PENDING_SEND:
            return order
        return await self.move(
            order,
            S.SENT,
            ts_sent=self._written.get(order.order_id) or time.monotonic_ns(),
            route=order.route,
            broker=order.broker,
        )

    async def _unknown(self, order_id: str, exc: Exception) -> None:
        """The request may have reached the broker: UNKNOWN, resolved by tag (never blindly resent)."""
        current = await self.mark_sent(self.orders[order_id])
        current = await self.move(current, S.UNKNOWN, reject_reason=str(exc))
        self.tasks.spawn(self.resolve_unknown(current))

    async def fail_over(self, account: Account, order: Order, exc: Exception) -> asyncio.Future | None:
        """The request provably never left its route (the adapter's own retries included):
        send it on the best other healthy route (its answer's future), or record it REJECTED /
        CANCELLED with both reasons (None)."""
        try:
            choice = choose([r for r in account.routes if r.name != order.route], time.monotonic_ns())
        except NbexecError as no_route:  # it never left: CANCELLED (a REJECTED is the broker's word)
            await self.move(
                order, S.CANCELLED if order.status is S.PENDING_SEND else S.REJECTED, reject_reason=f"{exc}; {no_route}"
            )
            return None
        moved = order.evolve(route=choice.route.name, broker=account.brokers[choice.route.name].name)
        self.remember(moved)
        return self.send(account, moved)

    async def resolve_unknown(self, order: Order) -> None:
        """Look the order up by its tag; send it again only if the broker provably lacks it
        (and the kill switch is off: then it is CANCELLED instead)."""
        await asyncio.sleep(self.unknown_grace_s)  # let a request still in flight land first
        account = self.accounts[order.account]
        seen = await resolve_unknown(account.brokers[order.route], order)
        if seen is not None:
            await self.apply_broker_order(order.account, seen)
        elif not self.gate.killed:
            sent = await self.move(self.orders[order.order_id], S.SENT, ts_sent=time.monotonic_ns())
            self._written.pop(order.order_id, None)
            await self.follow(sent, self.send(account, sent))
        else:
            await self.move(self.orders[order.order_id], S.CANCELLED, reject_reason="kill switch: not resent")

    # -- the brokers' view and the store -----------------------------------------------------------
    async def apply_broker_order(self, account_id: str, seen: BrokerOrder) -> Order | None:
        """Bring our order up to the broker's view of it (update stream, lookup or reconcile);
        None when the tag is not ours."""
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
                self.remember(order)
        log.warning("order %s: gave up applying a broker update after 5 races", order.order_id)
        return order

    async def _apply(self, order: Order, action: Fill | Move) -> Order:
        if isinstance(action, Fill):
            result = await self.retry_store(lambda: self.store.apply_fill(action))
            if not result.duplicate_fill:
                key = (order.account, order.instrument)
                self.positions[key] = self.position(*key).apply(action)
                self.fills.append(action)
        else:
            await self.retry_store(
                lambda: self.store.transition(order, action.status, expected_version=order.version, **action.fields)
            )
        fresh = await self.retry_store(lambda: self.store.get(order.account, order.order_id))
        self.remember(fresh)
        return fresh

    async def move(self, order: Order, status: S, *, expected: int | None = None, **fields: Any) -> Order:
        """Record one transition (checked by the store against the same table, and against
        `expected` as the stored version when given) and keep the in-memory copy and the
        fan-out current. When another writer got there first, the newest known state is
        returned instead."""
        try:
            result = await self.retry_store(
                lambda: self.store.transition(order, status, expected_version=expected, **fields)
            )
        except (InvalidTransition, StaleVersion):
            return self.orders.get(order.order_id, order)  # another writer (a broker update) got there first
        try:
            moved = order.transition(status, **fields)
        except InvalidTransition:  # our copy was behind the stored order the store moved
            moved = await self.retry_store(lambda: self.store.get(order.account, order.order_id))
        if moved.version != result.version:
            moved = moved.evolve(version=result.version)
        self.remember(moved)
        return moved

    def remember(self, order: Order, fanout: FanOut | None = None) -> None:
        """Keep the newest state of an order; every writer (acks, broker updates, recovery)
        comes through here, so a cancel waiting for the broker's id is sent from here."""
        known = self.orders.get(order.order_id)
        if known is None or order.version >= known.version:
            self.orders[order.order_id] = order
            if (
                order.order_id in self._cancel_on_ack
                and order.broker_order_id
                and order.status not in (S.PENDING_SEND, S.SENT)
            ):
                self._cancel_on_ack.discard(order.order_id)
                if order.status not in TERMINAL:
                    self.tasks.spawn(self.cancel(order))
        fanout = fanout or self.fanouts.get(order.signal_id)
        if fanout is not None:
            fanout.update(order)

    async def retry_store(self, call: Callable[[], Awaitable[T]], attempts: int = 50, delay: float = 0.2) -> T:
        """Redis writes after the wire must land: retry while Redis is down, with the gate
        closed (new signals refused) meanwhile."""
        for attempt in range(attempts):
            try:
                result = await call()
                self.gate.redis_ok = True
                return result
            except StoreUnavailable as exc:
                self.gate.redis_ok = False
                log.warning("Redis write failed (attempt %d of %d), retrying: %s", attempt + 1, attempts, exc)
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    # -- cancelling ---------------------------------------------------------------------------------
    async def cancel(self, order: Order) -> Order:
        """Cancel one order: withdrawn if its bytes have not left, cancelled the moment its
        ack arrives if the broker's id is not known yet, else cancelled at the broker
        (retried while the broker is busy or unreachable: a cancel is idempotent)."""
        order = self.orders.get(order.order_id, order)
        answer = self._answers.get(order.order_id)
        if answer is not None and order.order_id not in self._written:
            self._withdrawn.add(order.order_id)  # still waiting for a token or a connection
            answer.cancel()  # `follow` records it CANCELLED
            return order
        if order.status in (S.PENDING_SEND, S.SENT) or not order.broker_order_id:
            self._cancel_on_ack.add(order.order_id)  # cancelled the moment its ack arrives
            return order
        if order.status in TERMINAL:
            return order
        broker = self.accounts[order.account].brokers[order.route]
        for attempt in range(self.cancel_attempts):
            try:
                await broker.cancel(order)
                return order
            except (RateLimited, BrokerUnavailable) as exc:
                log.warning("cancel of %s not through yet (%s), retrying", order.order_id, exc)
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
                if self.orders[order.order_id].status in TERMINAL:
                    return self.orders[order.order_id]
            except BrokerError as exc:  # refused for good: typically already final at the broker
                log.warning("cancel of %s refused: %s", order.order_id, exc)
                return order
        log.error("cancel of %s gave up after %d attempts", order.order_id, self.cancel_attempts)
        return order

    # -- reading ------------------------------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        """Every order not final yet, as last known."""
        return [o for o in self.orders.values() if o.status not in TERMINAL]

    def position(self, account: str, instrument: str) -> Position:
        return self.positions.get((account, instrument)) or Position(account, instrument)

    def in_flight(self) -> dict[str, int]:
        """How many orders each working set holds now: place answers awaited, write stamps
        kept, withdrawals and cancels waiting for an ack. All empty once every answer is in."""
        return {
            "answers": len(self._answers),
            "written": len(self._written),
            "withdrawn": len(self._withdrawn),
            "cancel_on_ack": len(self._cancel_on_ack),
        }


def _route(account: Account, name: str) -> Route:
    return next(r for r in account.routes if r.name == name)
