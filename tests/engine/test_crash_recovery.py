"""SIGKILL the engine mid fan-out: after a restart and recovery, one order per account, no more."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from nbexec.core.orders import make_tag
from nbexec.core.states import TERMINAL, OrderStatus
from nbexec.engine.config import PaperConfig
from nbexec.engine.journal import SignalJournal, begin_line
from nbexec.engine.lifecycle import stop
from nbexec.engine.paper import PaperSupervisor
from tests.fixtures.engine import admin
from tests.fixtures.redis import short_tmpdir

pytestmark = pytest.mark.process  # kills an engine process

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kill_after_s", [0.0, 0.02])
async def test_a_fan_out_killed_midway_ends_with_exactly_one_order_per_account(engine_factory, redis_url, kill_after_s):
    data_dir, prefix, signal_id = short_tmpdir("nbxc-"), f"c{uuid.uuid4().hex[:8]}", "crash-signal"
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.crash_engine", str(data_dir), redis_url, prefix, signal_id],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "fired"
        time.sleep(kill_after_s)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

        oms = await engine_factory(accounts=50, data_dir=data_dir, prefix=prefix)  # same exchange, same Redis
        orders = [await oms.store.find_by_signal(account, signal_id) for account in oms.accounts]
        assert all(orders), "recovery left an account of the signal without an order"
        for order in orders:
            await _until_final(oms, order)

        exchange = admin(oms.paper_info, "/book")
        for account in oms.accounts:
            tags = Counter(o["tag"] for o in exchange[account]["orders"])
            assert tags[make_tag(signal_id, account)] == 1, (account, oms.recovery)
        await stop(oms)  # before its exchange goes away
    finally:
        PaperSupervisor(data_dir, PaperConfig()).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _until_final(oms, order, timeout_s: float = 30.0):
    import asyncio

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = await oms.store.get(order.account, order.order_id)
        if current.status in TERMINAL:
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order.order_id} still {current.status} after {timeout_s}s")


async def test_orders_risk_refused_before_a_crash_are_recorded_by_recovery(engine_factory):
    """A kill between the journal line and Redis: the refused orders are in the line only."""
    oms = await engine_factory(accounts=2)
    await oms.subscribe("NSE:INFY")
    far = round(oms.last_quote("NSE:INFY").last_price * 1.5, 1)  # outside the price band
    fanout = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=far, signal_id="refused-live")
    await fanout.done(timeout=30)
    lines = [json.loads(line) for line in oms.journal.path.read_bytes().rstrip(b"\0").splitlines()]
    (spec,) = [r["spec"] for r in lines if r["signal_id"] == "refused-live" and "spec" in r]
    assert spec["orders"] == [] and [r[0] for r in spec["rejected"]] == list(oms.accounts)
    assert all(r[5].startswith("price_band: ") for r in spec["rejected"])

    data_dir, prefix = oms.journal.directory, oms.journal.prefix
    await stop(oms)
    account = next(iter(oms.accounts))
    # what a crash right after the journal line leaves: the line, and nothing in Redis
    crashed = SignalJournal(data_dir, prefix)
    crashed.begin(
        begin_line(
            "refused-crash",
            instrument="NSE:INFY",
            trigger_price=0.0,
            product="MIS",
            validity="DAY",
            created_at_ns=time.time_ns(),
            ts_signal=time.monotonic_ns(),
            orders=[],
            rejected=[(account, "BUY", 1, "LIMIT", far, "price_band: too far")],
        )
    )
    crashed.close()  # unlocked, its line left unfinished: as the engine's death leaves it
    again = await engine_factory(accounts=2, data_dir=data_dir, prefix=prefix)
    recorded = await again.store.find_by_signal(account, "refused-crash")
    assert (recorded.status, recorded.reject_reason, recorded.price) == (
        OrderStatus.RISK_REJECTED,
        "price_band: too far",
        far,
    )
    assert again.recovery.refused == [make_tag("refused-crash", account)]
    assert not crashed.path.exists() and list(again.journal.orphans()) == []  # finished, so deleted
    exchange = admin(again.paper_info, "/book")
    assert not [o for o in exchange[account]["orders"] if o["tag"] == recorded.order_id]
