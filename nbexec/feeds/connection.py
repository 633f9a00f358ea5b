"""One market-data WebSocket kept open: reconnect with backoff and jitter, drop a silent socket.

Both broker clients (`kite_ticker`, `dhan_feed`) run on this; they only say what the URL is,
what to send on open and what to do with a message. Runs as one task on the event loop that
called `start()` (in Jupyter: the kernel's loop); every callback runs on that loop, in the read
loop, and must not block.

Credentials ride in the URL's query string (both brokers), so the URL is built at connect
time only, never stored, logged or put in an exception: logs show `scheme://host/path`, and
websockets' own logger (which logs the request line at DEBUG) goes through `RedactingLogger`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from nbexec.brokers.retry import backoff_delay
from nbexec.core.errors import (AuthError, BrokerError, BrokerUnavailable, ConfigError, NbexecError,
                                ValidationError)
from nbexec.core.secrets import Secret

log = logging.getLogger(__name__)

Message = str | bytes


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every secret's value (raw or URL-quoted) replaced by `***`."""
    for secret in secrets:
        value = secret.reveal()
        if value:
            text = text.replace(value, "***").replace(quote(value, safe=""), "***")
    return text


def public_url(url: str) -> str:
    """The part of a URL that may be logged: no query string, no user info."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class RedactingLogger(logging.LoggerAdapter):
    """A logger for websockets that removes the secrets from every message and traceback."""

    def __init__(self, logger: logging.Logger, secrets: Sequence[Secret]) -> None:
        super().__init__(logger, {})
        self.secrets = secrets

    def log(self, level: int, msg: object, *args: object, **kwargs) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            exc = exc_info if isinstance(exc_info, BaseException) else None
            lines = (traceback.format_exception(exc) if exc is not None
                     else traceback.format_exc().splitlines(keepends=True))
            text += "\n" + "".join(lines)
        self.logger.log(level, redact(text, self.secrets), **kwargs)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How hard to try. Delays grow from `base_s` to `cap_s` with full jitter and go back to
    the start once a connection has delivered a message. `watchdog_s`: drop the socket after
    that long without any message (None = rely on WebSocket pings alone)."""

    base_s: float = 0.25
    cap_s: float = 30.0
    watchdog_s: float | None = 5.0
    open_timeout_s: float = 10.0
    close_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValidationError("base_s", self.base_s, f"must be positive and at most cap_s {self.cap_s}")
        if self.watchdog_s is not None and self.watchdog_s <= 0:
            raise ValidationError("watchdog_s", self.watchdog_s, "must be positive (or None)")


class FeedConnection:
    """Keeps a WebSocket to `url()` open until `close()` or a fatal error.

    Callbacks (all sync, on the loop, must not block):
    * `on_open()` -> messages to send first on every connection (the subscriptions);
    * `on_message(data, received_ns)`: `received_ns` is `time.time_ns()` on arrival. Raising
      a `BrokerError` (e.g. `AuthError`) stops the connection for good; it becomes `failure`.
      Any other exception is logged and the message skipped.
    * `on_lost()`: an open connection was lost and will be retried (ticks may be missing).
    An HTTP 401/403 on the handshake is fatal too (`AuthError`): retrying cannot help.
    """

    def __init__(self, name: str, url: Callable[[], str], *, broker: str,
                 secrets: Sequence[Secret], on_open: Callable[[], list[Message]],
                 on_message: Callable[[Message, int], None],
                 on_lost: Callable[[], None] = lambda: None,
                 policy: ReconnectPolicy = ReconnectPolicy(),
                 headers: dict[str, str] | None = None, rng: random.Random | None = None) -> None:
        self.name, self.broker, self._url, self.policy = name, broker, url, policy
        self.public_url = public_url(url())
        self._secrets = secrets
        self._on_open, self._on_message, self._on_lost = on_open, on_message, on_lost
        self._headers = headers or {}
        self._rng = rng or random.Random()
        self._logger = RedactingLogger(logging.getLogger(f"websockets.client.{name}"), secrets)
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task | None = None
        self._sends: set[asyncio.Task] = set()
        self._send_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._last_rx = 0.0
        self._watch: asyncio.TimerHandle | None = None
        self.failure: NbexecError | None = None
        self.connects = 0          # successful opens, the first one included
        self.watchdog_drops = 0    # connections dropped for silence

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background (idempotent). Call on the loop that reads."""
        if self._task is None or self._task.done():
            self.failure = None
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name=f"nbexec-feed-{self.name}")

    async def close(self) -> None:
        """Close the socket and end every task this connection started; idempotent."""
        tasks = [t for t in (self._task, *self._sends) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for an open, subscribed connection.

        Raises the fatal error if there is one (`AuthError` ...), `BrokerUnavailable` on timeout.
        """
        waiter = asyncio.ensure_future(self._connected.wait())
        pending = {waiter} | ({self._task} if self._task else set())
        try:
            await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self.failure is not None:
            raise self.failure
        if not self._connected.is_set():
            raise BrokerUnavailable(f"{self.name}: not connected to {self.public_url} after {timeout} s",
                                    broker=self.broker)

    # -- sending --------------------------------------------------------------------------
    def send_soon(self, messages: list[Message]) -> None:
        """Send now if connected (in order, after earlier sends); else `on_open` covers it.

        Sync, so safe from a widget callback on the loop.
        """
        if messages and self._ws is not None:
            task = asyncio.get_running_loop().create_task(self._send(self._ws, messages))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, ws: ClientConnection, messages: list[Message]) -> None:
        async with self._send_lock:
            try:
                for message in messages:
                    await ws.send(message)
            except ConnectionClosed:
                pass   # the next connection resends every subscription on open

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                ws = await connect(self._url(), additional_headers=self._headers,
                                   open_timeout=self.policy.open_timeout_s,
                                   close_timeout=self.policy.close_timeout_s,
                                   max_size=None, compression=None, logger=self._logger)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    self._fail(AuthError(f"{self.name}: handshake refused with HTTP {status} "
                                         "(check the api key / client id and access token)",
                                         broker=self.broker, status=status))
                    return
                log.warning("%s: handshake refused with HTTP %d", self.name, status)
            except InvalidURI:
                self._fail(ConfigError(f"{self.name}: not a WebSocket URL: {self.public_url}"))
                return
            except Exception as exc:   # refused, reset, timed out, bad handshake: try again
                log.warning("%s: cannot connect to %s: %s", self.name, self.public_url,
                            redact(f"{type(exc).__name__}: {exc}", self._secrets))
            else:
                if await self._session(ws):
                    attempt = 0
                if self.failure is not None:
                    return
                self._on_lost()
            attempt += 1
            delay = backoff_delay(attempt, base_s=self.policy.base_s, cap_s=self.policy.cap_s,
                                  rng=self._rng)
            log.info("%s: reconnecting in %.2f s (attempt %d)", self.name, delay, attempt)
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> bool:
        """Serve one open connection until it ends; True when it delivered any message."""
        loop = asyncio.get_running_loop()
        got_message = False
        self._ws = ws
        try:
            await self._send(ws, self._on_open())
            self.connects += 1
            self._connected.set()
            log.info("%s: connected to %s (connection %d)", self.name, self.public_url, self.connects)
            self._last_rx = loop.time()
            self._arm_watchdog(ws)
            while True:
                data = await ws.recv()
                self._last_rx = loop.time()
                got_message = True
                try:
                    self._on_message(data, time.time_ns())
                except BrokerError as exc:
                    self._fail(exc)
                    return got_message
                except Exception:
                    log.exception("%s: message skipped", self.name)
        except ConnectionClosed as exc:
            log.warning("%s: connection lost (close code %s)", self.name,
                        exc.rcvd.code if exc.rcvd else "none")
            return got_message
        finally:
            self._ws = None
            self._connected.clear()
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            await ws.close()

    def _arm_watchdog(self, ws: ClientConnection) -> None:
        """One timer per connection, re-armed only when it fires: a tick costs one store."""
        limit = self.policy.watchdog_s
        if limit is None:
            return
        loop = asyncio.get_running_loop()

        def check() -> None:
            idle = loop.time() - self._last_rx
            if idle < limit:
                self._watch = loop.call_at(self._last_rx + limit, check)
                return
            self.watchdog_drops += 1
            log.warning("%s: no message for %.1f s, dropping the connection", self.name, idle)
            ws.transport.abort()   # recv() then raises ConnectionClosedError

        self._watch = loop.call_at(self._last_rx + limit, check)

    def _fail(self, error: NbexecError) -> None:
        self.failure = error
        log.error("%s: giving up: %s", self.name, error)
