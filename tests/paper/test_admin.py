"""The admin API: what the exchange received and sent, stamped, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from kiteconnect import KiteConnect


async def get(x, path: str, method: str = "GET", **kw):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{x.urls()['admin']}{path}", **kw) as r:
            return r.status, await r.json()


def place(x, i: int = 0, **kw) -> str:
    a = x.accounts[i]
    kc = KiteConnect(api_key=a.kite_api_key, access_token=a.kite_access_token, root=x.base_url)
    args = dict(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=1,
        product="MIS",
        order_type="MARKET",
    )
    return kc.place_order(**{**args, **kw})


async def test_info_has_exactly_the_sim_keys(paper_exchange):
    status, info = await get(paper_exchange, "/info")
    assert status == 200
    assert set(info) == {
        "kite_rest",
        "kite_ws",
        "dhan_rest",
        "dhan_feed_ws",
        "dhan_order_ws",
        "admin",
        "accounts",
        "instruments",
    }
    assert set(info["accounts"][0]) == {
        "id",
        "kite_api_key",
        "kite_access_token",
        "kite_api_secret",
        "dhan_client_id",
        "dhan_access_token",
    }


async def test_order_requests_are_recorded_with_a_receive_stamp_taken_before_the_answer(paper_exchange):
    x = paper_exchange
    before = time.monotonic_ns()
    order_id = await asyncio.to_thread(place, x, tag="stamped1")
    after = time.monotonic_ns()
    _, body = await get(x, "/requests")
    (rec,) = body["requests"]
    assert before < rec["recv_ns"] < after
    assert (rec["broker"], rec["method"], rec["account"], rec["order_id"], rec["tag"], rec["status"]) == (
        "kite",
        "POST",
        x.accounts[0].id,
        order_id,
        "stamped1",
        200,
    )


async def test_requests_since_a_sequence_number_are_the_newer_ones(paper_exchange):
    x = paper_exchange
    await asyncio.to_thread(place, x)
    await asyncio.to_thread(place, x)
    _, body = await get(x, "/requests?since=1")
    assert [r["seq"] for r in body["requests"]] == [2] and body["last"] == 2


async def test_reads_are_not_order_requests(paper_exchange):
    x = paper_exchange
    a = x.accounts[0]
    kc = KiteConnect(api_key=a.kite_api_key, access_token=a.kite_access_token, root=x.base_url)
    await asyncio.to_thread(kc.orders)
    assert (await get(x, "/requests"))[1]["requests"] == []


async def test_the_book_shows_each_accounts_orders_trades_positions_and_funds(paper_exchange):
    x = paper_exchange
    await asyncio.to_thread(place, x, 1, quantity=3)
    _, body = await get(x, f"/book?account={x.accounts[1].id}")
    book = body[x.accounts[1].id]
    assert [o["status"] for o in book["orders"]] == ["COMPLETE"]
    assert sum(t["quantity"] for t in book["trades"]) == 3
    assert book["positions"][0]["quantity"] == 3 and book["funds"]["cash"] < book["funds"]["opening_balance"]
    _, everyone = await get(x, "/book")
    assert set(everyone) == {a.id for a in x.accounts}


async def test_step_advances_the_market_by_hand(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0)
    _, body = await get(x, "/step?n=5", "POST")
    assert body["steps"] == 5 == x.engine.steps


async def test_faults_can_be_set_over_http(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0)
    status, body = await get(x, "/faults", "POST", json={"spec": "500=0.5,seed=3"})
    assert status == 200 and body["spec"]["http500"] == 0.5
    status, _ = await get(x, "/faults", "POST", json={"spec": "nonsense=1"})
    assert status == 400


async def test_counters_count_requests_and_steps(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0)
    await asyncio.to_thread(place, x)
    x.step(2)
    _, counters = await get(x, "/counters")
    assert counters["order_requests"] == 1 and counters["steps"] == 2


def _split_place(account, tag: str) -> tuple[bytes, bytes]:
    """A Kite place request as (head, body), to be written separately like urllib3 does."""
    body = (
        f"tradingsymbol=INFY&exchange=NSE&transaction_type=BUY&quantity=1&product=MIS&order_type=MARKET&tag={tag}"
    ).encode()
    head = (
        f"POST /orders/regular HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Kite-Version: 3\r\n"
        f"Authorization: token {account.kite_api_key}:{account.kite_access_token}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


async def _read_response(reader) -> bytes:
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def test_each_request_on_a_keep_alive_connection_is_stamped_when_its_own_first_bytes_arrive(paper_exchange):
    x = paper_exchange
    reader, writer = await asyncio.open_connection("127.0.0.1", x.port)
    windows = {}
    for n in range(3):
        head, body = _split_place(x.accounts[0], f"split{n}")
        head_sent = time.monotonic_ns()
        writer.write(head)
        await writer.drain()
        await asyncio.sleep(0.3)
        body_sent = time.monotonic_ns()
        writer.write(body)
        await writer.drain()
        assert (await _read_response(reader)).startswith(b"HTTP/1.1 200")
        windows[f"split{n}"] = (head_sent, body_sent)
        await asyncio.sleep(0.3)
    writer.close()
    _, recorded = await get(x, "/requests")
    for record in recorded["requests"]:
        if record.get("tag") in windows:
            head_sent, body_sent = windows[record["tag"]]
            assert head_sent <= record["recv_ns"] < body_sent - 200_000_000, record["tag"]
