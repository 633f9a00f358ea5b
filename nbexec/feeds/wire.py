"""RFC 6455 for a market-data client, sans-I/O: the opening handshake and frames as bytes.

No sockets, no event loop: `websocket.py` is the asyncio shell that moves these bytes. What a
feed client needs and nothing more: one URL form (ws/wss, no proxy), no extensions (the
brokers' binary ticks gain nothing from permessage-deflate and would pay CPU per tick), no
subprotocol. Client frames are masked with fresh random keys (RFC 6455 5.3); server frames
must arrive unmasked, without reserved bits.

`next_frame` is the hot path: a tick frame is located with a few byte reads, no copy of the
buffer and no object per frame but one tuple.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from nbexec.core.errors import ConfigError, NbexecError

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN = 0x80
DATA_OPCODES = (OP_TEXT, OP_BINARY)
CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)

# Close codes (RFC 6455 7.4.1) this client sends.
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_DATA, CLOSE_NO_STATUS = 1000, 1002, 1007, 1005

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ProtocolViolation(NbexecError):
    """The server broke RFC 6455; `close_code` is what the client answers with."""

    def __init__(self, reason: str, close_code: int = CLOSE_PROTOCOL_ERROR) -> None:
        self.close_code = close_code
        super().__init__(reason)


class HandshakeRefused(NbexecError):
    """The server answered the opening handshake with another status than 101."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"handshake refused with HTTP {status}")


# -- the opening handshake -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a ws:// or wss:// URL points. `target` (path and query) may hold credentials."""

    secure: bool
    host: str
    port: int
    host_header: str
    target: str


def endpoint(url: str) -> Endpoint:
    """Split a WebSocket URL; raises `ConfigError` (which never quotes the URL: it may hold a
    token) for another scheme or a missing host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError("WebSocket URL: malformed host or port") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"WebSocket URL: needs ws:// or wss:// and a host, got scheme {parts.scheme!r}")
    secure = parts.scheme == "wss"
    default = 443 if secure else 80
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(secure, host, port or default,
                    shown if port in (None, default) else f"{shown}:{port}",
                    (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


def client_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer `key` with."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def handshake_request(where: Endpoint, key: str, headers: Mapping[str, str] = {}) -> bytes:
    """The GET that opens the connection (holds the target: credentials ride in it)."""
    lines = [f"GET {where.target} HTTP/1.1", f"Host: {where.host_header}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "User-Agent: nbexec", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HandshakeReader:
    """Reads the server's answer to `handshake_request` with httptools, never by hand.

    `feed(data)` returns None until the answer is complete, then the bytes that followed it
    (the first frames, often empty). Raises `HandshakeRefused` on another status than 101
    and `ProtocolViolation` on a 101 that does not accept this key or offers an extension.
    """

    def __init__(self, key: str) -> None:
        self._expected = accept_key(key).encode("ascii")
        self._headers: dict[bytes, bytes] = {}
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()

    def feed(self, data: bytes) -> bytes | None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._check()
            return data[upgrade.args[0]:]
        except httptools.HttpParserError as exc:
            if self.status and self.status != 101:
                raise HandshakeRefused(self.status) from None
            raise ProtocolViolation(f"invalid handshake response: {exc}") from None
        if self.status and self.status != 101:   # the body says nothing we act on
            raise HandshakeRefused(self.status)
        return None

    def header(self, name: str) -> str:
        return self._headers.get(name.encode("ascii"), b"").decode("latin-1")

    def _check(self) -> None:
        if self.status != 101:
            raise HandshakeRefused(self.status)
        if self.header("upgrade").lower() != "websocket":
            raise ProtocolViolation(f"handshake: Upgrade is {self.header('upgrade')!r}, not websocket")
        if "upgrade" not in self.header("connection").lower():
            raise ProtocolViolation(f"handshake: Connection is {self.header('connection')!r}")
        if self._headers.get(b"sec-websocket-accept") != self._expected:
            raise ProtocolViolation("handshake: Sec-WebSocket-Accept does not match the key sent")
        if self.header("sec-websocket-extensions") or self.header("sec-websocket-protocol"):
            raise ProtocolViolation("handshake: the server chose an extension or subprotocol not offered")


# -- frames ------------------------------------------------------------------------------
def mask(payload: bytes, key: bytes) -> bytes:
    """`payload` XOR the 4-byte `key` repeated: one big-integer XOR, no loop per byte."""
    n = len(payload)
    if not n:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, key: bytes | None = None) -> bytes:
    """One final, masked client frame (a fresh random key unless `key` is given)."""
    key = key if key is not None else os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((FIN | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((FIN | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((FIN | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + key + mask(payload, key)


def next_frame(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """(first byte, payload start, payload end) of the frame at `buf[pos]`, or None while it
    is incomplete. The first byte is FIN | opcode; the payload is `buf[start:end]`."""
    size = len(buf)
    if size - pos < 2:
        return None
    head, length = buf[pos], buf[pos + 1]
    if length & 0x80 or head & 0x70:
        raise ProtocolViolation("a server frame was masked or set a reserved bit")
    start = pos + 2
    if length == 126:
        if size < start + 2:
            return None
        length = buf[start] << 8 | buf[start + 1]
        start += 2
    elif length == 127:
        if size < start + 8:
            return None
        length = int.from_bytes(buf[start:start + 8], "big")
        start += 8
    end = start + length
    return None if end > size else (head, start, end)


def check_control(head: int, length: int) -> int:
    """The opcode of a frame that is not a whole data message; raises on what RFC 6455 forbids."""
    opcode = head & 0x0F
    if opcode in CONTROL_OPCODES:
        if not head & FIN or length > 125:
            raise ProtocolViolation("a control frame was fragmented or longer than 125 bytes")
    elif opcode not in DATA_OPCODES and opcode != OP_CONTINUATION:
        raise ProtocolViolation(f"unknown opcode {opcode}")
    return opcode


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode("utf-8")[:123]


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame; 1005 when it carries no code."""
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolViolation("a close frame of one byte")
    try:
        return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation("a close reason that is not UTF-8", CLOSE_INVALID_DATA) from None
