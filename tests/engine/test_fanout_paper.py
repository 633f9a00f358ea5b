"""The engine against the paper exchange over real sockets: fan-out, faults, kill switch."""

import asyncio
import gc
import time
from collections import Counter

import pytest

from nbexec.core.errors import ValidationError
from nbexec.core.orders import make_tag
from nbexec.core.states import TERMINAL, OrderStatus
from nbexec.engine.sizing import SizingRule, size_for
from nbexec.risk.limits import RiskLimits
from tests.fixtures.engine import admin
from tests.fixtures.waiting import wait_until

S = OrderStatus


def book(oms) -> dict:
    return admin(oms.paper_info, "/book")


async def test_one_signal_to_50_accounts_books_50_sized_orders_and_positions_match_the_exchange(engine_factory):
    oms = await engine_factory(accounts=50)
    for i, account in enumerate(oms.accounts.values()):
        account.sizing = SizingRule.from_config({"multiplier": i % 3 + 1})
    await oms.subscribe("NSE:INFY")
    fanout = oms.fire("NSE:INFY", "BUY", 2, signal_id="sig-50")
    await fanout.done(timeout=60)

    exchange = book(oms)
    assert fanout.counts == {"FILLED": 50}, fanout.df["reason"].unique()
    for i, account_id in enumerate(oms.accounts):
        ours = [o for o in exchange[account_id]["orders"] if o["tag"] == make_tag("sig-50", account_id)]
        assert len(ours) == 1, account_id
        assert (ours[0]["quantity"], ours[0]["status"]) == (2 * (i % 3 + 1), "COMPLETE")
        (theirs,) = [p for p in exchange[account_id]["positions"] if p["instrument"] == "NSE:INFY"]
        (stored,) = await oms.store.positions(account_id)
        assert (stored.quantity, stored.buy_value) == (theirs["quantity"], pytest.approx(theirs["buy_value"]))


async def test_with_5xx_429_and_unanswered_requests_no_order_is_doubled_and_every_order_ends(engine_factory):
    oms = await engine_factory(accounts=20, order_timeout_s=1.0)
    oms.tracker.unknown_grace_s = 0.5
    await oms.subscribe("NSE:TCS")
    admin(oms.paper_info, "/faults", '{"spec": "500=0.1,502=0.05,503=0.05,429=0.1,hang=0.1"}')
    fanouts = [oms.fire("NSE:TCS", "BUY", q, signal_id=f"faulty-{q}") for q in (1, 2, 3)]
    for fanout in fanouts:
        await fanout.done(timeout=120)
    injected = {k: v for k, v in admin(oms.paper_info, "/counters").items() if k.startswith("fault.")}
    admin(oms.paper_info, "/faults", '{"spec": ""}')  # (setting faults resets their counters)
    assert injected.get("fault.hang") and (injected.get("fault.500") or injected.get("fault.429")), injected

    exchange = book(oms)
    for fanout in fanouts:
        for account_id, order in fanout.orders.items():
            tags = Counter(o["tag"] for o in exchange[account_id]["orders"])
            assert tags[order.order_id] <= 1, f"{order.order_id} placed {tags[order.order_id]} times"
            assert order.status in TERMINAL, (order.order_id, order.status)
            if order.status is S.REJECTED:
                assert order.reject_reason
            if order.status is S.FILLED:
                assert tags[order.order_id] == 1


async def test_the_kill_switch_withdraws_unsent_orders_and_cancels_open_ones(engine_factory):
    oms = await engine_factory(accounts=3, risk=RiskLimits(duplicate_window_s=None))
    feed = await oms.subscribe("NSE:INFY")
    resting = round(feed.last("NSE:INFY").last_price * 0.97, 1)  # a bid well below the market: it rests
    # 15 orders per account: Kite allows 10 a second, so the last ones wait for the rate limiter.
    fanouts = [
        oms.fire("NSE:INFY", "BUY", q, order_type="LIMIT", price=resting, signal_id=f"basket-{q}") for q in range(1, 16)
    ]
    await oms.kill()
    for fanout in fanouts:
        try:
            await fanout.done(timeout=60)
        except asyncio.TimeoutError:
            raise AssertionError(f"not final after the kill: {fanout!r}\n{fanout.df.to_string()}") from None

    exchange = book(oms)
    withdrawn = [o for f in fanouts for o in f.orders.values() if o.reject_reason == "withdrawn before it was sent"]
    assert withdrawn, "the rate limit should have held some orders back"
    for fanout in fanouts:
        for account_id, order in fanout.orders.items():
            at_exchange = [o for o in exchange[account_id]["orders"] if o["tag"] == order.order_id]
            assert order.status is S.CANCELLED
            if order in withdrawn:
                assert at_exchange == []
            else:
                assert [o["status"] for o in at_exchange] == ["CANCELLED"]
    with pytest.raises(Exception, match="kill switch"):
        oms.fire("NSE:INFY", "BUY", 1)


async def test_accounts_sharing_one_capital_share_rule_are_each_sized_by_their_own_capital(engine_factory):
    oms = await engine_factory(accounts=3)
    rule = SizingRule.from_config({"capital_share": 0.1})  # one rule object, three capitals
    for account, capital in zip(oms.accounts.values(), (100_000.0, 200_000.0, 400_000.0), strict=True):
        account.sizing, account.capital = rule, capital
    await oms.subscribe("NSE:INFY")
    price = oms.last_quote("NSE:INFY").last_price
    fanout = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=price)
    await fanout
    instrument = oms.instrument("NSE:INFY")
    assert {a: o.quantity for a, o in fanout.orders.items()} == {
        a.id: size_for(rule, 1, instrument, price, a.capital).quantity for a in oms.accounts.values()
    }
    assert len({o.quantity for o in fanout.orders.values()}) == 3


async def test_answered_orders_leave_no_per_order_bookkeeping_behind(engine_factory):
    oms = await engine_factory(accounts=5)
    await oms.subscribe("NSE:INFY")
    for q in (1, 2, 3):  # one signal shape, three signals
        fanout = oms.fire("NSE:INFY", "BUY", q, signal_id=f"tidy-{q}")
        assert {o.signal_id for o in fanout.orders.values()} == {f"tidy-{q}"}
        await fanout.done(timeout=30)
    assert len(oms.orders) == 15
    # an order can fill (update stream) a moment before its place answer is handled
    await wait_until(lambda: not oms.tracker.in_flight()["answers"], what="every place answer handled")
    assert oms.tracker.in_flight() == {"answers": 0, "written": 0, "withdrawn": 0, "cancel_on_ack": 0}


@pytest.mark.parametrize("field, value", [("order_type", ["LIMIT"]), ("product", {"MIS"}), ("price", [1.0])])
async def test_an_unhashable_argument_is_named_like_any_bad_one(engine_factory, field, value):
    oms = await engine_factory(accounts=1)
    with pytest.raises(ValidationError) as raised:
        oms.fire("NSE:INFY", "BUY", 1, **{"order_type": "LIMIT", "price": 1500.0, field: value})
    assert raised.value.field == field


async def test_fire_leaves_the_garbage_collector_as_it_found_it(engine_factory):
    oms = await engine_factory(accounts=2)
    with pytest.raises(ValidationError):
        oms.fire("NSE:NOSUCH", "BUY", 1)
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(ValidationError):
            oms.fire("NSE:NOSUCH", "BUY", 1)
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_an_account_whose_every_route_is_open_is_refused_alone(engine_factory):
    oms = await engine_factory(accounts=3)
    await oms.subscribe("NSE:INFY")
    blocked = list(oms.accounts.values())[1]
    for route in blocked.routes:
        for _ in range(route.breaker.failure_threshold):
            route.breaker.record_failure(time.monotonic_ns())
    fanout = oms.fire("NSE:INFY", "BUY", 1)
    await fanout
    assert fanout.orders[blocked.id].status is S.RISK_REJECTED
    assert fanout.orders[blocked.id].reject_reason.startswith("no_route: ")
    others = [o for a, o in fanout.orders.items() if a != blocked.id]
    assert len(others) == 2 and all(o.status is not S.RISK_REJECTED for o in others)
