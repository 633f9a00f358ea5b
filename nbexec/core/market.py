"""A market snapshot of one instrument: what a full-mode tick carries, independent of broker."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: float
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class Quote:
    """Last trade, day statistics and 5-level depth; prices in rupees, times in Unix seconds."""

    last_price: float
    last_quantity: int = 0
    average_price: float = 0.0
    volume: int = 0
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0
    last_trade_time: int = 0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_timestamp: int = 0
    bids: tuple[DepthLevel, ...] = field(default_factory=tuple)
    asks: tuple[DepthLevel, ...] = field(default_factory=tuple)
