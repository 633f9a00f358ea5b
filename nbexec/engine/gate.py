"""`Gate`: whether the engine may start a new signal now, in one place.

The order path asks it before its first side effect; the order tracker tells it when a Redis
write fails and reads the kill switch before sending an order again; the lifecycle's Redis
watch opens and closes it. One small object, so all of them read and write one truth.
"""

from __future__ import annotations

from ..core.errors import RiskRejected, StoreUnavailable


class Gate:
    """The kill switch (`killed`), Redis's health (`redis_ok`) and the engine's end (`stopped`)."""

    __slots__ = ("killed", "redis_ok", "stopped")

    def __init__(self, *, killed: bool = False) -> None:
        self.killed = killed
        self.redis_ok = True
        self.stopped = False

    def check(self) -> None:
        """Raise unless a new signal may go: kill switch off and Redis reachable (fail closed)."""
        if self.killed:
            raise RiskRejected("kill_switch", "the kill switch is on: no new orders (%oms unkill)")
        if not self.redis_ok:
            raise StoreUnavailable("Redis is unreachable: new signals are refused until it is back")

    @property
    def open(self) -> bool:
        return not self.killed and self.redis_ok

    def __repr__(self) -> str:
        return f"Gate(killed={self.killed}, redis_ok={self.redis_ok}, stopped={self.stopped})"
