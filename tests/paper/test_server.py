"""PaperExchange itself: ports, accounts, symbols, front ends, shutdown."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from nbexec.paper import FRONT_ENDS, PaperAccount, PaperExchange, admin


async def test_port_zero_binds_a_free_loopback_port_and_urls_name_it(make_paper_exchange):
    a, b = await make_paper_exchange(), await make_paper_exchange()
    assert a.port and b.port and a.port != b.port
    assert a.urls()["kite_rest"] == f"http://127.0.0.1:{a.port}"
    assert a.urls()["dhan_rest"].endswith("/v2") and a.urls()["kite_ws"].endswith("/kite/ws")


async def test_accounts_can_be_given_explicitly(make_paper_exchange):
    mine = PaperAccount("ME01", "key", "secret", "token", "1100000099", "dtoken", cash=5000.0)
    x = await make_paper_exchange(accounts=[mine])
    assert x.account_by_kite("key", "token") is mine and x.account_by_dhan("dtoken", "1100000099") is mine
    assert x.engine.funds("ME01").cash == 5000.0
    assert not any(secret in repr(mine) for secret in ("'secret'", "'token'", "'dtoken'"))


async def test_symbols_choose_the_instruments(make_paper_exchange):
    x = await make_paper_exchange(symbols=["SBIN", "NEWCO"])
    assert [i["tradingsymbol"] for i in x.info()["instruments"]] == ["SBIN", "NEWCO"]


async def test_the_exchange_serves_the_front_ends_it_is_given_and_no_other():
    x = await PaperExchange([admin], accounts=1, tick_rate=0).start()
    try:
        assert set(x.urls()) == {"admin"}
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{x.base_url}/admin/counters") as r:
                assert r.status == 200
            async with session.post(f"{x.base_url}/orders/regular") as r:  # no Kite: aiohttp's own page
                assert (r.status, r.content_type) == (404, "text/plain")
        assert x.recorder.request_seq == 0  # nor is it an order request
    finally:
        await x.close()


async def test_the_market_steps_at_the_tick_rate(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=50)
    while x.engine.steps < 3:
        await asyncio.sleep(0.01)
    assert x.hub.tick_seq >= 3


async def test_closing_the_exchange_closes_feed_connections():
    x = await PaperExchange(FRONT_ENDS, accounts=1).start()
    a = x.accounts[0]
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            x.urls()["kite_ws"], params={"api_key": a.kite_api_key, "access_token": a.kite_access_token}
        )
        await ws.send_str(json.dumps({"a": "subscribe", "v": [408065]}))
        await x.close()
        while (msg := await asyncio.wait_for(ws.receive(), 10)).type == aiohttp.WSMsgType.BINARY:
            pass
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
