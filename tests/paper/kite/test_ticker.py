"""The official KiteTicker (Twisted, one subprocess per test) against the paper exchange's ticker."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.process  # the official KiteTicker runs in a process of its own

INFY, SBIN, NIFTY = 408065, 779521, 256265
CLIENT = str(Path(__file__).with_name("ticker_client.py"))


@pytest.fixture
async def x(make_paper_exchange):
    return await make_paper_exchange(tick_rate=20, rate_limits=False, heartbeat_s=0.2)


async def run_ticker(x, *, tokens, mode=None, ticks=2, orders=0, on_connect=None) -> list[dict]:
    """Run KiteTicker in a subprocess; returns the events it printed."""
    a = x.accounts[0]
    cfg = {
        "root": x.urls()["kite_ws"],
        "api_key": a.kite_api_key,
        "access_token": a.kite_access_token,
        "tokens": tokens,
        "mode": mode,
        "ticks": ticks,
        "orders": orders,
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, CLIENT, json.dumps(cfg), stdout=asyncio.subprocess.PIPE)
    events = []
    try:
        async with asyncio.timeout(60):
            while line := await proc.stdout.readline():
                event = json.loads(line)
                events.append(event)
                if event["event"] == "connect" and on_connect:
                    await on_connect()
            assert await proc.wait() == 0, events
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return events


def ticks_of(events) -> list[list[dict]]:
    return [e["ticks"] for e in events if e["event"] == "ticks"]


async def test_ltp_mode_sends_last_price_packets(x):
    events = await run_ticker(x, tokens=[INFY], mode="ltp")
    tick = ticks_of(events)[0][0]
    assert (tick["mode"], tick["instrument_token"]) == ("ltp", INFY) and tick["last_price"] > 0
    assert "ohlc" not in tick


async def test_new_subscriptions_default_to_quote_mode(x):
    events = await run_ticker(x, tokens=[INFY])
    tick = ticks_of(events)[0][0]
    assert tick["mode"] == "quote" and tick["volume_traded"] > 0 and tick["ohlc"]["close"] == 1500.0
    assert "depth" not in tick


async def test_full_mode_carries_five_levels_of_depth(x):
    events = await run_ticker(x, tokens=[INFY], mode="full")
    tick = ticks_of(events)[-1][0]
    assert tick["mode"] == "full" and len(tick["depth"]["buy"]) == len(tick["depth"]["sell"]) == 5
    assert tick["depth"]["sell"][0]["price"] > tick["depth"]["buy"][0]["price"]


async def test_an_index_is_sent_in_the_index_layout(x):
    events = await run_ticker(x, tokens=[NIFTY], mode="full")
    tick = ticks_of(events)[0][0]
    assert tick["tradable"] is False and tick["instrument_token"] == NIFTY


async def test_many_instruments_travel_in_one_frame(x):
    events = await run_ticker(x, tokens=[INFY, SBIN, NIFTY], mode="quote")
    assert {t["instrument_token"] for t in ticks_of(events)[-1]} == {INFY, SBIN, NIFTY}


async def test_order_updates_arrive_as_text_messages(x):
    account = x.accounts[0].id

    async def place():
        x.engine.place(account, "NSE:INFY", "BUY", 2, tag="wsupdate1")

    events = await run_ticker(x, tokens=[INFY], ticks=0, orders=2, on_connect=place)
    updates = [e["data"] for e in events if e["event"] == "order"]
    assert [u["status"] for u in updates] == ["OPEN", "COMPLETE"]
    assert updates[-1]["tag"] == "wsupdate1" and updates[-1]["filled_quantity"] == 2


async def ws_client(x, **query):
    a = x.accounts[0]
    params = {"api_key": a.kite_api_key, "access_token": a.kite_access_token, **query}
    session = aiohttp.ClientSession()
    return session, await session.ws_connect(x.urls()["kite_ws"], params=params)


async def test_an_idle_connection_gets_one_byte_heartbeats(x):
    session, ws = await ws_client(x)
    try:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"\x00"
    finally:
        await ws.close()
        await session.close()


async def test_unsubscribed_instruments_stop_streaming(x):
    session, ws = await ws_client(x)
    try:
        await ws.send_str(json.dumps({"a": "subscribe", "v": [INFY]}))
        while len((await ws.receive()).data) < 5:
            pass  # skip heartbeats until the first tick frame
        await ws.send_str(json.dumps({"a": "unsubscribe", "v": [INFY]}))
        while len((await ws.receive()).data) > 1:
            pass  # at most the frames already in flight
        for _ in range(3):
            assert (await ws.receive()).data == b"\x00"
    finally:
        await ws.close()
        await session.close()


async def test_a_bad_access_token_is_refused_at_the_handshake(x):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(x.urls()["kite_ws"], params={"api_key": "k", "access_token": "t"})
    assert err.value.status == 403


async def test_tick_frames_are_recorded_with_send_stamps(x):
    await run_ticker(x, tokens=[INFY], mode="ltp")
    frames = [f for f in x.recorder.frames if f[2] == "kite"]
    assert frames and all(f[1] > 0 and f[5] == (INFY,) for f in frames)


async def test_order_updates_carry_the_postback_checksum(x):
    import hashlib

    a = x.accounts[0]

    async def place():
        x.engine.place(a.id, "NSE:INFY", "BUY", 1)

    events = await run_ticker(x, tokens=[INFY], ticks=0, orders=2, on_connect=place)
    update = [e["data"] for e in events if e["event"] == "order"][-1]
    stamp = update["order_timestamp"].replace("T", " ")[:19]  # the SDK parsed it to a datetime
    want = hashlib.sha256(f"{update['order_id']}{stamp}{a.kite_api_secret}".encode()).hexdigest()
    assert (update["user_id"], update["unfilled_quantity"], update["checksum"]) == (a.id, 0, want)
