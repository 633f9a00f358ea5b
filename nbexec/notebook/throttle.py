"""Redraw pacing for widgets: loop callbacks, not tasks, so nothing is left running after close.

A widget redraw sends a comm message to the browser; at 10,000 ticks/s redrawing per tick would
flood the kernel's IOPub channel and starve the cells. `Throttle` coalesces pokes into at most
one redraw per interval; `Every` redraws on a fixed period. Both run `fn` on the loop that
created them, log its exceptions (never print into whatever cell is running) and stop for good
on `close()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_REDRAWS_PER_S = 10


def _safely(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:
        log.exception("widget redraw %r failed", fn)


class Throttle:
    """`poke()` from anywhere on the loop; `fn` runs at most once per `interval` seconds."""

    def __init__(self, fn: Callable[[], object], interval: float = 1 / MAX_REDRAWS_PER_S) -> None:
        self.fn, self.interval = fn, interval
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._last = float("-inf")
        self._closed = False

    def poke(self) -> None:
        if self._closed or self._handle is not None:
            return
        delay = max(0.0, self._last + self.interval - self._loop.time())
        self._handle = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._last = self._loop.time()
        _safely(self.fn)

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Every:
    """Run `fn` every `interval` seconds until `close()` (or until `fn` returns False)."""

    def __init__(self, fn: Callable[[], object], interval: float) -> None:
        self.fn, self.interval = fn, interval
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(interval, self._fire)

    def _fire(self) -> None:
        self._handle = None
        try:
            again = self.fn()
        except Exception:
            log.exception("widget refresh %r failed", self.fn)
            again = True
        if again is not False and not self._closed:
            self._handle = self._loop.call_later(self.interval, self._fire)

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
