"""One Redis subscription per kernel for every live widget that shows order changes.

Redis publishes a notification for every order change made by any process (this kernel,
another kernel, a worker), so a blotter fed from here shows them all. However many blotters a
notebook displays, the kernel holds one pub/sub connection and one task; listeners are plain
callables run on the loop, so they must only record the change and return.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..store import OrderStore

log = logging.getLogger(__name__)

Listener = Callable[[dict], None]
RETRY_S = 1.0


class NotificationHub:
    def __init__(self, store: OrderStore) -> None:
        self.store = store
        self._listeners: list[Listener] = []
        self._task: asyncio.Task | None = None

    def add(self, listener: Listener) -> None:
        """Call `listener(notification)` for every order change from now on (starts the task)."""
        self._listeners.append(listener)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="nbexec-notifications")

    def remove(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _run(self) -> None:
        """Forward notifications; when Redis drops the subscription, subscribe again."""
        while True:
            try:
                async for note in self.store.notifications():
                    for listener in list(self._listeners):
                        try:
                            listener(note)
                        except Exception:
                            log.exception("order notification listener %r failed", listener)
            except Exception as exc:  # Redis gone: the widgets go stale, not the kernel
                log.warning("order notifications interrupted (%s); resubscribing in %.0f s", exc, RETRY_S)
            await asyncio.sleep(RETRY_S)

    async def close(self) -> None:
        """Unsubscribe and end the task (idempotent)."""
        self._listeners.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
