"""Summaries of measured samples: every figure nbexec bench prints comes through here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Summary(TypedDict):
    p50: float
    p99: float
    min: float
    max: float
    samples: int
    unit: str


def summary(samples: Sequence[float], unit: str) -> Summary:
    """p50 / p99 / min / max of `samples` in `unit`, with the sample count."""
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "min": min(samples),
        "max": max(samples),
        "samples": len(samples),
        "unit": unit,
    }


def ratio(slower: float, faster: float) -> float:
    return slower / faster if faster else math.inf
