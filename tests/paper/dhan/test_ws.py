"""Dhan v2 WebSockets of the paper exchange: the official `MarketFeed` and `OrderUpdate`.

`MarketFeed` makes its own event loop and blocks in it, so it runs in a worker thread, never
in the test's loop; only its URL (a class attribute) is patched: the SDK has no setting for
another host.
The market stands still (`tick_rate=0`) until the test steps it.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading

import aiohttp
import pytest
from dhanhq import DhanContext, MarketFeed, OrderUpdate, dhanhq

from nbexec.brokers.dhan.ticks import disconnect_reason
from nbexec.paper.dhan import ws as dhan_ws

HDFCBANK = 1333
WAIT_S = 10.0


@pytest.fixture
async def exchange(make_paper_exchange):
    return await make_paper_exchange(tick_rate=0, rate_limits=False)


async def wait_until(predicate, what: str) -> None:
    """Poll the exchange's own state (no timing is asserted; the limit only ends a hang)."""
    for _ in range(int(WAIT_S / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class FeedThread:
    """Runs the SDK's MarketFeed in a thread: connect, then read packets on demand."""

    def __init__(self, x, mode: int, token: str | None = None) -> None:
        a = x.accounts[0]
        self.args = (
            f"ws://{x.host}:{x.port}/dhan/feed",
            a.dhan_client_id,
            token if token is not None else a.dhan_access_token,
            mode,
        )
        self.wanted: queue.Queue = queue.Queue()
        self.packets: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        url, client, token, mode = self.args
        MarketFeed.market_feed_wss = url
        feed = MarketFeed(DhanContext(client, token), [(MarketFeed.NSE, str(HDFCBANK), mode)], version="v2")
        try:
            feed.run_forever()
            while (n := self.wanted.get()) > 0:
                for _ in range(n):
                    self.packets.put(feed.get_data())
        except Exception as exc:  # reported to the test, not swallowed
            self.packets.put(exc)
        finally:
            try:
                feed.close_connection()
            finally:
                feed.loop.close()

    async def read(self, n: int) -> list:
        self.wanted.put(n)
        out = [await asyncio.to_thread(self.packets.get, timeout=WAIT_S) for _ in range(n)]
        for item in out:
            if isinstance(item, Exception):
                raise item
        return out

    async def stop(self) -> None:
        self.wanted.put(0)
        await asyncio.to_thread(self.thread.join, WAIT_S)


@pytest.fixture
async def feeds():
    started: list[FeedThread] = []
    yield started
    for f in started:
        await f.stop()


def f2(value: float) -> str:
    return f"{value:.2f}"


async def test_ticker_mode_sends_prev_close_then_last_price(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Ticker))
    quote = exchange.engine.quote("NSE:HDFCBANK")
    prev, tick = await feed.read(2)
    assert prev == {
        "type": "Previous Close",
        "exchange_segment": 1,
        "security_id": HDFCBANK,
        "prev_close": f2(quote.close),
        "prev_OI": 0,
    }
    assert (tick["type"], tick["security_id"], tick["LTP"]) == ("Ticker Data", HDFCBANK, f2(quote.last_price))


async def test_ticker_mode_streams_each_market_step(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Ticker))
    await feed.read(2)
    exchange.step()
    [tick] = await feed.read(1)
    assert tick["LTP"] == f2(exchange.engine.quote("NSE:HDFCBANK").last_price)


async def test_quote_mode_carries_day_statistics(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Quote))
    await feed.read(2)
    exchange.step()
    [tick] = await feed.read(1)
    q = exchange.engine.quote("NSE:HDFCBANK")
    assert tick["type"] == "Quote Data"
    assert (tick["LTP"], tick["LTQ"], tick["volume"]) == (f2(q.last_price), q.last_quantity, q.volume)
    assert (tick["open"], tick["high"], tick["low"], tick["close"]) == (f2(q.open), f2(q.high), f2(q.low), f2(q.close))
    assert (tick["total_buy_quantity"], tick["total_sell_quantity"]) == (q.total_buy_quantity, q.total_sell_quantity)


async def test_full_mode_carries_five_levels_of_depth(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Full))
    _prev, tick = await feed.read(2)
    q = exchange.engine.quote("NSE:HDFCBANK")
    assert (tick["type"], tick["LTP"], tick["volume"]) == ("Full Data", f2(q.last_price), q.volume)
    assert len(tick["depth"]) == 5
    top = tick["depth"][0]
    assert (top["bid_price"], top["bid_quantity"]) == (f2(q.bids[0].price), q.bids[0].quantity)
    assert (top["ask_price"], top["ask_orders"]) == (f2(q.asks[0].price), q.asks[0].orders)


async def test_each_packet_travels_in_its_own_message(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Full))
    await feed.read(2)
    frames = [f for f in exchange.recorder.frames if f[2] == "dhan"]
    assert [(nbytes, ids) for *_, nbytes, ids in frames] == [(16, (HDFCBANK,)), (162, (HDFCBANK,))]


def _feed_url(x, token: str, client: str) -> str:
    return f"ws://{x.host}:{x.port}/dhan/feed?version=2&token={token}&clientId={client}&authType=2"


@pytest.mark.parametrize("who,reason", [("bad_token", 809), ("bad_client", 810), ("no_token", 808)])
async def test_auth_failure_is_a_disconnect_packet(exchange, who, reason):
    a = exchange.accounts[0]
    token, client = {
        "bad_token": ("nope", a.dhan_client_id),
        "bad_client": (a.dhan_access_token, "42"),
        "no_token": ("", a.dhan_client_id),
    }[who]
    async with aiohttp.ClientSession() as s, s.ws_connect(_feed_url(exchange, token, client)) as ws:
        msg = await ws.receive(timeout=WAIT_S)
        assert msg.type == aiohttp.WSMsgType.BINARY
        assert disconnect_reason(msg.data) == reason


async def test_sdk_with_a_bad_token_reads_the_disconnect(exchange, feeds):
    feeds.append(feed := FeedThread(exchange, MarketFeed.Ticker, token="nope"))
    assert await feed.read(1) == [None]  # MarketFeed.process_data returns None for code 50


async def test_disconnect_request_and_its_binary_frame_are_tolerated(exchange):
    a = exchange.accounts[0]
    sub = {
        "RequestCode": 15,
        "InstrumentCount": 1,
        "InstrumentList": [{"ExchangeSegment": "NSE_EQ", "SecurityId": str(HDFCBANK)}],
    }
    url = _feed_url(exchange, a.dhan_access_token, a.dhan_client_id)
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"RequestCode": 12}))
        await ws.send_bytes(MarketFeed.create_header(None, 12, 83, a.dhan_client_id))
        await ws.send_str(json.dumps(sub))
        first = await ws.receive(timeout=WAIT_S)
        assert first.type == aiohttp.WSMsgType.BINARY and first.data[0] == 6  # prev close


async def test_unsubscribe_stops_the_packets(exchange):
    a = exchange.accounts[0]
    item = [{"ExchangeSegment": "NSE_EQ", "SecurityId": str(HDFCBANK)}]
    url = _feed_url(exchange, a.dhan_access_token, a.dhan_client_id)
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"RequestCode": 15, "InstrumentCount": 1, "InstrumentList": item}))
        await ws.receive(timeout=WAIT_S)
        await ws.receive(timeout=WAIT_S)
        await ws.send_str(json.dumps({"RequestCode": 16, "InstrumentCount": 1, "InstrumentList": item}))
        await ws.send_str(
            json.dumps(
                {
                    "RequestCode": 15,
                    "InstrumentCount": 1,
                    "InstrumentList": [{"ExchangeSegment": "NSE_EQ", "SecurityId": "11536"}],
                }
            )
        )
        await ws.receive(timeout=WAIT_S)  # prev close and packet of 11536: both requests applied
        await ws.receive(timeout=WAIT_S)
        exchange.step()
        after_step = await ws.receive(timeout=WAIT_S)
        assert int.from_bytes(after_step.data[4:8], "little") == 11536


async def test_sixth_connection_drops_the_oldest_with_805(exchange):
    a = exchange.accounts[0]
    url = _feed_url(exchange, a.dhan_access_token, a.dhan_client_id)
    async with aiohttp.ClientSession() as s:
        conns = [await s.ws_connect(url)]
        await wait_until(lambda: len(exchange.app[dhan_ws.FEED_CONNECTIONS].get(a.dhan_client_id, [])) == 1, "feed 1")
        conns += [await s.ws_connect(url) for _ in range(5)]
        msg = await conns[0].receive(timeout=WAIT_S)
        assert disconnect_reason(msg.data) == 805
        for c in conns:
            await c.close()


# -- order updates ----------------------------------------------------------------------------
class UpdatesThread:
    """Runs the SDK's OrderUpdate in a thread; alerts land in `alerts`."""

    def __init__(self, x, token: str | None = None) -> None:
        a = x.accounts[0]
        ou = OrderUpdate(DhanContext(a.dhan_client_id, token if token is not None else a.dhan_access_token))
        ou.order_feed_wss = f"ws://{x.host}:{x.port}/dhan/orders"  # instance attribute
        self.alerts: queue.Queue = queue.Queue()
        ou.on_update = self.alerts.put
        self.thread = threading.Thread(target=ou.connect_to_dhan_websocket_sync, daemon=True)
        self.thread.start()

    async def until_status(self, order_id: str, status: str) -> list[dict]:
        seen = []
        while not seen or (seen[-1]["OrderNo"], seen[-1]["Status"]) != (order_id, status):
            msg = await asyncio.to_thread(self.alerts.get, timeout=WAIT_S)
            assert msg["Type"] == "order_alert"
            seen.append(msg["Data"])
        return seen


def rest(x) -> dhanhq:
    a = x.accounts[0]
    ctx = DhanContext(a.dhan_client_id, a.dhan_access_token)
    ctx.get_dhan_http().base_url = f"{x.base_url}/v2"
    return dhanhq(ctx)


async def test_order_update_reports_a_placed_order_until_traded(exchange):
    updates = UpdatesThread(exchange)
    account = exchange.accounts[0]
    await wait_until(lambda: dhan_ws.order_update_clients(exchange.app, account.id) == 1, "order-update login")
    d = rest(exchange)
    r = await asyncio.to_thread(d.place_order, str(HDFCBANK), d.NSE, d.BUY, 5, d.MARKET, d.INTRA, 0, tag="ou1")
    order_id = r["data"]["orderId"]
    seen = await updates.until_status(order_id, "TRADED")
    last = seen[-1]
    assert [s["Status"] for s in seen][0] == "TRANSIT"
    assert (last["TradedQty"], last["Quantity"], last["RemainingQuantity"], last["TxnType"]) == (5, 5, 0, "B")
    assert last["AvgTradedPrice"] == pytest.approx(exchange.engine.order(account.id, order_id).average_price)
    assert (last["SecurityId"], last["CorrelationId"], last["Product"]) == (str(HDFCBANK), "ou1", "I")
    await exchange.close()  # ends the SDK's receive loop
    await asyncio.to_thread(updates.thread.join, WAIT_S)


async def test_order_update_reports_a_cancel(exchange):
    updates = UpdatesThread(exchange)
    account = exchange.accounts[0]
    await wait_until(lambda: dhan_ws.order_update_clients(exchange.app, account.id) == 1, "order-update login")
    d = rest(exchange)
    ltp = exchange.engine.quote("NSE:HDFCBANK").last_price
    price = exchange.engine.instruments["NSE:HDFCBANK"].round_price(ltp * 0.98)
    r = await asyncio.to_thread(d.place_order, str(HDFCBANK), d.NSE, d.BUY, 5, d.LIMIT, d.INTRA, price)
    order_id = r["data"]["orderId"]
    await updates.until_status(order_id, "PENDING")
    await asyncio.to_thread(d.cancel_order, order_id)
    [cancelled] = await updates.until_status(order_id, "CANCELLED")
    assert (cancelled["Price"], cancelled["TradedQty"], cancelled["OrderType"]) == (price, 0, "LMT")
    await exchange.close()
    await asyncio.to_thread(updates.thread.join, WAIT_S)


async def test_order_update_login_with_a_bad_token_is_closed(exchange):
    updates = UpdatesThread(exchange, token="nope")
    await asyncio.to_thread(updates.thread.join, WAIT_S)
    assert not updates.thread.is_alive()
    assert dhan_ws.order_update_clients(exchange.app, exchange.accounts[0].id) == 0


async def test_ws_drop_fault_closes_the_feed(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False, faults="ws_drop=1")
    a = x.accounts[0]
    item = [{"ExchangeSegment": "NSE_EQ", "SecurityId": str(HDFCBANK)}]
    async with aiohttp.ClientSession() as s, s.ws_connect(_feed_url(x, a.dhan_access_token, a.dhan_client_id)) as ws:
        await ws.send_str(json.dumps({"RequestCode": 15, "InstrumentCount": 1, "InstrumentList": item}))
        await ws.receive(timeout=WAIT_S)
        await ws.receive(timeout=WAIT_S)
        x.step()
        assert (await ws.receive(timeout=WAIT_S)).type == aiohttp.WSMsgType.CLOSE


async def test_duplicate_update_fault_sends_an_alert_twice(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False, faults="update_dup=1")
    updates = UpdatesThread(x)
    await wait_until(lambda: dhan_ws.order_update_clients(x.app, x.accounts[0].id) == 1, "order-update login")
    d = rest(x)
    r = await asyncio.to_thread(d.place_order, str(HDFCBANK), d.NSE, d.BUY, 5, d.MARKET, d.INTRA, 0)
    seen = await updates.until_status(r["data"]["orderId"], "TRADED")
    again = await asyncio.to_thread(updates.alerts.get, timeout=WAIT_S)
    assert [s["Status"] for s in seen[:2]] == ["TRANSIT", "TRANSIT"]
    assert again["Data"] == seen[-1]
    await x.close()
    await asyncio.to_thread(updates.thread.join, WAIT_S)
