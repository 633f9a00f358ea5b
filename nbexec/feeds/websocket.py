"""One client WebSocket on a bare asyncio Protocol: each message is handed over inside
`data_received`, on the read that brought it.

Why not the websockets library here: between the socket read and the caller it runs a
generator parser, an event list, an assembler and a `recv()` future that wakes a reader task
on the next loop iteration. On this machine (a Python call ~200 ns, every trial cold) that
was ~80 us of a ~450 us frame-to-callback; here a tick frame costs a few byte reads and one
slice before the owner's callback runs. The codec is `wire.py` (sans-I/O); this is the shell.

Guarantees, all on the loop that opened the socket:
* `on_message(message, received_ns)` gets every text (str) and binary (bytes) message in
  arrival order; `received_ns` is `time.time_ns()` at the read. It must not block. What it
  raises goes to `on_error(exc)` (inside the except block); when that returns True the
  socket starts closing and delivers nothing more, else delivery goes on.
* `send` is sync and writes at once, in call order, one masked frame per message. Sends on a
  socket that is not open are dropped (the owner resubscribes on its next connection).
* Server pings are answered at once; a ping goes out every `ping_interval_s` and a pong must
  come back within `ping_timeout_s`, or the socket is dropped.
* Closing (either side) is the RFC 6455 handshake, bounded by `close_timeout_s`: then the
  socket is aborted. `closed` resolves once the TCP connection is gone, whatever ended it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping

from .wire import (CLOSE_INVALID_DATA, CLOSE_NORMAL, FIN, OP_BINARY, OP_CLOSE, OP_CONTINUATION,
                   OP_PING, OP_PONG, OP_TEXT, HandshakeReader, ProtocolViolation, check_control,
                   client_key, close_payload, encode_frame, endpoint, handshake_request,
                   next_frame, parse_close)

Message = str | bytes
OnMessage = Callable[[Message, int], object]
OnError = Callable[[Exception], bool]   # True: close the socket

_CONNECTING, _OPEN, _CLOSING, _CLOSED = "connecting", "open", "closing", "closed"
_BINARY_MESSAGE = FIN | OP_BINARY      # a whole binary message in one frame: every tick frame
_time_ns, _monotonic = time.time_ns, time.monotonic


def _discard(message: Message, received_ns: int) -> None:
    """What messages go to once the socket is closing."""


class WebSocket(asyncio.Protocol):
    """A client WebSocket; open one with `open_websocket`."""

    def __init__(self, on_message: OnMessage, on_error: OnError, key: str, *,
                 ping_interval_s: float | None, ping_timeout_s: float, close_timeout_s: float,
                 logger: logging.Logger | logging.LoggerAdapter) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.state = _CONNECTING
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.close_code: int | None = None   # the server's, once its close frame arrived
        self.messages = 0                    # delivered so far
        self.heard = _monotonic()            # time.monotonic() of the last read (any bytes)
        self._deliver, self._on_error = on_message, on_error
        self._handshake = HandshakeReader(key)
        self._buffer = bytearray()           # the start of a frame still arriving
        self._need = 0                       # ... and how many bytes it has in all (0: unknown)
        self._fragments: list[bytes] = []
        self._fragments_opcode = OP_BINARY
        self._ping_interval, self._ping_timeout = ping_interval_s, ping_timeout_s
        self._close_timeout = close_timeout_s
        self._awaiting_pong = False
        self._timer: asyncio.TimerHandle | None = None
        self._log = logger

    # -- what the owner calls ------------------------------------------------------------
    def send(self, message: Message) -> bool:
        """Write one message now; False (and nothing sent) when the socket is not open."""
        if self.state is not _OPEN:
            return False
        if isinstance(message, str):
            self.transport.write(encode_frame(OP_TEXT, message.encode("utf-8")))
        else:
            self.transport.write(encode_frame(OP_BINARY, bytes(message)))
        return True

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        """Close handshake, then wait until the connection is gone (at most `close_timeout_s`).
        Idempotent; safe while connecting."""
        self.start_closing(code)
        await asyncio.shield(self.closed)

    def start_closing(self, code: int = CLOSE_NORMAL) -> None:
        """Send a close frame and stop delivering messages; sync, so safe in a callback."""
        if self.state is _OPEN:
            self.transport.write(encode_frame(OP_CLOSE, close_payload(code)))
            self._closing()
        elif self.state is _CONNECTING:
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once (no close handshake)."""
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self.closed)

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.heard = _monotonic()
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._need:
                return
            data = bytes(self._buffer)
            self._buffer.clear()
        elif self.state is _CONNECTING:
            data = self._handshake_data(data)
            if not data:
                return
        received_ns = _time_ns()
        deliver, pos, size = self._deliver, 0, len(data)
        try:
            while pos < size:
                frame = next_frame(data, pos)
                if frame is None or frame[2] > size:   # the rest is still on its way
                    self._buffer += data[pos:]
                    self._need = frame[2] - pos if frame is not None else 0
                    return
                head, start, pos = frame
                if head == _BINARY_MESSAGE:
                    message: Message | None = data[start:pos]
                else:
                    message = self._frame(head, data[start:pos])
                    if message is None:
                        deliver = self._deliver
                        continue
                self.messages += 1
                try:
                    deliver(message, received_ns)
                except Exception as exc:
                    if self._on_error(exc):
                        self.start_closing()
                        deliver = self._deliver
        except ProtocolViolation as exc:
            self._log.warning("protocol error, closing: %s", exc)
            self.start_closing(exc.close_code)
            self.transport.close()   # once the close frame is out: no handshake with this peer

    def eof_received(self) -> None:
        return None   # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        self._deliver = _discard
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.opened.done():
            self._fail_open(ConnectionError("connection closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- the rest of the protocol --------------------------------------------------------
    def _handshake_data(self, data: bytes) -> bytes:
        """Feed the handshake answer; once it is complete, the bytes after it (frames)."""
        try:
            rest = self._handshake.feed(data)
        except Exception as exc:   # HandshakeRefused, ProtocolViolation
            self._fail_open(exc)
            self.abort()
            return b""
        if rest is None:
            return b""
        self.state = _OPEN
        self.opened.set_result(None)
        if self._ping_interval is not None:
            self._timer = self.loop.call_later(self._ping_interval, self._ping)
        return rest

    def _fail_open(self, exc: Exception) -> None:
        self.opened.set_exception(exc)
        self.opened.exception()   # retrieved: the opener may be gone already (timed out)

    def _frame(self, head: int, payload: bytes) -> Message | None:
        """Anything but a whole binary message: the message it completes, if any."""
        opcode = check_control(head, len(payload))
        if opcode == OP_PING:
            if self.state is _OPEN:
                self.transport.write(encode_frame(OP_PONG, payload))
            return None
        if opcode == OP_PONG:
            self._awaiting_pong = False
            return None
        if opcode == OP_CLOSE:
            self._close_received(payload)
            return None
        if opcode == OP_CONTINUATION:
            if not self._fragments:
                raise ProtocolViolation("a continuation frame with no message to continue")
            self._fragments.append(payload)
            if not head & FIN:
                return None
            payload, opcode = b"".join(self._fragments), self._fragments_opcode
            self._fragments = []
        elif self._fragments:
            raise ProtocolViolation("a new message began inside a fragmented one")
        elif not head & FIN:
            self._fragments, self._fragments_opcode = [payload], opcode
            return None
        if opcode == OP_TEXT:
            try:
                return payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolViolation("a text message that is not UTF-8", CLOSE_INVALID_DATA) from None
        return payload

    def _close_received(self, payload: bytes) -> None:
        self.close_code, _ = parse_close(payload)
        if self.state is _OPEN:   # the server begins: echo its code, then it closes the TCP side
            self.transport.write(encode_frame(OP_CLOSE, payload[:2]))
            self._closing()

    def _closing(self) -> None:
        self.state = _CLOSING
        self._deliver = _discard
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self._close_timeout, self.abort)

    def _ping(self) -> None:
        self._awaiting_pong = True
        self.transport.write(encode_frame(OP_PING, b"nbexec"))
        self._timer = self.loop.call_later(self._ping_timeout, self._pong_due)

    def _pong_due(self) -> None:
        if self._awaiting_pong:
            self._log.warning("no pong within %.1f s, dropping the connection", self._ping_timeout)
            self.abort()
            return
        self._timer = self.loop.call_later(max(0.0, self._ping_interval - self._ping_timeout), self._ping)


async def open_websocket(url: str, on_message: OnMessage, on_error: OnError, *,
                         headers: Mapping[str, str] = {}, open_timeout_s: float,
                         ping_interval_s: float | None = 20.0, ping_timeout_s: float = 20.0,
                         close_timeout_s: float = 1.0,
                         logger: logging.Logger | logging.LoggerAdapter) -> WebSocket:
    """Connect (TLS for wss://), do the opening handshake, return the open socket.

    Raises `ConfigError` for a URL that is not ws/wss, `HandshakeRefused` for a non-101
    answer, `ProtocolViolation` for a bad 101, `TimeoutError` after `open_timeout_s`, and
    `OSError` when the connection cannot be made. `url` may hold credentials: it is only
    ever logged through `logger` (a redacting one) and never put in an exception.
    """
    where = endpoint(url)
    key = client_key()
    loop = asyncio.get_running_loop()

    def protocol() -> WebSocket:
        return WebSocket(on_message, on_error, key, ping_interval_s=ping_interval_s,
                         ping_timeout_s=ping_timeout_s, close_timeout_s=close_timeout_s, logger=logger)

    async def handshake() -> WebSocket:
        context = ssl.create_default_context() if where.secure else None
        _, ws = await loop.create_connection(protocol, where.host, where.port, ssl=context,
                                             server_hostname=where.host if context else None)
        try:
            logger.debug("> GET %s HTTP/1.1", where.target)
            ws.transport.write(handshake_request(where, key, headers))
            await ws.opened
        except BaseException:
            ws.abort()
            raise
        logger.debug("< HTTP/1.1 101 Switching Protocols")
        return ws

    return await asyncio.wait_for(handshake(), open_timeout_s)
