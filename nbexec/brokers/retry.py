"""When a broker call may be sent again, how long to wait first, and how fast to send at all.

The rule that matters: an order is never sent twice. A place (or modify) is retried only when
the request provably did not reach the broker: the connection failed before the write, the
pool had no connection, or the broker refused it outright with a 429. Once the bytes were
written, a timeout or a reset means the order's fate is unknown; it is resolved by looking the
order up by its tag (`OutcomeUnknown`), never by sending again. Reads and cancels are
idempotent in effect and are retried on timeouts, 5xx and 429.

Pure parts (`classify`, `RetryPolicy.decide`, `RateWindows`) take the clock and the RNG as
arguments; the async shells (`call_with_retry`, `RateLimiter.acquire`) only wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from nbexec.core.backoff import backoff_delay
from nbexec.core.errors import BrokerError, BrokerUnavailable, RateLimited, ValidationError

from .wire import TransportError

T = TypeVar("T")


class Operation(str, Enum):
    PLACE = "place"
    MODIFY = "modify"  # not idempotent: each counts toward the 25-modification limit
    CANCEL = "cancel"  # idempotent in effect: a second cancel changes nothing at the exchange
    READ = "read"  # order book, one order, trades, positions, funds: idempotent


class Verdict(str, Enum):
    RETRY = "RETRY"  # safe to send again after the delay
    FAIL = "FAIL"  # final answer: surface the error
    UNKNOWN = "UNKNOWN"  # may have landed: look the order up by its tag, do not resend


class OutcomeUnknown(BrokerUnavailable):
    """A place or modify may have reached the broker; the order goes UNKNOWN until looked up."""

    def __init__(self, operation: Operation, cause: BaseException) -> None:
        self.operation, self.cause = operation, cause
        super().__init__(
            f"{operation.value}: outcome unknown, look the order up by its tag ({cause})",
            broker=getattr(cause, "broker", ""),
            status=getattr(cause, "status", None),
        )


def provably_not_sent(error: BaseException) -> bool:
    """True when the broker cannot have acted on the request: never written, or refused with 429."""
    if isinstance(error, TransportError):
        return not error.maybe_delivered
    return isinstance(error, RateLimited)


def classify(operation: Operation, error: BaseException) -> Verdict:
    """What `error` means for `operation`, before counting attempts."""
    if provably_not_sent(error):
        return Verdict.RETRY
    if isinstance(error, BrokerUnavailable):  # written and lost, timed out, or 5xx
        if operation in (Operation.READ, Operation.CANCEL):
            return Verdict.RETRY
        return Verdict.UNKNOWN
    return Verdict.FAIL  # auth, input, rejection, anything else: sending again changes nothing


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay_s: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` counts the first try; delays grow from `base_s` up to `cap_s`.

    A 429 waits at least `rate_limited_floor_s` (the broker's windows are a second long).
    """

    max_attempts: int = 4
    base_s: float = 0.05
    cap_s: float = 2.0
    rate_limited_floor_s: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError("max_attempts", self.max_attempts, "must be at least 1")
        if not 0 <= self.base_s <= self.cap_s:
            raise ValidationError("base_s", self.base_s, f"must be between 0 and cap_s {self.cap_s}")

    def decide(self, operation: Operation, error: BaseException, attempt: int, rng: random.Random) -> Decision:
        """The decision after attempt number `attempt` (1 = the first try) failed with `error`."""
        verdict = classify(operation, error)
        if verdict is not Verdict.RETRY:
            return Decision(verdict, reason=f"{type(error).__name__} on {operation.value}")
        if attempt >= self.max_attempts:
            return Decision(Verdict.FAIL, reason=f"gave up after {attempt} attempts")
        delay = backoff_delay(attempt, base_s=self.base_s, cap_s=self.cap_s, rng=rng)
        if isinstance(error, RateLimited):
            delay = max(delay, self.rate_limited_floor_s)
        return Decision(Verdict.RETRY, delay, f"{type(error).__name__}: retry {attempt + 1}")


# --------------------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests allowed per window; None = no limit on that window."""

    per_second: int | None = None
    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """(max requests, window seconds) pairs, the shape the paper exchange enforces."""
        spans = ((self.per_second, 1.0), (self.per_minute, 60.0), (self.per_hour, 3600.0), (self.per_day, 86400.0))
        return tuple((n, w) for n, w in spans if n is not None)


# docs/protocols/kite.md, Rate limits nbexec applies: the figures are Zerodha staff answers on the
# Kite forum, not the official pages; where they disagree, the stricter one (200/min, not 400/min).
KITE_RATE_LIMITS: dict[str, RateLimit] = {
    "order": RateLimit(per_second=10, per_minute=200),  # place, modify, cancel
    "quote": RateLimit(per_second=1),
    "historical": RateLimit(per_second=3),
    "other": RateLimit(per_second=10),
}
# docs/protocols/dhan.md, Rate limits nbexec applies: order APIs 25/s on the official v2 page, 10/s
# in copies of newer documentation (not confirmed by the official docs): the stricter.
DHAN_RATE_LIMITS: dict[str, RateLimit] = {
    "order": RateLimit(per_second=10, per_minute=250, per_hour=1000, per_day=7000),
    "data": RateLimit(per_second=5, per_day=100_000),
    "quote": RateLimit(per_second=1),
    "other": RateLimit(per_second=20),
}


class RateWindows:
    """Sliding-window buckets: at most n requests in ANY span of w seconds, for every (n, w).

    Each bucket holds n tokens and a spent token comes back exactly w seconds after it was
    spent. Unlike a refill-at-rate token bucket (which lets up to 2n through in some w-second
    span), this never exceeds the broker's published figure. Pure: the caller passes `now`.
    """

    __slots__ = ("_windows", "_log")

    def __init__(self, limit: RateLimit) -> None:
        self._windows = limit.windows
        for n, w in self._windows:
            if n < 1:
                raise ValidationError("rate limit", n, f"requests per {w:g}s must be at least 1")
        self._log: deque[float] = deque(maxlen=max((n for n, _ in self._windows), default=1))

    def delay(self, now: float) -> float:
        """Seconds until one more request fits every window (0 = now)."""
        log, wait = self._log, 0.0
        for n, w in self._windows:
            # Same test as the paper exchange; the 1 us floor keeps float rounding from
            # waking a caller a hair before the edge, forever.
            if len(log) >= n and now - log[-n] < w:
                wait = max(wait, log[-n] + w - now, 1e-6)
        return wait

    def take(self, now: float) -> float:
        """Spend a token if one fits now and return 0; else spend nothing and return the delay."""
        wait = self.delay(now)
        if wait <= 0 and self._windows:
            self._log.append(now)
        return max(wait, 0.0)


class RateLimiter:
    """Client-side limiter for one endpoint class of one account (limits are per API key).

    `acquire()` returns without suspending when a token is free and nobody is queued; otherwise
    callers wait in FIFO order. `clock` and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self._windows = RateWindows(limit)
        self._clock, self._sleep = clock, sleep
        self._queued = 0
        self._lock: asyncio.Lock | None = None

    def try_acquire(self) -> bool:
        return self._queued == 0 and self._windows.take(self._clock()) == 0

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        self._queued += 1
        try:
            async with self._lock:
                while (wait := self._windows.take(self._clock())) > 0:
                    await self._sleep(wait)
        finally:
            self._queued -= 1


def limiters(preset: dict[str, RateLimit], **kwargs) -> dict[str, RateLimiter]:
    """One limiter per endpoint class, for one account."""
    return {name: RateLimiter(limit, **kwargs) for name, limit in preset.items()}


# --------------------------------------------------------------------------- the async shell

# One jitter source for every call: seeding a Random per order costs more than the order's write.
_JITTER = random.Random()


def next_delay(
    operation: Operation, error: BrokerError, attempt: int, policy: RetryPolicy, rng: random.Random | None = None
) -> float:
    """Seconds to wait before attempt `attempt + 1`, after attempt `attempt` failed with `error`.

    Raises instead when there is no next attempt: `error` itself on FAIL, `OutcomeUnknown` when
    a place or modify may have landed. The one rule for every caller (`call_with_retry` and
    the order channel's callback path).
    """
    decision = policy.decide(operation, error, attempt, rng or _JITTER)
    if decision.verdict is Verdict.UNKNOWN:
        raise OutcomeUnknown(operation, error) from error
    if decision.verdict is Verdict.FAIL:
        raise error
    return decision.delay_s


async def call_with_retry(
    operation: Operation,
    send: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    limiter: RateLimiter | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    attempt: int = 0,
) -> T:
    """Call `send()` until it succeeds or the policy says stop.

    Raises the last error on FAIL, and `OutcomeUnknown` (from the error) when a place or modify
    may have landed. `limiter.acquire()` is awaited before every attempt. `attempt`: how many
    attempts were already made (by a caller that made the first one itself).
    """
    while True:
        attempt += 1
        if limiter is not None:
            await limiter.acquire()
        try:
            return await send()
        except BrokerError as error:
            delay = next_delay(operation, error, attempt, policy, rng)
        await sleep(delay)
