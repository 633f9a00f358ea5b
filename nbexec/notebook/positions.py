"""Positions and P&L per account and instrument, refreshed once a second.

`positions_html` is pure (the engine's `positions_df()` in, a table with totals out). The shell
only rewrites the widget when the table changed, so an idle desk sends nothing to the browser.
"""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from ..engine.oms import OMS
from .live import LiveWidget

REFRESH_S = 1.0
_SHOWN = [
    "account",
    "instrument",
    "quantity",
    "buy_price",
    "sell_price",
    "last_price",
    "realised_pnl",
    "unrealised_pnl",
]


def positions_html(df: pd.DataFrame) -> str:
    """The positions table and a total P&L line (realised + unrealised at the last price)."""
    if df.empty:
        return '<div class="nbx-positions"><b>positions</b>: none yet</div>'
    realised = float(df["realised_pnl"].sum())
    unrealised = float(pd.to_numeric(df["unrealised_pnl"], errors="coerce").fillna(0.0).sum())
    total = realised + unrealised
    color = "#176c2c" if total >= 0 else "#b00020"
    # (+ 0.0 turns a realised -0.0 into 0.00)
    table = df[_SHOWN].to_html(index=False, classes="nbx-table", float_format=lambda v: f"{v + 0.0:,.2f}", na_rep="")
    return (
        f'<div class="nbx-positions"><b>positions</b> &middot; P&amp;L <span style="color:{color}">'
        f"{total:,.2f}</span> (realised {realised:,.2f}, unrealised {unrealised:,.2f}){table}</div>"
    )


class PositionsPanel(LiveWidget):
    """Create inside the kernel's loop."""

    def __init__(self, oms: OMS) -> None:
        super().__init__()
        self.oms = oms
        self.widget = w.HTML(positions_html(oms.positions_df()))
        self.widget.add_class("nbx-positions-widget")
        self.every(self._draw, REFRESH_S)

    def _draw(self) -> None:
        value = positions_html(self.oms.positions_df())
        if value != self.widget.value:
            self.widget.value = value
