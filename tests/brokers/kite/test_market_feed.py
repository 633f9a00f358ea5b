"""The Kite ticker client: its messages and URL, then against the paper exchange over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from nbexec.brokers.kite import market_feed
from nbexec.brokers.kite.factory import KITE
from nbexec.brokers.kite.market_feed import KiteTickerClient
from nbexec.core.errors import AuthError
from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed
from tests.brokers.adapter_helpers import kite_settings
from tests.feeds.helpers import client_sockets_to, feed_tasks, wait_until

FAST = ReconnectPolicy(base_s=0.05, cap_s=0.5)
INFY = Instrument("NSE", "INFY", 1594)


def kite_feed(x, mode: str = "quote", account: int = 0, **kw) -> Feed:
    return KITE.feed(kite_settings(x, account), x.engine.instruments.values(), mode, **kw)


def has_ticks_for_all(feed: Feed) -> bool:
    return all(feed.rings.count(i) > 0 for i in feed.rings.ids)


def test_kite_subscribes_then_sets_the_mode_of_each_group():
    messages = [json.loads(m) for m in market_feed.subscribe_messages({"full": [408065], "ltp": [1, 2]})]
    assert messages == [
        {"a": "subscribe", "v": [408065]},
        {"a": "mode", "v": ["full", [408065]]},
        {"a": "subscribe", "v": [1, 2]},
        {"a": "mode", "v": ["ltp", [1, 2]]},
    ]
    assert json.loads(market_feed.unsubscribe_messages([7])[0]) == {"a": "unsubscribe", "v": [7]}


def test_tick_ids_match_what_the_decoder_writes():
    assert KiteTickerClient("ws://h", "k", Secret("t")).tick_id(INFY) == (1594 << 8 | 1, 1)


def test_the_url_carries_the_credentials_and_the_repr_does_not():
    kite = KiteTickerClient("ws://h:1/kite/ws", "key1", Secret("SECRET-AT"))
    assert kite._connect_url() == "ws://h:1/kite/ws?api_key=key1&access_token=SECRET-AT"
    assert "SECRET" not in repr(kite)
    assert "h:1/kite/ws" in repr(kite)


async def test_ticks_of_every_subscribed_instrument_land_in_the_dataframe(paper_exchange):
    feed = await kite_feed(paper_exchange, policy=FAST).start()
    try:
        await feed.wait_connected()
        await wait_until(lambda: has_ticks_for_all(feed), what="a tick of every instrument")
        df = feed.df
        assert set(df["instrument"]) == set(paper_exchange.engine.instruments)
        infy = df[df["instrument"] == "NSE:INFY"]
        assert (infy["last_price"] > 0).all() and (infy["mode"] == "quote").all()
        assert not df["gap"].any()
    finally:
        await feed.close()


async def test_each_instrument_streams_in_its_own_mode(paper_exchange):
    feed = kite_feed(paper_exchange, policy=FAST)
    feed.subscribe("NSE:INFY", mode="full")
    feed.subscribe("NSE:RELIANCE", mode="ltp")
    await feed.start()
    try:
        await wait_until(lambda: has_ticks_for_all(feed), what="a tick of every instrument")
        df = feed.df.groupby("instrument", observed=True).last()
        assert df.loc["NSE:INFY", "mode"] == "full" and df.loc["NSE:INFY", "bid"] > 0
        assert df.loc["NSE:RELIANCE", "mode"] == "ltp" and df.loc["NSE:RELIANCE", "volume"] == 0
        assert df.loc["NSE:TCS", "mode"] == "quote" and df.loc["NSE:TCS", "bid"] == 0
        assert df.loc["NSE:TCS", "volume"] > 0
    finally:
        await feed.close()


async def test_a_mode_change_while_connected_takes_effect(paper_exchange):
    feed = await kite_feed(paper_exchange, mode="ltp", policy=FAST).start()
    try:
        await wait_until(lambda: feed.last("NSE:SBIN") is not None)
        feed.subscribe("NSE:SBIN", mode="full")
        await wait_until(lambda: feed.last("NSE:SBIN").mode == "full", what="full-mode SBIN ticks")
        feed.unsubscribe("NSE:SBIN")
        await asyncio.sleep(0.3)  # let an in-flight frame land
        held = feed.rings.count(feed.client.tick_id(feed.instruments["NSE:SBIN"]))
        itc = feed.rings.count(feed.client.tick_id(feed.instruments["NSE:ITC"]))
        await wait_until(lambda: feed.rings.count(feed.client.tick_id(feed.instruments["NSE:ITC"])) > itc + 2)
        assert feed.rings.count(feed.client.tick_id(feed.instruments["NSE:SBIN"])) == held
    finally:
        await feed.close()


async def test_order_postbacks_go_to_the_order_update_callback(paper_exchange):
    x, a = paper_exchange, paper_exchange.accounts[0]
    updates: asyncio.Queue = asyncio.Queue()
    client = KiteTickerClient(
        x.urls()["kite_ws"],
        a.kite_api_key,
        Secret(a.kite_access_token),
        on_order_update=updates.put_nowait,
        policy=FAST,
    )
    client.start()
    try:
        await client.wait_connected(10)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{x.base_url}/orders/regular",
                headers={"Authorization": f"token {a.kite_api_key}:{a.kite_access_token}", "X-Kite-Version": "3"},
                data={
                    "exchange": "NSE",
                    "tradingsymbol": "INFY",
                    "transaction_type": "BUY",
                    "quantity": "1",
                    "product": "MIS",
                    "order_type": "MARKET",
                },
            ) as r:
                order_id = (await r.json())["data"]["order_id"]
        update = await asyncio.wait_for(updates.get(), 10)
        assert update["order_id"] == order_id and update["tradingsymbol"] == "INFY"
    finally:
        await client.close()


async def test_a_refused_token_stops_the_client_with_an_auth_error_that_shows_no_token(paper_exchange, caplog):
    caplog.set_level(logging.DEBUG)
    x, a = paper_exchange, paper_exchange.accounts[0]
    token = "not-the-token-" + a.kite_access_token[:8]
    client = KiteTickerClient(x.urls()["kite_ws"], a.kite_api_key, Secret(token), policy=FAST)
    client.start()
    try:
        with pytest.raises(AuthError) as info:
            await client.wait_connected(10)
        assert info.value.status == 403
        assert token not in str(info.value) and token not in repr(client)
        assert "> GET /kite/ws?" in caplog.text  # the socket logged the request line ...
        assert token not in caplog.text  # ... with the token masked
        assert client.connection.connects == 0
    finally:
        await client.close()


async def test_a_silent_connection_is_dropped_by_the_watchdog_and_reopened(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, heartbeat_s=3600)  # no ticks, no heartbeats
    feed = await kite_feed(x, policy=ReconnectPolicy(base_s=0.05, cap_s=0.2, watchdog_s=0.3)).start()
    try:
        await wait_until(lambda: feed.client.connection.watchdog_drops >= 2, what="two watchdog drops")
        infy = feed.client.tick_id(feed.instruments["NSE:INFY"])

        def stepped_tick_arrived() -> bool:  # a step sent while disconnected is lost: step again
            x.step()
            return feed.rings.count(infy) > 0

        await wait_until(stepped_tick_arrived, what="a tick after the drops")
        assert feed.rings.ticks(infy)["gap"][0]
    finally:
        await feed.close()


async def test_ten_drops_reconnect_resubscribe_in_mode_and_mark_gaps(paper_exchange):
    x = paper_exchange
    feed = kite_feed(x, policy=FAST)
    feed.subscribe("NSE:INFY", mode="full")
    await feed.start()
    ids = feed.rings.ids
    await wait_until(lambda: has_ticks_for_all(feed), what="first ticks")
    connection = feed.client.connection
    for drop in range(10):
        before = connection.connects
        x.set_faults("ws_drop=1")
        await wait_until(lambda: x.faults.injected.get("ws_drop", 0) >= 1, what=f"drop {drop + 1}")
        x.set_faults(None)
        counts = {i: feed.rings.count(i) for i in ids}
        await wait_until(lambda before=before: connection.connects > before, what=f"reconnect {drop + 1}")
        await wait_until(
            lambda counts=counts: all(feed.rings.count(i) > counts[i] for i in ids),
            what=f"ticks of every instrument after reconnect {drop + 1}",
        )
    assert connection.connects == 11 and connection.failure is None
    df = feed.df
    assert (df[df["gap"]].groupby("instrument", observed=True).size() == 10).all()
    assert set(df.loc[df["gap"], "instrument"]) == set(x.engine.instruments)
    assert feed.last("NSE:INFY").mode == "full" and feed.last("NSE:TCS").mode == "quote"
    bars = feed.bars("1s")
    gap_seconds = {
        (i, t.floor("1s")) for i, t in zip(df.loc[df["gap"], "instrument"], df.index[df["gap"]], strict=True)
    }
    assert set(zip(bars.loc[bars["gap"], "instrument"], bars.index[bars["gap"]], strict=True)) == gap_seconds
    await feed.close()
    assert feed_tasks() == []
    await wait_until(lambda: client_sockets_to(x.port) == 0, timeout=5, what="no socket left open")
