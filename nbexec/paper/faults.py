"""Seeded fault injection for the paper exchange: what goes wrong, how often, reproducibly.

Pure: a spec string parsed into a `FaultSpec`, and a `Faults` object that draws decisions from
its own seeded RNG, so the same spec, seed and request sequence give the same faults.

Spec grammar (comma separated `name=value`, e.g. `"500=0.05,429=0.02,hang=0.01,seed=7"`):

=================  ==========================================================================
`500` `502` `503`  share of REST requests answered with that status, not processed
`429`              share answered "too many requests", not processed
`hang`             share processed by the engine and then never answered (the client times out)
`reset`            share processed and then answered by resetting the connection
`scope`            `orders` (default: place / modify / cancel only) or `all` broker REST calls
`update_delay`     share of order updates delayed by `update_delay_ms` (default 200)
`update_dup`       share of order updates sent twice
`update_reorder`   share of order updates held back and sent after the next one
`ws_drop`          chance per feed frame that the server drops that WebSocket connection
`seed`             RNG seed for these decisions (default: the exchange's seed)
=================  ==========================================================================
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

from nbexec.core.errors import ValidationError

REST_KINDS = ("500", "502", "503", "429", "hang", "reset")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    http500: float = 0.0
    http502: float = 0.0
    http503: float = 0.0
    http429: float = 0.0
    hang: float = 0.0
    reset: float = 0.0
    scope: str = "orders"
    update_delay: float = 0.0
    update_delay_ms: float = 200.0
    update_dup: float = 0.0
    update_reorder: float = 0.0
    ws_drop: float = 0.0
    seed: int | None = None

    @property
    def any_rest(self) -> bool:
        return any(getattr(self, _attr(k)) for k in REST_KINDS)

    @property
    def any_update(self) -> bool:
        return bool(self.update_delay or self.update_dup or self.update_reorder)


def _attr(name: str) -> str:
    return f"http{name}" if name.isdigit() else name


_NAMES = {f.name for f in fields(FaultSpec)}


def parse_faults(spec: str | FaultSpec | dict | None) -> FaultSpec:
    """`FaultSpec` from a spec string, a dict of the same names, or None (no faults)."""
    if spec is None or spec == "":
        return FaultSpec()
    if isinstance(spec, FaultSpec):
        return spec
    items = (
        spec.items()
        if isinstance(spec, dict)
        else (part.split("=", 1) if "=" in part else (part, "") for part in spec.split(",") if part.strip())
    )
    values: dict[str, object] = {}
    for name, raw in items:
        name = _attr(str(name).strip())
        if name not in _NAMES:
            raise ValidationError("faults", name, f"unknown fault; known: {sorted(_NAMES)}")
        if name == "scope":
            if raw not in ("orders", "all"):
                raise ValidationError("faults.scope", raw, "must be 'orders' or 'all'")
            values[name] = raw
            continue
        try:
            value = int(raw) if name == "seed" else float(raw)
        except (TypeError, ValueError):
            raise ValidationError(f"faults.{name}", raw, "must be a number") from None
        if name not in ("seed", "update_delay_ms") and not 0 <= value <= 1:
            raise ValidationError(f"faults.{name}", raw, "must be a share between 0 and 1")
        values[name] = value
    return FaultSpec(**values)  # type: ignore[arg-type]  # each value checked above for its field


class Faults:
    """Draws fault decisions from one seeded RNG (one draw per decision point)."""

    def __init__(self, spec: str | FaultSpec | dict | None = None, seed: int = 0) -> None:
        self.set(spec, seed)

    def set(self, spec: str | FaultSpec | dict | None, seed: int = 0) -> None:
        self.spec = parse_faults(spec)
        self.rng = random.Random(self.spec.seed if self.spec.seed is not None else seed)
        self.injected: dict[str, int] = {}

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def rest(self, is_order: bool) -> str | None:
        """The fault for one broker REST request, or None: one of `REST_KINDS`."""
        s = self.spec
        if not s.any_rest or (s.scope == "orders" and not is_order):
            return None
        r = self.rng.random()
        for kind in REST_KINDS:
            p = getattr(s, _attr(kind))
            if r < p:
                return self._count(kind)
            r -= p
        return None

    def update(self) -> tuple[float, bool, bool]:
        """(delay seconds, duplicate?, hold back for reordering?) for one order update."""
        s = self.spec
        if not s.any_update:
            return 0.0, False, False
        rnd = self.rng.random
        delay = s.update_delay_ms / 1000 if rnd() < s.update_delay else 0.0
        dup = rnd() < s.update_dup
        hold = rnd() < s.update_reorder
        for flag, kind in ((delay, "update_delay"), (dup, "update_dup"), (hold, "update_reorder")):
            if flag:
                self._count(kind)
        return delay, dup, hold

    def ws_drop(self) -> bool:
        """Whether to drop the feed connection instead of sending this frame."""
        if self.spec.ws_drop and self.rng.random() < self.spec.ws_drop:
            self._count("ws_drop")
            return True
        return False
