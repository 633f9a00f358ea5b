"""Kite ticker WebSocket of the paper exchange (docs/protocols/kite.md, The ticker WebSocket),
at `/kite/ws`.

`TickerSession` is the sans-I/O part of one connection: which token is subscribed in which
mode, updated from the client's JSON text messages. The handler moves bytes: after every
market step it sends ONE binary frame with a packet per subscribed token (built by `ticks`;
each (token, mode) packet is encoded once per quote change for all connections), a 1-byte
heartbeat when idle, and order updates as `{"type":"order"}` text.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from aiohttp import web

from ..exchange import EXCHANGE, Exchange
from ..matching import INTERIM, Event
from ..services import PaperAccount
from ..sockets import UpdateDelivery, serve_socket
from . import format as fmt
from .ticks import HEARTBEAT, encode_message, encode_packet

PATH = "/kite/ws"
MAX_TOKENS = 3000
MODES = ("ltp", "quote", "full")
_conn_ids = itertools.count(1)


class TickerSession:
    """Subscriptions of one ticker connection. `handle` returns an error text or None."""

    def __init__(self, known_tokens: set[int]) -> None:
        self.known = known_tokens
        self.modes: dict[int, str] = {}
        self.tokens: tuple[int, ...] = ()  # subscribed tokens, in subscription order
        self.signature: tuple = ()  # (token, mode) pairs: equal -> same frame

    def handle(self, text: str) -> str | None:
        problem = self._apply(text)
        self.tokens = tuple(self.modes)
        self.signature = tuple(self.modes.items())
        return problem

    def _apply(self, text: str) -> str | None:
        try:
            msg = json.loads(text)
            action, value = msg["a"], msg.get("v")
        except (ValueError, KeyError, TypeError):
            return f"Invalid message: {text[:100]}"
        if action == "subscribe":
            for token in value or ():
                if len(self.modes) >= MAX_TOKENS:
                    return f"Subscription limit of {MAX_TOKENS} instruments reached"
                if isinstance(token, int) and token in self.known:
                    self.modes.setdefault(token, "quote")  # new tokens default to quote mode
        elif action == "unsubscribe":
            for token in value or ():
                self.modes.pop(token, None)
        elif action == "mode":
            try:
                mode, tokens = value
            except (TypeError, ValueError):
                return "Invalid mode message"
            if mode not in MODES:
                return f"Invalid mode {mode!r}"
            for token in tokens:
                if token in self.modes:
                    self.modes[token] = mode
        else:
            return f"Unknown action {action!r}"
        return None


class PacketCache:
    """Encoded packets and frames shared by all connections: encode once, send many.

    A packet is keyed by (token, mode) and valid while the book hands out the same (cached,
    immutable) `Quote`; a whole frame is keyed by (step, subscription signature), so feeds
    subscribed alike get the very same bytes, and a feed one step behind still hits.
    """

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange
        self.packets: dict[tuple[int, str], tuple[object, bytes]] = {}
        self.frames: dict[tuple[int, tuple], bytes] = {}
        self.newest = 0
        books = exchange.engine.books
        self.books = {i.kite_token: books[i.key] for i in exchange.engine.instruments.values()}

    def packet(self, token: int, mode: str, now: float) -> bytes:
        quote = self.books[token].quote(now)
        hit = self.packets.get((token, mode))
        if hit is not None and hit[0] is quote:
            return hit[1]
        p = encode_packet(token, quote, mode)
        self.packets[(token, mode)] = (quote, p)
        return p

    def frame(self, seq: int, session: TickerSession) -> bytes:
        key = (seq, session.signature)
        frame = self.frames.get(key)
        if frame is None:
            if seq > self.newest:  # forget frames more than one step old
                self.newest = seq
                self.frames = {k: v for k, v in self.frames.items() if k[0] >= seq - 1}
            now, packet, modes = self.x.engine.clock(), self.packet, session.modes
            frame = self.frames[key] = encode_message([packet(t, modes[t], now) for t in session.tokens])
        return frame


PACKET_CACHE = web.AppKey("kite_packet_cache", PacketCache)


async def _send_ticks(
    ws: web.WebSocketResponse, x: Exchange, session: TickerSession, cache: PacketCache, conn: int
) -> None:
    q = x.hub.subscribe_ticks()
    loop = asyncio.get_running_loop()
    last_sent = loop.time()

    async def heartbeats() -> None:
        """Idle for `heartbeat_s` (nothing subscribed, or no steps): send a 1-byte frame."""
        while not ws.closed:
            await asyncio.sleep(max(0.01, last_sent + x.heartbeat_s - loop.time()))
            if loop.time() - last_sent >= x.heartbeat_s and q.empty():
                q.put_nowait(None)  # wakes the sender, which sends the heartbeat

    beat = asyncio.create_task(heartbeats())
    try:
        while not ws.closed:
            item = await q.get()  # a plain get: wait_for would add a task hop per step
            if item is None or not session.tokens:
                if loop.time() - last_sent >= x.heartbeat_s:  # idle: keep the client's watchdog fed
                    await ws.send_bytes(HEARTBEAT)
                    last_sent = loop.time()
                continue
            seq = item[0]
            tokens = session.tokens
            frame = cache.frame(seq, session)
            if x.faults.ws_drop():
                await ws.close()
                return
            send_ns = time.monotonic_ns()
            await ws.send_bytes(frame)
            last_sent = loop.time()
            x.recorder.tick_frame(send_ns, "kite", conn, len(frame), tokens)
    except (ConnectionError, RuntimeError):
        pass  # the peer went away mid-send
    finally:
        beat.cancel()
        x.hub.unsubscribe_ticks(q)


async def _send_updates(ws: web.WebSocketResponse, x: Exchange, account: PaperAccount) -> None:
    """Forward the account's order events; seeded delay / duplicate / reorder faults apply."""
    account_id = account.id
    q = x.hub.subscribe_orders(account_id)
    delivery = UpdateDelivery(ws, x.faults)
    try:
        while not ws.closed:
            event: Event = await q.get()
            if event.kind != "order" or event.order.status in INTERIM:
                continue
            await delivery.deliver(
                json.dumps(
                    {
                        "type": "order",
                        "data": fmt.order_update_dict(event.order, account.kite_api_key, account.kite_api_secret),
                    }
                )
            )
    except (ConnectionError, RuntimeError):
        pass
    finally:
        x.hub.unsubscribe_orders(account_id, q)


async def ticker(request: web.Request) -> web.StreamResponse:
    x = request.app[EXCHANGE]
    account = x.account_by_kite(request.query.get("api_key", ""), request.query.get("access_token", ""))
    if account is None:  # the real server refuses the handshake
        return web.Response(status=403, text="Invalid api_key or access_token", content_type="text/plain")
    # answers pings, never sends unsolicited pongs; no permessage-deflate (CPU per tick)
    ws = web.WebSocketResponse(autoping=True, compress=False)
    await ws.prepare(request)
    conn = next(_conn_ids)
    session = TickerSession(set(x.engine.by_kite_token))
    cache = request.app[PACKET_CACHE]
    tasks = [
        asyncio.create_task(_send_ticks(ws, x, session, cache, conn)),
        asyncio.create_task(_send_updates(ws, x, account)),
    ]

    async def on_text(data: str) -> bool:
        problem = session.handle(data)
        if problem:
            await ws.send_str(json.dumps({"type": "error", "data": problem}))
        return False

    await serve_socket(ws, x.closing, tasks, on_text)
    return ws


def setup(app: web.Application, exchange: Exchange) -> None:
    """Register the ticker WebSocket at `PATH`, with the packet cache its connections share."""
    app[PACKET_CACHE] = PacketCache(exchange)
    app.router.add_get(PATH, ticker)
