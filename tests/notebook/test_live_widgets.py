"""Widget shells on a real engine, in-process: clicks only schedule work, redraws are paced.

The engine runs on IPython's own loop (no kernel here); `sync.run` drives that loop while a test
waits, the way a cell would.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from nbexec.notebook import sync
from nbexec.notebook.killswitch import KillSwitch
from nbexec.notebook.session import session
from nbexec.notebook.throttle import Every, Throttle
from nbexec.notebook.ticket import OrderTicket
from tests.fixtures.redis import short_tmpdir

from .kernels import stop_engine_servers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oms():
    data_dir = short_tmpdir("nbxwd-")
    saved = os.environ.get("NBEXEC_DATA_DIR")
    os.environ["NBEXEC_DATA_DIR"] = str(data_dir)
    try:
        engine = sync.start(accounts=2)
        sync.subscribe("NSE:INFY")
        sync.run(wait_until(lambda: engine.last_tick("NSE:INFY") is not None))
        yield engine
    finally:
        sync.stop()
        if saved is None:
            os.environ.pop("NBEXEC_DATA_DIR", None)
        else:
            os.environ["NBEXEC_DATA_DIR"] = saved
        stop_engine_servers(data_dir)


async def wait_until(condition, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_throttle_coalesces_a_burst_into_one_call_and_stops_when_closed():
    calls = []

    async def scenario():
        throttle = Throttle(lambda: calls.append(1), interval=0.05)
        for _ in range(100):
            throttle.poke()
        await wait_until(lambda: len(calls) == 1)
        throttle.poke()
        await wait_until(lambda: len(calls) == 2)
        throttle.poke()
        throttle.close()
        await asyncio.sleep(0.1)

    sync.run(scenario())
    assert len(calls) == 2


def test_every_stops_when_its_function_returns_false_and_survives_errors():
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("logged, not raised into a cell")
        return len(calls) < 3

    async def scenario():
        Every(tick, 0.01)
        await wait_until(lambda: len(calls) == 3)
        await asyncio.sleep(0.05)

    sync.run(scenario())
    assert len(calls) == 3


def test_kill_switch_click_turns_the_engine_switch_on_and_off(oms):
    async def scenario():
        switch = KillSwitch(oms)
        switch.button.click()  # a click only schedules the work
        await wait_until(lambda: oms.killed and "KILLED" in switch.button.description)
        assert switch.button.button_style == "danger"
        switch.button.click()
        await wait_until(lambda: not oms.killed and switch.button.button_style == "warning")
        switch.close()

    sync.run(scenario())


def test_ticket_send_fires_one_signal_and_reports_its_fills(oms):
    async def scenario():
        ticket = OrderTicket(oms, symbol="NSE:INFY")
        ticket.quantity.value = 3
        ticket.accounts.value = "PA0002"
        ticket.send.click()
        fanout = ticket.last_fanout
        assert fanout is not None and list(fanout.orders) == ["PA0002"]
        await wait_until(lambda: "FILLED 1" in ticket.status.value)
        ticket.accounts.value = "nobody"
        ticket.send.click()
        assert "no such account" in ticket.status.value
        ticket.close()

    sync.run(scenario())


def test_a_closed_widget_is_no_longer_closed_again_at_stop(oms):
    async def scenario():
        return KillSwitch(oms)

    switch = sync.run(scenario())
    assert switch in session()._attached
    switch.close()
    assert switch.closed and switch not in session()._attached
