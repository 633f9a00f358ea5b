"""Startup recovery: bring Redis and the brokers back into agreement, and say what differed.

Order of work, each step idempotent (a crash during recovery is recovered the same way):
1. Signals begun and never finished in the journal of an engine now gone (a live engine's
   journal, locked, is its own business): every planned order Redis does not know is
   looked up at the broker by its tag; found -> recorded as it is there ("adopted"),
   not found -> sent now ("sent": the interrupted fan-out finishes exactly once). Orders risk
   refused are recorded RISK_REJECTED with their reason ("refused": never sent).
2. Every open order in Redis: SENT / UNKNOWN / PENDING_SEND are looked up by tag (found ->
   brought up to date, absent -> sent again), ACKED / PARTIALLY_FILLED by broker order id.
3. Positions are reloaded from Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import pandas as pd

from ..brokers.reconcile import resolve_unknown
from ..brokers.types import BrokerOrder
from ..core.errors import BrokerError, NbexecError, OrderNotFound
from ..core.orders import Order, OrderType, Side, make_tag
from ..core.states import OrderStatus
from .routing import choose
from .tracker import PENDING_PATH, REJECTED_PATH, SENT_PATH, OrderTracker

S = OrderStatus


@dataclass
class RecoveryReport:
    adopted: list[str] = field(default_factory=list)  # at the broker, missing from Redis
    sent: list[str] = field(default_factory=list)  # absent at the broker: sent now
    refused: list[str] = field(default_factory=list)  # risk-rejected, missing from Redis: recorded
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (order, was, now)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def df(self) -> pd.DataFrame:
        rows = (
            [{"order_id": o, "what": "adopted from broker"} for o in self.adopted]
            + [{"order_id": o, "what": "sent (was never at the broker)"} for o in self.sent]
            + [{"order_id": o, "what": "recorded as refused by risk"} for o in self.refused]
            + [{"order_id": o, "what": f"{a} -> {b}"} for o, a, b in self.updated]
            + [{"order_id": "", "what": e} for e in self.errors]
        )
        return pd.DataFrame(rows, columns=["order_id", "what"])

    def __repr__(self) -> str:
        return (
            f"<RecoveryReport adopted {len(self.adopted)}, sent {len(self.sent)}, refused {len(self.refused)}, "
            f"updated {len(self.updated)}, unchanged {self.unchanged}, errors {len(self.errors)}>"
        )


async def recover(tracker: OrderTracker) -> RecoveryReport:
    """Run the steps of the module doc with `tracker`'s store, accounts and journal; what
    differed is in the report. Call it before the engine takes new signals."""
    report = RecoveryReport()
    store = tracker.store
    for account in tracker.accounts:
        for order in await store.open_orders(account):
            tracker.remember(order)
    for orphan in tracker.journal.orphans():  # journals of engines gone before finishing
        with orphan:
            for signal_id, spec in orphan.unfinished():
                await _finish_signal(tracker, signal_id, spec, report)
    for order in tracker.open_orders():
        await _reconcile_open(tracker, order, report)
    for account in tracker.accounts:
        for position in await store.positions(account):
            tracker.positions[(account, position.instrument)] = position
    return report


async def _finish_signal(tracker: OrderTracker, signal_id: str, spec: dict, report: RecoveryReport) -> None:
    common, store = spec["common"], tracker.store
    for account_id, side, quantity, order_type, price, reason in spec.get("rejected", ()):
        if account_id not in tracker.accounts:
            report.errors.append(f"signal {signal_id}: account {account_id} is no longer configured")
        elif await store.find_by_signal(account_id, signal_id) is None:
            refused = _journaled(signal_id, account_id, side, quantity, order_type, price, common).transition(
                S.RISK_REJECTED, reject_reason=reason
            )
            await store.create(refused, REJECTED_PATH)
            tracker.remember(refused)
            report.refused.append(refused.order_id)
    for account_id, side, quantity, order_type, price in spec["orders"]:
        if account_id not in tracker.accounts:
            report.errors.append(f"signal {signal_id}: account {account_id} is no longer configured")
            continue
        stored = await store.find_by_signal(account_id, signal_id)
        if stored is not None:
            tracker.remember(stored)
            continue
        order = _journaled(signal_id, account_id, side, quantity, order_type, price, common)
        account = tracker.accounts[account_id]
        seen = None
        for route in account.routes:
            seen = await resolve_unknown(account.brokers[route.name], order)
            if seen is not None:
                order = replace(order, route=route.name, broker=account.brokers[route.name].name)
                break
        if seen is not None:
            sent = order.transition(S.PENDING_SEND).transition(S.SENT)
            await store.create(sent, SENT_PATH)
            tracker.remember(sent)
            await tracker.apply_broker_order(account_id, seen)
            report.adopted.append(order.order_id)
        else:
            route_name = choose(account.routes, time.monotonic_ns()).route.name
            pending = order.transition(S.PENDING_SEND, route=route_name, broker=account.brokers[route_name].name)
            answer = tracker.send(account, pending)
            sent = tracker.as_written(pending)
            await store.create(sent, SENT_PATH if sent.status is S.SENT else PENDING_PATH)
            tracker.remember(sent)
            tracker.tasks.spawn(tracker.follow(sent, answer))
            report.sent.append(order.order_id)


def _journaled(
    signal_id: str, account_id: str, side: str, quantity: int, order_type: str, price: float, common: dict
) -> Order:
    """One order of a journal line as the engine built it (NEW, tagged)."""
    return Order(
        order_id=make_tag(signal_id, account_id),
        signal_id=signal_id,
        account=account_id,
        side=Side(side),
        quantity=quantity,
        order_type=OrderType(order_type),
        price=price,
        **common,
    )


async def _reconcile_open(tracker: OrderTracker, order: Order, report: RecoveryReport) -> None:
    account = tracker.accounts.get(order.account)
    if account is None:
        report.errors.append(f"order {order.order_id}: account {order.account} is no longer configured")
        return
    broker = account.brokers.get(order.route) or next(iter(account.brokers.values()))
    was = order.status
    seen: BrokerOrder | None
    try:
        if order.broker_order_id:
            seen = await broker.order_by_id(order.broker_order_id)
        else:
            seen = await resolve_unknown(broker, order)
    except OrderNotFound:
        seen = None
    except (BrokerError, NbexecError) as exc:
        report.errors.append(f"order {order.order_id}: {exc}")
        return
    if seen is None:
        if order.status is S.SENT:
            order = await tracker.move(order, S.UNKNOWN, reject_reason="not at the broker after a restart")
        if order.status in (S.UNKNOWN, S.PENDING_SEND):
            sent = await tracker.move(
                order.evolve(route=order.route or account.routes[0].name), S.SENT, ts_sent=time.monotonic_ns()
            )
            tracker.tasks.spawn(tracker.follow(sent, tracker.send(account, sent)))
            report.sent.append(order.order_id)
        return
    now = await tracker.apply_broker_order(order.account, seen)
    if now is not None and now.status is not was:
        report.updated.append((order.order_id, was.value, now.status.value))
    else:
        report.unchanged += 1
