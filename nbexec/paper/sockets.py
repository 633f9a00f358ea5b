"""WebSocket plumbing both front ends' sockets share: serving a connection, delivering updates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from .faults import Faults


class UpdateDelivery:
    """Sends one connection's order updates with the seeded update faults applied: delayed,
    duplicated, or held back and sent after the next one (reordered). Both front ends' order
    update sockets deliver through it."""

    def __init__(self, ws: web.WebSocketResponse, faults: Faults) -> None:
        self.ws, self.faults = ws, faults
        self._held: list[str] = []

    async def deliver(self, text: str) -> None:
        delay, dup, hold = self.faults.update()
        if hold and not self._held:
            self._held.append(text)
            return
        for t in [text] * (2 if dup else 1) + self._held:
            if delay:
                asyncio.get_running_loop().create_task(self._send(t, delay))
            else:
                await self._send(t, 0)
        self._held.clear()

    async def _send(self, text: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if not self.ws.closed:
            await self.ws.send_str(text)


async def serve_socket(
    ws: web.WebSocketResponse,
    closing: asyncio.Event,
    tasks: list[asyncio.Task],
    on_text: Callable[[str], Awaitable[bool]],
) -> None:
    """Read a client's messages until the client, one of the connection's background `tasks`
    or the exchange (`closing`) ends it; `on_text` returns True to end it. Binary frames from
    the client are ignored (Dhan's SDK sends one on disconnect). Cancels the tasks and closes
    the socket on the way out. Both front ends' sockets are served by it."""
    closed = asyncio.ensure_future(closing.wait())
    try:
        while True:
            receive = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait({receive, closed, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            msg = receive.result()
            if msg.type == WSMsgType.TEXT:
                if await on_text(msg.data):
                    break
            elif msg.type != WSMsgType.BINARY:
                break
    except (ConnectionError, RuntimeError):
        pass  # the peer went away mid-message
    finally:
        for t in (*tasks, closed):
            t.cancel()
        await asyncio.gather(*tasks, closed, return_exceptions=True)
        await ws.close()
