"""One market-data WebSocket kept open: reconnect with backoff and jitter, drop a silent socket.

Each broker's market-feed client (`brokers/<broker>/market_feed.py`) and Dhan's order-update
socket run on this; they only say what the URL is, what to send on open and what to do with a
message. Runs as one task on the event loop that called `start()` (in Jupyter: the kernel's
loop); the socket itself is `websocket.WebSocket`, which calls `on_message` inside the read
that brought the message (no reader task in between: that hop is latency on every tick).

Credentials ride in the URL's query string (both brokers), so the URL is built at connect
time only, never stored, logged or put in an exception: logs show `scheme://host/path`, and
the socket's own logger (which logs the request line at DEBUG) goes through `RedactingLogger`.
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

from nbexec.core.backoff import backoff_delay
from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, ConfigError, NbexecError, ValidationError
from nbexec.core.secrets import Secret

from .websocket import HandshakeRefused, Message, WebSocket, open_websocket

log = logging.getLogger(__name__)


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
            lines = (
                traceback.format_exception(exc) if exc is not None else traceback.format_exc().splitlines(keepends=True)
            )
            text += "\n" + "".join(lines)
        self.logger.log(level, redact(text, self.secrets), **kwargs)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How hard to try. Delays grow from `base_s` to `cap_s` with full jitter and go back to
    the start once a connection has delivered a message. `watchdog_s`: drop the socket after
    that long with nothing received at all (messages, heartbeats, server pings, pongs; None =
    rely on pings alone). `ping_interval_s`: ping the server that often (None = never) and drop the
    socket when its pong takes longer than `ping_timeout_s`."""

    base_s: float = 0.25
    cap_s: float = 30.0
    watchdog_s: float | None = 5.0
    open_timeout_s: float = 10.0
    close_timeout_s: float = 1.0
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValidationError("base_s", self.base_s, f"must be positive and at most cap_s {self.cap_s}")
        for name in ("watchdog_s", "ping_interval_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValidationError(name, value, "must be positive (or None)")
        for name in ("open_timeout_s", "close_timeout_s", "ping_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValidationError(name, getattr(self, name), "must be positive")


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

    def __init__(
        self,
        name: str,
        url: Callable[[], str],
        *,
        broker: str,
        secrets: Sequence[Secret],
        on_open: Callable[[], list[Message]],
        on_message: Callable[[Message, int], None],
        on_lost: Callable[[], None] = lambda: None,
        policy: ReconnectPolicy = ReconnectPolicy(),
        headers: dict[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name, self.broker, self._url, self.policy = name, broker, url, policy
        self.public_url = public_url(url())
        self._secrets = secrets
        self._on_open, self._on_message, self._on_lost = on_open, on_message, on_lost
        self._headers = headers or {}
        self._rng = rng or random.Random()
        self._logger = RedactingLogger(logging.getLogger(f"nbexec.feeds.websocket.{name}"), secrets)
        self._ws: WebSocket | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._connected = asyncio.Event()
        self._watch: asyncio.TimerHandle | None = None
        self.failure: NbexecError | None = None
        self.connects = 0  # successful opens, the first one included
        self.watchdog_drops = 0  # connections dropped for silence

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background (idempotent). Call on the loop that reads."""
        if self._task is None or self._task.done():
            self.failure = None
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"nbexec-feed-{self.name}")

    async def close(self) -> None:
        """Close the socket (close handshake) and end the connection's task; idempotent.

        The task is cancelled, and also told to stop: Python 3.11's `asyncio.wait_for` (the
        handshake's timeout) can swallow a cancel that lands as the connect attempt fails, and
        the loop would then go on reconnecting while this waits for it."""
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
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
            raise BrokerUnavailable(
                f"{self.name}: not connected to {self.public_url} after {timeout} s", broker=self.broker
            )

    # -- sending --------------------------------------------------------------------------
    def send_soon(self, messages: list[Message]) -> None:
        """Send now, in order, if connected; else `on_open` covers it on the next connection.

        Sync (a socket write, no task), so safe from a widget callback on the loop.
        """
        if self._ws is not None:
            for message in messages:
                self._ws.send(message)

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        policy = self.policy
        while True:
            try:
                ws = await open_websocket(
                    self._url(),
                    self._on_message,
                    self._on_error,
                    headers=self._headers,
                    open_timeout_s=policy.open_timeout_s,
                    ping_interval_s=policy.ping_interval_s,
                    ping_timeout_s=policy.ping_timeout_s,
                    close_timeout_s=policy.close_timeout_s,
                    logger=self._logger,
                )
            except HandshakeRefused as exc:
                if exc.status in (401, 403):
                    self._fail(
                        AuthError(
                            f"{self.name}: handshake refused with HTTP {exc.status} "
                            "(check the api key / client id and access token)",
                            broker=self.broker,
                            status=exc.status,
                        )
                    )
                    return
                log.warning("%s: handshake refused with HTTP %d", self.name, exc.status)
            except ConfigError as exc:
                self._fail(ConfigError(f"{self.name}: {exc} ({self.public_url})"))
                return
            except Exception as exc:  # refused, reset, timed out, bad handshake: try again
                log.warning(
                    "%s: cannot connect to %s: %s",
                    self.name,
                    self.public_url,
                    redact(f"{type(exc).__name__}: {exc}", self._secrets),
                )
            else:
                if await self._session(ws):
                    attempt = 0
                if self.failure is not None:
                    return
                self._on_lost()
            if self._closing:
                return
            attempt += 1
            delay = backoff_delay(attempt, base_s=policy.base_s, cap_s=policy.cap_s, rng=self._rng)
            log.info("%s: reconnecting in %.2f s (attempt %d)", self.name, delay, attempt)
            await asyncio.sleep(delay)

    async def _session(self, ws: WebSocket) -> bool:
        """Serve one open connection until it ends; True when it delivered any message."""
        self._ws = ws
        try:
            for message in self._on_open():
                ws.send(message)
            self.connects += 1
            self._connected.set()
            log.info("%s: connected to %s (connection %d)", self.name, self.public_url, self.connects)
            self._arm_watchdog(ws)
            await ws.wait_closed()
            if self.failure is None:
                log.warning("%s: connection lost (close code %s)", self.name, ws.close_code or "none")
            return ws.messages > 0
        finally:
            self._ws = None
            self._connected.clear()
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            await ws.close()

    def _on_error(self, exc: Exception) -> bool:
        """What `on_message` raised (called inside its except block); True closes the socket."""
        if isinstance(exc, BrokerError):
            self._fail(exc)
            return True
        log.exception("%s: message skipped", self.name)
        return False

    def _arm_watchdog(self, ws: WebSocket) -> None:
        """One timer per connection, re-armed only when it fires: a tick costs one store."""
        limit = self.policy.watchdog_s
        if limit is None:
            return
        loop = asyncio.get_running_loop()

        def check() -> None:
            idle = time.monotonic() - ws.heard  # the socket stamps reads with time.monotonic()
            if idle < limit:
                self._watch = loop.call_later(limit - idle, check)
                return
            self.watchdog_drops += 1
            log.warning("%s: nothing received for %.1f s, dropping the connection", self.name, idle)
            ws.abort()

        self._watch = loop.call_later(limit, check)

    def _fail(self, error: NbexecError) -> None:
        self.failure = error
        log.error("%s: giving up: %s", self.name, error)
