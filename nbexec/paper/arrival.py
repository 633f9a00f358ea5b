"""When a request reached the exchange: the kernel's receive stamp, not the event loop's.

A stamp taken when the exchange's loop reads the bytes includes the exchange's own queueing:
while it matches order 12 of a fan-out, orders 13-50 wait in their sockets, and their
arrival would be billed to the client. The kernel stamps every packet as it arrives
(`SO_TIMESTAMPNS`); reading with `recvmsg` hands that stamp over with the bytes. It is on
`CLOCK_REALTIME`, so it is moved to `time.monotonic_ns()` (the clock of every other stamp)
by the offset between the two clocks at the read.

`listening_socket` is a TCP listener whose accepted connections are `StampedSocket`s; asyncio
reads them with `recv`, which keeps the stamp of the last read in `StampedSocket.last_arrival_ns`
for the protocol's `data_received` that follows in the same callback.
"""

from __future__ import annotations

import socket
import struct
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python does not name it
_TIMESPEC = struct.Struct("qq")


class StampedSocket(socket.socket):
    """A connected socket whose reads note the kernel's arrival stamp (monotonic ns)."""

    __slots__ = ()
    last_arrival_ns: int = 0  # of the bytes most recently read by any StampedSocket

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data, ancillary, _, _ = self.recvmsg(bufsize, 64, flags)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanos = _TIMESPEC.unpack_from(payload)
                StampedSocket.last_arrival_ns = seconds * 1_000_000_000 + nanos - (time.time_ns() - time.monotonic_ns())
                break
        else:
            StampedSocket.last_arrival_ns = time.monotonic_ns()  # no stamp (not Linux): the read
        return data


class _StampingListener(socket.socket):
    __slots__ = ()

    def accept(self) -> tuple[StampedSocket, object]:
        fd, address = self._accept()  # type: ignore[attr-defined]  # CPython's, as socket.accept calls it
        conn = StampedSocket(self.family, self.type, self.proto, fileno=fd)
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return conn, address


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (port 0: a free one) whose connections stamp arrivals."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = _StampingListener(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Linux stamps packets only while some socket asks, and turns that on lazily (a deferred
    # job): asked from the start, stamps are on before the first order arrives.
    listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.setblocking(False)
    return listener
