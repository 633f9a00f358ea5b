"""KiteBroker against the real paper exchange over real sockets: login, orders, reads, updates."""

from __future__ import annotations

import pytest

from nbexec.brokers.kite.adapter import KiteBroker
from nbexec.brokers.kite.login import exchange_request_token
from nbexec.core.errors import AuthError, InputError, OrderNotFound, ValidationError
from nbexec.core.states import OrderStatus
from tests.brokers.adapter_helpers import (
    acked,
    book_orders,
    kite_config,
    next_update,
    order,
    requests_with_tag,
    wait_until,
)


@pytest.fixture
async def x(make_paper_exchange):
    return await make_paper_exchange(tick_rate=0, rate_limits=False, seed=5)


@pytest.fixture
async def kite(x):
    broker = KiteBroker(kite_config(x))
    await broker.start()
    yield broker
    await broker.close()


async def test_login_exchanges_the_request_token_for_the_access_token(x):
    config = kite_config(x, access_token=None)
    assert config.access_token is None
    logged_in, session = await exchange_request_token(config, "request-token-1")
    assert logged_in.access_token.reveal() == x.accounts[0].kite_access_token
    assert session.user_id == "PA0001"
    assert "***" in repr(session) and x.accounts[0].kite_access_token not in repr(session)
    broker = KiteBroker(logged_in)
    await broker.start()
    try:
        assert (await broker.funds()).available_cash > 0
    finally:
        await broker.close()


async def test_login_with_a_wrong_secret_is_an_auth_error(x):
    config = kite_config(x, access_token=None, api_secret="wrong")
    with pytest.raises(AuthError) as err:
        await exchange_request_token(config, "rt")
    assert "checksum" in err.value.broker_message


async def test_a_market_order_is_acked_filled_and_booked_once(x, kite):
    o = order(quantity=3)
    ack = await kite.place(o)
    assert ack.tag == o.tag and ack.broker_order_id
    assert ack.t_acked_ns > ack.t_written_ns > 0
    [booked] = book_orders(x, tag=o.tag)
    assert booked.order_id == ack.broker_order_id and booked.quantity == 3
    got = await kite.order_by_id(ack.broker_order_id)
    assert (got.status, got.filled_quantity, got.quantity, got.tag) == (OrderStatus.FILLED, 3, 3, o.tag)
    assert got.average_price == pytest.approx(booked.average_price) and got.average_price > 0
    assert got.instrument == "NSE:INFY" and got.broker_status == "COMPLETE"


async def test_limit_order_rests_then_is_modified_then_cancelled(x, kite):
    o = order(order_type="LIMIT", price=1300.0, quantity=2)
    ack = await kite.place(o)
    resting = await kite.order_by_id(ack.broker_order_id)
    assert (resting.status, resting.broker_status, resting.filled_quantity) == (OrderStatus.ACKED, "OPEN", 0)
    placed = acked(o, ack)
    await kite.modify(placed, price=1301.5, quantity=4)
    assert (
        x.engine.order("PA0001", ack.broker_order_id).price,
        x.engine.order("PA0001", ack.broker_order_id).quantity,
    ) == (1301.5, 4)
    modified = await kite.order_by_id(ack.broker_order_id)
    assert modified.quantity == 4 and modified.raw["price"] == 1301.5
    cancel = await kite.cancel(placed)
    assert cancel.broker_order_id == ack.broker_order_id
    assert (await kite.order_by_id(ack.broker_order_id)).status == OrderStatus.CANCELLED


async def test_order_by_tag_finds_the_order_and_none_for_an_unknown_tag(kite):
    o = order(order_type="LIMIT", price=1300.0)
    ack = await kite.place(o)
    found = await kite.order_by_tag(o.tag)
    assert found.broker_order_id == ack.broker_order_id and found.status == OrderStatus.ACKED
    assert await kite.order_by_tag("neverplaced1") is None


async def test_an_unknown_order_id_is_order_not_found(kite):
    with pytest.raises(OrderNotFound):
        await kite.order_by_id("999999999")


async def test_order_book_trades_positions_and_funds_after_a_fill(x, kite):
    before = (await kite.funds()).available_cash
    o = order(quantity=5, side="BUY")
    ack = await kite.place(o)
    [mine] = [b for b in await kite.orders() if b.broker_order_id == ack.broker_order_id]
    assert (mine.tag, mine.status, mine.filled_quantity) == (o.tag, OrderStatus.FILLED, 5)
    trades = [t for t in await kite.trades() if t.broker_order_id == ack.broker_order_id]
    assert sum(t.quantity for t in trades) == 5 and all(t.side.value == "BUY" for t in trades)
    assert all(t.instrument == "NSE:INFY" and t.price > 0 for t in trades)
    value = sum(t.quantity * t.price for t in trades)
    [position] = [p for p in await kite.positions() if p.instrument == "NSE:INFY"]
    assert (position.quantity, position.product) == (5, "MIS")
    assert position.average_price == pytest.approx(value / 5)
    after = (await kite.funds()).available_cash
    assert after == pytest.approx(before - value)


async def test_the_update_stream_delivers_the_fill_of_a_placed_order(x, kite):
    stream = kite.order_updates()
    o = order(order_type="LIMIT", price=1300.0, quantity=2)
    ack = await kite.place(o)
    opened = await next_update(stream, ack.broker_order_id, OrderStatus.ACKED)
    assert opened.tag == o.tag and opened.quantity == 2
    placed = acked(o, ack)
    await kite.cancel(placed)
    cancelled = await next_update(stream, ack.broker_order_id, OrderStatus.CANCELLED)
    assert cancelled.filled_quantity == 0 and cancelled.broker_status == "CANCELLED"
    market = await kite.place(order(quantity=1))
    filled = await next_update(stream, market.broker_order_id, OrderStatus.FILLED)
    assert filled.filled_quantity == 1 and filled.average_price > 0


async def test_a_refused_field_is_an_input_error_with_kites_message(x, kite):
    with pytest.raises(InputError) as err:
        await kite.place(order(instrument="NSE:NOSUCHSTOCK"))
    assert err.value.status == 400 and "tradingsymbol" in err.value.broker_message


async def test_bad_input_is_refused_before_anything_is_sent(x, kite):
    sent = x.recorder.request_seq
    with pytest.raises(ValidationError) as err:
        kite.send_place(order(instrument="INDICES:NIFTY 50"))
    assert err.value.field == "instrument"
    with pytest.raises(ValidationError) as err:
        kite.send_place(order(order_type="LIMIT", price=float("inf")))
    assert err.value.field == "price"
    assert x.recorder.request_seq == sent


async def test_send_place_has_written_the_request_when_it_returns(x, kite):
    pool = kite.channel.pool
    orders = [order(order_type="LIMIT", price=1300.0) for _ in range(2)]
    futures = [kite.send_place(o) for o in orders]  # no await in between
    assert pool.stats().busy == 2 and not any(f.done() for f in futures)
    acks = [await f for f in futures]
    assert [a.tag for a in acks] == [o.tag for o in orders]
    assert all(len(book_orders(x, tag=o.tag)) == 1 for o in orders)
    assert all(len(requests_with_tag(x, o.tag)) == 1 for o in orders)


async def test_closing_ends_every_update_stream(kite):
    stream = kite.order_updates()
    await kite.close()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await wait_until(lambda: kite.requests is None)
