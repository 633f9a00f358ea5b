"""`BusyPoll`: keep an asyncio loop polling its sockets instead of sleeping between events.

A sleeping loop blocks in `epoll_wait`; when a tick arrives the kernel has to wake the thread
(and, on a VM, often an idle virtual CPU), and the loop's own code runs from a cold cache.
Polling keeps the loop on its core: every iteration asks `epoll_wait` with a zero timeout,
so a tick is read at the next iteration. Measured on this project's 2-vCPU VM
(`nbexec bench wire_to_wire_1`, `nbexec_armed` against `nbexec_armed_busy_poll`): see README.
The price is one CPU core held at 100% while it is on: for trading hours on a machine with a
core to spare, not for a laptop on battery. Off by default.
"""

from __future__ import annotations

import asyncio


class BusyPoll:
    """A callback that schedules itself again on every loop iteration, so the loop's
    `select` never waits. `on()` / `off()` are idempotent; call them on the loop."""

    def __init__(self) -> None:
        self._handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

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
        self._handle = self._loop.call_soon(self._again)
