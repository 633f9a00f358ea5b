"""An account's risk limits: typed, validated once when read, `None` meaning "check off".

Money and quantity limits are off by default because they depend on the account; the
market-safety limits (price band, slippage protection, stale tick, wide spread, duplicate
signal) are on with conservative values. A limit is inclusive: an order exactly at it passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TypeGuard

from ..core.errors import ValidationError

BPS = 10_000  # basis points in one whole


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """What one account may do with one order. Frozen: change a limit with `dataclasses.replace`,
    which validates again (e.g. a signal's own `--slippage`)."""

    max_quantity: int | None = None  # units per order
    max_order_value: float | None = None  # rupees per order: quantity x price
    max_position: int | None = None  # |net units| per account and symbol after the order
    price_band_bps: float | None = 500.0  # a limit price this far from the last trade is refused
    max_slippage_bps: float | None = 50.0  # a MARKET order leaves as a LIMIT this far beyond the touch
    max_tick_age_s: float | None = 5.0  # older market data is not traded on
    max_spread_bps: float | None = 100.0  # a MARKET order into a wider spread is refused
    daily_loss_limit: float | None = None  # rupees; beyond it only reducing orders pass
    duplicate_window_s: float | None = 5.0  # same account, symbol, side, quantity again within it
    # the two windows in ns, as the checks compare them (made once, read per order)
    max_tick_age_ns: int | None = field(init=False, repr=False, compare=False)
    duplicate_window_ns: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_quantity", "max_position"):
            _check_whole(name, getattr(self, name))
        for name in (
            "max_order_value",
            "price_band_bps",
            "max_tick_age_s",
            "max_spread_bps",
            "daily_loss_limit",
            "duplicate_window_s",
        ):
            _check_positive(name, getattr(self, name))
        slippage = self.max_slippage_bps
        if slippage is not None:
            if not _is_number(slippage) or not 0 <= slippage < BPS:
                raise ValidationError("max_slippage_bps", slippage, "must be from 0 to under 10000 bps")
            if self.price_band_bps is not None and slippage > self.price_band_bps:
                raise ValidationError(
                    "max_slippage_bps",
                    slippage,
                    f"must not exceed price_band_bps {self.price_band_bps}, "
                    "or every protected MARKET order would be refused",
                )
        for seconds, ns in (("max_tick_age_s", "max_tick_age_ns"), ("duplicate_window_s", "duplicate_window_ns")):
            value = getattr(self, seconds)
            object.__setattr__(self, ns, None if value is None else int(value * 1e9))

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> RiskLimits:
        """Limits from a config table; an unknown key is an error naming it (a typo is not a limit)."""
        known = {f.name for f in fields(cls) if f.init}
        for key in config:
            if key not in known:
                raise ValidationError(str(key), config[key], f"unknown risk limit; known: {sorted(known)}")
        return cls(**config)  # type: ignore[arg-type]  # __post_init__ checks every value


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _check_whole(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise ValidationError(name, value, "must be a positive whole number, or None to switch it off")


def _check_positive(name: str, value: object) -> None:
    if value is not None and (not _is_number(value) or not 0 < value < float("inf")):
        raise ValidationError(name, value, "must be a positive number, or None to switch it off")
