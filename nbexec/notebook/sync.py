"""Blocking conveniences for cells that do not `await`: they run coroutines on the kernel's loop.

    from nbexec.notebook import sync
    oms = sync.start()                       # same engine as `%oms start`
    feed = sync.subscribe("NSE:INFY")
    sync.wait(oms.fire("NSE:INFY", "BUY", 1))
    sync.stop()

In Jupyter the kernel's asyncio loop is already running the cell, so `run` makes that loop
re-entrant and drives it until the coroutine is done: the engine's tasks, feeds and widget
updates keep running meanwhile; only the calling cell waits. ipykernel 7 runs every cell in one
shared contextvars Context, and the kernel's own message task lives in it: a nested loop that
stepped that task (the next queued cell, a widget click) would fail with "cannot enter context"
and wedge the kernel. nest_asyncio2 (ipykernel 7's own dependency) defers such handles until
the nested run returns (the original nest_asyncio does not, so it is not used). Outside a
running loop
(terminal IPython, an in-process shell) it uses IPython's own asyncio loop, the one top-level
`await` uses, so awaited and synchronous calls share the engine. Never call these from a
widget callback or a tick callback: those must only schedule work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import nest_asyncio2

from ..engine.config import EngineConfig
from .session import session

T = TypeVar("T")
_patched: set[int] = set()


def run(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion on the running loop (or IPython's loop if none runs)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _idle_loop().run_until_complete(awaitable)
    if id(loop) not in _patched:
        nest_asyncio2.apply(loop)
        _patched.add(id(loop))
    return loop.run_until_complete(awaitable)


def _idle_loop() -> asyncio.AbstractEventLoop:
    """IPython's persistent loop for top-level await: the engine's home outside a kernel."""
    from IPython.core.async_helpers import get_asyncio_loop

    return get_asyncio_loop()


def start(config: EngineConfig | str | None = None, *, accounts: int | None = None):
    """Start the kernel's engine (or return the running one): see `Session.start`."""
    return run(session().start(config, accounts=accounts))[0]


def stop() -> bool:
    """Stop the kernel's engine and its widgets' tasks; False if it was not running."""
    return run(session().stop())


def oms():
    """The running engine, or an `NbexecError` saying to start it."""
    return session().require()


def subscribe(*symbols: str, mode: str = "full"):
    """`oms.subscribe` from synchronous code; returns the Feed once it is connected."""
    return run(session().require().subscribe(*symbols, mode=mode))


def wait(fanout: Any, timeout: float = 10.0):
    """Wait until every order of `fanout` is final (filled, cancelled, rejected, expired)."""
    return run(fanout.done(timeout))
