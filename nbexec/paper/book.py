"""One instrument's simulated market: a seeded random walk on the tick grid and a 5-level book.

Pure: no asyncio, no clock of its own (callers pass `now`), no global RNG. All prices are kept
as whole ticks (ints) so grid and band checks never suffer float noise; they become rupees
only at the edge (`price`, `quote`).
"""

from __future__ import annotations

import random
from fractions import Fraction

from nbexec.core.instruments import Instrument
from nbexec.core.market import DepthLevel, Quote

DEPTH = 5


class Book:
    """The displayed market of one instrument between two steps.

    `step` moves the last price by a few ticks at most (staying inside the circuit band), prints a
    random market trade, and updates the 5 bid and 5 ask levels the way a real book changes:
    levels that stay keep their size except one per side, new levels arrive with a random size,
    and levels emptied by orders refill. `take` consumes displayed depth: what an order takes
    stays taken until the next `step`, which is how an order larger than the displayed depth
    gets filled in parts.

    Levels are kept as ready-made `DepthLevel`s (plus their prices in ticks) so a quote, built
    for every tick sent, creates almost nothing: the feed's hot path.
    """

    __slots__ = (
        "inst",
        "tick",
        "rng",
        "close_t",
        "lower_t",
        "upper_t",
        "open_t",
        "high_t",
        "low_t",
        "ltp_t",
        "last_qty",
        "volume",
        "traded_value",
        "ltt",
        "bid_t",
        "bids",
        "ask_t",
        "asks",
        "depth_lots",
        "_quote",
        "version",
        "_num",
        "_den",
        "_holes",
    )

    def __init__(
        self,
        inst: Instrument,
        close: float,
        rng: random.Random,
        *,
        circuit_pct: float = 20.0,
        depth_lots: int = 50,
        now: float = 0.0,
    ) -> None:
        self.inst = inst
        self.tick = inst.tick_size
        # rupees = ticks * num / den: exact integer product, one correctly rounded division
        frac = Fraction(repr(inst.tick_size))
        self._num, self._den = frac.numerator, frac.denominator
        self.rng = rng
        self.close_t = max(1, inst.to_ticks(close))
        band = int(self.close_t * circuit_pct / 100)
        self.lower_t = max(1, self.close_t - band)
        self.upper_t = self.close_t + band
        self.open_t = self.high_t = self.low_t = self.ltp_t = self.close_t
        self.last_qty = 0
        self.volume = 0
        self.traded_value = 0.0
        self.ltt = int(now)
        self.depth_lots = depth_lots
        # best first; *_t are the levels' prices in ticks
        self.bid_t: list[int] = []
        self.bids: list[DepthLevel] = []
        self.ask_t: list[int] = []
        self.asks: list[DepthLevel] = []
        self._quote: Quote | None = None
        self._holes = False  # some displayed level was emptied by an order (quote skips it)
        self.version = 0
        self._redraw(up=rng.random() < 0.5)

    # -- rupees <-> ticks -------------------------------------------------------------------
    def price(self, ticks: int) -> float:
        return ticks * self._num / self._den

    @property
    def last_price(self) -> float:
        return self.price(self.ltp_t)

    @property
    def lower_circuit(self) -> float:
        return self.price(self.lower_t)

    @property
    def upper_circuit(self) -> float:
        return self.price(self.upper_t)

    # -- the walk ---------------------------------------------------------------------------
    def step(self, now: float) -> None:
        """Advance one step: maybe move a few ticks, print a market trade, update the depth.

        Hot (every instrument, every tick): written for few calls and few allocations.
        """
        rnd = self.rng.random
        ltp = self.ltp_t
        move = 0
        r = rnd()
        if r >= 0.5:
            # Half the steps trade at an unchanged price; the others move up to ~0.5 bp (at
            # least a tick), so the displayed book mostly slides instead of being redrawn.
            move = int((r - 0.5) * 2 * (ltp // 20000 + 1)) + 1
            if rnd() < 0.5:
                move = -move
            ltp += move
            if ltp > self.upper_t:
                ltp = self.upper_t
            elif ltp < self.lower_t:
                ltp = self.lower_t
            self.ltp_t = ltp
            if ltp > self.high_t:
                self.high_t = ltp
            elif ltp < self.low_t:
                self.low_t = ltp
        qty = (int(rnd() * 20) + 1) * self.inst.lot_size  # the market's own trade (inlined _print)
        self.last_qty = qty
        self.volume += qty
        self.traded_value += qty * ltp
        self.ltt = int(now)
        self.version += 1
        self._quote = None
        if move == 0 and self.bid_t:
            self._refresh(self.bid_t, self.bids)
            self._refresh(self.ask_t, self.asks)
            self._holes = False
        else:
            self._redraw(up=move > 0)

    def _print(self, ticks: int, qty: int, now: float) -> None:
        self.last_qty = qty
        self.volume += qty
        self.traded_value += qty * ticks
        self.ltt = int(now)
        self._quote = None
        self.version += 1

    def _level(self, ticks: int) -> DepthLevel:
        rnd = self.rng.random
        return DepthLevel(
            ticks * self._num / self._den, (int(rnd() * self.depth_lots) + 1) * self.inst.lot_size, int(rnd() * 9) + 1
        )

    def _refresh(self, prices: list[int], levels: list[DepthLevel]) -> None:
        """Same price levels: emptied ones refill, and now and then one changes size."""
        if self._holes:
            for i, lv in enumerate(levels):
                if not lv.quantity:
                    levels[i] = self._level(prices[i])
        if levels and self.rng.random() < 0.5:
            i = int(self.rng.random() * len(levels))
            levels[i] = self._level(prices[i])

    def _redraw(self, up: bool) -> None:
        """The price moved: levels that are still in the top 5 keep their size, new ones arrive."""
        if not self.inst.tradable:
            return
        # The last trade printed at the ask after an up-tick, at the bid otherwise.
        best_bid = self.ltp_t - 1 if up else self.ltp_t
        best_bid = min(best_bid, self.upper_t - 1)
        old = self.bid_t
        shift = best_bid - old[0] if old else DEPTH
        if (
            0 < abs(shift) < DEPTH
            and len(old) == len(self.ask_t) == DEPTH
            and best_bid - DEPTH >= self.lower_t
            and best_bid + DEPTH <= self.upper_t
        ):
            self._slide(best_bid, shift)
            return
        bid_t = [p for p in range(best_bid, best_bid - DEPTH, -1) if p >= self.lower_t]
        ask_t = [p for p in range(best_bid + 1, best_bid + 1 + DEPTH) if p <= self.upper_t]
        kept = dict(zip(self.bid_t, self.bids, strict=True))
        self.bids = [kept.get(t) or self._level(t) for t in bid_t]
        kept = dict(zip(self.ask_t, self.asks, strict=True))
        self.asks = [kept.get(t) or self._level(t) for t in ask_t]
        self.bid_t, self.ask_t = bid_t, ask_t
        self._quote = None

    def _slide(self, best_bid: int, shift: int) -> None:
        """Fast path of `_redraw` away from the band edges: slide both sides by `shift` ticks."""
        level = self._level
        if shift > 0:  # up: new best bids on top, asks lose their bottom levels
            self.bids = [level(best_bid - i) for i in range(shift)] + self.bids[: DEPTH - shift]
            top = best_bid + 1 + DEPTH - shift
            self.asks = self.asks[shift:] + [level(top + i) for i in range(shift)]
        else:
            s = -shift
            bottom = best_bid - (DEPTH - s)
            self.bids = self.bids[s:] + [level(bottom - i) for i in range(s)]
            self.asks = [level(best_bid + 1 + i) for i in range(s)] + self.asks[: DEPTH - s]
        self.bid_t = list(range(best_bid, best_bid - DEPTH, -1))
        self.ask_t = list(range(best_bid + 1, best_bid + 1 + DEPTH))
        self._quote = None

    # -- matching against displayed depth ---------------------------------------------------
    def take(self, side: str, limit_t: int, quantity: int) -> list[tuple[int, int]]:
        """Consume up to `quantity` from the opposite side at prices no worse than `limit_t`.

        Returns (price_ticks, quantity) fills, best price first. A BUY takes asks priced
        <= limit_t, a SELL takes bids priced >= limit_t.
        """
        fills: list[tuple[int, int]] = []
        prices, levels = (self.ask_t, self.asks) if side == "BUY" else (self.bid_t, self.bids)
        for i, p in enumerate(prices):
            if quantity <= 0:
                break
            level = levels[i]
            q = level.quantity
            if q <= 0:
                continue
            if (side == "BUY" and p > limit_t) or (side == "SELL" and p < limit_t):
                break
            n = q if q < quantity else quantity
            levels[i] = DepthLevel(level.price, q - n, level.orders)
            if n == q:
                self._holes = True
            quantity -= n
            fills.append((p, n))
        if fills:
            self._quote = None
        return fills

    def reach(self, side: str) -> float | None:
        """The price a `side` order must reach to take anything now: the best opposite level
        that still holds quantity (None when none does). Fills only empty levels, so within a
        step this only moves away."""
        for level in self.asks if side == "BUY" else self.bids:
            if level.quantity > 0:
                return level.price
        return None

    def record_trade(self, ticks: int, qty: int, now: float) -> None:
        """A fill of a paper order counts in the day's volume and last trade, like any trade."""
        self.ltp_t = ticks
        self.high_t = max(self.high_t, ticks)
        self.low_t = min(self.low_t, ticks)
        self._print(ticks, qty, now)

    # -- what a full-mode tick shows ----------------------------------------------------------
    def quote(self, now: float) -> Quote:
        """The current snapshot; cached until the book changes."""
        q = self._quote
        if q is not None:
            return q
        n, d = self._num, self._den
        if self._holes:
            bids = tuple(lv for lv in self.bids if lv.quantity)
            asks = tuple(lv for lv in self.asks if lv.quantity)
        else:
            bids, asks = tuple(self.bids), tuple(self.asks)
        avg = round(self.traded_value / self.volume * self.tick, 2) if self.volume else 0.0
        # positional, in Quote's field order (the hot path: one per instrument per tick)
        q = Quote(
            self.ltp_t * n / d,
            self.last_qty,
            avg,
            self.volume,
            sum([lv.quantity for lv in bids]) * 10,
            sum([lv.quantity for lv in asks]) * 10,
            self.open_t * n / d,
            self.high_t * n / d,
            self.low_t * n / d,
            self.close_t * n / d,
            self.ltt,
            0,
            0,
            0,
            int(now),
            bids,
            asks,
        )
        self._quote = q
        return q
