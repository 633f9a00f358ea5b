"""The live order blotter: every order change from Redis, this kernel's and any other's.

Fed by the session's `NotificationHub` (one pub/sub subscription per kernel). A notification
only updates the model and pokes a throttle, so a burst of 50 fills is one redraw, and at most
ten redraws a second reach the browser. Orders first seen mid-life (placed from another
kernel before this blotter opened) are completed from the store by one small task.
"""

from __future__ import annotations

import ipywidgets as w

from ..core.errors import NbexecError
from ..engine.oms import OMS
from .blotter_model import BlotterModel
from .live import LiveWidget
from .notifications import NotificationHub

STYLE = """<style>
.nbx-table {border-collapse: collapse; font: 12px monospace}
.nbx-table th, .nbx-table td {padding: 1px 6px; text-align: right; border-bottom: 1px solid #ddd}
.nbx-filled td {color: #176c2c} .nbx-rejected td, .nbx-risk_rejected td, .nbx-unknown td {color: #b00020}
.nbx-cancelled td, .nbx-expired td {color: #777}
</style>"""


class Blotter(LiveWidget):
    """Create inside the kernel's loop (a magic or a cell); safe to display many times."""

    def __init__(self, oms: OMS, hub: NotificationHub, *, limit: int = 50) -> None:
        super().__init__()
        self.oms, self.hub, self.limit = oms, hub, limit
        self.model = BlotterModel()
        self.model.seed(oms.orders.values())
        self.widget = w.HTML(self._render(), layout=w.Layout(max_height="420px", overflow="auto"))
        self.widget.add_class("nbx-blotter-widget")
        self._redraw = self.throttle(self._draw)
        self._fetching = False
        hub.add(self._on_note)

    def _on_note(self, note: dict) -> None:
        if self.model.apply(note):
            self._redraw.poke()
            if self.model.incomplete and not self._fetching:
                self._fetching = True
                self.spawn(self._complete_rows())

    async def _complete_rows(self) -> None:
        """Load orders whose creation this blotter did not see."""
        try:
            for account, order_id in self.model.incomplete:
                try:
                    self.model.merge_order(await self.oms.store.get(account, order_id))
                except NbexecError:
                    continue
            self._redraw.poke()
        finally:
            self._fetching = False

    def _render(self) -> str:
        return STYLE + self.model.html(self.limit)

    def _draw(self) -> None:
        self.widget.value = self._render()

    @property
    def df(self):
        """The blotter's rows as a DataFrame (newest change first)."""
        return self.model.df

    def close(self) -> None:
        self.hub.remove(self._on_note)
        super().close()
