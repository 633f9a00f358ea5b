"""Busy polling: while on, the loop never waits in `select`; off (and engine stop) undoes it."""

import asyncio

import pytest

from nbexec.core.errors import NbexecError
from nbexec.engine.busy_poll import BusyPoll
from nbexec.engine.lifecycle import stop


class SelectTimeouts:
    """Records the timeout of every `select` the running loop makes (a spy, nothing replaced)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.selector, self.seen = loop._selector, []
        self.select = self.selector.select
        self.selector.select = self._select

    def _select(self, timeout=None):
        self.seen.append(timeout)
        return self.select(timeout)

    def restore(self) -> None:
        self.selector.select = self.select


async def test_the_loop_polls_without_waiting_while_on_and_sleeps_again_when_off():
    spy = SelectTimeouts(asyncio.get_running_loop())
    poll = BusyPoll()
    try:
        poll.on()
        poll.on()  # idempotent
        await asyncio.sleep(0.05)
        polled, spy.seen = spy.seen, []
        poll.off()
        poll.off()
        await asyncio.sleep(0.05)
        slept = spy.seen
    finally:
        poll.off()
        spy.restore()
    assert len(polled) > 10 and set(polled) == {0}, polled[:20]
    assert not poll.active and any(t is None or t > 0 for t in slept), slept


async def test_stopping_the_engine_turns_busy_polling_off(engine_factory):
    oms = await engine_factory(accounts=1)
    oms.busy_poll = True
    assert oms.busy_poll
    await stop(oms)
    assert not oms.busy_poll
    with pytest.raises(NbexecError, match="stopped"):
        oms.busy_poll = True


async def test_warm_runs_at_its_period_while_polling_and_a_failing_one_is_dropped_polling_on(caplog):
    spy = SelectTimeouts(asyncio.get_running_loop())
    calls: list[float] = []
    poll = BusyPoll(warm=lambda: calls.append(asyncio.get_running_loop().time()), warm_every_s=0.01)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        poll.on()
        await asyncio.sleep(0.2)
        poll.off()
        polled_for, warmed = loop.time() - started, len(calls)
        await asyncio.sleep(0.05)
        # again and again, at most once per 10 ms, and only while on
        assert len(calls) == warmed and 2 <= warmed <= 1 + polled_for / 0.01 + 1e-9, (calls, polled_for)
        # spaced by the period as the poll reads the clock (a few us before the call reads it)
        assert min(b - a for a, b in zip(calls, calls[1:], strict=False)) >= 0.0099

        def broken() -> None:
            calls.append(-1.0)
            raise RuntimeError("rehearsal bug")

        poll = BusyPoll(warm=broken, warm_every_s=0.001)
        poll.on()
        await asyncio.sleep(0.05)
        spy.seen = []
        await asyncio.sleep(0.05)
        polled = spy.seen
    finally:
        poll.off()
        spy.restore()
    assert calls.count(-1.0) == 1 and "warm-up failed" in caplog.text
    assert len(polled) > 10 and set(polled) == {0}
