"""The order ticket: symbol, side, quantity, price, accounts and a Send button.

`ticket_order` turns the form into `oms.fire` arguments (pure, tested). Send runs on the loop as
a widget callback: `oms.fire` only writes the orders and returns, and waiting for the answers is
a scheduled task that updates the ticket's status line, so the click never blocks the kernel.
"""

from __future__ import annotations

import asyncio
import html
import re

import ipywidgets as w

from ..core.errors import NbexecError, ValidationError
from ..engine.fanout import FanOut
from ..engine.oms import OMS
from .live import LiveWidget
from .progress import summarize

ANSWER_TIMEOUT_S = 30.0


def ticket_order(symbol: str, side: str, quantity: int, price: float | None, accounts: str) -> dict:
    """The form's values as keyword arguments for `oms.fire`; a price of 0 / None = MARKET."""
    if side not in ("BUY", "SELL"):
        raise ValidationError("side", side, "must be BUY or SELL")
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError("quantity", quantity, "must be a positive whole number")
    if price is not None and price < 0:
        raise ValidationError("price", price, "must be positive (0 = market order)")
    names = [a.strip() for a in accounts.split(",") if a.strip()]
    if not names or not all(re.fullmatch(r"[A-Za-z0-9_.-]+", a) for a in names):
        raise ValidationError("accounts", accounts, "use all, a group name, or ID,ID,...")
    order = {"symbol": symbol, "side": side, "qty": quantity, "accounts": names[0] if len(names) == 1 else names}
    if price:
        order.update(order_type="LIMIT", price=float(price))
    return order


class OrderTicket(LiveWidget):
    """Create inside the kernel's loop; every Send is one signal (one fan-out)."""

    def __init__(self, oms: OMS, *, symbol: str | None = None, quantity: int = 1) -> None:
        super().__init__()
        self.oms = oms
        symbols = sorted(oms.instruments)
        shown = symbol if symbol in symbols else symbols[0] if symbols else None
        self.symbol = w.Dropdown(options=symbols, value=shown, description="symbol")
        self.side = w.ToggleButtons(options=["BUY", "SELL"], value="BUY", description="side")
        self.quantity = w.BoundedIntText(value=quantity, min=1, max=10_000_000, description="quantity")
        self.price = w.BoundedFloatText(
            value=0.0, min=0.0, max=1e9, step=0.05, description="price", tooltip="0 = market order"
        )
        self.accounts = w.Text(value="all", description="accounts")
        self.send = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.send.add_class("nbx-send")
        self.status = w.HTML("")
        self.status.add_class("nbx-ticket-status")
        self.send.on_click(self._on_send)
        self.widget = w.VBox([self.symbol, self.side, self.quantity, self.price, self.accounts, self.send, self.status])
        self.widget.add_class("nbx-ticket")
        self.last_fanout: FanOut | None = None

    def _on_send(self, _button=None) -> None:
        if self.closed:
            self._say("the engine was stopped: %oms start, then a new ticket", error=True)
            return
        try:
            order = ticket_order(
                self.symbol.value,
                self.side.value,
                int(self.quantity.value),
                float(self.price.value),
                self.accounts.value,
            )
            fanout = self.oms.fire(order.pop("symbol"), order.pop("side"), order.pop("qty"), **order)
        except NbexecError as exc:
            self._say(str(exc), error=True)
            return
        self.last_fanout = fanout
        self._say(f"sent {fanout.signal_id}: {summarize(fanout).text}")
        self.spawn(self._follow(fanout))

    async def _follow(self, fanout) -> None:
        try:
            await fanout.done(ANSWER_TIMEOUT_S)
        except asyncio.TimeoutError:
            pass
        self._say(f"{fanout.signal_id}: {summarize(fanout).text}")

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "inherit"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>'
