"""The kill-switch button: one click blocks new orders and cancels open ones; again to re-arm.

The click only schedules `oms.kill()` / `oms.unkill()`; the label follows `oms.killed`, which
`%oms kill` from a cell (or a restart, since the switch lives in Redis) may also change.
"""

from __future__ import annotations

import ipywidgets as w

from ..engine.oms import OMS
from .live import LiveWidget

REFRESH_S = 0.5


def kill_label(killed: bool) -> tuple[str, str]:
    """(button text, button style) for the switch's state."""
    if killed:
        return "KILLED: orders blocked (click to re-arm)", "danger"
    return "Kill switch: click to block and cancel all", "warning"


class KillSwitch(LiveWidget):
    """Create inside the kernel's loop."""

    def __init__(self, oms: OMS) -> None:
        super().__init__()
        self.oms = oms
        self.button = w.Button(layout=w.Layout(width="320px"))
        self.button.add_class("nbx-kill")
        self.button.on_click(self._on_click)
        self.widget = self.button
        self._draw()
        self.every(self._draw, REFRESH_S)

    def _on_click(self, _button=None) -> None:
        if not self.closed:
            self.button.disabled = True
            self.spawn(self._toggle())

    async def _toggle(self) -> None:
        try:
            if self.oms.killed:
                await self.oms.unkill()
            else:
                await self.oms.kill()
        finally:
            self.button.disabled = False
            self._draw()

    def _draw(self) -> None:
        text, style = kill_label(self.oms.killed)
        if self.button.description != text:
            self.button.description, self.button.button_style = text, style
