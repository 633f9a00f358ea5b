"""`oms.arm(...)` then `armed.fire()`: the signal prepared ahead, sent as `fire` would send it."""

import time

import pytest

from nbexec.core.errors import RiskRejected, ValidationError
from nbexec.core.orders import make_tag
from nbexec.core.states import OrderStatus
from nbexec.engine.sizing import SizingRule
from tests.fixtures.engine import admin

S = OrderStatus


def exchange_orders(oms, tag_of) -> dict[str, list[dict]]:
    """Account -> the exchange's orders carrying that account's tag."""
    book = admin(oms.paper_info, "/book")
    return {account: [o for o in book[account]["orders"] if o["tag"] == tag_of(account)] for account in oms.accounts}


async def test_an_armed_signal_is_sized_when_armed_and_sent_at_fire_time(engine_factory):
    oms = await engine_factory(accounts=3)
    for i, account in enumerate(oms.accounts.values()):
        account.sizing = SizingRule.from_config({"multiplier": i + 1})
    await oms.subscribe("NSE:INFY")
    price = oms.last_quote("NSE:INFY").last_price
    armed = oms.arm("NSE:INFY", "BUY", 2, order_type="LIMIT", price=price, signal_id="armed-1")
    assert armed.accounts == {a: 2 * (i + 1) for i, a in enumerate(oms.accounts)}
    assert exchange_orders(oms, lambda a: make_tag("armed-1", a)) == {a: [] for a in oms.accounts}

    before = time.monotonic_ns()
    fanout = armed.fire()
    await fanout
    assert fanout.signal_id == "armed-1" and set(fanout.orders) == set(oms.accounts)
    for account, placed in exchange_orders(oms, lambda a: make_tag("armed-1", a)).items():
        order = fanout.orders[account]
        assert [(o["quantity"], o["price"]) for o in placed] == [(armed.accounts[account], price)]
        assert order.status in (S.ACKED, S.PARTIALLY_FILLED, S.FILLED), order.reject_reason
        assert order.ts_signal >= before and order.created_at_ns > 0
        assert (await oms.store.get(account, order.order_id)).quantity == armed.accounts[account]


async def test_firing_an_armed_signal_twice_sends_it_once(engine_factory):
    oms = await engine_factory(accounts=2)
    await oms.subscribe("NSE:TCS")
    armed = oms.arm("NSE:TCS", "SELL", 1, signal_id="armed-twice")
    first = armed.fire()
    assert armed.fire() is first
    await first.done(timeout=30)
    assert {a: len(o) for a, o in exchange_orders(oms, lambda a: make_tag("armed-twice", a)).items()} == {
        a: 1 for a in oms.accounts
    }


async def test_the_kill_switch_and_risk_are_checked_when_fired_not_when_armed(engine_factory):
    oms = await engine_factory(accounts=2)
    await oms.subscribe("NSE:INFY")
    last = oms.last_quote("NSE:INFY").last_price
    armed = oms.arm("NSE:INFY", "BUY", 1, order_type="LIMIT", price=last, signal_id="armed-risk")
    await oms.kill()
    with pytest.raises(RiskRejected, match="kill switch"):
        armed.fire()
    await oms.unkill()
    far = round(last * 1.5, 1)  # outside the 500 bps price band around the last trade
    fanout = armed.fire(price=far)
    await fanout.done(timeout=30)
    for order in fanout.orders.values():
        assert order.status is S.RISK_REJECTED and order.reject_reason.startswith("price_band"), order.reject_reason
        assert order.price == far
    assert exchange_orders(oms, lambda a: make_tag("armed-risk", a)) == {a: [] for a in oms.accounts}


@pytest.mark.parametrize("price", [-1.0, float("nan"), float("inf"), "1500", 0.0])
async def test_a_bad_price_at_fire_time_names_the_field_and_sends_nothing(engine_factory, price):
    oms = await engine_factory(accounts=1)
    await oms.subscribe("NSE:INFY")
    armed = oms.arm(
        "NSE:INFY", "BUY", 1, order_type="LIMIT", price=oms.last_quote("NSE:INFY").last_price, signal_id="armed-bad"
    )
    with pytest.raises(ValidationError) as raised:
        armed.fire(price=price)
    assert raised.value.field == "price"
    assert "armed-bad" not in oms.fanouts
    assert exchange_orders(oms, lambda a: make_tag("armed-bad", a)) == {a: [] for a in oms.accounts}


async def test_arming_validates_at_once(engine_factory):
    oms = await engine_factory(accounts=1)
    with pytest.raises(ValidationError) as raised:
        oms.arm("NSE:NOSUCH", "BUY", 1)
    assert raised.value.field == "symbol"
    with pytest.raises(ValidationError) as raised:
        oms.arm("NSE:INFY", "BUY", 1, order_type="LIMIT")
    assert raised.value.field == "price"


async def test_an_account_whose_request_cannot_be_built_is_refused_alone(engine_factory):
    oms = await engine_factory(accounts=2)
    await oms.subscribe("NSE:INFY")
    closed, open_ = oms.accounts.values()
    for broker in closed.brokers.values():
        await broker.close()  # its requests can no longer be built
    armed = oms.arm(
        "NSE:INFY", "BUY", 1, order_type="LIMIT", price=oms.last_quote("NSE:INFY").last_price, signal_id="half-built"
    )
    fanout = armed.fire()  # raises nothing, writes what it can
    await fanout.done(timeout=30)
    refused, sent = fanout.orders[closed.id], fanout.orders[open_.id]
    assert refused.status is S.RISK_REJECTED and refused.reject_reason.startswith("broker_request: "), refused
    assert "not started" in refused.reject_reason and sent.status is not S.RISK_REJECTED, sent.reject_reason
    assert {a: len(o) for a, o in exchange_orders(oms, lambda a: make_tag("half-built", a)).items()} == {
        closed.id: 0,
        open_.id: 1,
    }
    assert (await oms.store.get(closed.id, refused.order_id)).status is S.RISK_REJECTED
