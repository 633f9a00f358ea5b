"""wire_to_wire_1 / wire_to_wire_50: a tick leaves the exchange -> a strategy reacts -> its orders arrive.

Both ends are stamped by the exchange on the `time.monotonic_ns()` clock (frame `send_ns` just
before the write; request `recv_ns` when the kernel received its first bytes, so the exchange's
handling of earlier orders is not counted), so neither client times itself. The
market is stepped by hand (tick rate 0, from a process of its own: `stepper`): each trial arms
a strategy "on the next INFY tick, buy for these accounts", steps once, and matches the frame
sent on that strategy's own feed connection with its orders' requests (by tag). For 50
accounts the figure is the 50th request. Hops on the same clock: frame sent -> the strategy's
callback entered -> nbexec's last order handed to the socket (`ts_sent`, taken when the write
returns: on a busy machine the exchange may run first) -> first arrival; and
`exchange_between_arrivals` (see `fanout`).

- nbexec: `Feed.on_quote` (INFY) -> `oms.fire(...)` on the engine's loop.
- nbexec_armed: the same signal prepared by `oms.arm(...)` when the trial arms (validated,
  every account sized and tagged), then `Feed.on_quote` -> `armed.fire()`.
- nbexec_armed_busy_poll (one account only): the same with `oms.busy_poll` on for the trial
  (the loop polls instead of sleeping; off again before the next stack's turn, so no other
  stack shares its cores with a spinning loop) and rehearsals off (`oms.rehearse_every_s = None`).
- nbexec_armed_hot (one account only): busy polling as `oms.busy_poll = True` gives it, with
  its rehearsals of the armed signal every `rehearse_every_s` (1 ms) keeping the order path warm.
- official: `KiteTicker.on_ticks` -> `KiteConnect.place_order` per account, in the ticker's
  thread, in its own process (`official_stack`).
Every nbexec trial arms `ARMED_S` before it steps the market (a strategy waits for its
signal; a rehearsal needs a moment to have run). Both feeds stay subscribed to INFY for the
whole run, so each trial's tick reaches both; only the armed one acts. Trials rotate the stacks.
One account: trial i uses account i mod 50, so no account nears Kite's 10 orders/s; 50 accounts: paced like `fanout`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import NbexecError
from ..engine.fanout import FanOut
from ..engine.planning import Armed
from ..feeds.ring import LastQuote
from .fanout import PACE_S, SYMBOL, between, check_acked, last_written_ns, speedup
from .official_stack import OfficialStack
from .paper_session import EngineSession
from .stats import summary
from .stepper import Stepper

ARMED_S = 0.005


class NextTickStrategy:
    """On the first INFY tick after `arm(accounts)`, fire one buy for those accounts (in the
    feed's INFY quote callback); with `ahead`, `arm` prepares the buy with `oms.arm` and the
    callback only fires it."""

    def __init__(self, session: EngineSession, token: int, price: float) -> None:
        self.oms, self.token, self.price = session.oms, token, price
        self.accounts: list[str] | None = None
        self.armed: Armed | None = None
        self.fired = asyncio.Event()
        self.fanout: FanOut | None = None
        self.t_callback = 0

    def arm(self, accounts: list[str], ahead: bool = False) -> None:
        self.accounts, self.fanout = accounts, None
        self.armed = (
            self.oms.arm(
                SYMBOL,
                "BUY",
                1,
                accounts=accounts,
                order_type="LIMIT",
                price=self.price,
                signal_id=uuid.uuid4().hex[:16],
            )
            if ahead
            else None
        )
        self.fired.clear()

    def on_quote(self, quote: LastQuote) -> None:
        entered = time.monotonic_ns()  # first: the check below is the strategy's, not the feed's
        if self.accounts is None:
            return
        self.t_callback = entered
        accounts, self.accounts = self.accounts, None
        if self.armed is not None:
            self.fanout = self.armed.fire()
        else:
            self.fanout = self.oms.fire(
                SYMBOL,
                "BUY",
                1,
                accounts=accounts,
                order_type="LIMIT",
                price=self.price,
                signal_id=uuid.uuid4().hex[:16],
            )
        self.fired.set()


def frame_sent_ns(frames: list[list], conn: int, token: int) -> int:
    """The send stamp of the one frame carrying `token` on connection `conn`."""
    sent = [f[1] for f in frames if f[3] == conn and token in f[5]]
    if len(sent) != 1:
        raise NbexecError(f"expected one INFY frame on connection {conn}, found {len(sent)}")
    return sent[0]


def _spacing(received: list[int]) -> dict[str, float]:
    return {"exchange_between_arrivals": between(received)} if len(received) > 1 else {}


@dataclass
class Rig:
    """Both stacks subscribed to INFY, the market stepped from outside, each feed's connection id."""

    session: EngineSession
    stack: OfficialStack
    stepper: Stepper
    strategy: NextTickStrategy
    conns: dict[str, int]  # "nbexec" / "official_sdk" -> the exchange's id of its feed connection


async def _nbexec(
    rig: Rig, accounts: list[str], ahead: bool = False, busy_poll: bool = False, rehearse: bool = False
) -> dict[str, float]:
    session, strategy, conn = rig.session, rig.strategy, rig.conns["nbexec"]
    oms, period = session.oms, session.oms.rehearse_every_s
    strategy.arm(accounts, ahead)
    oms.busy_poll, oms.rehearse_every_s = busy_poll, period if rehearse else None
    try:
        await asyncio.sleep(ARMED_S)
        rig.stepper.step()
        await asyncio.wait_for(strategy.fired.wait(), 10)
        fanout: FanOut = strategy.fanout  # type: ignore[assignment]  # set before `fired`
        await fanout
    finally:
        oms.busy_poll, oms.rehearse_every_s = False, period
    check_acked(fanout, len(accounts))
    sent = frame_sent_ns(await session.admin.new_frames(), conn, strategy.token)
    received = await session.admin.received({o.tag for o in fanout.orders.values()}, sent)
    return {
        "wire_to_wire": received[-1] - sent,
        "first_order": received[0] - sent,
        "frame_to_callback": strategy.t_callback - sent,
        "callback_to_last_written": last_written_ns(fanout) - strategy.t_callback,
        "callback_to_first_received": received[0] - strategy.t_callback,
        **_spacing(received),
    }


async def _official(rig: Rig, accounts: list[int], trial: int) -> dict[str, int]:
    session, conn = rig.session, rig.conns["official_sdk"]
    tags = [f"w{len(accounts)}t{trial}a{i}" for i in accounts]
    await rig.stack.arm(accounts, tags, rig.strategy.price)
    rig.stepper.step()
    placed = await rig.stack.placed()
    sent = frame_sent_ns(await session.admin.new_frames(), conn, rig.strategy.token)
    received = await session.admin.received(set(tags), sent)
    return {
        "wire_to_wire": received[-1] - sent,
        "first_order": received[0] - sent,
        "frame_to_callback": placed["t_tick"] - sent,
        "callback_to_first_received": received[0] - placed["t_tick"],
        **_spacing(received),
    }


async def measure(rig: Rig, accounts: int, trials: int) -> dict:
    """`trials` armed ticks per stack for `accounts` accounts each (stacks take turns, same exchange)."""
    session = rig.session
    ids = list(session.oms.accounts)
    stacks = (
        ("nbexec", "nbexec_armed", "nbexec_armed_busy_poll", "nbexec_armed_hot", "official_sdk")
        if accounts == 1
        else ("nbexec", "nbexec_armed", "official_sdk")
    )
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in stacks}
    await session.admin.new_requests()
    await session.admin.new_frames()
    started = time.perf_counter()
    for trial in range(trials):
        chosen = [(trial + i) % len(ids) for i in range(accounts)]
        for k in range(len(stacks)):
            if accounts > 1:
                await asyncio.sleep(PACE_S)
            name = stacks[(trial + k) % len(stacks)]
            figures: Mapping[str, float]
            if name == "official_sdk":
                figures = await _official(rig, chosen, trial)
            else:
                figures = await _nbexec(
                    rig,
                    [ids[i] for i in chosen],
                    ahead=name.startswith("nbexec_armed"),
                    busy_poll=name.endswith(("busy_poll", "hot")),
                    rehearse=name.endswith("hot"),
                )
            for key, ns in figures.items():
                samples[name].setdefault(key, []).append(ns / 1e3)
    out: dict = {name: {key: summary(s, "us") for key, s in figures.items()} for name, figures in samples.items()}
    for name in stacks[:-1]:
        out[f"official_over_{name}"] = speedup(out["official_sdk"]["wire_to_wire"], out[name]["wire_to_wire"])
    out.update(accounts=accounts, seconds=round(time.perf_counter() - started, 2))
    return out
