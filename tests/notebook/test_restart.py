"""One kernel, many engine lifetimes: start / subscribe / stop cycles and cells run twice.

The kernel is real (ipykernel 7 via jupyter_client); the census of asyncio tasks, open file
descriptors and Redis client connections is taken inside it and at its Redis server.
"""

from __future__ import annotations

import pytest
import redis

from nbexec.notebook.runner import LiveKernel

pytestmark = pytest.mark.slow

CENSUS = """
import asyncio, collections, gc, os
def census():
    gc.collect()  # what a collection frees is not a leak
    targets = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}")]
    # IPython's history database opens and closes its journal on its own thread: not ours.
    kinds = collections.Counter(t.split(":")[0] for t in targets if "/.ipython/" not in t)
    return {"tasks": sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks()), "fds": dict(kinds)}
"""


def redis_clients(data_dir) -> int:
    """Client connections at the kernel's embedded Redis, not counting the one asking."""
    client = redis.Redis(unix_socket_path=str(data_dir / "redis.sock"))
    try:
        return len(client.client_list()) - 1
    finally:
        client.close()


def cycle(kernel: LiveKernel, n: int) -> None:
    kernel.run("%oms start")
    kernel.run("feed = %oms subscribe NSE:INFY NSE:TCS")
    kernel.run("%oms blotter")
    kernel.run(f"fanout = %oms buy NSE:INFY {n + 1}\nawait fanout.done(timeout=15)")
    kernel.run("%oms stop")


def test_five_start_subscribe_stop_cycles_leak_no_task_fd_or_redis_connection(kernel, data_dir):
    kernel.run("%load_ext nbexec" + CENSUS)
    before = kernel.value("census()")
    for n in range(5):
        cycle(kernel, n)
        assert kernel.value("census()") == before, f"after cycle {n + 1}"
        assert redis_clients(data_dir) == 0, f"after cycle {n + 1}"
    assert kernel.value("sorted(o.status.value for o in fanout.orders.values())") == ["FILLED"] * 5, kernel.value(
        "sorted({o.reject_reason for o in fanout.orders.values()})"
    )


def test_every_cell_can_run_twice(kernel):
    kernel.outputs.clear()
    for code in (
        "%load_ext nbexec",
        "%oms start",
        "feed = %oms subscribe NSE:INFY",
        "%oms blotter",
        "%oms ticket",
        "fanout = %oms buy NSE:INFY 3 --tag again1\nawait fanout.done(timeout=15)",
        "%oms positions",
        "%oms stop",
    ):
        kernel.run(code)
        if code.startswith("fanout"):
            assert kernel.value("fanout.counts") == {"FILLED": 5}
        kernel.run(code)
    text = "".join(kernel.outputs)
    assert text.count("nbexec engine started") == 1 and "nbexec engine already running" in text
    assert text.count("nbexec engine stopped") == 1 and "nbexec engine is not running" in text
    # The same --tag is one signal: running the cell again sent nothing new (Redis has 5 orders).
    kernel.run("%oms start\nstored = [o.status.value for a in oms.accounts for o in await oms.store.orders(a)]")
    assert kernel.value("stored") == ["FILLED"] * 5
    kernel.run("%oms stop")


def test_cells_queued_at_once_all_run(kernel):
    """Run All sends every cell before the first finishes; a magic waiting on the loop must
    not step the kernel's next message (ipykernel 7 shares one Context between cells)."""
    errors = kernel.run_queued(
        [
            "%load_ext nbexec",
            "%oms start",
            "feed = %oms subscribe NSE:INFY",
            "%oms blotter",
            "fanout = %oms buy NSE:INFY 2",
            "await fanout.done(timeout=15)",
            "%oms stop",
            "%oms start",
            "%oms stop",
        ]
    )
    assert errors == {i: [] for i in range(9)}
    text = "".join(kernel.outputs)
    assert text.count("nbexec engine started") == 2 and text.count("nbexec engine stopped") == 2
    assert "cannot enter context" not in text and "Task was destroyed" not in text
    assert kernel.value("fanout.counts") == {"FILLED": 5}


def test_the_blotter_shows_orders_placed_from_another_kernel(kernel, data_dir):
    other = LiveKernel(data_dir)  # same data dir: same Redis, same paper exchange
    try:
        kernel.run("%load_ext nbexec\n%oms start\ndesk = %oms blotter")
        other.run(
            "%load_ext nbexec\n%oms start\nfeed = %oms subscribe NSE:TCS\n"
            "fanout = %oms sell NSE:TCS 4\nawait fanout.done(timeout=15)"
        )
        theirs = other.value("sorted(fanout.orders[a].order_id for a in fanout.orders)")
        kernel.run(
            "import asyncio\nfor _ in range(50):\n"
            "    if len(desk.blotter.df) >= 5 and set(desk.blotter.df.status) == {'FILLED'}:\n"
            "        break\n    await asyncio.sleep(0.1)"
        )
        assert kernel.value("sorted(desk.blotter.df.index)") == theirs
        assert kernel.value("sorted(set(desk.blotter.df.instrument))") == ["NSE:TCS"]
        other.run("%oms stop")
        kernel.run("%oms stop")
    finally:
        other.close()


def test_background_log_records_never_land_in_the_running_cell(kernel):
    kernel.run("%load_ext nbexec")
    kernel.outputs.clear()
    kernel.run(
        "import asyncio, logging\n"
        "asyncio.get_running_loop().call_later(0.05, logging.getLogger('nbexec.engine.oms').warning, "
        "'from a task')\n"
        "await asyncio.sleep(0.3)"
    )
    assert "from a task" not in "".join(kernel.outputs)
    assert kernel.value("__import__('nbexec.notebook.logs', fromlist=['RECENT']).RECENT.records[-1]").endswith(
        "WARNING nbexec.engine.oms: from a task"
    )
