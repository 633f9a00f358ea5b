"""Per-account sizing: how many units one signal means for one account.

An account's rule is a multiplier of the signal's quantity, a fixed quantity, or a share of
its capital at the current price. The result is always rounded DOWN to whole lots, so an
account never trades more than its rule allows; a result of zero lots is skipped with a reason
the user can read. Pure: no clock, no I/O; exact decimal arithmetic, so 0.29 x 100 is 29.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import Enum
from typing import NamedTuple

from ..core.errors import ValidationError
from ..core.instruments import Instrument
from ..core.orders import Side


class SizingKind(str, Enum):
    MULTIPLIER = "multiplier"  # signal quantity x value
    FIXED = "fixed"  # value units, whatever the signal says
    CAPITAL_SHARE = "capital_share"  # capital x value / price

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class SizingRule:
    """One account's sizing rule, validated when built; errors name the config key."""

    kind: SizingKind
    value: float

    def __post_init__(self) -> None:
        kind = SizingKind(self.kind)
        object.__setattr__(self, "kind", kind)
        v = self.value
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v == v:
            raise ValidationError(kind.value, v, "must be a number")
        if kind is SizingKind.MULTIPLIER and not 0 < v < float("inf"):
            raise ValidationError("multiplier", v, "must be a positive number")
        if kind is SizingKind.FIXED and (not float(v).is_integer() or v <= 0):
            raise ValidationError("fixed", v, "must be a positive whole number of units")
        if kind is SizingKind.CAPITAL_SHARE and not 0 < v <= 1:
            raise ValidationError("capital_share", v, "must be a fraction of capital above 0 and at most 1")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> SizingRule:
        """A rule from `{"multiplier": 2}`, `{"fixed": 25}` or `{"capital_share": 0.05}`."""
        kinds = [k.value for k in SizingKind]
        if len(config) != 1:
            raise ValidationError("sizing", dict(config), f"needs exactly one of {kinds}")
        ((key, value),) = config.items()
        if key not in kinds:
            raise ValidationError(str(key), value, f"unknown sizing rule; use one of {kinds}")
        return cls(SizingKind(key), value)  # type: ignore[arg-type]  # __post_init__ checks it is a number


class Sized(NamedTuple):
    """Units to trade for one account; 0 with `skipped_reason` when it gets no order."""

    quantity: int
    skipped_reason: str = ""

    @property
    def skipped(self) -> bool:
        return self.quantity == 0


def size_for(
    rule: SizingRule, signal_qty: int, instrument: Instrument, price: float | None = None, capital: float | None = None
) -> Sized:
    """Units for one account, rounded down to whole lots of `instrument`; never above the rule.

    `price` and `capital` are needed by a capital-share rule only; when they are missing the
    account is skipped (with the reason) rather than the whole fan-out failing.
    """
    if not isinstance(signal_qty, int) or isinstance(signal_qty, bool) or signal_qty <= 0:
        raise ValidationError("signal_qty", signal_qty, "must be a positive whole number")
    lot = instrument.lot_size
    if rule.kind is not SizingKind.CAPITAL_SHARE and float(rule.value).is_integer():
        # Whole multipliers and fixed sizes (the usual rules) in integers: exact, and no
        # Decimal work on the order path.
        units = int(rule.value) * (signal_qty if rule.kind is SizingKind.MULTIPLIER else 1)
        if units >= lot:
            return Sized(units // lot * lot)
        why = (
            f"multiplier {rule.value} x {signal_qty} = {units}"
            if rule.kind is SizingKind.MULTIPLIER
            else f"fixed {units}"
        )
        return Sized(0, f"{why} buys 0 lots of {lot}")
    if rule.kind is SizingKind.MULTIPLIER:
        exact_units = signal_qty * _exact(rule.value)
        why = f"multiplier {rule.value} x {signal_qty} = {exact_units.normalize():f}"
    else:
        share = f"capital share {(_exact(rule.value) * 100).normalize():f}%"
        if not capital or capital <= 0:
            return Sized(0, f"{share} of unknown capital: no capital known for the account")
        if not price or price <= 0:
            return Sized(0, f"{share} needs a price: none known for {instrument.key}")
        exact_units = _exact(capital) * _exact(rule.value) / _exact(price)
        why = f"{share} of {_amount(capital)} at {price}"
    lots = int((exact_units / lot).to_integral_value(rounding=ROUND_FLOOR))
    if lots <= 0:
        return Sized(0, f"{why} buys 0 lots of {lot}")
    return Sized(lots * lot)


def target_delta(target_qty: int, current_position: int) -> tuple[Side, int] | None:
    """The order that takes a net position from `current_position` to `target_qty` (both signed
    units), or None when it is already there."""
    delta = target_qty - current_position
    if delta == 0:
        return None
    return (Side.BUY, delta) if delta > 0 else (Side.SELL, -delta)


def _exact(x: float) -> Decimal:
    return Decimal(repr(x))


def _amount(x: float) -> str:
    return f"{x:,.2f}".removesuffix(".00")
