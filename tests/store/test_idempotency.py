import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbexec.store import OrderStore, connect

pytestmark = pytest.mark.process  # writers race from processes of their own

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_creating_the_same_signal_and_account_make_one_order(redis_url, key_prefix):
    start_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store.idem_creator", redis_url, key_prefix, str(start_at), str(qty)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for qty in (5, 7)
    ]
    results = sorted(p.communicate(timeout=30)[0].split() for p in procs)
    assert [r[0] for r in results] == ["0", "1"]  # exactly one created
    assert results[0][1:] == results[1][1:]  # both see the same order
    import asyncio

    async def stored_orders():
        store = OrderStore(connect(redis_url), prefix=key_prefix)
        orders = await store.orders("ACC1")
        await store.close()
        return orders

    assert len(asyncio.run(stored_orders())) == 1
