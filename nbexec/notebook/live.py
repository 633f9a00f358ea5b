"""The shell every live widget shares: its timers and tasks, stopped together.

A widget shell owns an ipywidget (`.widget`), redraw timers (`throttle.Every` / `Throttle`)
and the few tasks its buttons schedule. The session closes every shell when the engine stops;
the ipywidget itself stays on screen with its last state. Displaying the shell displays its
ipywidget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import ipywidgets as w

from ..engine.tasks import BackgroundTasks
from .session import session
from .throttle import Every, Throttle

log = logging.getLogger(__name__)


class LiveWidget:
    widget: w.Widget

    def __init__(self) -> None:
        self._timers: list[Every | Throttle] = []
        self._tasks = BackgroundTasks("widget", log)
        self.closed = False
        session().attach(self)

    def every(self, fn, interval: float) -> Every:
        timer = Every(fn, interval)
        self._timers.append(timer)
        return timer

    def throttle(self, fn) -> Throttle:
        timer = Throttle(fn)
        self._timers.append(timer)
        return timer

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Schedule work from a widget callback (which must not wait for it)."""
        return self._tasks.spawn(coro)

    def close(self) -> None:
        """Stop updating (the widget keeps showing its last state). Idempotent."""
        self.closed = True
        for timer in self._timers:
            timer.close()
        self._tasks.cancel()
        session().detach(self)

    async def aclose(self) -> None:
        self.close()
        await self._tasks.cancel_all()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
