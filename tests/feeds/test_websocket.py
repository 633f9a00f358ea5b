"""The client WebSocket over real loopback sockets: handshake, delivery, pings, closing, violations."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time

import pytest
from aiohttp import WSMsgType, web
from hypothesis import given, settings
from hypothesis import strategies as st

from nbexec.core.errors import ConfigError, NbexecError
from nbexec.feeds.websocket import HandshakeRefused, ProtocolViolation, WebSocket, open_websocket, parse_url
from tests.fixtures.examples import examples
from tests.fixtures.tls import self_signed_cert

from .helpers import wait_until
from .ws_servers import (
    FIN,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    aiohttp_server,
    close_code,
    frame,
    raw_server,
    read_frame,
    switching,
)

LOG = logging.getLogger("tests.feeds.websocket")


class Inbox:
    """Collects what the socket delivers; `fail_on` makes the callback raise on that message."""

    def __init__(self, fail_on: object = None, close_on_error: bool = False) -> None:
        self.messages: list[str | bytes] = []
        self.stamps: list[int] = []
        self.errors: list[Exception] = []
        self.fail_on, self.close_on_error = fail_on, close_on_error

    def on_message(self, message: str | bytes, received_ns: int) -> None:
        if message == self.fail_on:
            raise RuntimeError("strategy bug")
        self.messages.append(message)
        self.stamps.append(received_ns)

    def on_error(self, exc: Exception) -> bool:
        self.errors.append(exc)
        return self.close_on_error


async def connect(url: str, inbox: Inbox, **kw) -> WebSocket:
    kw.setdefault("open_timeout_s", 5.0)
    # The raw test servers never answer a close frame: a short bound on the close handshake
    # keeps each test from waiting out the default second (the abort after it is the same).
    kw.setdefault("close_timeout_s", 0.2)
    return await open_websocket(url, inbox.on_message, inbox.on_error, logger=LOG, **kw)


async def test_messages_arrive_in_order_text_as_str_binary_as_bytes_stamped_at_the_read():
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("a")
        await ws.send_bytes(b"\x01\x02")
        await ws.send_str("ünï")
        await ws.receive()

    inbox = Inbox()
    before = time.time_ns()
    async with aiohttp_server(handler) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: len(inbox.messages) == 3)
        await ws.close()
    assert inbox.messages == ["a", b"\x01\x02", "ünï"]
    assert before <= inbox.stamps[0] <= inbox.stamps[-1] <= time.time_ns()


async def test_client_frames_are_masked_each_with_a_fresh_key():
    seen: list[tuple[int, bytes, bytes | None]] = []

    async def script(reader, writer) -> None:
        seen.append(await read_frame(reader))
        seen.append(await read_frame(reader))

    async with raw_server(script) as url:
        ws = await connect(url, Inbox())
        assert ws.send('{"a":"subscribe","v":[408065]}') and ws.send(b"\x00\x01")
        await wait_until(lambda: len(seen) == 2)
        await ws.close()
    (head1, text, key1), (head2, data, key2) = seen
    assert (head1, text) == (FIN | OP_TEXT, b'{"a":"subscribe","v":[408065]}')
    assert (head2, data) == (FIN | OP_BINARY, b"\x00\x01")
    assert key1 is not None and key2 is not None and key1 != key2


async def test_the_request_carries_the_target_and_query_the_given_headers_and_version_13():
    requests: list[str] = []

    async def script(reader, writer) -> None:
        await reader.read()

    async with raw_server(script, requests=requests) as url:
        ws = await connect(url, Inbox(), headers={"X-Kite-Version": "3"})
        await ws.close()
    line, *headers = requests[0].rstrip("\r\n").split("\r\n")
    port = url.split(":")[2].split("/")[0]
    assert line == "GET /raw?token=t HTTP/1.1"
    assert {
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "X-Kite-Version: 3",
        "User-Agent: nbexec",
    } <= set(headers)
    assert not any(h.lower().startswith(("sec-websocket-extensions", "sec-websocket-protocol")) for h in headers)


async def test_client_frames_carry_the_length_in_7_16_or_64_bits():
    sizes = (125, 126, 65535, 65536)
    seen: list[tuple[int, bytes, bytes | None]] = []

    async def script(reader, writer) -> None:
        for _ in sizes:
            seen.append(await read_frame(reader))

    payloads = [bytes(range(256)) * (n // 256) + bytes(n % 256) for n in sizes]
    async with raw_server(script) as url:
        ws = await connect(url, Inbox())
        for payload in payloads:
            assert ws.send(payload)
        await wait_until(lambda: len(seen) == len(sizes))
        await ws.close()
    assert [(head, data) for head, data, _ in seen] == [(FIN | OP_BINARY, p) for p in payloads]


async def test_a_fragmented_message_is_delivered_whole_and_a_ping_between_fragments_is_answered():
    pongs: list[tuple[int, bytes, bytes | None]] = []

    async def script(reader, writer) -> None:
        writer.write(
            frame(OP_TEXT, b"hel", fin=False)
            + frame(OP_PING, b"beat")
            + frame(OP_CONTINUATION, b"lo ", fin=False)
            + frame(OP_CONTINUATION, b"world")
        )
        pongs.append(await read_frame(reader))
        await reader.read()

    inbox = Inbox()
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: inbox.messages and pongs)
        await ws.close()
    assert inbox.messages == ["hello world"]
    assert pongs[0][:2] == (FIN | OP_PONG, b"beat")


async def two_messages(script) -> list:
    """The first two messages a raw server running `script` sends."""
    inbox = Inbox()
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: len(inbox.messages) == 2)
        await ws.close()
    return inbox.messages


async def test_a_message_split_across_many_reads_arrives_whole_and_in_order():
    big = bytes(range(256)) * 800  # 200 KB, far more than one read

    async def script(reader, writer) -> None:
        data = frame(OP_BINARY, big) + frame(OP_BINARY, b"after")
        for i in range(0, len(data), 7_000):
            writer.write(data[i : i + 7_000])
            await writer.drain()
            await asyncio.sleep(0.001)
        await reader.read()

    assert await two_messages(script) == [big, b"after"]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
async def test_a_server_frame_is_delivered_whatever_its_length(size):
    async def script(reader, writer) -> None:
        writer.write(frame(OP_BINARY, b"x" * size) + frame(OP_BINARY, b"next"))
        await reader.read()

    assert await two_messages(script) == [b"x" * size, b"next"]


async def test_server_pings_get_pongs_with_the_same_payload():
    pong = asyncio.get_running_loop().create_future()

    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.ping(b"are you there")
        msg = await ws.receive()
        pong.set_result((msg.type, msg.data))
        await ws.receive()

    async with aiohttp_server(handler, autoping=False) as url:
        ws = await connect(url, Inbox())
        assert await asyncio.wait_for(pong, 5) == (WSMsgType.PONG, b"are you there")
        await ws.close()


async def test_a_server_that_never_answers_the_clients_pings_is_dropped():
    pings: list[int] = []

    async def script(reader, writer) -> None:
        while True:
            head, _, _ = await read_frame(reader)
            pings.append(head)

    async with raw_server(script) as url:
        ws = await connect(url, Inbox(), ping_interval_s=0.05, ping_timeout_s=0.1)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert pings and pings[0] == FIN | OP_PING


async def test_a_server_that_answers_pings_stays_connected():
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.receive()

    async with aiohttp_server(handler) as url:  # autoping: answers every ping
        ws = await connect(url, Inbox(), ping_interval_s=0.02, ping_timeout_s=0.1)
        await asyncio.sleep(0.5)
        assert not ws.closed.done()
        await ws.close()


async def test_closing_is_a_handshake_the_server_sees_with_code_1000():
    received = asyncio.get_running_loop().create_future()

    async def handler(ws: web.WebSocketResponse) -> None:
        msg = await ws.receive()
        received.set_result((msg.type, msg.data))

    async with aiohttp_server(handler) as url:
        ws = await connect(url, Inbox())
        await asyncio.wait_for(ws.close(), 5)
        assert await asyncio.wait_for(received, 5) == (WSMsgType.CLOSE, 1000)
    assert ws.closed.done() and not ws.send("late")


async def test_a_close_from_the_server_is_answered_and_its_code_kept():
    answered = asyncio.get_running_loop().create_future()

    async def handler(ws: web.WebSocketResponse) -> None:
        answered.set_result(await ws.close(code=4001, message=b"maintenance"))

    async with aiohttp_server(handler) as url:
        ws = await connect(url, Inbox())
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert await asyncio.wait_for(answered, 5) is True  # aiohttp got our close frame
    assert ws.close_code == 4001


async def closed_after(data: bytes) -> tuple[tuple[int, bytes, bytes | None], list]:
    """A raw server writes `data`; the close frame our side sends back, and what it delivered."""
    closes: list[tuple[int, bytes, bytes | None]] = []

    async def script(reader, writer) -> None:
        writer.write(data)
        closes.append(await read_frame(reader))

    inbox = Inbox()
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await asyncio.wait_for(ws.wait_closed(), 5)
    return closes[0], inbox.messages


async def test_a_masked_server_frame_closes_the_socket_with_1002():
    close, messages = await closed_after(frame(OP_BINARY, b"tick", masked_with=b"abcd"))
    assert close[0] == FIN | OP_CLOSE and close_code(close[1]) == 1002
    assert messages == []


async def test_a_text_message_that_is_not_utf8_closes_the_socket_with_1007():
    close, _ = await closed_after(frame(OP_TEXT, b"\xff\xfe"))
    assert close_code(close[1]) == 1007


@pytest.mark.parametrize(
    "violation",
    [
        bytes([FIN | 0x40 | OP_BINARY, 1, 0]),  # a reserved bit
        bytes([FIN | 0x3, 0]),  # an unknown opcode
        frame(OP_PING, b"beat", fin=False),  # a fragmented control frame
        frame(OP_PING, b"x" * 126),  # a control frame over 125 bytes
        frame(OP_CONTINUATION, b"orphan"),  # nothing to continue
        frame(OP_TEXT, b"hel", fin=False) + frame(OP_TEXT, b"lo"),  # a new message inside one
        frame(OP_CLOSE, b"\x03"),  # a close payload of one byte
    ],
    ids=[
        "reserved-bit",
        "unknown-opcode",
        "fragmented-ping",
        "long-ping",
        "orphan-continuation",
        "message-inside-fragments",
        "one-byte-close",
    ],
)
async def test_a_frame_rfc_6455_forbids_closes_the_socket_with_1002_after_the_messages_before_it(violation):
    close, messages = await closed_after(frame(OP_TEXT, b"before") + violation + frame(OP_TEXT, b"after"))
    assert close[0] == FIN | OP_CLOSE and close_code(close[1]) == 1002
    assert messages == ["before"]


async def test_a_callback_error_goes_to_on_error_and_delivery_goes_on():
    async def script(reader, writer) -> None:
        writer.write(frame(OP_TEXT, b"one") + frame(OP_TEXT, b"bad") + frame(OP_TEXT, b"three"))
        await reader.read()

    inbox = Inbox(fail_on="bad")
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: len(inbox.messages) == 2)
        await ws.close()
    assert inbox.messages == ["one", "three"] and isinstance(inbox.errors[0], RuntimeError)


async def test_an_error_that_asks_to_close_stops_delivery_and_closes_with_1000():
    closes: list[tuple[int, bytes, bytes | None]] = []

    async def script(reader, writer) -> None:
        writer.write(frame(OP_TEXT, b"one") + frame(OP_TEXT, b"bad") + frame(OP_TEXT, b"three"))
        closes.append(await read_frame(reader))
        writer.write(frame(OP_CLOSE, closes[0][1]))

    inbox = Inbox(fail_on="bad", close_on_error=True)
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert inbox.messages == ["one"]
    assert close_code(closes[0][1]) == 1000


async def test_a_refused_handshake_raises_with_the_status():
    def forbidden(key: str) -> bytes:
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied"

    async def script(reader, writer) -> None:
        await reader.read()

    async with raw_server(script, answer=forbidden) as url:
        with pytest.raises(HandshakeRefused) as info:
            await connect(url, Inbox())
    assert info.value.status == 403


async def test_a_refusal_without_a_length_is_read_to_its_end_and_raised_with_the_status():
    async def script(reader, writer) -> None:
        writer.write(b"denied")  # the body runs until the server closes

    async with raw_server(script, answer=lambda key: b"HTTP/1.1 401 Unauthorized\r\n\r\n") as url:
        with pytest.raises(HandshakeRefused) as info:
            await connect(url, Inbox())
    assert info.value.status == 401 and isinstance(info.value, NbexecError)


async def test_a_101_in_pieces_is_read_and_the_frames_after_it_in_the_same_read_are_delivered():
    requests: list[str] = []

    async def script(reader, writer) -> None:
        key = re.search(r"Sec-WebSocket-Key: (\S+)", requests[0]).group(1)
        data = switching(key) + frame(OP_BINARY, b"first tick")
        for piece in (data[:10], data[10:40], data[40:]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        await reader.read()

    inbox = Inbox()
    async with raw_server(script, answer=lambda key: b"", requests=requests) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: inbox.messages)
        await ws.close()
    assert inbox.messages == [b"first tick"]


async def test_a_101_that_does_not_accept_our_key_is_refused():
    def wrong(key: str) -> bytes:
        return (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: bm90IHRoZSBrZXk=\r\n\r\n"
        )

    async def script(reader, writer) -> None:
        await reader.read()

    async with raw_server(script, answer=wrong) as url:
        with pytest.raises(ProtocolViolation, match="Accept"):
            await connect(url, Inbox())


async def test_a_101_choosing_an_extension_not_offered_is_refused():
    async def script(reader, writer) -> None:
        await reader.read()

    extension = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    async with raw_server(script, answer=lambda key: switching(key, extension)) as url:
        with pytest.raises(ProtocolViolation, match="extension"):
            await connect(url, Inbox())


async def test_a_server_that_hangs_up_during_the_handshake_is_a_connection_error():
    async def script(reader, writer) -> None:
        return None  # closes without answering

    async with raw_server(script, answer=lambda key: b"") as url:
        with pytest.raises(ConnectionError, match="during the handshake"):
            await connect(url, Inbox())


async def test_a_server_that_never_answers_the_handshake_times_the_open_out():
    async def script(reader, writer) -> None:
        await reader.read()

    async with raw_server(script, answer=lambda key: b"") as url:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await connect(url, Inbox(), open_timeout_s=0.2)
    assert time.monotonic() - started < 2


async def test_wss_urls_go_over_tls_verified_against_the_default_trust_store(tmp_path, monkeypatch):
    cert_file, key_file = self_signed_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)

    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str(await ws.receive_str())
        await ws.receive()

    inbox = Inbox()
    async with aiohttp_server(handler, tls=server_tls) as url:
        with pytest.raises(ssl.SSLCertVerificationError):  # not trusted yet
            await connect(url, inbox)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # what a user with a private CA sets
        ws = await connect(url, inbox)
        ws.send("over tls")
        await wait_until(lambda: inbox.messages == ["over tls"])
        await ws.close()


def test_a_url_that_is_not_ws_is_a_config_error_that_does_not_quote_it():
    with pytest.raises(ConfigError) as info:
        parse_url("https://h/feed?token=SECRET")
    assert "SECRET" not in str(info.value) and "https" in str(info.value)


def test_a_malformed_port_is_a_config_error_that_does_not_quote_the_url():
    with pytest.raises(ConfigError) as info:
        parse_url("wss://h:port/feed?token=SECRET")
    assert "SECRET" not in str(info.value) and "port" in str(info.value)


def test_a_url_gives_the_host_the_scheme_default_port_and_the_target_with_its_query():
    where = parse_url("wss://api-feed.dhan.co?version=2&token=t")
    assert (where.secure, where.host, where.port, where.resource_name) == (
        True,
        "api-feed.dhan.co",
        443,
        "/?version=2&token=t",
    )


_message = st.one_of(
    st.tuples(st.just("binary"), st.binary(max_size=300)),
    st.tuples(st.just("binary"), st.sampled_from([b"x" * 125, b"y" * 126, b"z" * 65_535, b"w" * 65_536])),
    st.tuples(st.just("text"), st.text(max_size=50)),
    st.tuples(st.just("fragments"), st.lists(st.binary(max_size=40), min_size=2, max_size=3), st.booleans()),
    st.tuples(st.just("ping"), st.binary(max_size=10)),
)


@settings(max_examples=examples(15), deadline=None)  # each example is a real connection
@given(messages=st.lists(_message, max_size=12), cuts=st.lists(st.integers(1, 70_000), max_size=12))
async def test_any_mix_of_frames_cut_anywhere_arrives_as_the_messages_sent(messages, cuts):
    """Lone binary frames are cut out of the stream by the socket itself, everything else goes
    through the protocol: whatever the mix and wherever the reads end, the messages (and the
    pongs) are those sent, in order."""
    stream, expected, pings = b"", [], []
    for kind, payload, *more in messages:
        if kind == "binary":
            stream, expected = stream + frame(OP_BINARY, payload), expected + [payload]
        elif kind == "text":
            stream, expected = stream + frame(OP_TEXT, payload.encode()), expected + [payload]
        elif kind == "ping":
            stream, pings = stream + frame(OP_PING, payload), pings + [payload]
        else:  # a fragmented binary message, maybe with a ping between its first two fragments
            parts, ping_between = payload, more[0]
            stream += frame(OP_BINARY, parts[0], fin=False)
            if ping_between:
                stream, pings = stream + frame(OP_PING, b"mid"), pings + [b"mid"]
            for i, part in enumerate(parts[1:], 2):
                stream += frame(OP_CONTINUATION, part, fin=i == len(parts))
            expected.append(b"".join(parts))
    stream += frame(OP_BINARY, b"END")
    ends = sorted({min(c, len(stream)) for c in cuts} | {len(stream)})
    pongs: list[bytes] = []

    async def script(reader, writer) -> None:
        start = 0
        for end in ends:
            writer.write(stream[start:end])
            await writer.drain()
            await asyncio.sleep(0.0005)  # a read of its own, most of the time
            start = end
        for _ in pings:
            pongs.append((await read_frame(reader))[1])
        await reader.read()

    inbox = Inbox()
    async with raw_server(script) as url:
        ws = await connect(url, inbox)
        await wait_until(lambda: inbox.messages[-1:] == [b"END"] and len(pongs) == len(pings))
        await ws.close()
    assert inbox.messages == expected + [b"END"] and inbox.errors == []
    assert pongs == pings
