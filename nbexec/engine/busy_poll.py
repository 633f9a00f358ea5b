"""`BusyPoll`: keep an asyncio loop polling its sockets instead of sleeping between events.

A sleeping loop blocks in `epoll_wait`; when a tick arrives the kernel has to wake the thread
(and, on a VM, often an idle virtual CPU), and the loop's own code runs from a cold cache.
Polling keeps the loop on its core: every iteration asks `epoll_wait` with a zero timeout,
so a tick is read at the next iteration. Measured on this project's 2-vCPU VM by `nbexec
bench wire_to_wire_1` (`nbexec_armed`, `nbexec_armed_busy_poll`, `nbexec_armed_hot`): see README.
The price is one CPU core held at 100% while it is on: for trading hours on a machine with a
core to spare, not for a laptop on battery. Off by default.

A polling loop is awake but its order path is not: between ticks the code and data of that
path fall out of the CPU's caches and branch predictors, and a cold run of it is much slower
than a warm one. So while polling, every `warm_every_s` the loop also runs a `warm`
callback: the engine's rehearsal of an armed signal (`nbexec.engine.rehearsal`), the way trading
systems keep their hot path warm by running it with the send switched off. A tick that
lands during a rehearsal waits for it to finish: a warmer median, a longer tail. (Figures:
docs/performance.md, Figures behind design choices.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class BusyPoll:
    """A callback that schedules itself again on every loop iteration, so the loop's
    `select` never waits, and runs `warm()` every `warm_every_s` meanwhile (None: never).
    `on()` / `off()` are idempotent; call them on the loop."""

    def __init__(self, warm: Callable[[], object] | None = None, warm_every_s: float | None = 0.001) -> None:
        self._handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warm, self.warm_every_s = warm, warm_every_s
        self._warm_at = 0.0

    @property
    def active(self) -> bool:
        return self._handle is not None

    def on(self) -> None:
        if self._handle is None:
            self._loop = asyncio.get_running_loop()
            self._handle = self._loop.call_soon(self._again)

    def off(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _again(self) -> None:
        loop: asyncio.AbstractEventLoop = self._loop  # type: ignore[assignment]  # set by on(), which starts this
        self._handle = loop.call_soon(self._again)
        if self._warm is None or self.warm_every_s is None:
            return
        now = loop.time()
        if now < self._warm_at:
            return
        self._warm_at = now + self.warm_every_s
        try:
            self._warm()
        except Exception:  # a bug, not a market event: say it once, poll on without warming
            log.exception("busy polling's warm-up failed; polling goes on without it")
            self._warm = None
