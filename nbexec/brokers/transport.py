"""The lean order transport: warm keep-alive HTTP/1.1 connections to one broker host.

Why not httpx here: httpx spends so much CPU per request that 50 concurrent order posts take
many times longer than pre-rendered bytes written straight to warm asyncio connections take for
all 50 (docs/design.md, Latency rules; the figures are in docs/performance.md, Figures behind
design choices, and `nbexec bench order_transport` measures it). httpx keeps the rest of the
REST surface.

Guarantees:
* One request in flight per connection, no pipelining; a connection is checked out for one
  request and returned only after its whole response was framed with keep-alive.
* Exactly one `transport.write` per request, stamped with `time.monotonic_ns()` right after.
* No retries, ever. Failures are `TransportError`s whose `maybe_delivered` says whether the
  bytes were written, so the adapter can resend (False) or mark the order UNKNOWN (True).
* Idle connections are replaced before the server's keep-alive timeout (`idle_refresh_s`),
  replacements opened before the stale ones close, so the warm count does not dip; connections
  the server closes are dropped and replaced in the background.

All of it runs on the one event loop that started the pool (the kernel's loop).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nbexec.core.errors import ValidationError

from .wire import (
    ConnectFailed,
    ConnectionLost,
    FramingError,
    PoolClosed,
    ProtocolError,
    RequestTemplate,
    RequestTimedOut,
    Response,
    ResponseReader,
    TransportError,
)

__all__ = [
    "ConnectionPool",
    "PoolStats",
    "RequestTemplate",
    "Response",
    "TransportError",
    "ConnectFailed",
    "ConnectionLost",
    "ProtocolError",
    "PoolClosed",
    "RequestTimedOut",
]

log = logging.getLogger(__name__)
_monotonic_ns = time.monotonic_ns


class _Connection(asyncio.Protocol):
    """One socket, one `ResponseReader`, at most one waiting request."""

    __slots__ = (
        "pool",
        "loop",
        "transport",
        "reader",
        "waiter",
        "t_written",
        "idle_since",
        "closed",
        "retired",
        "lost",
        "timeout",
        "deadline",
    )

    def __init__(self, pool: ConnectionPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool, self.loop = pool, loop
        self.transport: asyncio.Transport | None = None
        self.reader = ResponseReader()
        self.waiter: asyncio.Future[Response] | None = None
        self.t_written = 0
        self.idle_since = 0.0
        self.timeout = self.deadline = 0.0  # of the request in flight (loop time)
        self.closed = False
        self.retired = False  # closed on purpose by the pool: needs no replacement
        self.lost: asyncio.Future[None] = loop.create_future()

    # asyncio callbacks -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None:
            # Bytes nobody asked for (often a 408 just before an idle close): unusable now.
            self.abort()
            return
        try:
            done = self.reader.feed(data)
        except FramingError as exc:
            self._fail(ProtocolError, str(exc))
            return
        if done:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(self.reader.take(self.t_written, _monotonic_ns()))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None:
            self._fail(ConnectionLost, f"connection closed before the response was complete ({exc or 'EOF'})")
        if not self.lost.done():
            self.lost.set_result(None)
        self.pool._lost(self)

    # used by the pool -----------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes) -> asyncio.Future[Response]:
        if not self.usable:
            raise ConnectionLost(
                "connection closed before the request was written",
                host=self.pool.host,
                port=self.pool.port,
                maybe_delivered=False,
                broker=self.pool.broker,
            )
        waiter = self.waiter = self.loop.create_future()
        self.transport.write(data)  # type: ignore[union-attr]
        self.t_written = _monotonic_ns()
        return waiter

    def expire(self, waiter: asyncio.Future[Response], timeout: float) -> None:
        if waiter is self.waiter and not waiter.done():
            self._fail(RequestTimedOut, f"no complete response within {timeout}s")

    def _fail(self, kind: type[TransportError], reason: str) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(
                kind(reason, host=self.pool.host, port=self.pool.port, maybe_delivered=True, broker=self.pool.broker)
            )
        self.abort()

    def abort(self) -> None:
        """Drop the socket now: its state is unknown (timeout, cancel, bad bytes)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self, *, retired: bool) -> None:
        """Close gracefully. `retired`: on purpose (stale, pool closing), so no replacement."""
        self.retired, self.closed = retired, True
        if self.transport is not None:
            self.transport.close()


@dataclass(frozen=True, slots=True)
class PoolStats:
    idle: int
    busy: int
    opening: int
    opened_total: int  # connections ever opened
    lost_total: int  # connections that died without the pool closing them on purpose


class ConnectionPool:
    """Persistent HTTP/1.1 connections to `host:port`, warm before the first order.

    `size` connections are kept open and warm; up to `max_size` may be open at once (a request
    that finds none idle opens one, then waits for a free one). Idle connections older than
    `idle_refresh_s` are replaced, checked every `idle_refresh_s / 4`: keep `idle_refresh_s`
    under ~3/4 of the server's keep-alive timeout. `request_timeout` is the default per-request
    timeout (Kite's SDK uses 7 s). `broker` names the broker in error messages.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        size: int = 4,
        max_size: int | None = None,
        connect_timeout: float = 3.0,
        request_timeout: float = 7.0,
        idle_refresh_s: float = 20.0,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        broker: str = "",
        clock=time.monotonic,
    ) -> None:
        max_size = max(size, 1) * 4 if max_size is None else max_size
        for name, value, ok in (
            ("size", size, size >= 0),
            ("max_size", max_size, max_size >= max(size, 1)),
            ("connect_timeout", connect_timeout, connect_timeout > 0),
            ("request_timeout", request_timeout, request_timeout > 0),
            ("idle_refresh_s", idle_refresh_s, idle_refresh_s > 0),
        ):
            if not ok:
                raise ValidationError(name, value, "must be positive (max_size at least size and 1)")
        self.host, self.port, self.broker = host, port, broker
        self.size, self.max_size = size, max_size
        self.connect_timeout, self.request_timeout = connect_timeout, request_timeout
        self.idle_refresh_s = idle_refresh_s
        self._ssl, self._server_hostname = ssl, (server_hostname or host) if ssl else None
        self._clock = clock
        self._idle: deque[_Connection] = deque()  # oldest idle first: FIFO keeps all of them fresh
        self._busy: set[_Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[_Connection]] = deque()
        self._closed = False
        self._maintainer: asyncio.Task | None = None
        self._deadlines: asyncio.TimerHandle | None = None  # see `_watch`
        self._refiller: asyncio.Task | None = None
        self._opened_total = self._lost_total = 0

    def __repr__(self) -> str:
        return f"ConnectionPool({self.host}:{self.port}, size={self.size}, max_size={self.max_size})"

    @property
    def open_count(self) -> int:
        return len(self._idle) + len(self._busy) + self._opening

    def stats(self) -> PoolStats:
        return PoolStats(len(self._idle), len(self._busy), self._opening, self._opened_total, self._lost_total)

    # lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Open and warm `size` connections, then keep them warm in the background. Idempotent."""
        self._check_open()
        await self.warm()
        if self._maintainer is None:
            self._maintainer = asyncio.get_running_loop().create_task(self._maintain_forever())

    async def warm(self, n: int | None = None) -> None:
        """Open connections until at least `n` (default `size`) are open; raises `ConnectFailed`."""
        n = self.size if n is None else n
        if not 0 <= n <= self.max_size:
            raise ValidationError("n", n, f"must be between 0 and max_size {self.max_size}")
        self._check_open()
        await self._grow(n - self.open_count)

    async def close(self) -> None:
        """Close every connection; in-flight requests fail with `ConnectionLost`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in (self._maintainer, self._refiller, self._deadlines):
            if task is not None:
                task.cancel()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._pool_closed())
        conns = [*self._idle, *self._busy]
        self._idle.clear()
        for conn in conns:
            conn.close(retired=True) if conn.waiter is None else conn.abort()
        if conns:
            await asyncio.wait([c.lost for c in conns], timeout=1.0)

    async def __aenter__(self) -> ConnectionPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # the order path -----------------------------------------------------------------------
    async def request(
        self,
        request: RequestTemplate | bytes,
        body: bytes = b"",
        *,
        path_suffix: bytes = b"",
        timeout: float | None = None,
        on_write: Callable[[], object] | None = None,
    ) -> Response:
        """Send one request and return its framed response. Never retries.

        `request` is a template (rendered with `body` and `path_suffix`) or complete request
        bytes. Raises `ConnectFailed` / `PoolClosed` / `RequestTimedOut(maybe_delivered=False)`
        before anything was written, and `RequestTimedOut` / `ConnectionLost` / `ProtocolError`
        with `maybe_delivered=True` after. `on_write` is called right after the bytes are
        handed to the socket: until then, cancelling this call sends nothing.
        """
        if type(request) is RequestTemplate:
            data = request.render(body, path_suffix)
        elif body or path_suffix:
            raise ValidationError("body", len(body), "complete request bytes take no body or path_suffix")
        else:
            data = request  # type: ignore[assignment]
        if timeout is None:
            timeout = self.request_timeout
        conn = self._checkout_idle() or await self._checkout(timeout)
        return await self.dispatch(conn, data, timeout, on_write)

    def checkout_idle(self) -> _Connection | None:
        """An idle warm connection, now, checked out for one `dispatch` (or handed back with
        `checkin`); None when none is idle."""
        return self._checkout_idle()

    def checkin(self, conn: _Connection) -> None:
        """Hand back a connection checked out and not used."""
        self._checkin(conn)

    def dispatch(
        self, conn: _Connection, data: bytes, timeout: float, on_write: Callable[[], object] | None = None
    ) -> asyncio.Future[Response]:
        """Write `data` on the checked-out `conn` now; the future of its response (no task, no await).

        The connection comes back to the pool when the response is framed; a timeout, a loss
        or cancelling the future drops it (its state is unknown). Raises `ConnectionLost`
        (never written) if `conn` died while idle.
        """
        try:
            waiter = conn.send(data)
        except ConnectionLost:
            self._busy.discard(conn)
            raise
        if on_write is not None:
            on_write()
        conn.timeout = timeout
        conn.deadline = deadline = conn.loop.time() + timeout
        if self._deadlines is None or deadline < self._deadlines.when():
            self._watch(conn.loop, deadline)
        waiter.add_done_callback(lambda done: self._settle(conn, done))
        return waiter

    def _watch(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """One timer per pool for all requests in flight, due at the earliest deadline: a
        fan-out of 50 requests arms it once instead of making and cancelling 50 timers."""
        if self._deadlines is not None:
            self._deadlines.cancel()
        self._deadlines = loop.call_at(deadline, self._expire_due, loop)

    def _expire_due(self, loop: asyncio.AbstractEventLoop) -> None:
        self._deadlines = None
        now, earliest = loop.time(), None
        for conn in list(self._busy):
            waiter = conn.waiter
            if waiter is None or waiter.done():
                continue
            if conn.deadline <= now:
                conn.expire(waiter, conn.timeout)
            elif earliest is None or conn.deadline < earliest:
                earliest = conn.deadline
        if earliest is not None:
            self._watch(loop, earliest)

    def _settle(self, conn: _Connection, waiter: asyncio.Future[Response]) -> None:
        if waiter.cancelled() or waiter.exception() is not None:  # timeout, loss, bad bytes, cancelled
            self._busy.discard(conn)
            conn.abort()
        else:
            self._checkin(conn)

    def _checkout_idle(self) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.popleft()
            if conn.usable:
                self._busy.add(conn)
                return conn
        return None

    async def _checkout(self, timeout: float) -> _Connection:
        self._check_open()
        if self.open_count < self.max_size:
            self._opening += 1
            try:
                conn = await self._connect()
            finally:
                self._opening -= 1
            if self._closed:
                conn.close(retired=True)
                raise self._pool_closed()
            self._busy.add(conn)
            return conn
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Connection] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, self._expire_waiter, waiter, timeout)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._checkin(waiter.result())  # handed over just as we were cancelled
            raise
        finally:
            timer.cancel()

    def _expire_waiter(self, waiter: asyncio.Future[_Connection], timeout: float) -> None:
        if not waiter.done():
            waiter.set_exception(
                RequestTimedOut(
                    f"no free connection within {timeout}s (max_size={self.max_size})",
                    host=self.host,
                    port=self.port,
                    maybe_delivered=False,
                    broker=self.broker,
                )
            )

    def _checkin(self, conn: _Connection) -> None:
        self._busy.discard(conn)
        if self._closed or not conn.usable or not conn.reader.keep_alive:
            conn.close(retired=self._closed)  # server said close, or it died: replace it
            return
        conn.idle_since = self._clock()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy.add(conn)
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    # keeping warm ---------------------------------------------------------------------------
    async def maintain(self) -> None:
        """One keep-warm pass: replace idle connections older than `idle_refresh_s`, top up to `size`.

        Replacements are opened before the stale connections close. Raises `ConnectFailed` if
        the host cannot be reached (the stale connections are closed anyway).
        """
        self._check_open()
        now = self._clock()
        stale = [c for c in self._idle if now - c.idle_since >= self.idle_refresh_s]
        try:
            await self._grow(self.size - (self.open_count - len(stale)))
        finally:
            for conn in stale:
                if conn in self._idle:  # not checked out meanwhile
                    self._idle.remove(conn)
                    conn.close(retired=True)

    async def _maintain_forever(self) -> None:
        period = self.idle_refresh_s / 4
        while not self._closed:
            await asyncio.sleep(period)
            try:
                await self.maintain()
            except (ConnectFailed, PoolClosed) as exc:
                log.warning("keep-warm pass for %s:%s failed: %s", self.host, self.port, exc)

    def _lost(self, conn: _Connection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        self._busy.discard(conn)
        if conn.retired or self._closed:
            return
        self._lost_total += 1
        if self._refiller is None:
            self._refiller = asyncio.get_running_loop().create_task(self._refill())

    async def _refill(self) -> None:
        try:
            while not self._closed:
                waiting = sum(1 for w in self._waiters if not w.done())
                need = min(self.max_size, self.size + waiting) - self.open_count
                if need <= 0:
                    return
                await self._grow(need)
        except ConnectFailed as exc:
            log.warning("could not replace a lost connection to %s:%s: %s", self.host, self.port, exc)
        finally:
            self._refiller = None

    async def _grow(self, n: int) -> None:
        """Open `n` connections concurrently into the pool; raise the first failure after all tried."""
        if n <= 0:
            return
        self._opening += n
        results = await asyncio.gather(*(self._open_into_pool() for _ in range(n)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _open_into_pool(self) -> None:
        try:
            conn = await self._connect()
        finally:
            self._opening -= 1
        self._checkin(conn)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self, loop),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectFailed(
                f"connect timed out after {self.connect_timeout}s", host=self.host, port=self.port, broker=self.broker
            ) from None
        except OSError as exc:
            raise ConnectFailed(f"connect failed: {exc}", host=self.host, port=self.port, broker=self.broker) from None
        self._opened_total += 1
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise self._pool_closed()

    def _pool_closed(self) -> PoolClosed:
        return PoolClosed("pool is closed", host=self.host, port=self.port, maybe_delivered=False, broker=self.broker)
