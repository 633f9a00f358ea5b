import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbexec.core.errors import NbexecError, ValidationError
from nbexec.engine.routing import (
    BreakerState,
    CircuitBreaker,
    LatencyEwma,
    NoRoute,
    Route,
    choose,
    record_failure,
    record_success,
)

S = 1_000_000_000
MS = 1_000_000


def route(name: str, preference: int = 0, threshold: int = 3, cooldown_s: float = 5.0) -> Route:
    return Route(name, preference, CircuitBreaker(threshold, cooldown_s))


def fail(r: Route, times: int, now: int = 0) -> None:
    for _ in range(times):
        record_failure(r, now)


# -- the breaker ------------------------------------------------------------------------------
def test_breaker_opens_after_n_consecutive_failures():
    b = CircuitBreaker(failure_threshold=3)
    b.record_failure(0)
    b.record_failure(0)
    assert b.state(0) is BreakerState.CLOSED
    b.record_failure(0)
    assert b.state(0) is BreakerState.OPEN


def test_a_success_resets_the_consecutive_count():
    b = CircuitBreaker(failure_threshold=2)
    b.record_failure(0)
    b.record_success()
    b.record_failure(0)
    assert b.state(0) is BreakerState.CLOSED


def test_open_breaker_turns_half_open_after_the_cooldown():
    b = CircuitBreaker(failure_threshold=1, cooldown_s=5)
    b.record_failure(10 * S)
    assert b.state(15 * S - 1) is BreakerState.OPEN
    assert b.state(15 * S) is BreakerState.HALF_OPEN


def test_half_open_admits_one_probe_then_nothing():
    b = CircuitBreaker(failure_threshold=1, cooldown_s=1)
    b.record_failure(0)
    assert b.admit(S) is True
    assert b.admit(S) is False
    assert b.admit(100 * S) is False


def test_successful_probe_closes_the_breaker():
    b = CircuitBreaker(failure_threshold=1, cooldown_s=1)
    b.record_failure(0)
    b.admit(S)
    b.record_success()
    assert b.state(S) is BreakerState.CLOSED and b.admit(S) and b.admit(S)


def test_failed_probe_reopens_for_a_fresh_cooldown():
    b = CircuitBreaker(failure_threshold=1, cooldown_s=1)
    b.record_failure(0)
    b.admit(2 * S)
    b.record_failure(2 * S)
    assert b.state(3 * S - 1) is BreakerState.OPEN
    assert b.state(3 * S) is BreakerState.HALF_OPEN and b.admit(3 * S)


def test_a_late_failure_while_open_does_not_extend_the_cooldown():
    b = CircuitBreaker(failure_threshold=1, cooldown_s=1)
    b.record_failure(0)
    b.record_failure(S // 2)
    assert b.state(S) is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": 1.5}, "failure_threshold"),
        ({"cooldown_s": 0}, "cooldown_s"),
    ],
)
def test_bad_breaker_settings_name_the_field(kw, field):
    with pytest.raises(ValidationError) as info:
        CircuitBreaker(**kw)
    assert info.value.field == field


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 3 * S)),
        st.just(("admit",)),
        st.just(("success",)),
        st.just(("failure",)),
    ),
    max_size=60,
)


@given(actions=ACTIONS, threshold=st.integers(1, 4))
def test_half_open_never_lets_more_than_one_probe_through(actions, threshold):
    b = CircuitBreaker(failure_threshold=threshold, cooldown_s=1)
    now, probes = 0, 0  # probes admitted while half-open since the last recorded outcome
    for action in actions:
        if action[0] == "wait":
            now += action[1]
        elif action[0] == "admit":
            half_open = b.state(now) is BreakerState.HALF_OPEN
            if b.admit(now) and half_open:
                probes += 1
        else:
            b.record_success() if action[0] == "success" else b.record_failure(now)
            probes = 0
        assert probes <= 1


# -- latency ----------------------------------------------------------------------------------
def test_ewma_starts_at_the_first_ack_and_weighs_recent_acks_by_alpha():
    ewma = LatencyEwma(alpha=0.25)
    ewma.add(400_000)
    assert ewma.mean_ns == 400_000
    ewma.add(800_000)
    assert ewma.mean_ns == 500_000


def test_bad_alpha_names_the_field():
    with pytest.raises(ValidationError) as info:
        LatencyEwma(alpha=0)
    assert info.value.field == "alpha"


# -- choosing ---------------------------------------------------------------------------------
def test_the_lowest_recent_latency_wins():
    kite, dhan = route("kite-primary"), route("dhan")
    record_success(kite, 900 * 1000)
    record_success(dhan, 410 * 1000)
    assert choose([kite, dhan], 0).route is dhan


def test_equal_latency_goes_to_the_preferred_route():
    a, b = route("a", preference=2), route("b", preference=1)
    record_success(a, MS)
    record_success(b, MS)
    assert choose([a, b], 0).route is b


def test_unmeasured_routes_go_by_preference_after_measured_ones():
    fresh, backup, measured = route("fresh", 0), route("backup", 1), route("measured", 5)
    assert choose([backup, fresh], 0).route is fresh
    record_success(measured, 50 * MS)
    assert choose([backup, fresh, measured], 0).route is measured


def test_open_routes_are_skipped():
    kite, dhan = route("kite-primary", threshold=1), route("dhan")
    record_success(kite, 100_000)
    record_success(dhan, 900_000)
    record_failure(kite, 0)
    assert choose([kite, dhan], S).route is dhan


def test_half_open_route_gets_one_probe_then_traffic_goes_elsewhere():
    kite, dhan = route("kite-primary", threshold=1, cooldown_s=1), route("dhan")
    record_success(kite, 100_000)
    record_success(dhan, 900_000)
    record_failure(kite, 0)
    assert choose([kite, dhan], 2 * S, admit=False).route is kite  # a look: the probe is still free
    probe = choose([kite, dhan], 2 * S)
    assert probe.route is kite and "this order is the probe" in probe.reason
    assert choose([kite, dhan], 2 * S).route is dhan


def test_reason_names_every_route_and_its_health():
    kite, dhan = route("kite-primary"), route("dhan", threshold=1, cooldown_s=5)
    record_success(kite, 410_000)
    record_failure(dhan, 0)
    reason = choose([kite, dhan], 2 * S).reason
    assert reason == "kite-primary chosen: closed, ewma 0.41 ms; dhan: open for 3.00 s more"


def test_every_route_open_raises_no_route_naming_each():
    kite, dhan = route("kite-primary", threshold=1), route("dhan", threshold=1)
    record_failure(kite, 0)
    record_failure(dhan, 0)
    with pytest.raises(NoRoute) as info:
        choose([kite, dhan], S)
    assert isinstance(info.value, NbexecError)
    assert "kite-primary: open for 4.00 s more" in str(info.value) and "dhan: open" in str(info.value)


def test_no_routes_at_all_raises_no_route():
    with pytest.raises(NoRoute, match="no routes configured"):
        choose([], 0)


def test_a_route_needs_a_name():
    with pytest.raises(ValidationError) as info:
        Route("")
    assert info.value.field == "name"
