"""The OMS: one signal in, correctly sized and risk-checked orders on the wire at once, each
tracked in Redis from signal to fill. A facade over the engine's rooms:

    planning.py     a signal's market-independent part: inputs, accounts, sizing, tags (`Plan`, `Armed`)
    readying.py     the same signal at its trigger: risk, route, request bodies, journal line (`Ready`)
    tracker.py      every order after its bytes are handed over: answers, UNKNOWN, updates, cancels
    market_data.py  instruments, feeds, the newest quote
    rehearsal.py    busy polling's warm-up of armed signals
    views.py        DataFrames and hop latencies
    gate.py         kill switch and Redis health: may a signal go now?

Runs in the current asyncio loop (the kernel's, in Jupyter); every method is called from it.
The order path (`fire`, `armed.fire()`) is synchronous up to the last byte written: ready,
journal line, writes, in one step of the loop with no await in front of the wire. Redis is
written right after, in one pipelined round trip; acks, fills and broker updates follow as
tasks. Redis unreachable = fail closed: new signals are refused until it is back.
Build it with `nbexec.engine.lifecycle.start()`, which wires the parts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..brokers.types import BrokerOrder
from ..core.errors import NbexecError, ValidationError
from ..core.fills import Fill, Position
from ..core.instruments import Instrument
from ..core.orders import Order, Side
from ..store import OrderStore
from . import views
from .accounts import Account
from .busy_poll import BusyPoll
from .config import EngineConfig
from .fanout import FanOut
from .gate import Gate
from .gc_pause import without_gc
from .journal import SignalJournal
from .market_data import MarketData
from .planning import Armed, Plan, Planner
from .readying import Readier, Ready
from .rehearsal import Rehearsals
from .tasks import BackgroundTasks
from .tracker import OrderTracker

log = logging.getLogger(__name__)


class OMS:
    """The engine. Build it with `await nbexec.engine.lifecycle.start(...)`, which wires the
    parts and runs recovery (`recovery`: what it found). `paper_info`: the paper exchange's
    URLs and accounts when trading on paper, else None."""

    def __init__(
        self,
        config: EngineConfig,
        store: OrderStore,
        accounts: dict[str, Account],
        market: MarketData,
        journal: SignalJournal,
        tracker: OrderTracker,
        gate: Gate,
        tasks: BackgroundTasks,
        *,
        recovery: Any = None,
        paper_info: dict | None = None,
    ) -> None:
        self.config, self.store, self.accounts, self.market = config, store, accounts, market
        self.journal, self.tracker, self.tasks = journal, tracker, tasks
        self.recovery, self.paper_info = recovery, paper_info
        self.gate = gate
        self.planner = Planner(accounts, market, config.risk)
        self.readier = Readier(tracker.positions, gate)
        self.rehearsals = Rehearsals(self.readier, market, journal, gate, tracker.fanouts)
        self._busy_poll = BusyPoll(warm=self.rehearsals)

    # -- the order path ---------------------------------------------------------------------
    def fire(
        self,
        symbol: str,
        side: Side | str,
        qty: int | None = None,
        *,
        accounts: str | Sequence[str] = "all",
        order_type: str = "MARKET",
        price: float | None = None,
        trigger_price: float | None = None,
        max_slippage_bps: float | None = None,
        product: str = "MIS",
        validity: str = "DAY",
        signal_id: str | None = None,
        targets: dict[str, tuple[Side, int]] | None = None,
    ) -> FanOut:
        """Size, check and write one signal's orders now; returns before any answer.

        Safe to call from a tick callback. `signal_id` makes the signal idempotent: the same id
        yields no second order for an account from this engine. Bad input raises a
        `ValidationError` naming the field; nothing is sent then. Python's cyclic garbage
        collector is held off until the last byte is written and runs right after.
        """
        t_signal = time.monotonic_ns()

        def fire_now() -> FanOut:
            plan = self.planner.plan(
                symbol,
                side,
                qty,
                accounts,
                order_type,
                price,
                trigger_price,
                max_slippage_bps,
                product,
                validity,
                signal_id,
                targets,
            )
            return self._go(plan, t_signal, None, plan.quote)

        return without_gc(fire_now)

    def arm(
        self,
        symbol: str,
        side: Side | str,
        qty: int | None = None,
        *,
        accounts: str | Sequence[str] = "all",
        order_type: str = "MARKET",
        price: float | None = None,
        trigger_price: float | None = None,
        max_slippage_bps: float | None = None,
        product: str = "MIS",
        validity: str = "DAY",
        signal_id: str | None = None,
    ) -> Armed:
        """Prepare one signal now and send it later with `armed.fire()`, e.g. in a tick callback.

        Same arguments as `fire`. What does not depend on the market is done here: the
        arguments are validated, the accounts chosen and sized (a capital share at the price
        known now) and each order tagged; `armed.fire()` then does the rest as `fire` would at
        that moment (kill switch, Redis, every risk check against the newest tick and
        positions, route, journal line, writes).
        """
        plan = without_gc(
            lambda: self.planner.plan(
                symbol,
                side,
                qty,
                accounts,
                order_type,
                price,
                trigger_price,
                max_slippage_bps,
                product,
                validity,
                signal_id,
                None,
            )
        )
        armed = Armed(plan, self._fire_armed)
        self.rehearsals.add(armed)
        return armed

    async def signal(self, symbol: str, side: Side | str, qty: int | None = None, **kwargs: Any) -> FanOut:
        """`fire`, for `await` in cells and strategies (see `fire` for the arguments)."""
        return self.fire(symbol, side, qty, **kwargs)

    async def target(
        self,
        symbol: str,
        qty: int,
        *,
        accounts: str | Sequence[str] = "all",
        signal_id: str | None = None,
        **kwargs: Any,
    ) -> FanOut:
        """Trade each account to a position of `qty` x its sizing rule: sends the deltas."""
        targets = self.planner.targets(symbol, qty, accounts, self.tracker.position)
        return self.fire(symbol, Side.BUY, None, accounts=accounts, signal_id=signal_id, targets=targets, **kwargs)

    def _fire_armed(self, plan: Plan, price: float | None) -> FanOut:
        t_signal = time.monotonic_ns()
        return without_gc(lambda: self._go(plan, t_signal, price, self.market.last_quote(plan.instrument.key)))

    def _go(self, plan: Plan, t_signal: int, price: float | None, quote: Any) -> FanOut:
        """A planned signal at its trigger: the gate, then readied against `quote` (the newest
        `LastQuote`, or None) and committed; `price` replaces the planned one. A signal id
        already committed returns its fan-out."""
        self.gate.check()
        fanout = self.tracker.fanouts.get(plan.signal_id)
        if fanout is not None:
            return fanout
        return self._commit(plan, self.readier.ready(plan, t_signal, price, quote))

    def _commit(self, plan: Plan, ready: Ready) -> FanOut:
        """A ready signal made real. The journal line goes first: a kill from there on still
        finishes this signal exactly once (and records what risk refused). Then the writes,
        nothing else between them, then the records."""
        self.journal.begin(ready.line)
        send = self.tracker.send
        answers = [send(account, order, body) for account, order, body in ready.planned]  # the wire
        self.readier.note_sent(ready.recent)
        return self.tracker.track(plan.fanout, ready, answers)

    # -- cancel and the kill switch ---------------------------------------------------------
    async def cancel(self, order_id: str = "all") -> list[Order]:
        """Cancel one open order, or all of them ("all")."""
        if order_id == "all":
            targets = self.tracker.open_orders()
        elif order_id in self.tracker.orders:
            targets = [self.tracker.orders[order_id]]
        else:
            raise ValidationError("order_id", order_id, "no such order in this session (see oms.orders_df())")
        return list(await asyncio.gather(*(self.tracker.cancel(o) for o in targets)))

    async def kill(self) -> list[Order]:
        """Kill switch on: refuse new orders, withdraw unsent ones, cancel open ones; it lives in
        Redis, so it survives restarts and holds for every kernel sharing the store."""
        self.gate.killed = True
        await self.store.set_kill_switch(True)
        return await self.cancel("all")

    async def unkill(self) -> None:
        self.gate.killed = False
        await self.store.set_kill_switch(False)

    @property
    def killed(self) -> bool:
        return self.gate.killed

    @property
    def redis_ok(self) -> bool:
        return self.gate.redis_ok

    @property
    def stopped(self) -> bool:
        return self.gate.stopped

    # -- busy polling -----------------------------------------------------------------------
    @property
    def busy_poll(self) -> bool:
        """True: the loop polls its sockets instead of sleeping, so a tick reaches the
        strategy sooner and more evenly, and armed signals are rehearsed meanwhile (see
        `rehearse_every_s` and `nbexec.engine.rehearsal`), at the cost of one CPU core held
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
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf")
        ):
            raise ValidationError("rehearse_every_s", seconds, "must be a positive number of seconds, or None")
        self._busy_poll.warm_every_s = seconds

    # -- market data ------------------------------------------------------------------------
    @property
    def instruments(self) -> dict[str, Instrument]:
        return self.market.instruments

    @property
    def feeds(self) -> list[Any]:
        return self.market.feeds

    def instrument(self, symbol: str) -> Instrument:
        return self.market.instrument(symbol)

    async def subscribe(self, *symbols: str, mode: str = "full", first_tick_timeout: float = 5.0) -> Any:
        """Stream ticks of `symbols` into DataFrames (`feed.df`, `feed.bars("1s")`); returns the Feed.

        `full` (the default) carries the best bid and ask that slippage protection and the
        spread check price MARKET orders from. Returns once every symbol's newest tick is in
        `mode` (or after `first_tick_timeout`), so a signal sent next has a price to be
        protected and checked against: Kite subscribes a token in quote mode before the mode
        message moves it, and a tick sent in between carries no bid or ask (a MARKET signal
        right after it would be refused by the spread check).
        """
        return await self.market.subscribe(*symbols, mode=mode, first_tick_timeout=first_tick_timeout)

    def last_tick(self, symbol: str) -> Any:
        """The newest tick of `symbol` (a `Tick`) from the newest feed that has one, or None."""
        return self.market.last_tick(symbol)

    def last_quote(self, symbol: str) -> Any:
        """`last_tick`'s prices and arrival only (a `LastQuote`): what the order path reads."""
        return self.market.last_quote(symbol)

    # -- state and views --------------------------------------------------------------------
    @property
    def orders(self) -> dict[str, Order]:
        """Order id -> the newest known state of every order of this session (and recovered)."""
        return self.tracker.orders

    @property
    def fanouts(self) -> dict[str, FanOut]:
        return self.tracker.fanouts

    @property
    def fills(self) -> list[Fill]:
        return self.tracker.fills

    @property
    def positions(self) -> dict[tuple[str, str], Position]:
        return self.tracker.positions

    def position(self, account: str, instrument: str) -> Position:
        return self.tracker.position(account, instrument)

    async def apply_broker_order(self, account_id: str, seen: BrokerOrder) -> Order | None:
        """Bring our order up to the broker's view of it (see `OrderTracker.apply_broker_order`)."""
        return await self.tracker.apply_broker_order(account_id, seen)

    def orders_df(self) -> pd.DataFrame:
        return views.orders_df(self.tracker.orders.values())

    def fills_df(self) -> pd.DataFrame:
        return views.fills_df(self.tracker.fills)

    def latency_df(self) -> pd.DataFrame:
        """Percentiles (us) of each hop over this session's orders."""
        return views.latency_df(self.tracker.orders.values())

    def positions_df(self) -> pd.DataFrame:
        return views.positions_df(self.tracker.positions, self.market.last_tick)

    # -- stopping ---------------------------------------------------------------------------
    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop tasks, feeds and connections; orders and state stay in Redis (and at the broker).
        Idempotent, and bounded: a step that does not finish within `timeout_s` is abandoned."""
        if self.gate.stopped:
            return
        self.gate.stopped = True
        self.busy_poll = False
        steps = [
            ("engine tasks", self.tasks.cancel_all()),
            ("feeds", self.market.close()),
            (
                "broker connections",
                asyncio.gather(
                    *(b.close() for a in self.accounts.values() for b in a.brokers.values()), return_exceptions=True
                ),
            ),
            ("Redis", self.store.close()),
        ]
        for name, step in steps:
            try:
                await asyncio.wait_for(step, timeout_s)
            except (asyncio.TimeoutError, NbexecError, OSError) as exc:
                log.warning("stopping %s did not finish cleanly: %r", name, exc)
        self.journal.close()

    def __repr__(self) -> str:
        return (
            f"<OMS {self.config.prefix}: {len(self.accounts)} accounts, {len(self.tracker.orders)} orders, "
            f"{'KILLED, ' if self.killed else ''}redis {'ok' if self.redis_ok else 'UNREACHABLE'}>"
        )
