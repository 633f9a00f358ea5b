"""Seeded fault injection: errors, silence, resets and mangled order updates, reproducibly."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from nbexec.core.errors import ValidationError
from nbexec.paper.faults import Faults, parse_faults


def client(x, timeout: int = 7) -> KiteConnect:
    a = x.accounts[0]
    return KiteConnect(api_key=a.kite_api_key, access_token=a.kite_access_token, root=x.base_url, timeout=timeout)


def place(kc: KiteConnect) -> str:
    return kc.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=1,
        product="MIS",
        order_type="MARKET",
    )


async def exchange(make_paper_exchange, faults):
    return await make_paper_exchange(tick_rate=0, rate_limits=False, faults=faults)


def test_the_spec_string_parses_every_fault():
    spec = parse_faults(
        "500=0.1,502=0.02,503=0.03,429=0.04,hang=0.01,reset=0.02,scope=all,"
        "update_delay=0.5,update_delay_ms=50,update_dup=0.1,update_reorder=0.2,ws_drop=0.01,seed=9"
    )
    assert (spec.http500, spec.http429, spec.hang, spec.scope, spec.update_delay_ms, spec.seed) == (
        0.1,
        0.04,
        0.01,
        "all",
        50.0,
        9,
    )


@pytest.mark.parametrize("bad", ["boom=0.1", "500=2", "500=x", "scope=some"])
def test_a_bad_spec_is_refused_naming_the_fault(bad):
    with pytest.raises(ValidationError):
        parse_faults(bad)


def test_the_same_seed_injects_the_same_faults():
    a, b = Faults("500=0.2,hang=0.1,429=0.1", seed=5), Faults("500=0.2,hang=0.1,429=0.1", seed=5)
    assert [a.rest(True) for _ in range(200)] == [b.rest(True) for _ in range(200)]
    assert Faults("500=0.2", seed=6).injected == {}


@pytest.mark.parametrize(
    "spec, exc, code",
    [
        ("500=1", kex.GeneralException, 500),
        ("502=1", kex.DataException, 502),
        ("503=1", kex.NetworkException, 503),
        ("429=1", kex.NetworkException, 429),
    ],
)
async def test_error_faults_answer_without_placing(make_paper_exchange, spec, exc, code):
    x = await exchange(make_paper_exchange, spec)
    with pytest.raises(exc) as err:
        await asyncio.to_thread(place, client(x))
    assert err.value.code == code
    assert x.engine.orders(x.accounts[0].id) == []


async def test_a_hung_request_is_placed_but_never_answered(make_paper_exchange):
    x = await exchange(make_paper_exchange, "hang=1")
    with pytest.raises(requests.exceptions.ReadTimeout):
        await asyncio.to_thread(place, client(x, timeout=1))
    assert [o.status for o in x.engine.orders(x.accounts[0].id)] == ["COMPLETE"]


async def test_a_reset_connection_comes_after_the_order_is_placed(make_paper_exchange):
    x = await exchange(make_paper_exchange, "reset=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        await asyncio.to_thread(place, client(x))
    assert len(x.engine.orders(x.accounts[0].id)) == 1


async def test_order_scope_leaves_reads_alone(make_paper_exchange):
    x = await exchange(make_paper_exchange, "500=1")
    assert await asyncio.to_thread(client(x).orders) == []


async def test_faults_can_be_changed_at_run_time(make_paper_exchange):
    x = await exchange(make_paper_exchange, "500=1")
    x.set_faults(None)
    assert await asyncio.to_thread(place, client(x))


async def order_updates(x, n: int) -> list[dict]:
    a = x.accounts[0]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            x.urls()["kite_ws"], params={"api_key": a.kite_api_key, "access_token": a.kite_access_token}
        ) as ws:
            await asyncio.sleep(0)  # let the server register the subscriber
            while not x.hub._orders.get(a.id):
                await asyncio.sleep(0.01)
            x.engine.place(a.id, "NSE:INFY", "BUY", 1)
            out = []
            while len(out) < n:
                msg = await asyncio.wait_for(ws.receive(), 10)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    out.append(json.loads(msg.data)["data"])
            return out


async def test_duplicated_order_updates_arrive_twice(make_paper_exchange):
    x = await exchange(make_paper_exchange, "update_dup=1")
    assert [u["status"] for u in await order_updates(x, 4)] == ["OPEN", "OPEN", "COMPLETE", "COMPLETE"]


async def test_reordered_order_updates_arrive_out_of_order(make_paper_exchange):
    x = await exchange(make_paper_exchange, "update_reorder=1")
    assert [u["status"] for u in await order_updates(x, 2)] == ["COMPLETE", "OPEN"]


async def test_delayed_order_updates_still_arrive(make_paper_exchange):
    x = await exchange(make_paper_exchange, "update_delay=1,update_delay_ms=20")
    assert sorted(u["status"] for u in await order_updates(x, 2)) == ["COMPLETE", "OPEN"]


async def test_ws_drop_closes_the_feed_connection(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=50, faults="ws_drop=1")
    a = x.accounts[0]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            x.urls()["kite_ws"], params={"api_key": a.kite_api_key, "access_token": a.kite_access_token}
        ) as ws:
            await ws.send_str(json.dumps({"a": "subscribe", "v": [408065]}))
            while (msg := await asyncio.wait_for(ws.receive(), 10)).type == aiohttp.WSMsgType.BINARY:
                pass  # heartbeats until the first tick frame is due
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert x.faults.injected["ws_drop"] == 1
