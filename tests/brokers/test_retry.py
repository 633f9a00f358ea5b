"""Retry decisions and rate windows: pure, with an injected clock and a seeded RNG."""

from __future__ import annotations

import random

import pytest

from nbexec.brokers.retry import (
    DHAN_RATE_LIMITS,
    KITE_RATE_LIMITS,
    Operation,
    OutcomeUnknown,
    RateLimit,
    RateLimiter,
    RateWindows,
    RetryPolicy,
    Verdict,
    call_with_retry,
    classify,
)
from nbexec.brokers.wire import ConnectFailed, ConnectionLost, PoolClosed, RequestTimedOut
from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, InputError, OrderRejected, RateLimited

P, M, C, R = Operation.PLACE, Operation.MODIFY, Operation.CANCEL, Operation.READ


def timed_out(written: bool) -> RequestTimedOut:
    return RequestTimedOut("no response", host="h", port=1, maybe_delivered=written)


CONNECT_REFUSED = ConnectFailed("refused", host="h", port=1)
RESET_AFTER_WRITE = ConnectionLost("reset", host="h", port=1, maybe_delivered=True)
HTTP_503 = BrokerUnavailable("API down", status=503)
HTTP_429 = RateLimited("too many", status=429)


@pytest.mark.parametrize("op", [P, M, C, R])
def test_connect_failure_before_write_is_retried_for_every_operation(op):
    assert classify(op, CONNECT_REFUSED) is Verdict.RETRY


@pytest.mark.parametrize("op", [P, M, C, R])
def test_rate_limited_is_retried_for_every_operation(op):
    assert classify(op, HTTP_429) is Verdict.RETRY


@pytest.mark.parametrize("op", [P, M, C, R])
def test_no_free_connection_before_write_is_retried(op):
    assert classify(op, timed_out(written=False)) is Verdict.RETRY


@pytest.mark.parametrize("op", [P, M])
def test_place_and_modify_timing_out_after_the_write_are_unknown(op):
    assert classify(op, timed_out(written=True)) is Verdict.UNKNOWN


@pytest.mark.parametrize("op", [P, M])
def test_place_and_modify_reset_after_the_write_are_unknown(op):
    assert classify(op, RESET_AFTER_WRITE) is Verdict.UNKNOWN


@pytest.mark.parametrize("op", [P, M])
def test_place_and_modify_answered_5xx_are_unknown(op):
    assert classify(op, HTTP_503) is Verdict.UNKNOWN


@pytest.mark.parametrize("error", [timed_out(True), RESET_AFTER_WRITE, HTTP_503])
@pytest.mark.parametrize("op", [C, R])
def test_reads_and_cancels_are_retried_on_timeouts_resets_and_5xx(op, error):
    assert classify(op, error) is Verdict.RETRY


@pytest.mark.parametrize(
    "error", [AuthError("x"), InputError("x"), OrderRejected("x"), BrokerError("x"), ValueError("bug")]
)
@pytest.mark.parametrize("op", [P, M, C, R])
def test_final_answers_are_never_retried(op, error):
    assert classify(op, error) is Verdict.FAIL


def test_pool_closed_is_retryable_but_policy_gives_up_after_max_attempts():
    error = PoolClosed("closed", host="h", port=1, maybe_delivered=False)
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(1)
    assert policy.decide(P, error, 2, rng).verdict is Verdict.RETRY
    assert policy.decide(P, error, 3, rng).verdict is Verdict.FAIL


def test_rate_limited_retry_waits_at_least_the_floor():
    policy = RetryPolicy(base_s=0.001, cap_s=0.001, rate_limited_floor_s=0.25)
    assert policy.decide(P, HTTP_429, 1, random.Random(0)).delay_s == 0.25


def test_policy_rejects_a_base_above_the_cap():
    with pytest.raises(ValueError):
        RetryPolicy(base_s=3, cap_s=1)


# ---------------------------------------------------------------- rate windows


def test_window_allows_n_requests_then_waits_for_the_oldest_to_expire():
    windows = RateWindows(RateLimit(per_second=3))
    assert [windows.take(10.0), windows.take(10.2), windows.take(10.4)] == [0, 0, 0]
    assert windows.take(10.5) == pytest.approx(0.5)  # the 10.0 token comes back at 11.0


def test_refused_take_spends_nothing():
    windows = RateWindows(RateLimit(per_second=1))
    windows.take(0.0)
    windows.take(0.5)
    assert windows.take(1.0) == 0


def test_minute_window_binds_after_the_second_window_allows_more():
    windows = RateWindows(RateLimit(per_second=10, per_minute=12))
    for i in range(12):
        assert windows.take(i * 0.2) == 0
    assert windows.take(3.0) == pytest.approx(57.0)  # first token (t=0) returns at t=60


def test_never_more_than_n_in_any_window():
    windows, sent, t = RateWindows(RateLimit(per_second=10, per_minute=200)), [], 0.0
    rng = random.Random(5)
    while t < 180:
        wait = windows.take(t)
        if wait == 0:
            sent.append(t)
        t += wait if wait else rng.uniform(0, 0.05)
    for i, start in enumerate(sent):
        assert sum(1 for s in sent[i : i + 11] if s - start < 1.0) <= 10
        assert sum(1 for s in sent[i : i + 201] if s - start < 60.0) <= 200


def test_kite_and_dhan_presets_match_protocols():
    assert KITE_RATE_LIMITS["order"].windows == ((10, 1.0), (200, 60.0))
    assert KITE_RATE_LIMITS["quote"].windows == ((1, 1.0),)
    assert KITE_RATE_LIMITS["historical"].windows == ((3, 1.0),)
    assert DHAN_RATE_LIMITS["order"].windows == ((10, 1.0), (250, 60.0), (1000, 3600.0), (7000, 86400.0))
    assert DHAN_RATE_LIMITS["other"].windows == ((20, 1.0),)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_acquire_returns_at_once_while_tokens_are_free():
    t = FakeTime()
    limiter = RateLimiter(RateLimit(per_second=2), clock=t.clock, sleep=t.sleep)
    await limiter.acquire()
    await limiter.acquire()
    assert t.slept == []


async def test_acquire_waits_until_a_token_returns():
    t = FakeTime()
    limiter = RateLimiter(RateLimit(per_second=2), clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert t.slept == [1.0]


async def test_try_acquire_refuses_when_empty():
    t = FakeTime()
    limiter = RateLimiter(RateLimit(per_second=1), clock=t.clock, sleep=t.sleep)
    assert limiter.try_acquire() is True
    assert limiter.try_acquire() is False


# ---------------------------------------------------------------- call_with_retry


def failing(*errors, result="ok"):
    calls = []

    async def send():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return send, calls


async def test_place_is_resent_after_a_connect_failure():
    send, calls = failing(CONNECT_REFUSED)
    t = FakeTime()
    assert await call_with_retry(P, send, RetryPolicy(), rng=random.Random(0), sleep=t.sleep) == "ok"
    assert len(calls) == 2


async def test_place_is_never_resent_after_a_written_timeout():
    send, calls = failing(timed_out(written=True))
    with pytest.raises(OutcomeUnknown) as caught:
        await call_with_retry(P, send, RetryPolicy(), rng=random.Random(0), sleep=FakeTime().sleep)
    assert len(calls) == 1 and caught.value.cause.maybe_delivered is True


async def test_read_is_retried_until_max_attempts_then_raises_the_last_error():
    send, calls = failing(HTTP_503, HTTP_503, HTTP_503)
    with pytest.raises(BrokerUnavailable):
        await call_with_retry(R, send, RetryPolicy(max_attempts=3), rng=random.Random(0), sleep=FakeTime().sleep)
    assert len(calls) == 3


async def test_rejection_is_raised_without_a_retry():
    send, calls = failing(OrderRejected("margin"))
    with pytest.raises(OrderRejected):
        await call_with_retry(P, send, RetryPolicy(), sleep=FakeTime().sleep)
    assert len(calls) == 1


async def test_every_attempt_takes_a_rate_limit_token():
    t = FakeTime()
    limiter = RateLimiter(RateLimit(per_second=1), clock=t.clock, sleep=t.sleep)
    send, calls = failing(HTTP_429)
    await call_with_retry(
        P, send, RetryPolicy(rate_limited_floor_s=0.25), limiter=limiter, rng=random.Random(0), sleep=t.sleep
    )
    assert len(calls) == 2 and t.now >= 1.0
