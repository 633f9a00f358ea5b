"""Dhan v2 REST of the paper exchange, driven by the official `dhanhq` SDK, unchanged.

Only the base URL is patched (the SDK has no setting for another host). The SDK is synchronous (requests), so every
call runs in a worker thread; the market stands still (`tick_rate=0`) so values are exact.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from dhanhq import DhanContext, dhanhq

HDFCBANK = "1333"  # NSE_EQ security id in the default universe
TCS = 11536


@pytest.fixture
async def exchange(make_paper_exchange):
    return await make_paper_exchange(tick_rate=0, rate_limits=False)


def sdk(x, account=None, token: str | None = None) -> dhanhq:
    a = account or x.accounts[0]
    ctx = DhanContext(a.dhan_client_id, token if token is not None else a.dhan_access_token)
    ctx.get_dhan_http().base_url = f"{x.base_url}/v2"
    return dhanhq(ctx)


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def place_market_buy(d: dhanhq, quantity: int = 5, tag: str | None = "corr1") -> str:
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, quantity, d.MARKET, d.INTRA, 0, tag=tag)
    assert r["status"] == "success", r
    return r["data"]["orderId"]


async def place_resting_limit(x, d: dhanhq, quantity: int = 5) -> str:
    """A BUY LIMIT 2% under the market: it rests, PENDING."""
    price = x.engine.instruments["NSE:HDFCBANK"].round_price(x.engine.quote("NSE:HDFCBANK").last_price * 0.98)
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, quantity, d.LIMIT, d.INTRA, price)
    assert r["data"]["orderStatus"] == "PENDING", r
    return r["data"]["orderId"]


async def test_market_order_fills_at_once(exchange):
    d = sdk(exchange)
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, 5, d.MARKET, d.INTRA, 0, tag="corr1")
    engine_order = exchange.engine.order(exchange.accounts[0].id, r["data"]["orderId"])
    assert r["data"]["orderStatus"] == "TRADED"
    assert (engine_order.status, engine_order.filled_quantity, engine_order.side) == ("COMPLETE", 5, "BUY")


async def test_order_by_id_shows_what_was_placed(exchange):
    d = sdk(exchange)
    order_id = await place_resting_limit(exchange, d, quantity=7)
    o = (await call(d.get_order_by_id, order_id))["data"]
    engine_order = exchange.engine.order(exchange.accounts[0].id, order_id)
    assert (o["orderId"], o["orderStatus"], o["quantity"], o["filledQty"]) == (order_id, "PENDING", 7, 0)
    assert (o["orderType"], o["productType"], o["transactionType"]) == ("LIMIT", "INTRADAY", "BUY")
    assert (o["exchangeSegment"], o["securityId"], o["tradingSymbol"]) == ("NSE_EQ", HDFCBANK, "HDFCBANK")
    assert o["price"] == engine_order.price and o["remainingQuantity"] == 7
    assert o["dhanClientId"] == exchange.accounts[0].dhan_client_id


async def test_modify_changes_the_price(exchange):
    d = sdk(exchange)
    order_id = await place_resting_limit(exchange, d)
    new_price = exchange.engine.order(exchange.accounts[0].id, order_id).price - 1.0
    r = await call(d.modify_order, order_id, d.LIMIT, None, 5, new_price, 0, 0, d.DAY)
    assert r["data"] == {"orderId": order_id, "orderStatus": "PENDING"}
    assert (await call(d.get_order_by_id, order_id))["data"]["price"] == new_price


async def test_cancel_cancels_the_order(exchange):
    d = sdk(exchange)
    order_id = await place_resting_limit(exchange, d)
    r = await call(d.cancel_order, order_id)
    assert r["data"] == {"orderId": order_id, "orderStatus": "CANCELLED"}
    assert (await call(d.get_order_by_id, order_id))["data"]["orderStatus"] == "CANCELLED"


async def test_cancel_answers_202_with_json(exchange):
    d = sdk(exchange)
    order_id = await place_resting_limit(exchange, d)
    a = exchange.accounts[0]
    async with aiohttp.ClientSession() as s:
        async with s.delete(
            f"{exchange.base_url}/v2/orders/{order_id}",
            headers={"access-token": a.dhan_access_token, "client-id": a.dhan_client_id},
        ) as resp:
            assert resp.status == 202
            assert await resp.json() == {"orderId": order_id, "orderStatus": "CANCELLED"}


async def test_order_list_holds_every_order_of_the_day(exchange):
    d = sdk(exchange)
    filled = await place_market_buy(d)
    resting = await place_resting_limit(exchange, d)
    book = (await call(d.get_order_list))["data"]
    assert [(o["orderId"], o["orderStatus"]) for o in book] == [(filled, "TRADED"), (resting, "PENDING")]


async def test_order_by_correlation_id(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d, tag="strategyA-0001")
    o = (await call(d.get_order_by_correlationID, "strategyA-0001"))["data"]
    assert (o["orderId"], o["correlationId"], o["filledQty"]) == (order_id, "strategyA-0001", 5)


async def test_correlation_id_longer_than_engine_tag_is_kept(exchange):
    d = sdk(exchange)
    corr = "a-correlation-id-of-30-chars_x"
    order_id = await place_market_buy(d, tag=corr)
    assert (await call(d.get_order_by_correlationID, corr))["data"]["orderId"] == order_id


async def test_trade_book_adds_up_to_the_fill(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d)
    trades = (await call(d.get_trade_book))["data"]  # GET /trades/ (trailing slash)
    average = (await call(d.get_order_by_id, order_id))["data"]["averageTradedPrice"]
    assert {t["orderId"] for t in trades} == {order_id}
    assert sum(t["tradedQuantity"] for t in trades) == 5
    assert sum(t["tradedQuantity"] * t["tradedPrice"] for t in trades) / 5 == pytest.approx(average)


async def test_trades_of_one_order(exchange):
    d = sdk(exchange)
    first = await place_market_buy(d)
    await place_market_buy(d, quantity=3, tag=None)
    trades = (await call(d.get_trade_book, first))["data"]  # GET /trades/{orderId}
    assert {t["orderId"] for t in trades} == {first}
    assert sum(t["tradedQuantity"] for t in trades) == 5


async def test_positions_net_the_fills(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d)
    await call(d.place_order, HDFCBANK, d.NSE, d.SELL, 2, d.MARKET, d.INTRA, 0)
    [p] = (await call(d.get_positions))["data"]
    average = exchange.engine.order(exchange.accounts[0].id, order_id).average_price
    assert (p["securityId"], p["productType"], p["positionType"]) == (HDFCBANK, "INTRADAY", "LONG")
    assert (p["buyQty"], p["sellQty"], p["netQty"]) == (5, 2, 3)
    assert p["buyAvg"] == pytest.approx(average)


async def test_fund_limits_show_cash_spent(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d)
    funds = (await call(d.get_fund_limits))["data"]
    spent = 5 * exchange.engine.order(exchange.accounts[0].id, order_id).average_price
    assert funds["sodLimit"] == exchange.accounts[0].cash
    assert funds["availabelBalance"] == pytest.approx(exchange.accounts[0].cash - spent, abs=0.01)


async def test_ltp_ohlc_and_quote_match_the_book(exchange):
    d = sdk(exchange)
    q = exchange.engine.quote("NSE:TCS")
    ltp = (await call(d.ticker_data, {"NSE_EQ": [TCS]}))["data"]["data"]["NSE_EQ"][str(TCS)]
    ohlc = (await call(d.ohlc_data, {"NSE_EQ": [TCS]}))["data"]["data"]["NSE_EQ"][str(TCS)]
    full = (await call(d.quote_data, {"NSE_EQ": [TCS]}))["data"]["data"]["NSE_EQ"][str(TCS)]
    assert ltp == {"last_price": q.last_price}
    assert ohlc["ohlc"] == {"open": q.open, "close": q.close, "high": q.high, "low": q.low}
    assert (full["volume"], full["last_quantity"]) == (q.volume, q.last_quantity)
    assert full["depth"]["buy"][0] == {
        "price": q.bids[0].price,
        "quantity": q.bids[0].quantity,
        "orders": q.bids[0].orders,
    }
    assert full["depth"]["sell"][0]["price"] == q.asks[0].price


async def test_bad_token_is_dh901(exchange):
    r = await call(sdk(exchange, token="not-a-token").get_order_list)
    assert r["status"] == "failure"
    assert r["remarks"]["error_code"] == "DH-901"
    assert "not-a-token" not in r["remarks"]["error_message"]


async def test_bad_field_is_dh905_naming_it(exchange):
    d = sdk(exchange)
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, 5, "ICEBERG", d.INTRA, 0)
    assert r["remarks"]["error_code"] == "DH-905"
    assert "orderType" in r["remarks"]["error_message"]


async def test_unknown_security_is_dh905(exchange):
    d = sdk(exchange)
    r = await call(d.place_order, "999999", d.NSE, d.BUY, 5, d.MARKET, d.INTRA, 0)
    assert r["remarks"]["error_code"] == "DH-905"
    assert "securityId" in r["remarks"]["error_message"]


async def test_exchange_reject_is_an_order_in_rejected(exchange):
    d = sdk(exchange)
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, 10_000_000, d.MARKET, d.INTRA, 0)
    o = (await call(d.get_order_by_id, r["data"]["orderId"]))["data"]
    assert r["data"]["orderStatus"] == "REJECTED"
    assert "Insufficient funds" in o["omsErrorDescription"]


async def test_cancelling_a_filled_order_is_dh906(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d)
    r = await call(d.cancel_order, order_id)
    assert r["remarks"]["error_code"] == "DH-906"


async def test_rate_limit_is_dh904(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits={"dhan.quote": ((1, 3600.0),)})
    d = sdk(x)
    first = await call(d.ticker_data, {"NSE_EQ": [TCS]})
    second = await call(d.ticker_data, {"NSE_EQ": [TCS]})
    assert first["status"] == "success"
    assert second["remarks"]["error_code"] == "DH-904"


async def test_accounts_see_only_their_own_orders(exchange):
    await place_market_buy(sdk(exchange))
    assert (await call(sdk(exchange, exchange.accounts[1]).get_order_list))["data"] == []


async def test_order_requests_are_recorded_with_receive_stamps(exchange):
    d = sdk(exchange)
    order_id = await place_market_buy(d, tag="rec1")
    [rec] = [r for r in exchange.recorder.requests if r["broker"] == "dhan"]
    assert (rec["method"], rec["path"], rec["account"]) == ("POST", "/v2/orders", exchange.accounts[0].id)
    assert (rec["order_id"], rec["tag"], rec["status"]) == (order_id, "rec1", 200)
    assert rec["recv_ns"] > 0


async def test_unknown_endpoint_answers_json(exchange):
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{exchange.base_url}/v2/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["errorCode"] == "DH-907"


async def test_injected_500_is_dh908_and_places_nothing(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False, faults="500=1")
    d = sdk(x)
    r = await call(d.place_order, HDFCBANK, d.NSE, d.BUY, 5, d.MARKET, d.INTRA, 0)
    assert (r["status"], r["remarks"]["error_code"]) == ("failure", "DH-908")
    assert x.engine.orders(x.accounts[0].id) == []
