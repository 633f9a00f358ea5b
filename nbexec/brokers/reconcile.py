"""Resolving an UNKNOWN order: ask the broker what it has under the order's tag.

Shared by every adapter: the lookup is `OrderRoute.order_by_tag` (Kite scans its day book for
`tag`, Dhan asks `/orders/external/{correlationId}`). An UNKNOWN order is never resolved by
sending it again (docs/design.md, Crash safety).
"""

from __future__ import annotations

import asyncio

from nbexec.core.orders import Order

from .base import OrderRoute
from .types import BrokerOrder


async def resolve_unknown(
    broker: OrderRoute, order: Order, *, checks: int = 2, interval_s: float = 0.25
) -> BrokerOrder | None:
    """What the broker holds for `order.tag`, or None when it provably does not have it.

    "Provably" needs time: bytes already written may still be in flight to the broker's OMS
    when the first lookup runs. So None is returned only after `checks` lookups, `interval_s`
    apart, all came back empty; call it once the request's connection was closed (the lean
    transport aborts it on a timeout). The first lookup that finds the order returns it at
    once. Reads are idempotent and retried inside the adapter; their errors propagate (the
    order stays UNKNOWN).
    """
    for check in range(max(checks, 1)):
        if check:
            await asyncio.sleep(interval_s)
        found = await broker.order_by_tag(order.tag)
        if found is not None:
            return found
    return None
