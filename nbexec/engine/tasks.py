"""`BackgroundTasks`: the tasks one component started and must not lose track of.

Each task is kept until it ends; a failure is logged (never swallowed, never raised into
whatever cell happens to be running); all of them can be cancelled together. Used by the
engine and by the notebook widgets. Runs on the loop that spawns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any


class BackgroundTasks:
    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what, self.log = what, logger
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s task failed", self.what, exc_info=task.exception())

    def __iter__(self) -> Iterator[asyncio.Task]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel(self) -> None:
        """Ask every task to stop (without waiting)."""
        for task in list(self._tasks):
            task.cancel()

    async def cancel_all(self, every_s: float = 0.1) -> None:
        """Cancel until every task has ended. Once is not always enough: on Python 3.11 a
        cancel that lands as redis-py's `wait_for(writer.drain())` completes is swallowed
        (cpython gh-86296). Bound it from outside (`asyncio.wait_for`)."""
        pending = {t for t in self._tasks if not t.done()}
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=every_s)
