"""The kernel's engine: at most one OMS per kernel, plus everything the notebook hung on it.

`%oms start`, `nbexec.notebook.sync.start()` and the widgets all share this one session, so a
cell may start the engine one way and use it another. Start is idempotent; stop closes the
widgets' timers and the notification subscription first, then the engine, so a kernel can go
through start / stop any number of times without leaking a task, a socket or a Redis connection.
Runs on the loop of whoever awaits it (the kernel's loop in Jupyter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..core.errors import NbexecError, ValidationError
from ..engine import lifecycle
from ..engine.config import EngineConfig, PaperConfig
from ..engine.oms import OMS
from .notifications import NotificationHub

MAX_PAPER_ACCOUNTS = 1000


class Closable(Protocol):
    async def aclose(self) -> None: ...


class EngineNotRunning(NbexecError):
    """A command that needs the engine was given before `%oms start` (or after `%oms stop`)."""


class Session:
    def __init__(self) -> None:
        self.oms: OMS | None = None
        self.hub: NotificationHub | None = None
        self._attached: list[Closable] = []

    async def start(
        self, config: EngineConfig | str | Path | None = None, *, accounts: int | None = None
    ) -> tuple[OMS, bool]:
        """(the engine, True if this call started it); a running engine is returned as is."""
        if self.oms is not None:
            return self.oms, False
        self.oms = await lifecycle.start(engine_config(config, accounts))
        self.hub = NotificationHub(self.oms.store)
        return self.oms, True

    def require(self) -> OMS:
        if self.oms is None:
            raise EngineNotRunning("the engine is not running: %oms start (or sync.start()) first")
        return self.oms

    def attach(self, item: Closable) -> None:
        """Close `item` (a live widget) when the engine stops."""
        self._attached.append(item)

    def detach(self, item: Closable) -> None:
        if item in self._attached:
            self._attached.remove(item)

    async def stop(self) -> bool:
        """Stop widgets' updates, then the engine (state stays in Redis); False if not running."""
        if self.oms is None:
            return False
        oms, hub, attached = self.oms, self.hub, self._attached
        self.oms, self.hub, self._attached = None, None, []
        for item in reversed(attached):
            await item.aclose()
        if hub is not None:
            await hub.close()
        await lifecycle.stop(oms)
        return True


def engine_config(config: EngineConfig | str | Path | None, accounts: int | None) -> EngineConfig:
    """The config to start with: a file, an EngineConfig, or the paper exchange (N accounts)."""
    if accounts is not None:
        if config is not None:
            raise ValidationError(
                "accounts",
                accounts,
                "--accounts sizes the paper exchange; with --config, list the accounts in the file",
            )
        if not 1 <= accounts <= MAX_PAPER_ACCOUNTS:
            raise ValidationError("accounts", accounts, f"paper accounts must be 1..{MAX_PAPER_ACCOUNTS}")
        return EngineConfig(paper=PaperConfig(accounts=accounts))
    if config is None:
        return EngineConfig.paper_default()
    return config if isinstance(config, EngineConfig) else EngineConfig.load(config)


_SESSION = Session()


def session() -> Session:
    """This kernel's session (one per process)."""
    return _SESSION
