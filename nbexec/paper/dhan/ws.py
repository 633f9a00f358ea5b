"""Dhan v2 WebSockets of the paper exchange: the live market feed and the live order updates.

Sans-I/O cores first (feed request parsing, `FeedSession`, the order-update login and
`order_alert` rendering, `AlertFilter`); then the aiohttp handlers, which only move bytes
between those cores, the exchange's pub-sub (`Hub`) and the socket. Packets are built by
`ticks`, the exchange's own encoders (the Dhan adapter's decoder is checked against them).

Feed (`/dhan/feed?version=2&token=..&clientId=..&authType=2`): JSON requests in, binary packets
out, ONE packet per WS message (the SDK parses only the first packet of a message). On
subscribe: a prev-close packet, then the current packet in the subscribed mode; after every
market step: a packet per subscribed instrument whose quote changed. Auth failures are answered
with a disconnect packet (code 50) and a close. The server sends no pings of its own: the SDK's
websockets client only answers pings while the caller sits in `get_data()`.

Order updates (`/dhan/orders`): the client logs in with MsgCode 42, then receives
`{"Type":"order_alert","Data":{...}}` for each change of its orders that Dhan would show.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import WSMsgType, web

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import DHAN_SEGMENT_ENUM

from ..exchange import EXCHANGE, Exchange
from ..sockets import UpdateDelivery, serve_socket
from .ticks import encode_disconnect, encode_full, encode_prev_close, encode_quote, encode_ticker
from .wire import ORDER_TYPE_OUT, PRODUCT_OUT, correlation_of, ist_time, order_status

log = logging.getLogger(__name__)

FEED_PATH = "/dhan/feed"
ORDERS_PATH = "/dhan/orders"

MAX_INSTRUMENTS_PER_CONNECTION = 5000
MAX_CONNECTIONS_PER_CLIENT = 5
LOGIN_TIMEOUT_S = 30.0
AUTH_LINGER_S = 2.0

# Disconnect reasons: Dhan's Data API codes (docs/protocols/dhan.md, Disconnect packets and
# keep-alive).
TOO_MANY_INSTRUMENTS = 804
TOO_MANY_CONNECTIONS = 805
AUTH_FAILED = 808
TOKEN_INVALID = 809
CLIENT_ID_INVALID = 810
INVALID_REQUEST = 814

Key = tuple[int, int]  # (segment enum, security id)
# Live feed sockets per Dhan client id (for the 5-connection limit); logged-in order-update
# sockets per account id.
FEED_CONNECTIONS = web.AppKey("dhan_feed_connections", dict)
ORDER_CLIENTS = web.AppKey("dhan_order_clients", dict)


# -- market feed WS requests (docs/protocols/dhan.md, Connection and requests) -----------------
FEED_MODES = {15: "ticker", 17: "quote", 21: "full"}
FEED_UNSUBSCRIBE = {16: "ticker", 18: "quote", 22: "full"}
FEED_DISCONNECT = 12
FEED_MAX_PER_MESSAGE = 100


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """One JSON message from a feed client. `instruments` holds (segment enum, security id)."""

    code: int
    action: str  # "subscribe" | "unsubscribe" | "disconnect"
    mode: str  # "ticker" | "quote" | "full" | ""
    instruments: tuple[tuple[int, int], ...] = ()


def parse_feed_request(message: Any) -> FeedRequest:
    """Parse a decoded JSON feed message; raises `ValidationError` naming the bad field."""
    if not isinstance(message, dict):
        raise ValidationError("message", type(message).__name__, "must be a JSON object")
    code = message.get("RequestCode")
    if isinstance(code, bool) or not isinstance(code, int):
        raise ValidationError("RequestCode", code, "must be an integer")
    if code == FEED_DISCONNECT:
        return FeedRequest(code, "disconnect", "")
    if code in FEED_MODES:
        action, mode = "subscribe", FEED_MODES[code]
    elif code in FEED_UNSUBSCRIBE:
        action, mode = "unsubscribe", FEED_UNSUBSCRIBE[code]
    else:
        raise ValidationError("RequestCode", code, f"must be one of 12, {sorted({*FEED_MODES, *FEED_UNSUBSCRIBE})}")
    items = message.get("InstrumentList")
    if not isinstance(items, list):
        raise ValidationError("InstrumentList", items, "must be a list")
    if len(items) > FEED_MAX_PER_MESSAGE:
        raise ValidationError("InstrumentList", len(items), f"at most {FEED_MAX_PER_MESSAGE} instruments per message")
    count = message.get("InstrumentCount", len(items))
    if count != len(items):
        raise ValidationError("InstrumentCount", count, f"does not match the {len(items)} instruments listed")
    out: list[tuple[int, int]] = []
    for item in items:
        segment = item.get("ExchangeSegment") if isinstance(item, dict) else None
        if segment not in DHAN_SEGMENT_ENUM:
            raise ValidationError("ExchangeSegment", segment, f"must be one of {sorted(DHAN_SEGMENT_ENUM)}")
        security_id = item.get("SecurityId")
        if isinstance(security_id, bool) or not str(security_id).strip().isdigit():
            raise ValidationError("SecurityId", security_id, "must be a string of digits")
        out.append((DHAN_SEGMENT_ENUM[segment], int(str(security_id).strip())))
    return FeedRequest(code, action, mode, tuple(out))


def parse_order_login(message: Any) -> tuple[str, str]:
    """`{"LoginReq":{"MsgCode":42,"ClientId":..,"Token":..},"UserType":"SELF"}` -> (client, token)."""
    login = message.get("LoginReq") if isinstance(message, dict) else None
    if not isinstance(login, dict):
        raise ValidationError("LoginReq", login, "must be an object")
    if login.get("MsgCode") != 42:
        raise ValidationError("MsgCode", login.get("MsgCode"), "must be 42 (login)")
    client, token = login.get("ClientId"), login.get("Token")
    if not isinstance(client, str) or not client:
        raise ValidationError("ClientId", client, "is required")
    if not isinstance(token, str) or not token:
        raise ValidationError("Token", "***", "is required")
    return client, token


@dataclass
class FeedSession:
    """Subscriptions of one feed connection: (segment enum, security id) -> mode.

    Subscribing an instrument again in another mode switches its mode (one packet kind per
    instrument); unsubscribing removes it whatever the mode.
    """

    limit: int = MAX_INSTRUMENTS_PER_CONNECTION
    modes: dict[Key, str] = field(default_factory=dict)

    def apply(self, request: FeedRequest) -> list[Key]:
        """Apply one request; returns the instruments whose subscription changed.

        Raises `ValidationError` (field "instruments") when the connection would exceed its
        instrument limit; nothing is applied then.
        """
        changed: list[Key] = []
        if request.action == "subscribe":
            new = {k for k in request.instruments if k not in self.modes}
            if len(self.modes) + len(new) > self.limit:
                raise ValidationError("instruments", len(self.modes) + len(new), f"at most {self.limit} per connection")
            for key in request.instruments:
                if self.modes.get(key) != request.mode:
                    self.modes[key] = request.mode
                    changed.append(key)
        elif request.action == "unsubscribe":
            for key in request.instruments:
                if self.modes.pop(key, None) is not None:
                    changed.append(key)
        return changed


def encode_mode(mode: str, key: Key, quote: Any) -> bytes:
    """The packet of `mode` for one instrument. Indices get quote packets for full mode:
    they have no depth, and the SDK does not parse code-1 index packets."""
    segment, security_id = key
    if mode == "ticker":
        return encode_ticker(segment, security_id, quote)
    if mode == "quote" or segment == DHAN_SEGMENT_ENUM["IDX_I"]:
        return encode_quote(segment, security_id, quote)
    return encode_full(segment, security_id, quote)


class PacketCache:
    """Encode once, send to every connection: packets keyed by (instrument, mode), valid while
    the engine hands out the same `Quote` object (it caches one until the book changes)."""

    def __init__(self) -> None:
        self._packets: dict[tuple[Key, str], tuple[Any, bytes]] = {}

    def packet(self, mode: str, key: Key, quote: Any) -> bytes:
        hit = self._packets.get((key, mode))
        if hit is not None and hit[0] is quote:
            return hit[1]
        data = encode_mode(mode, key, quote)
        self._packets[(key, mode)] = (quote, data)
        return data


PACKET_CACHE = web.AppKey("dhan_packet_cache", PacketCache)

# -- order updates: rendering (docs/protocols/dhan.md, The live order-update WebSocket) --------
_PRODUCT_CODE = {"CNC": "C", "MIS": "I", "NRML": "M"}
_ORDER_TYPE_CODE = {"LIMIT": "LMT", "MARKET": "MKT", "SL": "SL", "SL-M": "SLM"}
_SEGMENT_CODE = {
    "NSE_EQ": ("NSE", "E"),
    "BSE_EQ": ("BSE", "E"),
    "NSE_FNO": ("NSE", "D"),
    "BSE_FNO": ("BSE", "D"),
    "NSE_CURRENCY": ("NSE", "C"),
    "BSE_CURRENCY": ("BSE", "C"),
    "MCX_COMM": ("MCX", "M"),
    "IDX_I": ("NSE", "I"),
}


def order_alert(order: Any, client_id: str, ref_ltp: float = 0.0) -> dict[str, Any]:
    """An engine order as Dhan's `order_alert` message (PascalCase, short codes)."""
    inst = order.instrument
    exchange, segment = _SEGMENT_CODE.get(inst.dhan_segment, ("NSE", "E"))
    placed, updated = ist_time(order.placed_at), ist_time(order.updated_at or order.placed_at)
    return {
        "Type": "order_alert",
        "Data": {
            "Exchange": exchange,
            "Segment": segment,
            "Source": "P",
            "SecurityId": str(inst.security_id),
            "ClientId": client_id,
            "ExchOrderNo": order.exchange_order_id or "",
            "OrderNo": order.order_id,
            "Product": _PRODUCT_CODE.get(order.product, order.product),
            "TxnType": "B" if order.side == "BUY" else "S",
            "OrderType": _ORDER_TYPE_CODE.get(order.order_type, order.order_type),
            "Validity": order.validity,
            "DiscQuantity": order.disclosed_quantity,
            "DiscQtyRem": order.disclosed_quantity,
            "RemainingQuantity": order.quantity - order.filled_quantity,
            "Quantity": order.quantity,
            "TradedQty": order.filled_quantity,
            "Price": order.price,
            "TriggerPrice": order.trigger_price,
            "TradedPrice": round(order.average_price, 4),
            "AvgTradedPrice": round(order.average_price, 4),
            "AlgoOrdNo": "",
            "OffMktFlag": "0",
            "OrderDateTime": placed,
            "ExchOrderTime": updated if order.exchange_order_id else "",
            "LastUpdatedTime": updated,
            "Remarks": "NA",
            "MktType": "NL",
            "ReasonDescription": order.status_message or "CONFIRMED",
            "LegNo": 1,
            "Instrument": "INDEX" if inst.dhan_segment == "IDX_I" else "EQUITY",
            "Symbol": inst.symbol,
            "ProductName": PRODUCT_OUT.get(order.product, order.product),
            "Status": order_status(order.status, order.filled_quantity),
            "LotSize": inst.lot_size,
            "StrikePrice": 0.0,
            "ExpiryDate": "",
            "OptType": "XX",
            "DisplayName": inst.name or inst.symbol,
            "Isin": "",
            "Series": "EQ",
            "GoodTillDaysDate": "",
            "RefLtp": ref_ltp,
            "TickSize": inst.tick_size,
            "AlgoId": "0",
            "Multiplier": 1,
            "CorrelationId": correlation_of(order),
            "OrderTypeName": ORDER_TYPE_OUT.get(order.order_type, order.order_type),
        },
    }


class AlertFilter:
    """Send an alert only when what Dhan shows changed (the engine's interim steps collapse:
    RECEIVED, VALIDATION_PENDING and OPEN_PENDING are all TRANSIT)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple] = {}

    def changed(self, order: Any) -> bool:
        view = (
            order_status(order.status, order.filled_quantity),
            order.filled_quantity,
            order.quantity,
            order.price,
            order.trigger_price,
            order.order_type,
            order.validity,
        )
        if self._last.get(order.order_id) == view:
            return False
        self._last[order.order_id] = view
        return True


# -- the asyncio shells -----------------------------------------------------------------------
_conn_ids = itertools.count(1)


class _Sender:
    """Serialises writes of one connection (subscribe replies and step packets interleave)."""

    def __init__(self, ws: web.WebSocketResponse, x: Exchange, conn: int) -> None:
        self.ws, self.x, self.conn = ws, x, conn
        self.lock = asyncio.Lock()

    async def packet(self, data: bytes, security_id: int) -> None:
        async with self.lock:
            send_ns = time.monotonic_ns()
            await self.ws.send_bytes(data)
        self.x.recorder.tick_frame(send_ns, "dhan", self.conn, len(data), (security_id,))


class _Feed:
    """One feed connection: its session, the instruments it knows and the last quote sent."""

    def __init__(self, x: Exchange, sender: _Sender, cache: PacketCache) -> None:
        self.x, self.sender, self.cache = x, sender, cache
        self.session = FeedSession()
        self.instruments = {(DHAN_SEGMENT_ENUM[seg], sid): inst for (seg, sid), inst in x.engine.by_security_id.items()}
        self.sent: dict[Key, Any] = {}

    async def handle_text(self, text: str) -> int | None:
        """Apply one client message; returns a disconnect reason to end the connection."""
        try:
            request = parse_feed_request(json.loads(text))
        except (ValueError, ValidationError) as exc:
            log.info("dhan feed %d: ignoring an invalid request: %s", self.sender.conn, exc)
            return None
        if request.action == "disconnect":
            return None  # the SDK closes the socket itself (after an 83-byte binary frame)
        known = tuple(k for k in request.instruments if k in self.instruments)
        try:
            changed = self.session.apply(replace(request, instruments=known))
        except ValidationError:
            return TOO_MANY_INSTRUMENTS
        for key in changed:
            if request.action == "unsubscribe":
                self.sent.pop(key, None)
                continue
            quote = self.x.engine.quote(self.instruments[key].key)
            self.sent[key] = quote  # before any await: the step stream must not send it too
            await self.sender.packet(encode_prev_close(*key, quote.close, 0), key[1])
            await self.sender.packet(self.cache.packet(request.mode, key, quote), key[1])
        return None

    async def send(self, key: Key, quote: Any) -> None:
        self.sent[key] = quote
        await self.sender.packet(self.cache.packet(self.session.modes[key], key, quote), key[1])

    async def stream(self) -> None:
        """After each market step, one packet per subscribed instrument whose quote changed."""
        q = self.x.hub.subscribe_ticks()
        engine = self.x.engine
        try:
            while not self.sender.ws.closed:
                await q.get()
                for key in list(self.session.modes):
                    quote = engine.quote(self.instruments[key].key)
                    if quote is self.sent.get(key) or key not in self.session.modes:
                        continue
                    if self.x.faults.ws_drop():
                        await self.sender.ws.close()
                        return
                    await self.send(key, quote)
        except (ConnectionError, RuntimeError):
            pass  # the peer went away mid-send
        finally:
            self.x.hub.unsubscribe_ticks(q)


def _feed_auth_problem(x: Exchange, query: Any) -> tuple[int | None, Any]:
    """(disconnect reason or None, account) for the feed's query string."""
    if query.get("version") != "2":
        return INVALID_REQUEST, None
    token, client = query.get("token", ""), query.get("clientId", "")
    if not token or not client:
        return AUTH_FAILED, None
    account = x.account_by_dhan(token, client)
    if account is not None:
        return None, account
    if not any(a.dhan_client_id == client for a in x.accounts):
        return CLIENT_ID_INVALID, None
    return TOKEN_INVALID, None


async def _disconnect(ws: web.WebSocketResponse, reason: int, linger_s: float = 0.0) -> None:
    """Send the disconnect packet and close. With `linger_s`, first wait (that long at most)
    for the client's first message: the SDK sends its subscriptions right after connecting
    and raises if the socket is already closed, before it could read the reason."""
    try:
        await ws.send_bytes(encode_disconnect(reason))
        if linger_s:
            await ws.receive(timeout=linger_s)
    except (ConnectionError, RuntimeError, asyncio.TimeoutError):
        pass
    await ws.close()


async def _serve(ws: web.WebSocketResponse, x: Exchange, tasks: list[asyncio.Task], handle_text) -> None:
    """`serve_socket` where a text message may answer with a disconnect reason (code 50)."""

    async def on_text(data: str) -> bool:
        reason = await handle_text(data)
        if reason is not None:
            await _disconnect(ws, reason)
        return reason is not None

    await serve_socket(ws, x.closing, tasks, on_text)


async def market_feed(request: web.Request) -> web.WebSocketResponse:
    x = request.app[EXCHANGE]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    reason, account = _feed_auth_problem(x, request.query)
    if reason is not None:
        await _disconnect(ws, reason, linger_s=AUTH_LINGER_S)
        return ws
    conns: dict[str, list[web.WebSocketResponse]] = request.app[FEED_CONNECTIONS]
    mine = conns.setdefault(account.dhan_client_id, [])
    mine.append(ws)
    if len(mine) > MAX_CONNECTIONS_PER_CLIENT:  # Dhan drops the oldest connection
        await _disconnect(mine.pop(0), TOO_MANY_CONNECTIONS)
    feed = _Feed(x, _Sender(ws, x, next(_conn_ids)), request.app[PACKET_CACHE])
    try:
        await _serve(ws, x, [asyncio.create_task(feed.stream())], feed.handle_text)
    finally:
        if ws in mine:
            mine.remove(ws)
    return ws


async def _forward_updates(ws: web.WebSocketResponse, x: Exchange, account: Any, q: asyncio.Queue) -> None:
    """Forward the account's order changes; seeded delay / duplicate / reorder faults apply."""
    alerts = AlertFilter()
    delivery = UpdateDelivery(ws, x.faults)
    try:
        while not ws.closed:
            event = await q.get()
            if event.kind != "order" or not alerts.changed(event.order):
                continue
            book = x.engine.books.get(event.order.instrument.key)
            ltp = book.last_price if book is not None else 0.0
            await delivery.deliver(json.dumps(order_alert(event.order, account.dhan_client_id, ltp)))
    except (ConnectionError, RuntimeError):
        pass


async def order_updates(request: web.Request) -> web.WebSocketResponse:
    x = request.app[EXCHANGE]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    try:
        msg = await asyncio.wait_for(ws.receive(), LOGIN_TIMEOUT_S)
        client, token = parse_order_login(json.loads(msg.data) if msg.type == WSMsgType.TEXT else None)
        account = x.account_by_dhan(token, client)
    except (asyncio.TimeoutError, ValueError, ValidationError):
        account = None
    if account is None:
        await ws.close(code=4001, message=b"Invalid ClientId or Token")
        return ws
    logged_in: dict[str, int] = request.app[ORDER_CLIENTS]
    logged_in[account.id] = logged_in.get(account.id, 0) + 1
    q = x.hub.subscribe_orders(account.id)
    try:

        async def ignore(_text: str) -> None:
            return None

        await _serve(ws, x, [asyncio.create_task(_forward_updates(ws, x, account, q))], ignore)
    finally:
        x.hub.unsubscribe_orders(account.id, q)
        logged_in[account.id] -= 1
    return ws


def order_update_clients(app: web.Application, account_id: str) -> int:
    """How many order-update connections of `account_id` are logged in (tests wait on it)."""
    return app[ORDER_CLIENTS].get(account_id, 0)


def setup(app: web.Application, exchange: Exchange) -> None:
    """Register the market feed at `FEED_PATH` and the order updates at `ORDERS_PATH`."""
    app[FEED_CONNECTIONS] = {}
    app[ORDER_CLIENTS] = {}
    app[PACKET_CACHE] = PacketCache()
    app.router.add_get(FEED_PATH, market_feed)
    app.router.add_get(ORDERS_PATH, order_updates)
