"""Per-token sliding-window rate limits (docs/protocols/kite.md and dhan.md, Rate limits nbexec
applies), on a hand-driven clock."""

from __future__ import annotations

from nbexec.paper.services import DEFAULT_RATE_LIMITS, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_kite_orders_are_limited_to_ten_per_second_per_token():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert all(limiter.check("t1", "kite.order") for _ in range(10))
    assert not limiter.check("t1", "kite.order")
    assert limiter.check("t2", "kite.order")
    clock.now += 1.0
    assert limiter.check("t1", "kite.order")


def test_the_per_minute_limit_holds_even_when_each_second_is_within_limits():
    clock = Clock()
    limiter = RateLimiter({"kite.order": ((10, 1.0), (15, 60.0))}, clock=clock)
    allowed = 0
    for _ in range(5):
        allowed += sum(limiter.check("t", "kite.order") for _ in range(10))
        clock.now += 1.0
    assert allowed == 15


def test_a_refused_request_does_not_count():
    clock = Clock()
    limiter = RateLimiter({"kite.quote": ((1, 1.0),)}, clock=clock)
    assert limiter.check("t", "kite.quote")
    assert not limiter.check("t", "kite.quote")
    clock.now += 1.0
    assert limiter.check("t", "kite.quote") and limiter.refused == 1


def test_limits_can_be_switched_off():
    limiter = RateLimiter(enabled=False)
    assert all(limiter.check("t", "kite.quote") for _ in range(100))


def test_the_defaults_follow_the_brokers_documents():
    assert DEFAULT_RATE_LIMITS["kite.order"] == ((10, 1.0), (400, 60.0))
    assert DEFAULT_RATE_LIMITS["kite.quote"] == ((1, 1.0),)
    assert DEFAULT_RATE_LIMITS["dhan.order"][0] == (25, 1.0)
