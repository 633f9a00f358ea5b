"""fanout_50: one signal to 50 accounts, the engine vs the official SDK's loop, on one exchange.

Both stacks place the same resting LIMIT buy of INFY (4% below the market: nothing fills) for
the same 50 paper accounts, on the same exchange, in one run, trials alternating. Times end on
the exchange's clock where they can:

- nbexec: `oms.fire(...)` as a strategy calls it (sizing, risk, journal, 50 writes), t0 =
  `monotonic_ns()` just before. `to_50th_received`: the exchange's arrival stamp of the last of
  the 50 requests - t0. `to_50th_ack`: the last answer framed by the engine (`ts_acked`) - t0.
  `to_last_written`: the last order's `ts_sent` (its bytes handed to the socket) - t0.
- official: 50 `KiteConnect` clients placing one after another in their own process (see
  `official_stack`), t0 = `monotonic_ns()` before the loop, in that process, same clock.
  `to_50th_ack`: the loop's end.

`exchange_between_arrivals`: (last - first arrival stamp) / 49. When the 50 requests arrive
together this is the exchange's own time to accept one order (it stamps a request when its
handler starts), which bounds `to_50th_received` from below whoever the client is.

Kite allows 10 orders/s per account and the exchange enforces it per token, for both stacks
alike: trials are paced (`PACE_S`) to stay well inside it, and refusals are counted.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from ..core.errors import NbexecError
from ..engine.fanout import FanOut
from .official_stack import OfficialStack
from .paper_session import EngineSession
from .stats import ratio, summary

SYMBOL = "NSE:INFY"
PACE_S = 0.12  # between trials: each account sees at most ~6 orders/s from both stacks


def speedup(theirs: dict, ours: dict) -> dict:
    """How many times slower the alternative is, at p50 and at p99, with the trials per side."""
    return {
        "p50": ratio(theirs["p50"], ours["p50"]),
        "p99": ratio(theirs["p99"], ours["p99"]),
        "samples": min(theirs["samples"], ours["samples"]),
        "unit": "x",
    }


def resting_price(session: EngineSession) -> float:
    """A BUY limit 4% under the last trade: inside the 5% price band, far from filling."""
    oms = session.oms
    tick = oms.last_tick(SYMBOL)
    if tick is None:
        raise NbexecError("no INFY tick yet (subscribe and step the market first)")
    size = oms.instrument(SYMBOL).tick_size
    return round(round(tick.last_price * 0.96 / size) * size, 2)


def check_acked(fanout: FanOut, expected: int) -> None:
    if fanout.counts != {"ACKED": expected}:
        raise NbexecError(
            f"{fanout!r}, expected {expected} ACKED; reasons: {fanout.df['reason'].dropna().unique().tolist()}"
        )


def last_ack_ns(fanout: FanOut) -> int:
    return max(o.ts_acked for o in fanout.orders.values())


def last_written_ns(fanout: FanOut) -> int:
    return max(o.ts_sent for o in fanout.orders.values())


def between(received: list[int]) -> float:
    """Mean ns between consecutive arrival stamps."""
    return (received[-1] - received[0]) / (len(received) - 1)


async def _nbexec(session: EngineSession, accounts: list[str], price: float) -> dict[str, float]:
    t0 = time.monotonic_ns()
    fanout = session.oms.fire(
        SYMBOL, "BUY", 1, accounts=accounts, order_type="LIMIT", price=price, signal_id=uuid.uuid4().hex[:16]
    )
    await fanout
    check_acked(fanout, len(accounts))
    received = await session.admin.received({o.tag for o in fanout.orders.values()}, t0)
    return {
        "to_50th_received": received[-1] - t0,
        "to_50th_ack": last_ack_ns(fanout) - t0,
        "to_last_written": last_written_ns(fanout) - t0,
        "exchange_between_arrivals": between(received),
    }


async def _official(session: EngineSession, stack: OfficialStack, trial: int, price: float) -> dict[str, float]:
    n = len(session.info["accounts"])
    tags = [f"f{trial}a{i}" for i in range(n)]
    placed = await stack.place(list(range(n)), tags, price)
    received = await session.admin.received(set(tags), placed["t0"])
    return {
        "to_50th_received": received[-1] - placed["t0"],
        "to_50th_ack": placed["t1"] - placed["t0"],
        "exchange_between_arrivals": between(received),
    }


async def measure(session: EngineSession, stack: OfficialStack, trials: int) -> dict:
    """`trials` fan-outs of each stack, alternating which goes first."""
    accounts = list(session.oms.accounts)
    price = resting_price(session)
    samples: dict[str, dict[str, list[float]]] = {"nbexec": {}, "official_sdk_sequential": {}}
    await session.admin.new_requests()
    started = time.perf_counter()
    for trial in range(trials):
        for k in range(2):
            await asyncio.sleep(PACE_S)
            if (trial + k) % 2 == 0:
                figures, name = await _nbexec(session, accounts, price), "nbexec"
            else:
                figures, name = await _official(session, stack, trial, price), "official_sdk_sequential"
            for key, ns in figures.items():
                samples[name].setdefault(key, []).append(ns / 1e6)
    out: dict = {name: {key: summary(s, "ms") for key, s in figures.items()} for name, figures in samples.items()}
    ours, theirs = out["nbexec"], out["official_sdk_sequential"]
    out["official_over_nbexec"] = {key: speedup(theirs[key], ours[key]) for key in ("to_50th_received", "to_50th_ack")}
    out.update(accounts=len(accounts), seconds=round(time.perf_counter() - started, 2))
    return out
