"""The Dhan v2 feed client: its requests, URL and disconnects, then against the paper exchange over real sockets."""

from __future__ import annotations

import json
import logging

import pytest

from nbexec.brokers.dhan import market_feed
from nbexec.brokers.dhan.factory import DHAN
from nbexec.brokers.dhan.market_feed import DhanFeedClient
from nbexec.core.errors import AuthError, BrokerError
from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed
from nbexec.feeds.ring import TickRings
from nbexec.paper.dhan.ticks import encode_disconnect
from tests.brokers.adapter_helpers import dhan_settings
from tests.feeds.helpers import client_sockets_to, feed_tasks, wait_until

FAST = ReconnectPolicy(base_s=0.05, cap_s=0.5, watchdog_s=5.0)
NIFTY = Instrument("INDICES", "NIFTY 50", 1001, dhan_security_id=13)


def dhan_feed(x, mode: str = "quote", **kw) -> Feed:
    return DHAN.feed(dhan_settings(x), x.engine.instruments.values(), mode, **kw)


def has_ticks_for_all(feed: Feed) -> bool:
    return all(feed.rings.count(i) > 0 for i in feed.rings.ids)


def test_dhan_requests_carry_at_most_100_instruments_each():
    keys = [("NSE_EQ", i) for i in range(250)]
    messages = [json.loads(m) for m in market_feed.request_messages(17, keys)]
    assert [m["InstrumentCount"] for m in messages] == [100, 100, 50]
    assert all(m["RequestCode"] == 17 for m in messages)
    assert messages[2]["InstrumentList"][-1] == {"ExchangeSegment": "NSE_EQ", "SecurityId": "249"}


def test_dhan_mode_change_unsubscribes_the_old_mode_first():
    client = DhanFeedClient("ws://h/feed", "1100000001", Secret("tok"))
    sent = [json.loads(m) for m in client._subscribe_messages({"full": [("NSE_EQ", 1594)]}, {("NSE_EQ", 1594): "ltp"})]
    assert [m["RequestCode"] for m in sent] == [16, 21]


def test_tick_ids_match_what_the_decoder_writes():
    assert DhanFeedClient("ws://h", "c", Secret("t")).tick_id(NIFTY) == (13, 0)  # IDX_I


def test_the_url_carries_the_credentials_and_the_repr_does_not():
    dhan = DhanFeedClient("ws://h:1/dhan/feed", "1100000001", Secret("SECRET-JWT"))
    assert dhan._connect_url() == "ws://h:1/dhan/feed?version=2&token=SECRET-JWT&clientId=1100000001&authType=2"
    assert "SECRET" not in repr(dhan)


@pytest.mark.parametrize("reason, error", [(807, AuthError), (810, AuthError), (804, BrokerError), (805, BrokerError)])
def test_dhan_disconnects_that_retrying_cannot_fix_stop_the_client(reason, error):
    client = DhanFeedClient("ws://h", "c", Secret("t"))
    with pytest.raises(error) as info:
        client._decode(encode_disconnect(reason))
    assert info.value.code == str(reason) and info.value.broker == "dhan"


def test_other_dhan_disconnects_let_the_client_reconnect():
    assert len(DhanFeedClient("ws://h", "c", Secret("t"))._decode(encode_disconnect(800))) == 0


async def test_ticks_of_every_subscribed_instrument_land_in_the_dataframe(paper_exchange):
    feed = await dhan_feed(paper_exchange, policy=FAST).start()
    try:
        await feed.wait_connected()
        await wait_until(lambda: has_ticks_for_all(feed), what="a tick of every instrument")
        df = feed.df
        assert set(df["instrument"]) == set(paper_exchange.engine.instruments)
        nifty = df[df["instrument"] == "INDICES:NIFTY 50"]  # IDX_I, security id 13
        assert (nifty["last_price"] > 10_000).all()
        assert (df["mode"] == "quote").all() and not df["gap"].any()
    finally:
        await feed.close()


async def test_each_instrument_streams_in_its_own_mode(paper_exchange):
    feed = dhan_feed(paper_exchange, policy=FAST)
    feed.subscribe("NSE:INFY", mode="full")
    feed.subscribe("NSE:RELIANCE", mode="ltp")
    await feed.start()
    try:
        await wait_until(lambda: has_ticks_for_all(feed), what="a tick of every instrument")
        last = feed.df.groupby("instrument", observed=True).last()
        assert last.loc["NSE:INFY", "mode"] == "full" and last.loc["NSE:INFY", "bid"] > 0
        assert last.loc["NSE:RELIANCE", "mode"] == "ltp" and last.loc["NSE:RELIANCE", "volume"] == 0
        assert last.loc["NSE:TCS", "mode"] == "quote" and last.loc["NSE:TCS", "bid"] == 0
    finally:
        await feed.close()


async def test_a_mode_change_while_connected_takes_effect(paper_exchange):
    feed = await dhan_feed(paper_exchange, mode="ltp", policy=FAST).start()
    try:
        await wait_until(lambda: feed.last("NSE:SBIN") is not None)
        feed.subscribe("NSE:SBIN", mode="full")
        await wait_until(lambda: feed.last("NSE:SBIN").mode == "full", what="full-mode SBIN ticks")
    finally:
        await feed.close()


async def test_more_than_100_instruments_are_subscribed_in_chunks(make_paper_exchange):
    # The server refuses a request listing more than 100 instruments, so every one of the 250
    # streaming proves the client split its requests.
    x = await make_paper_exchange(symbols=[f"SYN{i:03d}" for i in range(250)])
    feed = await dhan_feed(x, mode="ltp", policy=FAST).start()
    try:
        await wait_until(lambda: has_ticks_for_all(feed), what="ticks of all 250 instruments")
    finally:
        await feed.close()


async def test_an_invalid_token_disconnect_stops_the_client_with_an_auth_error(paper_exchange, caplog):
    caplog.set_level(logging.DEBUG)
    a = paper_exchange.accounts[0]
    token = "x" + a.dhan_access_token[1:]
    client = DhanFeedClient(
        paper_exchange.urls()["dhan_feed_ws"], a.dhan_client_id, Secret(token), sink=TickRings(), policy=FAST
    )
    client.start()
    try:
        with pytest.raises(AuthError) as info:
            await client.wait_connected(10)
        assert info.value.code == "809" and info.value.broker == "dhan"
        await wait_until(lambda: client.connection.failure is not None and not client.connected)
        assert token not in caplog.text and token not in str(info.value)
        assert "> GET /dhan/feed?" in caplog.text
    finally:
        await client.close()


async def test_ten_drops_reconnect_resubscribe_in_mode_and_mark_gaps(paper_exchange):
    x = paper_exchange
    feed = dhan_feed(x, policy=FAST)
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
    await feed.close()
    assert feed_tasks() == []
    await wait_until(lambda: client_sockets_to(x.port) == 0, timeout=5, what="no socket left open")
