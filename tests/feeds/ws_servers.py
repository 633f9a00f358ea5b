"""Real WebSocket servers on loopback for the socket tests.

`aiohttp_server`: a standard peer (aiohttp's server side), for pings, pongs and close
handshakes as a well-behaved server does them. `raw_server`: asyncio streams that answer the
handshake and then write whatever frames a test scripts (fragments, a masked frame, a message
split across reads), and read the client's frames as they are on the wire.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from nbexec.feeds.wire import FIN, accept_key, mask

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def aiohttp_server(handler: Callable[[web.WebSocketResponse], Awaitable[None]],
                         tls: ssl.SSLContext | None = None, **ws_options) -> AsyncIterator[str]:
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
async def raw_server(script: Script, answer: Callable[[str], bytes] | None = None) -> AsyncIterator[str]:
    """Answer each handshake (with `answer(key)` if given), then run `script(reader, writer)`."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
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


def switching(key: str) -> bytes:
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked_with: bytes | None = None) -> bytes:
    """A frame as a server writes it (unmasked unless `masked_with`)."""
    n = len(payload)
    length = (bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536
              else bytes([127]) + n.to_bytes(8, "big"))
    if masked_with is not None:
        return (bytes([(FIN if fin else 0) | opcode, length[0] | 0x80]) + length[1:] + masked_with
                + mask(payload, masked_with))
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
