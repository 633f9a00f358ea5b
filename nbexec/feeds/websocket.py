"""One client WebSocket: the websockets library's Sans-I/O protocol in a bare asyncio Protocol,
so each message is handed over inside `data_received`, on the read that brought it.

Why this split: RFC 6455 (handshake, masking, frame parsing, fragmentation order, close
codes, pong and close echo) is `websockets.client.ClientProtocol`, a well-kept state machine
with no sockets, rather than a codec of our own. The library's own asyncio client would add
an assembler and a `recv()` future that wakes a reader task on the next loop iteration: a task
hop and more objects on every tick's way. So the I/O is ours: bytes go into the protocol and messages come out to
the owner in the same callback, with no task hop.

One shortcut: the stream is cut into whole frames here (a header is 2 to 14 bytes), and a
frame that is a whole binary message, unmasked, with no RSV bit, outside a fragmented
message, on an open socket, is handed over at once; every other frame goes whole through
the protocol, so it always stands at a frame boundary and judges everything else (pings,
fragments, close, violations). The frames handed over at once are every tick, and the
protocol's generator-based parser was a measurable share of a cold tick's way to the strategy
(`nbexec bench wire_to_wire_1`, frame -> callback; figures: docs/performance.md, Figures behind
design choices). This reads two of the protocol's attributes beyond its documented API,
`current_size` and `parser_exc`; tests/feeds/test_websockets_internals.py checks them and
pyproject.toml pins websockets to the releases it passed on.

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
  socket is aborted. A server breaking the protocol gets a close frame with the RFC's code
  (1002, 1007) and the connection is closed at once. `closed` resolves once the TCP
  connection is gone, whatever ended it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidMessage, InvalidStatus, InvalidURI
from websockets.frames import BINARY, CLOSE, CONT, PONG, TEXT, CloseCode, Frame
from websockets.http11 import Request
from websockets.protocol import CLOSED, CONNECTING, OPEN
from websockets.uri import WebSocketURI, parse_uri

from nbexec.core.errors import ConfigError, NbexecError

Message = str | bytes
OnMessage = Callable[[Message, int], object]
OnError = Callable[[Exception], bool]  # True: close the socket

_time_ns, _monotonic = time.time_ns, time.monotonic
_FIN_BINARY = 0x82  # FIN, no RSV bits, opcode 2: a binary message in one frame


class ProtocolViolation(NbexecError):
    """The server broke RFC 6455 in its answer to the opening handshake."""


class HandshakeRefused(NbexecError):
    """The server answered the opening handshake with another status than 101."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"handshake refused with HTTP {status}")


def _discard(message: Message, received_ns: int) -> None:
    """What messages go to once the socket is closing."""


class WebSocket(asyncio.Protocol):
    """A client WebSocket; open one with `open_websocket`."""

    def __init__(
        self,
        protocol: ClientProtocol,
        request: Request,
        on_message: OnMessage,
        on_error: OnError,
        *,
        ping_interval_s: float | None,
        ping_timeout_s: float,
        close_timeout_s: float,
        logger: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.messages = 0  # delivered so far
        self.heard = _monotonic()  # time.monotonic() of the last read (any bytes)
        self._protocol, self._request = protocol, request
        self._deliver, self._on_error = on_message, on_error
        self._handshaking = True
        self._framing = False  # frames are cut here (`_split`), not by the protocol
        self._response_tail = b""  # the handshake response's last bytes read so far
        self._partial = bytearray()  # the start of a frame not yet whole
        self._need = 0  # its whole length, once its header is in (else 0)
        self._stopped = False  # delivery is over: closing or closed
        self._fragments: list[bytes | bytearray] = []
        self._fragments_opcode = BINARY
        self._ping_interval, self._ping_timeout = ping_interval_s, ping_timeout_s
        self._close_timeout = close_timeout_s
        self._awaiting_pong = False
        self._timer: asyncio.TimerHandle | None = None
        self._log = logger

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame, once it arrived (1005: it carried none)."""
        received = self._protocol.close_rcvd
        return received.code if received is not None else None

    # -- what the owner calls ------------------------------------------------------------
    def send(self, message: Message) -> bool:
        """Write one message now; False (and nothing sent) when the socket is not open."""
        protocol = self._protocol
        if protocol.state is not OPEN:
            return False
        if isinstance(message, str):
            protocol.send_text(message.encode("utf-8"))
        else:
            protocol.send_binary(message)
        self._flush()
        return True

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE) -> None:
        """Close handshake, then wait until the connection is gone (at most `close_timeout_s`).
        Idempotent; safe while connecting."""
        self.start_closing(code)
        await asyncio.shield(self.closed)

    def start_closing(self, code: int = CloseCode.NORMAL_CLOSURE) -> None:
        """Send a close frame (unless one went already) and stop delivering messages; sync,
        so safe in a callback."""
        state = self._protocol.state
        if state is CONNECTING:
            self.abort()
        elif state is not CLOSED:
            if state is OPEN:
                self._protocol.send_close(code)
                self._flush()
            self._closing()

    def abort(self) -> None:
        """Drop the connection at once (no close handshake)."""
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self.closed)

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._protocol.send_request(self._request)  # logs the target at DEBUG: a redacting logger
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.heard = _monotonic()
        received_ns = _time_ns()
        if self._framing:
            self._split(data, received_ns)
        elif self._handshaking:
            self._response(data, received_ns)
        else:
            self._through_protocol(data, received_ns)

    def _response(self, data: bytes, received_ns: int) -> None:
        """The protocol gets the handshake response up to its blank line; after a 101, what
        follows is frames, cut by `_split` from the first byte (so the protocol never holds
        part of a frame); after a refusal, its body, for the protocol."""
        probe = self._response_tail + data
        end = probe.find(b"\r\n\r\n")
        if end < 0:
            self._response_tail = probe[-3:]
            self._through_protocol(data, received_ns)
            return
        cut = end + 4 - len(self._response_tail)  # just past the blank line, in `data`
        self._response_tail = b""
        self._through_protocol(data[:cut], received_ns)
        if not self._handshaking and self._protocol.state is OPEN:
            self._framing = True
            if cut < len(data):
                self._split(data[cut:], received_ns)
        elif cut < len(data):
            self._through_protocol(data[cut:], received_ns)

    def _split(self, data: bytes, received_ns: int) -> None:
        """Cut the stream into whole frames: a lone unmasked binary frame (every tick) is
        delivered here, any other frame goes whole through the protocol, which so always
        stands at a frame boundary. Bytes of an unfinished frame wait in `_partial`."""
        partial = self._partial
        if partial:
            partial += data
            if len(partial) < self._need:
                return
            data = bytes(partial)
            partial.clear()
        protocol = self._protocol
        pos, end, need = 0, len(data), 0
        while end - pos >= 2:
            first, second = data[pos], data[pos + 1]
            length, head = second & 0x7F, pos + 2
            if length >= 126:
                width = 2 if length == 126 else 8
                if end - head < width:
                    break
                length = int.from_bytes(data[head : head + width], "big")
                head += width
            if second & 0x80:  # masked: the protocol refuses it (1002)
                head += 4
            stop = head + length
            if stop > end:
                need = stop - pos
                break
            if first == _FIN_BINARY and not second & 0x80 and protocol.current_size is None and protocol.state is OPEN:
                self._hand_over(data[head:stop], received_ns)
            else:
                self._through_protocol(data[pos:stop], received_ns)
            pos = stop
        if pos < end:
            partial += memoryview(data)[pos:]
            self._need = need

    def _through_protocol(self, data: bytes, received_ns: int) -> None:
        """Bytes for websockets' protocol: the handshake, and every frame but a lone binary one."""
        protocol = self._protocol
        protocol.receive_data(data)
        # Frames only, past the handshake (_handshake_done drops the response from the list)
        events: list[Frame] = protocol.events_received()  # type: ignore[assignment]
        if self._handshaking and not self._handshake_done(events):
            return
        for frame in events:
            if frame.opcode is BINARY and frame.fin:  # a whole binary message
                self._hand_over(bytes(frame.data), received_ns)
            elif (message := self._frame(frame)) is not None:
                self._hand_over(message, received_ns)
        self._flush()  # pongs and the close echo, queued by the protocol
        # (the transport is set: these bytes came through it)
        if protocol.parser_exc is not None and not self.transport.is_closing():  # type: ignore[union-attr]
            self._violated(str(protocol.parser_exc))  # its close frame went out just above

    def _hand_over(self, message: Message, received_ns: int) -> None:
        """One message to the owner (nowhere once closing); what it raises goes to `on_error`,
        and True from that starts closing."""
        self.messages += 1
        try:
            self._deliver(message, received_ns)
        except Exception as exc:
            if self._on_error(exc):
                self.start_closing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.receive_eof()  # idempotent; the protocol's state becomes CLOSED
        self._stopped, self._deliver = True, _discard
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.opened.done():
            failure = self._protocol.handshake_exc  # e.g. a refusal whose body ran to EOF
            self._fail_open(
                _handshake_error(failure)
                if failure is not None
                else ConnectionError("connection closed during the handshake")
            )
        if not self.closed.done():
            self.closed.set_result(None)

    # -- the rest of the protocol --------------------------------------------------------
    def _handshake_done(self, events: list) -> bool:
        """True once the server accepted the handshake (its response is dropped from `events`,
        which then holds the first frames, often none)."""
        failure = self._protocol.handshake_exc
        if failure is not None:
            self._fail_open(_handshake_error(failure))
            self.abort()
            return False
        if self._protocol.state is CONNECTING:  # the answer is still on its way
            return False
        del events[0]
        self._handshaking = False
        if not self.opened.done():  # else the opener gave up (timed out) and aborts
            self.opened.set_result(None)
        if self._ping_interval is not None:
            self._timer = self.loop.call_later(self._ping_interval, self._ping)
        return True

    def _fail_open(self, exc: Exception) -> None:
        if self.opened.done():  # open, or the opener gave up (timed out)
            return
        self.opened.set_exception(exc)
        self.opened.exception()  # retrieved: the opener may be gone already (timed out)

    def _frame(self, frame: Frame) -> Message | None:
        """Anything but a whole binary message: the message it completes, if any. The protocol
        has checked the fragments' order, answered pings and echoed a close frame."""
        opcode = frame.opcode
        # A received frame's data is a bytearray (or bytes, inflated); memoryview is for sending.
        payload: bytes | bytearray = frame.data  # type: ignore[assignment]
        if opcode is TEXT or opcode is BINARY:
            if not frame.fin:
                self._fragments, self._fragments_opcode = [payload], opcode
                return None
        elif opcode is CONT:
            self._fragments.append(payload)
            if not frame.fin:
                return None
            payload, opcode = b"".join(self._fragments), self._fragments_opcode
            self._fragments = []
        else:
            if opcode is PONG:
                self._awaiting_pong = False
            elif opcode is CLOSE:
                self._closing()
            return None
        if opcode is TEXT:
            try:
                return payload.decode("utf-8")
            except UnicodeDecodeError:
                reason = "a text message that is not UTF-8"
                self._protocol.fail(CloseCode.INVALID_DATA, reason)
                self._violated(reason)
                return None
        return bytes(payload)

    def _violated(self, reason: str) -> None:
        """The server broke the protocol, which has queued its close frame: send it, stop
        delivering and close the connection (no closing handshake with this peer)."""
        self._log.warning("protocol error, closing: %s", reason)
        self._flush()
        self._closing()
        self.transport.close()  # type: ignore[union-attr]  # bytes came in: connection_made set it

    def _closing(self) -> None:
        """Stop delivering and bound the closing handshake; idempotent."""
        if self._stopped:
            return
        self._stopped, self._deliver = True, _discard
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self._close_timeout, self.abort)

    def _flush(self) -> None:
        writes = self._protocol.data_to_send()
        if writes:  # (only once connected: connection_made sets the transport, then flushes)
            self.transport.writelines(writes)  # type: ignore[union-attr]

    def _ping(self) -> None:
        self._awaiting_pong = True
        self._protocol.send_ping(b"nbexec")
        self._flush()
        self._timer = self.loop.call_later(self._ping_timeout, self._pong_due)

    def _pong_due(self) -> None:
        if self._awaiting_pong:
            self._log.warning("no pong within %.1f s, dropping the connection", self._ping_timeout)
            self.abort()
            return
        # pings run only with an interval set (_handshake_done)
        delay = self._ping_interval - self._ping_timeout  # type: ignore[operator]
        self._timer = self.loop.call_later(max(0.0, delay), self._ping)


def _handshake_error(exc: Exception) -> Exception:
    """The protocol's handshake failure as the error the opener sees."""
    if isinstance(exc, InvalidStatus):
        return HandshakeRefused(exc.response.status_code)
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return ConnectionError("connection closed during the handshake")
    return ProtocolViolation(f"invalid handshake response: {exc}")


def parse_url(url: str) -> WebSocketURI:
    """`websockets.uri.parse_uri`, raising `ConfigError` that never quotes the URL (it may
    hold a token) for another scheme or a missing host."""
    try:
        return parse_uri(url)
    except InvalidURI as exc:
        raise ConfigError(f"WebSocket URL: {exc.msg}, got scheme {urlsplit(url).scheme!r}") from None
    except ValueError:
        raise ConfigError("WebSocket URL: malformed host or port") from None


async def open_websocket(
    url: str,
    on_message: OnMessage,
    on_error: OnError,
    *,
    headers: Mapping[str, str] = {},
    open_timeout_s: float,
    ping_interval_s: float | None = 20.0,
    ping_timeout_s: float = 20.0,
    close_timeout_s: float = 1.0,
    logger: logging.Logger | logging.LoggerAdapter,
) -> WebSocket:
    """Connect (TLS for wss://), do the opening handshake, return the open socket.

    Raises `ConfigError` for a URL that is not ws/wss, `HandshakeRefused` for a non-101
    answer, `ProtocolViolation` for a bad 101, `TimeoutError` after `open_timeout_s`, and
    `OSError` when the connection cannot be made. `url` may hold credentials: it is only
    ever logged through `logger` (a redacting one) and never put in an exception.
    """
    where = parse_url(url)
    # No extensions (the brokers' binary ticks gain nothing from permessage-deflate and
    # would pay CPU per tick) and no size limit: a broker's message is bounded by what was
    # subscribed, and a cap would only turn a big subscription into a reconnect loop.
    protocol = ClientProtocol(where, max_size=None, logger=logger)
    request = protocol.connect()
    request.headers["User-Agent"] = "nbexec"
    for name, value in headers.items():
        request.headers[name] = value
    loop = asyncio.get_running_loop()

    def make() -> WebSocket:
        return WebSocket(
            protocol,
            request,
            on_message,
            on_error,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
            close_timeout_s=close_timeout_s,
            logger=logger,
        )

    async def handshake() -> WebSocket:
        context = ssl.create_default_context() if where.secure else None
        _, ws = await loop.create_connection(
            make, where.host, where.port, ssl=context, server_hostname=where.host if context else None
        )
        try:
            await ws.opened
        except BaseException:
            ws.abort()
            raise
        return ws

    return await asyncio.wait_for(handshake(), open_timeout_s)
