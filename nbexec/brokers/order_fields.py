"""Checks both brokers' request builders run before a byte is built. Pure.

`Order` validates itself (positive quantity, a price for LIMIT / SL, a trigger for SL /
SL-M, a 1-20 character alphanumeric tag); these add what the wire needs on top: finite prices,
and a modify's changes applied to the order so the same validation covers the result.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from nbexec.core.errors import ValidationError
from nbexec.core.orders import Order

from .base import check_changes


def check_prices(order: Order) -> None:
    """Raise `ValidationError` naming `price` / `trigger_price` when not finite or negative."""
    for name in ("price", "trigger_price"):
        value = getattr(order, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValidationError(name, value, "must be a finite, non-negative number")


def modified(order: Order, changes: dict[str, Any]) -> Order:
    """`order` with a modify's `changes` applied and validated like a new order."""
    check_changes(changes)
    updated = replace(order, **changes)
    check_prices(updated)
    return updated
