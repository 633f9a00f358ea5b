"""Property: concurrent transitions from 20 tasks never break the table, the versions or the log."""

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbexec.core.errors import InvalidTransition, StaleVersion, ValidationError
from nbexec.core.fills import Fill
from nbexec.core.orders import Side
from nbexec.core.states import OrderStatus, is_allowed
from nbexec.store import OrderStore, connect
from nbexec.store.order_store import rebuild_orders
from tests.fixtures.examples import examples

from .helpers import new_order

ORDERS = 4
TASKS = 20
step = st.tuples(
    st.integers(0, ORDERS - 1),
    st.one_of(
        st.sampled_from(list(OrderStatus)), st.tuples(st.sampled_from(["F1", "F2", "F3", "F4"]), st.integers(1, 4))
    ),
    st.booleans(),
)


async def run_steps(redis_url, steps):
    client = connect(redis_url)
    store = OrderStore(client, prefix=f"p{uuid.uuid4().hex[:10]}")
    orders = [(await store.create(new_order(f"sig{i}", quantity=8)))[0] for i in range(ORDERS)]
    accepted: dict[str, list[int]] = {o.order_id: [] for o in orders}

    async def worker(my_steps):
        for index, action, check_version in my_steps:
            order = orders[index]
            try:
                if isinstance(action, tuple):
                    fill_id, qty = action
                    fill = Fill(
                        f"{order.order_id}-{fill_id}",
                        order.order_id,
                        order.account,
                        order.instrument,
                        Side.BUY,
                        qty,
                        100.0 + qty,
                    )
                    result = await store.apply_fill(fill)
                    if result.duplicate_fill:
                        continue
                else:
                    current = await store.get(order.account, order.order_id)
                    result = await store.transition(
                        order, action, expected_version=current.version if check_version else None
                    )
                accepted[order.order_id].append(result.version)
            except (InvalidTransition, StaleVersion, ValidationError):
                pass

    await asyncio.gather(*(worker(steps[t::TASKS]) for t in range(TASKS)))
    try:
        for order in orders:
            events = [e for e in await store.events(order.account) if e.order_id == order.order_id]
            stored = await client.hgetall(store.keys.order(order.account, order.order_id))
            versions = [e.version for e in events]
            assert versions == list(range(1, len(events) + 1))
            assert sorted(accepted[order.order_id]) == versions[1:]
            assert int(stored["version"]) == len(events)
            for e in events[1:]:
                assert is_allowed(e.from_status, e.to_status), (e.from_status, e.to_status)
            assert rebuild_orders(events)[order.order_id] == stored
            assert 0 <= int(stored["filled_quantity"]) <= 8
    finally:
        async for key in client.scan_iter(match=f"{store.keys.prefix}:*"):
            await client.delete(key)
        await client.aclose()


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=40, max_size=200))
def test_concurrent_random_transitions_keep_table_versions_and_replay(redis_url, steps):
    asyncio.run(run_steps(redis_url, steps))
