"""The engine's order logic over in-memory routes (`tests/fixtures/routes.py`): sizing, risk
refusals, fan-out bookkeeping, UNKNOWN resolution and fail-over, against a real Redis and a
real journal, in milliseconds. What needs the wire is tested against the paper exchange."""

import pytest

from nbexec.brokers.base import OrderRoute
from nbexec.core.errors import RiskRejected
from nbexec.core.orders import make_tag
from nbexec.core.states import OrderStatus
from nbexec.risk.limits import RiskLimits
from tests.fixtures.routes import FakeRoute, account
from tests.fixtures.waiting import wait_until

S = OrderStatus


def test_the_in_memory_route_is_an_order_route():
    assert isinstance(FakeRoute("X"), OrderRoute)


async def stored(oms, account_id: str, signal_id: str):
    return await oms.store.find_by_signal(account_id, signal_id)


async def test_each_account_is_sized_by_its_rule_and_sent_once(fake_engine):
    routes = {a: FakeRoute(a) for a in ("A1", "A2", "A3")}
    oms = await fake_engine(
        [
            account("A1", routes["A1"]),
            account("A2", routes["A2"], sizing={"multiplier": 2}),
            account("A3", routes["A3"], sizing={"fixed": 5}),
        ]
    )
    fanout = await oms.fire("NSE:INFY", "BUY", 3, order_type="LIMIT", price=100.0, signal_id="sized")
    assert {a: [o.quantity for o in r.requests] for a, r in routes.items()} == {"A1": [3], "A2": [6], "A3": [5]}
    assert fanout.counts == {"ACKED": 3}
    for a in routes:
        assert (await stored(oms, a, "sized")).status is S.ACKED


async def test_risk_refuses_one_account_alone_and_records_why(fake_engine):
    small, big = FakeRoute("SMALL"), FakeRoute("BIG")
    oms = await fake_engine(
        [account("SMALL", small), account("BIG", big, sizing={"multiplier": 2})], risk=RiskLimits(max_quantity=5)
    )
    fanout = await oms.fire("NSE:INFY", "SELL", 3, order_type="LIMIT", price=100.0, signal_id="limits")
    await fanout.recorded.wait()
    assert len(small.requests) == 1 and big.requests == []
    refused = fanout.orders["BIG"]
    assert refused.status is S.RISK_REJECTED and refused.reject_reason.startswith("max_quantity: ")
    assert (await stored(oms, "BIG", "limits")).reject_reason == refused.reject_reason


async def test_a_fan_out_is_answered_then_done_as_its_fills_arrive_and_a_repeated_fill_counts_once(fake_engine):
    routes = [FakeRoute("F1"), FakeRoute("F2")]
    oms = await fake_engine([account("F1", routes[0]), account("F2", routes[1])])
    fanout = await oms.fire("NSE:INFY", "BUY", 4, order_type="LIMIT", price=100.0, signal_id="fills")
    assert fanout.counts == {"ACKED": 2}  # answered, not done
    for route in routes:
        tag = make_tag("fills", route.account)
        route.fill(tag, 1, price=100.0)
        route.repeat(tag)
        route.fill(tag, price=101.0)
    await fanout.done(timeout=5)
    assert fanout.counts == {"FILLED": 2}
    assert [(f.quantity, f.price) for f in oms.fills if f.account == "F1"] == [(1, 100.0), (3, 101.0)]
    assert oms.position("F1", "NSE:INFY").quantity == 4
    (position,) = await oms.store.positions("F2")
    assert position.quantity == 4


async def test_an_unknown_order_the_broker_has_is_adopted_not_sent_again(fake_engine):
    route = FakeRoute("U1", answers=["landed"])
    oms = await fake_engine([account("U1", route)])
    fanout = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="landed")
    tag = make_tag("landed", "U1")
    await wait_until(lambda: oms.orders[tag].status is S.ACKED, what="resolved by tag")
    assert route.placed(tag) == 1
    assert oms.orders[tag].broker_order_id == route.book[tag].broker_order_id
    assert (await stored(oms, "U1", "landed")).status is S.ACKED
    assert fanout.orders["U1"].status is S.ACKED


async def test_an_unknown_order_the_broker_lacks_is_sent_once_more(fake_engine):
    route = FakeRoute("U2", answers=["lost"])
    oms = await fake_engine([account("U2", route)])
    oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="lost")
    tag = make_tag("lost", "U2")
    await wait_until(lambda: oms.orders[tag].status is S.ACKED, what="sent again and acknowledged")
    assert route.placed(tag) == 1 and len(route.book) == 1  # the lost request never reached it


async def test_a_request_that_never_left_fails_over_to_the_next_route(fake_engine):
    first, second = FakeRoute("FO", answers=["unsent"]), FakeRoute("FO")
    oms = await fake_engine([account("FO", first, second)])
    fanout = await oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="failover")
    order = fanout.orders["FO"]
    assert (order.status, order.route) == (S.ACKED, "b")
    assert first.requests == [] and len(second.requests) == 1
    assert (await stored(oms, "FO", "failover")).route == "b"


async def test_a_request_that_never_left_its_only_route_is_cancelled_with_the_reason(fake_engine):
    route = FakeRoute("ONE", answers=["unsent"])
    oms = await fake_engine([account("ONE", route)])
    fanout = await oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="nowhere")
    order = fanout.orders["ONE"]
    assert order.status is S.CANCELLED and "no route" in order.reject_reason and route.requests == []


async def test_a_broker_refusal_is_recorded_rejected_with_the_brokers_words(fake_engine):
    route = FakeRoute("R1", answers=["reject"])
    oms = await fake_engine([account("R1", route)])
    fanout = await oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="refused")
    assert (fanout.orders["R1"].status, fanout.orders["R1"].reject_reason) == (S.REJECTED, "insufficient funds")


async def test_the_same_signal_id_fired_twice_in_one_engine_sends_once(fake_engine):
    route = FakeRoute("D1")
    oms = await fake_engine([account("D1", route)])
    first = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="twice")
    assert oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="twice") is first
    assert len(route.requests) == 1


async def test_the_kill_switch_withdraws_what_is_unanswered_and_refuses_what_comes_next(fake_engine):
    held = FakeRoute("K1", default="hold")
    oms = await fake_engine([account("K1", held)])
    fanout = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="before-kill")
    await oms.kill()
    held.release()  # the ack arrives after the kill: the order is cancelled then
    await fanout.done(timeout=5)
    assert fanout.orders["K1"].status is S.CANCELLED
    assert held.cancels == [held.book[make_tag("before-kill", "K1")].broker_order_id]
    with pytest.raises(RiskRejected, match="kill switch"):
        oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=100.0, signal_id="after-kill")
    assert await oms.store.kill_switch()
