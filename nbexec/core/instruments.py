"""Instruments: what can be traded, how it is named at each broker, and its price grid.

Prices travel as floats at the edges, but tick arithmetic is done in whole ticks so that
`1500.25` on a 0.05 grid is never judged off-grid by float noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .errors import ValidationError

# Kite: instrument_token & 0xFF names the segment (docs/protocols/kite.md, Binary messages).
KITE_SEGMENT_CODES = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7, "MCXSX": 8, "INDICES": 9}
# Dhan: exchange-segment names and the enum carried in feed packets (docs/protocols/dhan.md,
# Binary packets).
DHAN_SEGMENT_ENUM = {
    "IDX_I": 0,
    "NSE_EQ": 1,
    "NSE_FNO": 2,
    "NSE_CURRENCY": 3,
    "BSE_EQ": 4,
    "MCX_COMM": 5,
    "BSE_CURRENCY": 7,
    "BSE_FNO": 8,
}
DHAN_SEGMENT_BY_EXCHANGE = {
    "NSE": "NSE_EQ",
    "NFO": "NSE_FNO",
    "CDS": "NSE_CURRENCY",
    "BSE": "BSE_EQ",
    "BFO": "BSE_FNO",
    "BCD": "BSE_CURRENCY",
    "MCX": "MCX_COMM",
    "INDICES": "IDX_I",
}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable (or index) instrument with both brokers' identifiers."""

    exchange: str  # Kite's exchange name: NSE, BSE, NFO, ...
    symbol: str  # trading symbol: INFY, NIFTY24DECFUT, ...
    exchange_token: int  # the exchange's own numeric id
    tick_size: float = 0.05
    lot_size: int = 1
    name: str = ""
    instrument_type: str = "EQ"
    dhan_security_id: int = 0  # Dhan's securityId; 0 = same as exchange_token
    # `EXCHANGE:SYMBOL`, the name users and Kite's quote API use: made once, read several
    # times per order on the order path
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.exchange not in KITE_SEGMENT_CODES:
            raise ValidationError("exchange", self.exchange, f"must be one of {sorted(KITE_SEGMENT_CODES)}")
        if not self.symbol:
            raise ValidationError("symbol", self.symbol, "must not be empty")
        if self.tick_size <= 0:
            raise ValidationError("tick_size", self.tick_size, "must be positive")
        if self.lot_size < 1:
            raise ValidationError("lot_size", self.lot_size, "must be at least 1")
        object.__setattr__(self, "key", f"{self.exchange}:{self.symbol}")

    @property
    def kite_token(self) -> int:
        """Kite's instrument_token: exchange token shifted left 8 bits, segment code below."""
        return (self.exchange_token << 8) | KITE_SEGMENT_CODES[self.exchange]

    @property
    def dhan_segment(self) -> str:
        return DHAN_SEGMENT_BY_EXCHANGE[self.exchange]

    @property
    def security_id(self) -> int:
        return self.dhan_security_id or self.exchange_token

    @property
    def tradable(self) -> bool:
        return self.exchange != "INDICES"

    # -- the price grid -------------------------------------------------------------------
    def to_ticks(self, price: float) -> int:
        """Nearest whole number of ticks for `price`."""
        return round(Decimal(repr(price)) / Decimal(repr(self.tick_size)))

    def from_ticks(self, ticks: int) -> float:
        return float(Decimal(ticks) * Decimal(repr(self.tick_size)))

    def is_on_tick(self, price: float) -> bool:
        return abs(self.from_ticks(self.to_ticks(price)) - price) < 1e-9

    def round_price(self, price: float, side: str | None = None) -> float:
        """Round onto the grid: down for a buy, up for a sell (never worse), nearest otherwise."""
        exact = Decimal(repr(price)) / Decimal(repr(self.tick_size))
        if side == "BUY":
            ticks = int(exact.to_integral_value(rounding="ROUND_FLOOR"))
        elif side == "SELL":
            ticks = int(exact.to_integral_value(rounding="ROUND_CEILING"))
        else:
            ticks = round(exact)
        return self.from_ticks(ticks)


def parse_instrument_key(key: str) -> tuple[str, str]:
    """Split `NSE:INFY` into ("NSE", "INFY"), with a clear error for anything else."""
    exchange, sep, symbol = key.partition(":")
    if not sep or not exchange or not symbol:
        raise ValidationError("symbol", key, "expected EXCHANGE:SYMBOL, e.g. NSE:INFY")
    exchange = exchange.upper()
    if exchange not in KITE_SEGMENT_CODES:
        raise ValidationError("symbol", key, f"unknown exchange {exchange!r}")
    return exchange, symbol.upper()
