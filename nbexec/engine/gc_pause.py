"""`without_gc`: run a piece of the order path with Python's cyclic collector held off."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def without_gc(run: Callable[[], T]) -> T:
    """`run()` with the cyclic collector held off, then left as it was found: a collection
    triggered by a fan-out's own allocations costs more than all of its writes (see
    docs/performance.md, Figures behind design choices), so it runs right after the last byte
    instead."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return run()
    finally:
        if collecting:
            gc.enable()
