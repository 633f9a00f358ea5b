"""SIGKILL the writer and Redis mid-run: every call that returned survives the AOF replay."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nbexec.store import OrderStore, connect
from nbexec.store.order_store import rebuild_orders

pytestmark = pytest.mark.process  # kills a writer process

ROOT = Path(__file__).resolve().parents[2]


def test_acknowledged_transitions_survive_sigkill_of_writer_and_redis(private_redis):
    server = private_redis(appendfsync="always")
    url = server.start()
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", url, "crash", "1000"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in writer.stdout:  # wait until it is well into its work
        lines.append(line.split())
        if len(lines) >= 1200:
            break
    os.kill(writer.pid, signal.SIGKILL)
    server.kill()
    writer.wait()
    lines += [line.split() for line in writer.stdout.read().splitlines()]
    assert len(lines) < 5000, "the writer finished before it was killed"

    server.start()  # reloads the AOF
    asyncio.run(check(url, lines))


async def check(url, lines):
    store = OrderStore(connect(url), prefix="crash")
    acknowledged: dict[tuple[str, str], int] = {}
    for account, order_id, version in lines:
        acknowledged[(account, order_id)] = max(acknowledged.get((account, order_id), 0), int(version))
    events = await store.replay()
    rebuilt = rebuild_orders(events)
    for (account, order_id), version in acknowledged.items():
        stored = await store.get(account, order_id)
        assert stored.version >= version
        assert rebuilt[order_id] == await store.redis.hgetall(store.keys.order(account, order_id))
    for account in await store.accounts():
        for event_group in [await store.events(account)]:
            for order_id in {e.order_id for e in event_group}:
                versions = [e.version for e in event_group if e.order_id == order_id]
                assert versions == list(range(1, len(versions) + 1))
    await store.close()
