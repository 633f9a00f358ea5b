"""FeedConnection's own promises over real loopback sockets: liveness, keepalive, send order."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from nbexec.core.errors import ConfigError
from nbexec.core.secrets import Secret
from nbexec.feeds.connection import FeedConnection, ReconnectPolicy

from .helpers import feed_tasks, wait_until
from .ws_servers import FIN, OP_TEXT, aiohttp_server, raw_server, read_frame


def connection(url: str, policy: ReconnectPolicy, on_open=lambda: [], token: str = "t") -> FeedConnection:
    return FeedConnection(
        "test-feed",
        lambda: url,
        broker="test",
        secrets=[Secret(token)],
        on_open=on_open,
        on_message=lambda data, received_ns: None,
        policy=policy,
    )


async def test_server_pings_alone_keep_a_quiet_connection_open():
    # Dhan proves liveness with pings while nothing trades: they must feed the watchdog.
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.receive()

    async with aiohttp_server(handler, heartbeat=0.05) as url:
        conn = connection(url, ReconnectPolicy(base_s=0.05, watchdog_s=0.3, ping_interval_s=None))
        conn.start()
        try:
            await conn.wait_connected(5)
            await asyncio.sleep(1.0)
            assert conn.watchdog_drops == 0 and conn.connects == 1
        finally:
            await conn.close()


async def test_a_server_that_stops_answering_pings_is_dropped_and_reconnected():
    async def script(reader, writer) -> None:
        while True:
            await read_frame(reader)  # reads our pings, never answers

    async with raw_server(script) as url:
        conn = connection(
            url, ReconnectPolicy(base_s=0.05, cap_s=0.1, watchdog_s=None, ping_interval_s=0.05, ping_timeout_s=0.1)
        )
        conn.start()
        try:
            await wait_until(lambda: conn.connects >= 2, timeout=5, what="a reconnect after the pong timeout")
        finally:
            await conn.close()
    assert feed_tasks() == []


async def test_subscriptions_go_out_first_and_later_sends_follow_in_call_order():
    seen: list[bytes] = []

    async def script(reader, writer) -> None:
        while True:
            head, payload, _ = await read_frame(reader)
            if head == FIN | OP_TEXT:
                seen.append(payload)

    async with raw_server(script) as url:
        conn = connection(url, ReconnectPolicy(base_s=0.05), on_open=lambda: ["sub-1", "sub-2"])
        conn.send_soon(["before-open"])  # not connected: on_open covers it, nothing queued
        conn.start()
        try:
            await conn.wait_connected(5)
            conn.send_soon(["a", "b"])
            conn.send_soon(["c"])
            await wait_until(lambda: len(seen) == 5)
        finally:
            await conn.close()
    assert seen == [b"sub-1", b"sub-2", b"a", b"b", b"c"]


async def test_a_url_that_is_not_a_websocket_stops_the_connection_with_a_config_error_showing_no_token():
    conn = connection("https://127.0.0.1:9/feed?token=SECRET", ReconnectPolicy())
    conn.start()
    try:
        with pytest.raises(ConfigError) as info:
            await conn.wait_connected(5)
        assert "SECRET" not in str(info.value) and "https://127.0.0.1:9/feed" in str(info.value)
        assert conn.connects == 0
    finally:
        await conn.close()


async def test_the_sockets_debug_log_shows_the_request_line_with_the_token_masked(caplog):
    async def script(reader, writer) -> None:
        await reader.read()

    caplog.set_level(logging.DEBUG, logger="nbexec.feeds.websocket.test-feed")
    async with raw_server(script) as url:
        conn = connection(url.replace("token=t", "token=SECRET123"), ReconnectPolicy(base_s=0.05), token="SECRET123")
        conn.start()
        try:
            await conn.wait_connected(5)
        finally:
            await conn.close()
    assert "> GET /raw?token=*** HTTP/1.1" in caplog.messages
    assert not any("SECRET123" in record.getMessage() for record in caplog.records)


async def test_close_ends_the_loop_even_when_the_connect_attempt_swallows_the_cancel(monkeypatch):
    """Python 3.11's `asyncio.wait_for` (the handshake's timeout) can turn a cancel that lands as
    the connect attempt fails into that failure: close() must still end the connection's task,
    not wait while it reconnects for ever (a test once hung 300 s on this)."""
    attempts = []

    async def connect_that_swallows_the_first_cancel(*args, **kwargs):
        attempts.append(1)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if len(attempts) > 1:
                raise
            raise ConnectionRefusedError("refused as the cancel came") from None

    monkeypatch.setattr("nbexec.feeds.connection.open_websocket", connect_that_swallows_the_first_cancel)
    conn = connection("ws://127.0.0.1:9/x", ReconnectPolicy(base_s=0.01, cap_s=0.01))
    conn.start()
    await wait_until(lambda: attempts, timeout=5, what="a connect attempt")
    closing = asyncio.ensure_future(conn.close())
    await asyncio.wait({closing}, timeout=5)
    assert closing.done(), "close() is still waiting for a loop that reconnects"
    assert len(attempts) == 1 and feed_tasks() == []
