"""fanout_50, wire_to_wire_1 and wire_to_wire_50 in one engine session.

One session because starting the engine for 50 paper accounts (100 adapters, warm pools,
update streams) costs seconds: the three share it, the exchange and the official SDK worker.
Setup: subscribe INFY in full mode, step once; the connection that frame went out on is the
engine's feed; then start the official worker, step once more; the new connection is its ticker.
"""

from __future__ import annotations

import asyncio
import time

from ..core.errors import NbexecError
from . import fanout, wire_to_wire
from .official_stack import OfficialStack
from .paper_session import EngineSession, engine_session
from .stepper import Stepper

KEYS = ("fanout_50", "wire_to_wire_1", "wire_to_wire_50")
ACCOUNTS = 50


async def _feed_connection(session: EngineSession, token: int, known: set[int]) -> int:
    """Step once; the one connection not in `known` that carried `token` is the new subscriber's."""
    await session.admin.step()
    for _ in range(100):
        conns = {f[3] for f in await session.admin.new_frames() if token in f[5]} - known
        if conns:
            if len(conns) > 1:
                raise NbexecError(f"several new feed connections {sorted(conns)}")
            return conns.pop()
        await session.admin.step()
    raise NbexecError("no frame of INFY went out after 100 steps")


async def run(quick: bool, keys: tuple[str, ...] = KEYS) -> dict[str, dict]:
    trials = (
        {"fanout_50": 8, "wire_to_wire_1": 20, "wire_to_wire_50": 8}
        if quick
        else {"fanout_50": 60, "wire_to_wire_1": 200, "wire_to_wire_50": 60}
    )
    started = time.perf_counter()
    async with engine_session(ACCOUNTS) as session:
        token = next(
            i["instrument_token"]
            for i in session.info["instruments"]
            if f"{i['exchange']}:{i['tradingsymbol']}" == fanout.SYMBOL
        )
        feed = await session.oms.subscribe(fanout.SYMBOL, mode="full", first_tick_timeout=0)
        conns = {"nbexec": await _feed_connection(session, token, set())}
        while session.oms.last_tick(fanout.SYMBOL) is None:  # the frame is out; let the feed read it
            await asyncio.sleep(0.01)
        strategy = wire_to_wire.NextTickStrategy(session, token, fanout.resting_price(session))
        feed.on_quote(fanout.SYMBOL, strategy.on_quote)
        stack = await OfficialStack.start(session.info, token)
        stepper = await Stepper.start(session.info["admin"])
        try:
            conns["official_sdk"] = await _feed_connection(session, token, {conns["nbexec"]})
            rig = wire_to_wire.Rig(session, stack, stepper, strategy, conns)
            setup_seconds = round(time.perf_counter() - started, 2)
            results: dict[str, dict] = {}
            if "fanout_50" in keys:
                results["fanout_50"] = await fanout.measure(session, stack, trials["fanout_50"])
            for key in ("wire_to_wire_1", "wire_to_wire_50"):
                if key in keys:
                    results[key] = await wire_to_wire.measure(rig, int(key.rsplit("_", 1)[1]), trials[key])
            refused = (await session.admin.counters()).get("rate_limited", 0)
        finally:
            await stepper.close()
            await stack.close()
    for result in results.values():
        result.update(
            exchange_rate_limited=refused,
            session_setup_seconds=setup_seconds,
            engine_start_seconds=round(session.start_seconds, 2),
        )
    return results
