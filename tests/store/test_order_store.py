import asyncio

import pytest

from nbexec.core.errors import InvalidTransition, OrderNotFound, StaleVersion, ValidationError
from nbexec.core.fills import Fill
from nbexec.core.orders import Side
from nbexec.core.states import OrderStatus as S
from nbexec.store.order_store import rebuild_orders

from .helpers import new_order


async def walk_to_acked(store, order):
    for status in (S.PENDING_SEND, S.SENT, S.ACKED):
        await store.transition(order, status)


async def test_create_returns_the_existing_order_for_the_same_signal_and_account(store):
    first, created = await store.create(new_order(quantity=10))
    again, created_again = await store.create(new_order(quantity=99))
    assert created and not created_again
    assert again == first and again.quantity == 10


async def test_transition_writes_the_hash_and_bumps_the_version(store):
    order, _ = await store.create(new_order())
    result = await store.transition(order, S.PENDING_SEND, expected_version=1, ts_risk_passed=123)
    stored = await store.get(order.account, order.order_id)
    assert (result.version, result.status) == (2, S.PENDING_SEND)
    assert (stored.status, stored.version, stored.ts_risk_passed) == (S.PENDING_SEND, 2, 123)


async def test_forbidden_transition_changes_nothing(store):
    order, _ = await store.create(new_order())
    with pytest.raises(InvalidTransition):
        await store.transition(order, S.FILLED)
    assert await store.get(order.account, order.order_id) == order
    assert len(await store.events(order.account)) == 1


async def test_stale_version_is_refused(store):
    order, _ = await store.create(new_order())
    await store.transition(order, S.PENDING_SEND, expected_version=1)
    with pytest.raises(StaleVersion) as info:
        await store.transition(order, S.SENT, expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)


async def test_unknown_order_is_reported(store):
    with pytest.raises(OrderNotFound):
        await store.transition(("ACC1", "nosuchorder"), S.SENT)


async def test_fills_update_order_and_position_once_per_trade_id(store):
    order, _ = await store.create(new_order(quantity=10))
    await walk_to_acked(store, order)
    fill = Fill("T1", order.order_id, "ACC1", "NSE:INFY", Side.BUY, 4, 100.0)
    first = await store.apply_fill(fill)
    duplicate = await store.apply_fill(fill)
    second = await store.apply_fill(Fill("T2", order.order_id, "ACC1", "NSE:INFY", Side.BUY, 6, 110.0))
    stored = await store.get("ACC1", order.order_id)
    (position,) = await store.positions("ACC1")
    assert first.status is S.PARTIALLY_FILLED and duplicate.duplicate_fill and second.status is S.FILLED
    assert (stored.filled_quantity, stored.average_price) == (10, pytest.approx(106.0))
    assert stored.ts_first_fill > 0 and stored.ts_done > 0
    assert (position.instrument, position.quantity, position.buy_value) == ("NSE:INFY", 10, pytest.approx(1060.0))


async def test_overfill_is_refused_and_leaves_no_trace(store):
    order, _ = await store.create(new_order(quantity=5))
    await walk_to_acked(store, order)
    with pytest.raises(ValidationError):
        await store.apply_fill(Fill("T9", order.order_id, "ACC1", "NSE:INFY", Side.BUY, 6, 100.0))
    assert (await store.get("ACC1", order.order_id)).filled_quantity == 0
    assert await store.positions("ACC1") == []


async def test_open_set_follows_terminal_states(store):
    a, _ = await store.create(new_order("s-a"))
    b, _ = await store.create(new_order("s-b"))
    await store.transition(a, S.RISK_REJECTED, reject_reason="max_quantity")
    assert [o.order_id for o in await store.open_orders("ACC1")] == [b.order_id]


async def test_keys_of_one_account_share_one_cluster_slot(store):
    k = store.keys
    tagged = {
        key.split("{")[1].split("}")[0]
        for key in (
            k.order("ACC1", "x"),
            k.open_orders("ACC1"),
            k.positions("ACC1"),
            k.fills("ACC1"),
            k.events("ACC1"),
            k.idempotency("ACC1", "s"),
        )
    }
    assert tagged == {"ACC1"}


async def test_event_stream_replays_into_the_stored_hashes(store):
    order, _ = await store.create(new_order(quantity=3))
    await walk_to_acked(store, order)
    await store.apply_fill(Fill("T1", order.order_id, "ACC1", "NSE:INFY", Side.BUY, 3, 50.0))
    events = await store.replay()
    assert [(e.from_status, e.to_status) for e in events] == [
        ("", "NEW"),
        ("NEW", "PENDING_SEND"),
        ("PENDING_SEND", "SENT"),
        ("SENT", "ACKED"),
        ("ACKED", "FILLED"),
    ]
    rebuilt = rebuild_orders(events)[order.order_id]
    assert rebuilt == await store.redis.hgetall(store.keys.order("ACC1", order.order_id))


async def test_every_transition_is_published(store):
    received: list[dict] = []

    async def listen():
        async for note in store.notifications():
            received.append(note)
            if len(received) == 2:
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.1)  # let SUBSCRIBE land
    order, _ = await store.create(new_order())
    await store.transition(order, S.PENDING_SEND)
    await asyncio.wait_for(listener, 5)
    assert [(n["order_id"], n["status"], n["version"]) for n in received] == [
        (order.order_id, "NEW", "1"),
        (order.order_id, "PENDING_SEND", "2"),
    ]


async def test_a_batch_applies_each_move_atomically_and_reports_refusals_in_place(store):
    from nbexec.store.order_store import Move, TransitionResult

    a, _ = await store.create(new_order("s-a"))
    b, _ = await store.create(new_order("s-b"))
    results = await store.transition_batch(
        [Move(a, S.PENDING_SEND, {"ts_risk_passed": 7}), Move(b, S.FILLED), Move(b, S.PENDING_SEND)]
    )
    assert isinstance(results[0], TransitionResult) and results[0].version == 2
    assert isinstance(results[1], InvalidTransition)
    assert isinstance(results[2], TransitionResult) and results[2].status is S.PENDING_SEND
    assert (await store.get("ACC1", a.order_id)).ts_risk_passed == 7


async def test_an_order_recorded_after_the_wire_keeps_every_hop_in_its_history(store):
    sent = new_order().transition(S.PENDING_SEND, ts_risk_passed=2).transition(S.SENT, ts_sent=3)
    order, created = await store.create(sent, path=[S.NEW, S.PENDING_SEND, S.SENT])
    events = await store.events("ACC1")
    assert created and (await store.get("ACC1", order.order_id)) == sent
    assert [(e.from_status, e.to_status, e.version) for e in events] == [
        ("", "NEW", 1),
        ("NEW", "PENDING_SEND", 2),
        ("PENDING_SEND", "SENT", 3),
    ]
    assert rebuild_orders(events)[order.order_id] == await store.redis.hgetall(store.keys.order("ACC1", order.order_id))
    assert [o.order_id for o in await store.open_orders("ACC1")] == [order.order_id]


async def test_a_hop_path_the_table_forbids_is_refused_by_redis(store):
    skipped = new_order().transition(S.PENDING_SEND).transition(S.SENT)
    with pytest.raises(InvalidTransition):
        await store.create(skipped, path=[S.NEW, S.SENT, S.SENT])
    assert await store.find_by_signal("ACC1", skipped.signal_id) is None


async def test_create_batch_records_a_fan_out_in_one_round_trip_and_stays_idempotent(store):
    orders = [new_order("fan", account=f"A{i}").transition(S.PENDING_SEND).transition(S.SENT) for i in range(5)]
    first = await store.create_batch([(o, [S.NEW, S.PENDING_SEND, S.SENT]) for o in orders])
    again = await store.create_batch([(o, [S.NEW, S.PENDING_SEND, S.SENT]) for o in orders])
    assert [created for _, created in first] == [True] * 5
    assert [created for _, created in again] == [False] * 5
    assert sorted(await store.accounts()) == [f"A{i}" for i in range(5)]
