"""Real WebSocket servers on loopback for the socket tests.

`aiohttp_server`: a standard peer (aiohttp's server side), for pings, pongs and close
handshakes as a well-behaved server does them. `raw_server`: asyncio streams that answer the
handshake and then write whatever frames a test scripts (fragments, a masked frame, a message
split across reads), and read the client's frames as they are on the wire. The framing here
is written out by hand, independent of the client's library, so the two check each other.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN = 0x80

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def aiohttp_server(
    handler: Callable[[web.WebSocketResponse], Awaitable[None]], tls: ssl.SSLContext | None = None, **ws_options
) -> AsyncIterator[str]:
    """Serve `handler(ws)` at ws://127.0.0.1:PORT/ws (wss:// with `tls`); yields that URL."""

    async def endpoint(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, **ws_options)
        await ws.prepare(request)
        await handler(ws)
        return ws

    app = web.Application()
    app.router.add_get("/ws", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/ws"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(
    script: Script, answer: Callable[[str], bytes] | None = None, requests: list[str] | None = None
) -> AsyncIterator[str]:
    """Answer each handshake (with `answer(key)` if given), then run `script(reader, writer)`;
    each handshake request's head goes to `requests`."""
    requests = requests if requests is not None else []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            requests.append(head)
            key = re.search(r"Sec-WebSocket-Key: (\S+)", head).group(1)
            writer.write(answer(key) if answer else switching(key))
            await script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/raw?token=t"
    finally:
        server.close()
        await server.wait_closed()


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept answering `key` (RFC 6455 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode("ascii")


def switching(key: str, extra: str = "") -> bytes:
    """A 101 accepting `key`; `extra` is more header lines, each ending in CRLF."""
    return (
        f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n"
    ).encode()


def mask(payload: bytes, key: bytes) -> bytes:
    """`payload` XOR the 4-byte `key` repeated (RFC 6455 5.3)."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code(payload: bytes) -> int:
    """The status code a close frame's payload carries."""
    return int.from_bytes(payload[:2], "big")


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked_with: bytes | None = None) -> bytes:
    """A frame as a server writes it (unmasked unless `masked_with`)."""
    n = len(payload)
    length = (
        bytes([n])
        if n < 126
        else bytes([126]) + n.to_bytes(2, "big")
        if n < 65536
        else bytes([127]) + n.to_bytes(8, "big")
    )
    if masked_with is not None:
        return (
            bytes([(FIN if fin else 0) | opcode, length[0] | 0x80])
            + length[1:]
            + masked_with
            + mask(payload, masked_with)
        )
    return bytes([(FIN if fin else 0) | opcode]) + length + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes | None]:
    """One client frame: (first byte, unmasked payload, masking key or None)."""
    head, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4) if second & 0x80 else None
    payload = await reader.readexactly(n)
    return head, mask(payload, key) if key else payload, key
