import time

import pytest

from nbexec.core.errors import StoreUnavailable
from nbexec.store import OrderStore, connect

from .helpers import new_order


async def test_calls_fail_fast_while_redis_is_down_and_work_again_after(private_redis):
    server = private_redis()
    store = OrderStore(connect(server.start()), prefix="down")
    order, _ = await store.create(new_order())
    server.kill()

    for call in (
        lambda: store.get(order.account, order.order_id),
        lambda: store.create(new_order("s2")),
        lambda: store.transition(order, "PENDING_SEND"),
    ):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Redis unreachable"):
            await call()
        assert time.monotonic() - started < 1.5  # the contract is "within 1 s", plus slack for a loaded CI box

    server.start()
    assert (await store.get(order.account, order.order_id)).order_id == order.order_id
    assert (await store.transition(order, "PENDING_SEND")).version == 2
    await store.close()
