"""Backoff delays: full jitter below an exponential ceiling, reproducible with a seeded RNG."""

from __future__ import annotations

import random

from nbexec.core.backoff import backoff_delay


def test_backoff_is_full_jitter_below_the_exponential_ceiling():
    rng = random.Random(7)
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (10, 1.0)):
        delays = [backoff_delay(attempt, base_s=0.1, cap_s=1.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole range, not a fixed step


def test_backoff_is_reproducible_with_a_seed():
    a = [backoff_delay(i, base_s=0.1, cap_s=5, rng=random.Random(3)) for i in range(1, 6)]
    b = [backoff_delay(i, base_s=0.1, cap_s=5, rng=random.Random(3)) for i in range(1, 6)]
    assert a == b
