"""A modify's changes, checked the way both brokers' request builders need them. Pure.

`Order` validates itself (positive quantity, finite non-negative prices, a price for LIMIT /
SL, a trigger for SL / SL-M, a 1-20 character alphanumeric tag); a modify's changes are
applied to the order so the same validation covers the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nbexec.core.orders import Order

from .base import check_changes


def modified(order: Order, changes: dict[str, Any]) -> Order:
    """`order` with a modify's `changes` applied and validated like a new order."""
    check_changes(changes)
    return replace(order, **changes)
