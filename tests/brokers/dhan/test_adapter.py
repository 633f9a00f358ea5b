"""DhanBroker against the real paper exchange over real sockets: orders, reads, updates."""

from __future__ import annotations

import pytest

from nbexec.brokers.dhan.adapter import DhanBroker
from nbexec.core.catalog import Catalog
from nbexec.core.errors import AuthError, OrderNotFound, ValidationError
from nbexec.core.secrets import Secret
from nbexec.core.states import OrderStatus
from nbexec.paper.dhan.ws import order_update_clients
from tests.brokers.adapter_helpers import (
    acked,
    book_orders,
    dhan_config,
    next_update,
    order,
    paper_catalog,
    requests_with_tag,
    wait_until,
)


@pytest.fixture
async def x(make_paper_exchange):
    return await make_paper_exchange(tick_rate=0, rate_limits=False, seed=5)


@pytest.fixture
async def dhan(x):
    broker = DhanBroker(dhan_config(x), paper_catalog(x))
    await broker.start()
    await wait_until(lambda: order_update_clients(x.app, "PA0001") == 1, what="order-update login")
    yield broker
    await broker.close()


async def test_a_market_order_is_acked_filled_and_booked_once(x, dhan):
    o = order(quantity=3)
    ack = await dhan.place(o)
    assert ack.tag == o.tag and ack.broker_order_id.isdigit()
    assert ack.t_acked_ns > ack.t_written_ns > 0
    [booked] = book_orders(x, tag=o.tag)
    assert booked.order_id == ack.broker_order_id and booked.quantity == 3 and booked.product == "MIS"
    got = await dhan.order_by_id(ack.broker_order_id)
    assert (got.status, got.filled_quantity, got.quantity, got.tag) == (OrderStatus.FILLED, 3, 3, o.tag)
    assert got.average_price == pytest.approx(booked.average_price) and got.average_price > 0
    assert got.instrument == "NSE:INFY" and got.broker_status == "TRADED"


async def test_limit_order_rests_then_is_modified_then_cancelled(x, dhan):
    o = order(order_type="LIMIT", price=1300.0, quantity=2, product="CNC")
    ack = await dhan.place(o)
    resting = await dhan.order_by_id(ack.broker_order_id)
    assert (resting.status, resting.broker_status) == (OrderStatus.ACKED, "PENDING")
    assert resting.raw["productType"] == "CNC" and resting.raw["orderType"] == "LIMIT"
    await dhan.modify(acked(o, ack), price=1301.5)
    booked = x.engine.order("PA0001", ack.broker_order_id)
    assert (booked.price, booked.quantity, booked.order_type) == (1301.5, 2, "LIMIT")
    cancel = await dhan.cancel(acked(o, ack))
    assert cancel.broker_order_id == ack.broker_order_id and cancel.raw["orderStatus"] == "CANCELLED"
    assert (await dhan.order_by_id(ack.broker_order_id)).status == OrderStatus.CANCELLED


async def test_a_stop_loss_market_order_waits_for_its_trigger(x, dhan):
    o = order(order_type="SL-M", trigger_price=1750.0, quantity=1)
    ack = await dhan.place(o)
    booked = x.engine.order("PA0001", ack.broker_order_id)
    assert (booked.order_type, booked.trigger_price, booked.status) == ("SL-M", 1750.0, "TRIGGER_PENDING")
    assert (await dhan.order_by_id(ack.broker_order_id)).status == OrderStatus.ACKED


async def test_order_by_tag_asks_for_the_correlation_id(x, dhan):
    o = order(order_type="LIMIT", price=1300.0)
    ack = await dhan.place(o)
    found = await dhan.order_by_tag(o.tag)
    assert (found.broker_order_id, found.tag, found.status) == (ack.broker_order_id, o.tag, OrderStatus.ACKED)
    assert await dhan.order_by_tag("neverplaced1") is None


async def test_an_unknown_order_id_is_order_not_found(dhan):
    with pytest.raises(OrderNotFound):
        await dhan.order_by_id("999999999")


async def test_order_book_trades_positions_and_funds_after_a_fill(x, dhan):
    before = (await dhan.funds()).available_cash
    o = order(quantity=4, side="BUY")
    ack = await dhan.place(o)
    [mine] = [b for b in await dhan.orders() if b.broker_order_id == ack.broker_order_id]
    assert (mine.tag, mine.status, mine.filled_quantity) == (o.tag, OrderStatus.FILLED, 4)
    trades = [t for t in await dhan.trades() if t.broker_order_id == ack.broker_order_id]
    assert sum(t.quantity for t in trades) == 4 and all(t.side.value == "BUY" for t in trades)
    assert all(t.instrument == "NSE:INFY" and t.price > 0 and t.trade_id for t in trades)
    value = sum(t.quantity * t.price for t in trades)
    [position] = [p for p in await dhan.positions() if p.instrument == "NSE:INFY"]
    assert (position.quantity, position.product) == (4, "MIS")
    assert position.average_price == pytest.approx(value / 4, abs=1e-3)
    after = (await dhan.funds()).available_cash
    assert after == pytest.approx(before - value, abs=0.01)


async def test_the_update_stream_delivers_updates_of_a_placed_order(x, dhan):
    stream = dhan.order_updates()
    o = order(order_type="LIMIT", price=1300.0, quantity=2)
    ack = await dhan.place(o)
    opened = await next_update(stream, ack.broker_order_id, OrderStatus.ACKED)
    assert (opened.tag, opened.quantity, opened.instrument) == (o.tag, 2, "NSE:INFY")
    await dhan.cancel(acked(o, ack))
    cancelled = await next_update(stream, ack.broker_order_id, OrderStatus.CANCELLED)
    assert cancelled.filled_quantity == 0 and cancelled.broker_status == "CANCELLED"
    market = await dhan.place(order(quantity=1))
    filled = await next_update(stream, market.broker_order_id, OrderStatus.FILLED)
    assert filled.filled_quantity == 1 and filled.average_price > 0


async def test_an_instrument_missing_from_the_catalog_is_refused_before_sending(x):
    broker = DhanBroker(dhan_config(x), Catalog())
    await broker.start()
    try:
        sent = x.recorder.request_seq
        with pytest.raises(ValidationError) as err:
            broker.send_place(order())
        assert err.value.field == "instrument" and x.recorder.request_seq == sent
    finally:
        await broker.close()


async def test_a_wrong_token_is_an_auth_error_and_never_shown(x):
    broker = DhanBroker(dhan_config(x, access_token="not-the-token"), paper_catalog(x))
    broker.stream_timeout_s = 0.2
    await broker.start()
    try:
        with pytest.raises(AuthError) as err:
            await broker.place(order())
        assert err.value.code == "DH-901" and "not-the-token" not in str(err.value)
        assert book_orders(x) == []
    finally:
        await broker.close()


async def test_send_place_has_written_the_request_when_it_returns(x, dhan):
    pool = dhan.channel.pool
    orders = [order(order_type="LIMIT", price=1300.0) for _ in range(2)]
    futures = [dhan.send_place(o) for o in orders]
    assert pool.stats().busy == 2 and not any(f.done() for f in futures)
    acks = [await f for f in futures]
    assert [a.tag for a in acks] == [o.tag for o in orders]
    assert all(len(requests_with_tag(x, o.tag)) == 1 for o in orders)


async def test_config_repr_masks_the_token(x):
    config = dhan_config(x)
    assert x.accounts[0].dhan_access_token not in repr(config)
    assert config.access_token == Secret(x.accounts[0].dhan_access_token)
