"""Smart order routing: pick the healthy route with the lowest recent ack latency.

Each route has a circuit breaker (closed -> open after N consecutive failures -> half-open
after a cooldown -> closed on a success) and an EWMA of its ack latency. Time is passed in
(monotonic ns), so every decision is deterministic and replayable. The state is plain mutable
data owned by the engine's event loop: no locks, and not to be shared across threads.

The engine must report every outcome of a routed order: an ack with its latency as a success,
a reject by the venue's infrastructure, a timeout or a reset as a failure. A half-open route
admits exactly one probe and no other order until that outcome (or any other) is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..core.errors import NbexecError, ValidationError


class NoRoute(NbexecError):
    """Every route is open (or half-open with its one probe already out): nothing can be sent."""


class BreakerState(str, Enum):
    CLOSED = "closed"  # orders flow
    OPEN = "open"  # orders refused until the cooldown ends
    HALF_OPEN = "half-open"  # one probe order may test the route

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class CircuitBreaker:
    """Consecutive-failure breaker. `state(now)` reads; only `admit`, `record_*` change it."""

    failure_threshold: int = 3
    cooldown_s: float = 5.0
    failures: int = field(default=0, init=False)  # consecutive, while closed
    opened_at_ns: int | None = field(default=None, init=False)
    probe_out: bool = field(default=False, init=False)  # the half-open probe is in flight

    def __post_init__(self) -> None:
        t = self.failure_threshold
        if not isinstance(t, int) or isinstance(t, bool) or t < 1:
            raise ValidationError("failure_threshold", t, "must be a whole number of at least 1")
        if not isinstance(self.cooldown_s, (int, float)) or not 0 < self.cooldown_s < float("inf"):
            raise ValidationError("cooldown_s", self.cooldown_s, "must be a positive number of seconds")

    @property
    def cooldown_ns(self) -> int:
        return int(self.cooldown_s * 1e9)

    def state(self, now_ns: int) -> BreakerState:
        if self.opened_at_ns is None:
            return BreakerState.CLOSED
        if now_ns < self.opened_at_ns + self.cooldown_ns:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def can_admit(self, now_ns: int) -> bool:
        state = self.state(now_ns)
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self.probe_out)

    def admit(self, now_ns: int) -> bool:
        """Whether an order may go out now; in half-open the first one takes the single probe."""
        if not self.can_admit(now_ns):
            return False
        if self.state(now_ns) is BreakerState.HALF_OPEN:
            self.probe_out = True
        return True

    def record_success(self) -> None:
        """The route works: closed, failure count cleared."""
        self.failures, self.opened_at_ns, self.probe_out = 0, None, False

    def record_failure(self, now_ns: int) -> None:
        """Count a failure; the Nth in a row opens the breaker, any in half-open reopens it.
        A failure while open (a late answer to an older order) changes nothing."""
        state = self.state(now_ns)
        if state is BreakerState.OPEN:
            return
        self.failures += 1
        if state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at_ns, self.probe_out = now_ns, False


@dataclass(slots=True)
class LatencyEwma:
    """Exponentially weighted mean of ack latency: recent acks weigh `alpha`, the past the rest."""

    alpha: float = 0.2
    mean_ns: float | None = field(default=None, init=False)  # None until the first ack

    def __post_init__(self) -> None:
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha <= 1:
            raise ValidationError("alpha", self.alpha, "must be above 0 and at most 1")

    def add(self, latency_ns: int) -> None:
        if self.mean_ns is None:
            self.mean_ns = float(latency_ns)
        else:
            self.mean_ns += self.alpha * (latency_ns - self.mean_ns)


@dataclass(slots=True, eq=False)
class Route:
    """One way to a broker (a host, a connection pool, a broker) with its health."""

    name: str
    preference: int = 0  # lower wins when latencies tie (or are both unknown)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    latency: LatencyEwma = field(default_factory=LatencyEwma)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValidationError("name", self.name, "a route needs a name")


class RouteChoice:
    """The route an order takes, and why. `reason` is formatted only when read: the choice is
    made per order on the order path, the reason is read by people."""

    __slots__ = ("route", "_routes", "_now_ns", "_probe")

    def __init__(self, route: Route, routes: Sequence[Route], now_ns: int, probe: bool) -> None:
        self.route, self._routes, self._now_ns, self._probe = route, routes, now_ns, probe

    @property
    def reason(self) -> str:
        best, now_ns = self.route, self._now_ns
        if self._probe:
            chosen = f"{best.name} chosen: half-open, this order is the probe, {_latency(best)}"
        else:
            chosen = f"{best.name} chosen: {_health(best, now_ns)}"
        return "; ".join([chosen, *(f"{r.name}: {_health(r, now_ns)}" for r in self._routes if r is not best)])

    def __repr__(self) -> str:
        return f"RouteChoice({self.route.name!r}: {self.reason})"


def choose(routes: Sequence[Route], now_ns: int, *, admit: bool = True) -> RouteChoice:
    """The admissible route with the lowest latency EWMA; unmeasured routes rank after measured
    ones, ties go to the lower `preference`, then to the earlier route in `routes`. Open routes
    are skipped; a half-open route competes like a closed one, and if chosen this order is its
    probe (`admit=False`: the same answer, the probe not taken, nothing changed). Raises
    `NoRoute` when no route can take an order."""
    if not routes:
        raise NoRoute("no routes configured")
    best, best_rank = None, None
    for route in routes:  # one pass, no sorting: this runs once per order on the order path
        if route.breaker.opened_at_ns is not None and not route.breaker.can_admit(now_ns):
            continue
        mean = route.latency.mean_ns
        rank = (mean is None, mean or 0.0, route.preference)
        if best is None or rank < best_rank:  # type: ignore[operator]  # best_rank is set with best
            best, best_rank = route, rank
    if best is None:
        states = "; ".join(f"{r.name}: {_health(r, now_ns)}" for r in routes)
        raise NoRoute(f"no route can take an order: {states}")
    probe = best.breaker.opened_at_ns is not None  # admissible and not closed: half-open
    if probe and admit:
        best.breaker.admit(now_ns)
    return RouteChoice(best, routes, now_ns, probe)


def record_success(route: Route, latency_ns: int) -> None:
    """An ack came back after `latency_ns`: the route is healthy and its EWMA moves."""
    route.latency.add(latency_ns)
    route.breaker.record_success()


def record_failure(route: Route, now_ns: int) -> None:
    """A timeout, reset or infrastructure error on this route (not an exchange's order reject)."""
    route.breaker.record_failure(now_ns)


def _health(route: Route, now_ns: int) -> str:
    breaker = route.breaker
    state = breaker.state(now_ns)
    if state is BreakerState.OPEN:  # (so opened_at_ns is set)
        left_ns = breaker.opened_at_ns + breaker.cooldown_ns - now_ns  # type: ignore[operator]
        return f"open for {left_ns / 1e9:.2f} s more"
    if state is BreakerState.HALF_OPEN:
        return f"half-open, {'probe in flight' if breaker.probe_out else 'probe free'}, {_latency(route)}"
    return f"closed, {_latency(route)}"


def _latency(route: Route) -> str:
    mean = route.latency.mean_ns
    return "no latency yet" if mean is None else f"ewma {mean / 1e6:.2f} ms"
