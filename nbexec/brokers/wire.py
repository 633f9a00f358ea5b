"""Sans-I/O HTTP/1.1 for the order path: request templates out, framed responses in.

No sockets, no event loop. `RequestTemplate` pre-builds everything about a request that is fixed
per (account, endpoint), so sending an order only formats the body length and joins bytes.
`ResponseReader` frames responses with httptools (Content-Length, chunked, keep-alive), never
by hand. `transport.py` is the thin asyncio shell that moves these bytes.

The transport errors live here too, because the retry policy (pure) must tell them apart
without importing asyncio.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httptools

from nbexec.core.errors import BrokerUnavailable, NbexecError, ValidationError
from nbexec.core.secrets import Secret

# RFC 9110 token characters: method and header names.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# A request target or header value: visible ASCII (and spaces in values), never CR or LF.
_TARGET = re.compile(rb"^[!-~]*$")
_VALUE = re.compile(r"^[\t -~]*$")

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


# --------------------------------------------------------------------------- errors


class TransportError(BrokerUnavailable):
    """The request got no HTTP answer.

    `maybe_delivered` is the fact the caller acts on: False means the bytes provably never
    left (connect failed, no free connection, pool closed), so a place may be sent again;
    True means they were written, so the order is UNKNOWN until it is looked up by its tag.
    """

    def __init__(self, reason: str, *, host: str, port: int, maybe_delivered: bool, broker: str = "") -> None:
        self.host, self.port, self.reason, self.maybe_delivered = host, port, reason, maybe_delivered
        fate = "the request may have reached the broker" if maybe_delivered else "the request was not sent"
        super().__init__(f"{host}:{port}: {reason}; {fate}", broker=broker)


class ConnectFailed(TransportError):
    """No connection could be opened (refused, unreachable, connect timeout): never delivered."""

    def __init__(self, reason: str, *, host: str, port: int, broker: str = "") -> None:
        super().__init__(reason, host=host, port=port, maybe_delivered=False, broker=broker)


class RequestTimedOut(TransportError):
    """No complete response within the timeout (or no free connection, then not delivered)."""


class ConnectionLost(TransportError):
    """The connection closed or reset before the whole response arrived."""


class ProtocolError(TransportError):
    """The server's bytes are not a valid HTTP/1.1 response (or arrived unasked)."""


class PoolClosed(TransportError):
    """The pool was closed; nothing is sent through a closed pool."""


class FramingError(NbexecError):
    """`ResponseReader` could not frame the bytes; the shell turns it into `ProtocolError`."""


# --------------------------------------------------------------------------- requests


def _check_header(name: str, value: str | Secret) -> bytes:
    text = value.reveal() if isinstance(value, Secret) else str(value)
    if not _TOKEN.match(name):
        raise ValidationError("header", name, "is not a valid HTTP header name")
    if not _VALUE.match(text):
        shown = value if isinstance(value, Secret) else text
        raise ValidationError(f"header {name}", shown, "holds CR, LF or non-ASCII characters")
    return f"{name}: {text}\r\n".encode("ascii")


class RequestTemplate:
    """The fixed head of one (account, endpoint) request, serialized once.

    `render(body)` is all an order pays: the Content-Length digits and one bytes join.
    Header values may be `Secret`s; they are revealed once, into the head bytes, and the
    repr shows header names only. A template is immutable and safe to share between tasks.
    """

    __slots__ = ("method", "path", "host", "header_names", "_prefix", "_rest", "_head")

    def __init__(
        self,
        method: str,
        path: str,
        host: str,
        *,
        headers: Mapping[str, str | Secret] | Iterable[tuple[str, str | Secret]] = (),
        content_type: str | None = "application/json",
    ) -> None:
        if not _TOKEN.match(method):
            raise ValidationError("method", method, "is not a valid HTTP method")
        if not path.startswith("/") or not _TARGET.match(path.encode("ascii", "replace")):
            raise ValidationError("path", path, "must start with / and hold visible ASCII only")
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        if content_type is not None:
            pairs.append(("Content-Type", content_type))
        lowered = [name.lower() for name, _ in pairs]
        for reserved in ("host", "content-length", "connection", "transfer-encoding"):
            if reserved in lowered:
                raise ValidationError("header", reserved, "is set by the template itself")
        lines = [_check_header("Host", host)] + [_check_header(n, v) for n, v in pairs]
        lines.append(b"Connection: keep-alive\r\n")
        self.method, self.path, self.host = method, path, host
        self.header_names = ("Host", *(name for name, _ in pairs), "Connection", "Content-Length")
        self._prefix = f"{method} {path}".encode("ascii")
        self._rest = b" HTTP/1.1\r\n" + b"".join(lines) + b"Content-Length: "
        self._head = self._prefix + self._rest

    def render(self, body: bytes = b"", path_suffix: bytes = b"") -> bytes:
        """The complete request bytes; `path_suffix` extends the path (an order id, a query)."""
        if path_suffix:
            if not _TARGET.match(path_suffix):
                raise ValidationError("path_suffix", path_suffix, "must be visible ASCII without spaces")
            return b"%s%s%s%d\r\n\r\n%s" % (self._prefix, path_suffix, self._rest, len(body), body)
        return b"%s%d\r\n\r\n%s" % (self._head, len(body), body)

    def __repr__(self) -> str:
        return f"RequestTemplate({self.method} {self.host}{self.path}, headers={list(self.header_names)})"

    def __reduce__(self):  # the head holds credentials: no pickling side door
        raise TypeError("RequestTemplate holds credentials and cannot be pickled")


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class Response:
    """One framed HTTP response and the two monotonic-ns stamps of its request's hops."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    t_written_ns: int = 0  # right after the request's bytes were handed to the socket
    t_done_ns: int = 0  # when the last byte of the response was framed

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower().encode("ascii")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def round_trip_ns(self) -> int:
        return self.t_done_ns - self.t_written_ns


class ResponseReader:
    """Frames a stream of HTTP/1.1 responses, one at a time, with httptools.

    Feed it bytes as they arrive; `feed` returns True once a complete response is framed,
    then `take` hands it over. Bytes of a second response arriving before `take` (nobody
    asked for them) are a `FramingError`; so is anything httptools rejects. After an error
    the reader is spent: the connection must be closed.
    """

    __slots__ = ("_parser", "_status", "_headers", "_body", "_size", "_complete", "keep_alive", "started", "_limit")

    def __init__(self, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._limit = max_bytes
        self.keep_alive = True
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._complete = False
        self.started = False  # some byte of the current response has arrived

    # httptools callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._complete:
            raise FramingError("a second response arrived before the first was taken")
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise FramingError(f"response body exceeds {self._limit} bytes")
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        self._complete = True

    # ------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bool:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__ or exc.__cause__
            raise FramingError(str(cause) if isinstance(cause, FramingError) else str(exc)) from None
        except httptools.HttpParserError as exc:
            raise FramingError(f"invalid HTTP response: {exc}") from None
        return self._complete

    def take(self, t_written_ns: int = 0, t_done_ns: int = 0) -> Response:
        """The framed response; the reader is then ready for the next one."""
        if not self._complete:
            raise FramingError("no complete response to take")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        response = Response(self._status, tuple(self._headers), body, t_written_ns, t_done_ns)
        self._reset()
        return response
