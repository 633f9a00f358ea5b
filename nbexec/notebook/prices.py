"""Last price and a live sparkline per subscribed symbol.

The shell never hooks the tick path: five times a second it reads each symbol's newest tick
from the feed's ring (`feed.last`, O(1)) into a bounded `PriceHistory`, so the cost is the
same at 10 or 10,000 ticks a second. `tile_html` is pure.
"""

from __future__ import annotations

import html
from collections import deque
from dataclasses import dataclass, field

import ipywidgets as w

from .charts import sparkline_svg
from .live import LiveWidget

REFRESH_S = 0.2
HISTORY = 300  # samples kept per symbol: one minute at REFRESH_S


@dataclass
class PriceHistory:
    """Sampled last prices of one symbol, oldest first; repeats of the same tick are skipped."""

    maxlen: int = HISTORY
    prices: deque = field(default_factory=deque)
    _last_stamp: int | None = None

    def __post_init__(self) -> None:
        self.prices = deque(self.prices, maxlen=self.maxlen)

    def add(self, price: float, stamp: int) -> bool:
        """Record the tick stamped `stamp` (receive ns); False if it was already recorded."""
        if stamp == self._last_stamp:
            return False
        self._last_stamp = stamp
        self.prices.append(price)
        return True


def tile_html(symbol: str, history: PriceHistory, bid: float = 0.0, ask: float = 0.0) -> str:
    """Symbol, last price, change over the window, best bid/ask and the sparkline."""
    prices = history.prices
    if not prices:
        return f'<div class="nbx-tile"><b>{html.escape(symbol)}</b> waiting for the first tick</div>'
    last, first = prices[-1], prices[0]
    change = (last - first) / first * 100 if first else 0.0
    color = "#176c2c" if change >= 0 else "#b00020"
    quote = f" &middot; {bid:,.2f} / {ask:,.2f}" if bid and ask else ""
    return (
        f'<div class="nbx-tile" data-symbol="{html.escape(symbol)}"><b>{html.escape(symbol)}</b> '
        f'<span class="nbx-last">{last:,.2f}</span> <span style="color:{color}">{change:+.2f}%</span>{quote}'
        f'<br><span style="color:{color}">{sparkline_svg(list(prices))}</span></div>'
    )


class PriceTiles(LiveWidget):
    """One tile per symbol of `feed`; create inside the kernel's loop."""

    def __init__(self, feed, symbols: list[str] | None = None) -> None:
        super().__init__()
        self.feed = feed
        self.symbols = symbols or sorted(feed.instruments)
        self.histories = {s: PriceHistory() for s in self.symbols}
        self.tiles = {s: w.HTML(tile_html(s, self.histories[s])) for s in self.symbols}
        self.widget = w.HBox(list(self.tiles.values()), layout=w.Layout(flex_flow="row wrap"))
        self.widget.add_class("nbx-prices")
        self.every(self._draw, REFRESH_S)

    def _draw(self) -> None:
        for symbol in self.symbols:
            tick = self.feed.last(symbol)
            if tick is not None and self.histories[symbol].add(tick.last_price, tick.received_ns):
                self.tiles[symbol].value = tile_html(symbol, self.histories[symbol], tick.bid, tick.ask)
