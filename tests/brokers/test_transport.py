"""The lean order transport against a real aiohttp server (and raw sockets for broken servers)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from nbexec.brokers.transport import (
    ConnectFailed,
    ConnectionLost,
    ConnectionPool,
    PoolClosed,
    ProtocolError,
    RequestTemplate,
    RequestTimedOut,
)
from nbexec.core.errors import BrokerUnavailable
from nbexec.core.secrets import Secret
from tests.fixtures.tls import self_signed_cert


class OrderServer:
    """A loopback aiohttp app that echoes each order and names the connection it came on."""

    def __init__(self, keepalive_timeout: float = 75.0) -> None:
        self.keepalive_timeout = keepalive_timeout
        self.peers: list[int] = []  # client port of every request, in arrival order
        self.silent_requests = asyncio.Event()
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/orders", self.place)
        app.router.add_post("/chunked", self.chunked)
        app.router.add_post("/silent", self.silent)
        app.router.add_post("/close", self.close_after)
        self.runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout, shutdown_timeout=0.1)
        self.port = 0

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        await self.runner.cleanup()

    def _seen(self, request: web.Request) -> int:
        peer = request.transport.get_extra_info("peername")[1]
        self.peers.append(peer)
        return peer

    async def place(self, request: web.Request) -> web.Response:
        peer = self._seen(request)
        order = json.loads(await request.read())
        return web.json_response({"status": "success", "data": {"order_id": order["tag"], "peer": peer}})

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        body = await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"echo":', json.dumps(body.decode()).encode(), b"}"):
            await response.write(part)
        await response.write_eof()
        return response

    async def silent(self, request: web.Request) -> web.Response:
        self._seen(request)
        self.silent_requests.set()
        await self.release.wait()
        return web.json_response({})

    async def close_after(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response({"ok": True}, headers={"Connection": "close"})


@pytest.fixture
async def server():
    srv = OrderServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def pool(server):
    p = ConnectionPool("127.0.0.1", server.port, size=2, max_size=64, request_timeout=5.0, broker="paper")
    await p.start()
    yield p
    await p.close()


def template(path: str = "/orders") -> RequestTemplate:
    return RequestTemplate("POST", path, "127.0.0.1", headers={"Authorization": Secret("token k:t")})


def order_body(tag: str) -> bytes:
    return json.dumps({"tag": tag, "quantity": 1}).encode()


async def eventually(predicate, what: str) -> None:
    """Wait (bounded) for a condition the server causes asynchronously; not a timing assert."""
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def raw_server(handler):
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


async def test_many_requests_share_one_keep_alive_connection(server):
    async with ConnectionPool("127.0.0.1", server.port, size=1) as p:
        for i in range(20):
            await p.request(template(), order_body(f"t{i}"))
    assert len(server.peers) == 20 and len(set(server.peers)) == 1


async def test_content_length_response_is_framed(pool):
    response = await pool.request(template(), order_body("abc"))
    assert response.status == 200
    assert response.header("content-length") == str(len(response.body))
    assert response.json()["data"]["order_id"] == "abc"


async def test_chunked_response_is_framed(pool):
    response = await pool.request(template("/chunked"), b"hello")
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.json() == {"echo": "hello"}


async def test_connection_is_reused_after_a_chunked_response(server, pool):
    await pool.request(template("/chunked"), b"one")
    await pool.request(template("/chunked"), b"two")
    await pool.request(template("/chunked"), b"three")
    assert pool.stats().opened_total == 2  # the two warm ones; no reconnect


async def test_response_carries_written_and_done_stamps(pool):
    response = await pool.request(template(), order_body("x"))
    assert 0 < response.t_written_ns <= response.t_done_ns


async def test_complete_request_bytes_can_be_sent_as_is(pool):
    response = await pool.request(template().render(order_body("raw1")))
    assert response.json()["data"]["order_id"] == "raw1"


async def test_fifty_concurrent_requests_each_get_their_own_response(server):
    async with ConnectionPool("127.0.0.1", server.port, size=50, max_size=50) as p:
        tags = [f"acct{i}" for i in range(50)]
        responses = await asyncio.gather(*(p.request(template(), order_body(t)) for t in tags))
    assert [r.json()["data"]["order_id"] for r in responses] == tags


async def test_concurrent_requests_beyond_warm_size_open_more_connections(server):
    async with ConnectionPool("127.0.0.1", server.port, size=1, max_size=8) as p:
        tags = [f"a{i}" for i in range(8)]
        responses = await asyncio.gather(*(p.request(template(), order_body(t)) for t in tags))
    assert [r.json()["data"]["order_id"] for r in responses] == tags


async def test_requests_wait_for_a_free_connection_at_max_size(server):
    async with ConnectionPool("127.0.0.1", server.port, size=1, max_size=2) as p:
        tags = [f"w{i}" for i in range(10)]
        responses = await asyncio.gather(*(p.request(template(), order_body(t)) for t in tags))
        assert [r.json()["data"]["order_id"] for r in responses] == tags
    assert len(set(server.peers)) <= 2


async def test_silent_server_times_out_as_maybe_delivered(server, pool):
    with pytest.raises(RequestTimedOut) as caught:
        await pool.request(template("/silent"), b"{}", timeout=0.2)
    assert caught.value.maybe_delivered is True
    assert isinstance(caught.value, BrokerUnavailable)


async def test_pool_recovers_after_a_timeout(server, pool):
    with pytest.raises(RequestTimedOut):
        await pool.request(template("/silent"), b"{}", timeout=0.2)
    response = await pool.request(template(), order_body("after"))
    assert response.json()["data"]["order_id"] == "after"


async def test_timed_out_connection_is_not_reused(server, pool):
    with pytest.raises(RequestTimedOut):
        await pool.request(template("/silent"), b"{}", timeout=0.2)
    silent_peer = server.peers[-1]
    for i in range(4):
        await pool.request(template(), order_body(f"n{i}"))
    assert silent_peer not in server.peers[-4:]


async def test_no_free_connection_times_out_as_not_delivered(server):
    async with ConnectionPool("127.0.0.1", server.port, size=1, max_size=1) as p:
        stuck = asyncio.ensure_future(p.request(template("/silent"), b"{}", timeout=30))
        await server.silent_requests.wait()
        with pytest.raises(RequestTimedOut) as caught:
            await p.request(template(), order_body("late"), timeout=0.1)
        assert caught.value.maybe_delivered is False
        stuck.cancel()


async def test_connections_the_server_closes_when_idle_are_replaced():
    srv = OrderServer(keepalive_timeout=0.1)
    await srv.start()
    try:
        async with ConnectionPool("127.0.0.1", srv.port, size=2) as p:
            await p.request(template(), order_body("before"))
            await eventually(lambda: p.stats().lost_total >= 2, "server closed both idle connections")
            await eventually(lambda: p.stats().idle == 2, "pool replaced them")
            response = await p.request(template(), order_body("after"))
        assert response.json()["data"]["order_id"] == "after"
    finally:
        await srv.stop()


async def test_idle_connections_are_refreshed_before_keep_alive_timeout(server):
    now = [1000.0]
    async with ConnectionPool("127.0.0.1", server.port, size=1, idle_refresh_s=30, clock=lambda: now[0]) as p:
        await p.request(template(), order_body("old"))
        now[0] += 31
        await p.maintain()
        await p.request(template(), order_body("new"))
        stats = p.stats()
    assert server.peers[0] != server.peers[1]
    assert (stats.opened_total, stats.lost_total) == (2, 0)


async def test_fresh_idle_connections_are_kept(server):
    now = [1000.0]
    async with ConnectionPool("127.0.0.1", server.port, size=1, idle_refresh_s=30, clock=lambda: now[0]) as p:
        await p.request(template(), order_body("a"))
        now[0] += 10
        await p.maintain()
        await p.request(template(), order_body("b"))
    assert server.peers[0] == server.peers[1]


async def test_connection_close_from_server_retires_the_connection(server, pool):
    await pool.request(template("/close"), b"{}")
    response = await pool.request(template(), order_body("next"))
    assert response.status == 200
    assert server.peers[0] != server.peers[1]


async def test_warm_opens_connections_before_the_first_request(server):
    p = ConnectionPool("127.0.0.1", server.port, size=1, max_size=10)
    try:
        await p.warm(5)
        assert p.stats().idle == 5
        assert server.peers == []
    finally:
        await p.close()


async def test_connect_refused_is_not_delivered():
    p = ConnectionPool("127.0.0.1", free_port(), size=1)
    with pytest.raises(ConnectFailed) as caught:
        await p.request(template(), order_body("x"))
    assert caught.value.maybe_delivered is False
    await p.close()


async def test_start_against_a_dead_host_raises_connect_failed():
    p = ConnectionPool("127.0.0.1", free_port(), size=2)
    with pytest.raises(ConnectFailed):
        await p.start()
    await p.close()


async def test_closed_pool_refuses_requests(server):
    p = ConnectionPool("127.0.0.1", server.port, size=1)
    await p.start()
    await p.close()
    with pytest.raises(PoolClosed) as caught:
        await p.request(template(), order_body("x"))
    assert caught.value.maybe_delivered is False


async def test_closing_the_pool_fails_in_flight_requests_as_maybe_delivered(server):
    p = ConnectionPool("127.0.0.1", server.port, size=1)
    await p.start()
    in_flight = asyncio.ensure_future(p.request(template("/silent"), b"{}"))
    await server.silent_requests.wait()
    await p.close()
    with pytest.raises(ConnectionLost) as caught:
        await in_flight
    assert caught.value.maybe_delivered is True


async def test_cancelled_request_drops_its_connection(server, pool):
    in_flight = asyncio.ensure_future(pool.request(template("/silent"), b"{}"))
    await server.silent_requests.wait()
    in_flight.cancel()
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    silent_peer = server.peers[-1]
    for i in range(3):
        await pool.request(template(), order_body(f"c{i}"))
    assert silent_peer not in server.peers[-3:]


async def test_connection_reset_mid_response_is_maybe_delivered():
    async def half_answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    srv, port = await raw_server(half_answer)
    try:
        async with ConnectionPool("127.0.0.1", port, size=1) as p:
            with pytest.raises(ConnectionLost) as caught:
                await p.request(template(), b"")
        assert caught.value.maybe_delivered is True
    finally:
        srv.close()


async def test_garbage_response_is_a_protocol_error():
    async def garbage(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        writer.close()

    srv, port = await raw_server(garbage)
    try:
        async with ConnectionPool("127.0.0.1", port, size=1) as p:
            with pytest.raises(ProtocolError) as caught:
                await p.request(template(), b"")
        assert caught.value.maybe_delivered is True
    finally:
        srv.close()


async def test_error_messages_name_host_and_fate():
    port = free_port()
    p = ConnectionPool("127.0.0.1", port, size=1, broker="kite")
    with pytest.raises(ConnectFailed) as caught:
        await p.request(template(), b"")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "not sent" in str(caught.value) and str(caught.value).startswith("kite: ")
    await p.close()


async def test_template_credentials_never_show_in_pool_or_template_repr(pool):
    t = RequestTemplate("POST", "/orders", "h", headers={"Authorization": Secret("token key:SECRET")})
    assert "SECRET" not in repr(t) and "SECRET" not in repr(pool)


async def test_requests_go_over_tls_when_given_an_ssl_context(tmp_path):
    import ssl

    cert_file, key_file = self_signed_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    srv = OrderServer()
    await srv.runner.setup()
    site = web.TCPSite(srv.runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        async with ConnectionPool("127.0.0.1", srv.runner.addresses[0][1], size=1, ssl=client_ctx) as p:
            responses = [await p.request(template(), order_body(f"tls{i}")) for i in range(3)]
        assert [r.json()["data"]["order_id"] for r in responses] == ["tls0", "tls1", "tls2"]
        assert len(set(srv.peers)) == 1
    finally:
        await srv.stop()
