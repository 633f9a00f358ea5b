"""Fan-out progress: how many of a signal's orders are final, as a bar and a count line.

`summarize` is pure (fan-outs in, numbers and text out). The shell polls the fan-outs ten times
a second (they live in this kernel, so polling is a dict walk, not I/O) and stops once every
order is final.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

import ipywidgets as w

from ..core.states import TERMINAL, OrderStatus
from ..engine.fanout import FanOut
from .live import LiveWidget
from .throttle import MAX_REDRAWS_PER_S

_FAILED = {OrderStatus.REJECTED, OrderStatus.RISK_REJECTED, OrderStatus.UNKNOWN}


@dataclass(frozen=True)
class Progress:
    total: int
    final: int
    failed: int
    text: str

    @property
    def done(self) -> bool:
        return self.final == self.total

    @property
    def bar_style(self) -> str:
        return "danger" if self.failed else "success" if self.done else "info"


def summarize(fanouts: FanOut | Iterable[FanOut]) -> Progress:
    """Orders final / total, failures, and a line like `FILLED 48, REJECTED 2 (3 skipped)`."""
    fanouts = [fanouts] if isinstance(fanouts, FanOut) else list(fanouts)
    orders = [o for f in fanouts for o in f.orders.values()]
    skipped = sum(len(f.skipped) for f in fanouts)
    counts: dict[str, int] = {}
    for order in orders:
        counts[order.status.value] = counts.get(order.status.value, 0) + 1
    text = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "no orders"
    if skipped:
        text += f" ({skipped} skipped)"
    return Progress(
        total=len(orders),
        final=sum(o.status in TERMINAL for o in orders),
        failed=sum(o.status in _FAILED for o in orders),
        text=text,
    )


class FanOutProgress(LiveWidget):
    """Create inside the kernel's loop, right after `oms.fire` returned the fan-out(s)."""

    def __init__(self, fanouts: FanOut | Iterable[FanOut]) -> None:
        super().__init__()
        self.fanouts = [fanouts] if isinstance(fanouts, FanOut) else list(fanouts)
        self.bar = w.IntProgress(min=0, max=1, description="final")
        self.label = w.HTML()
        self.widget = w.HBox([self.bar, self.label])
        self.widget.add_class("nbx-progress")
        if self._draw():
            self.every(self._draw, 1 / MAX_REDRAWS_PER_S)

    def _draw(self) -> bool:
        """Redraw; once every order is final, stop polling (False) and let the session forget it."""
        p = summarize(self.fanouts)
        self.bar.max, self.bar.value, self.bar.bar_style = max(p.total, 1), p.final, p.bar_style
        self.label.value = f"{p.final}/{p.total} final &middot; {html.escape(p.text)}"
        if p.done:
            self.close()
        return not p.done
