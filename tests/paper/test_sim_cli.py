"""`nbexec sim` as a user runs it: one JSON line when ready, serving until SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest
from kiteconnect import KiteConnect

pytestmark = pytest.mark.process  # runs `nbexec sim` as a process

KEYS = {"kite_rest", "kite_ws", "dhan_rest", "dhan_feed_ws", "dhan_order_ws", "admin", "accounts", "instruments"}


async def start_sim(*args: str):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nbexec.cli.main", "sim", *args, stdout=asyncio.subprocess.PIPE
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    return proc, json.loads(line)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_sim_prints_one_json_line_then_serves_until_signalled(sig):
    proc, info = await start_sim("--port", "0", "--accounts", "2", "--seed", "4", "--symbols", "INFY", "FOO")
    try:
        assert set(info) == KEYS and len(info["accounts"]) == 2
        assert [i["tradingsymbol"] for i in info["instruments"]] == ["INFY", "FOO"]
        a = info["accounts"][1]
        kc = KiteConnect(api_key=a["kite_api_key"], access_token=a["kite_access_token"], root=info["kite_rest"])
        assert await asyncio.to_thread(kc.orders) == []
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert await proc.stdout.read() == b""  # nothing but the one line
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sim_credentials_are_reproducible_from_the_seed():
    infos = []
    for _ in range(2):
        proc, info = await start_sim("--seed", "11", "--tick-rate", "0")
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        infos.append(info["accounts"])
    assert infos[0] == infos[1]


def test_register_adds_the_sim_subcommand():
    import argparse

    from nbexec.cli import sim

    parser = argparse.ArgumentParser()
    sim.register(parser.add_subparsers())
    args = parser.parse_args(["sim", "--accounts", "50", "--tick-rate", "100", "--faults", "500=0.01"])
    assert (args.accounts, args.tick_rate, args.faults, args.func) == (50, 100.0, "500=0.01", sim.run)
