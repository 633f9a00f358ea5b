"""The pre-trade verdict: every check in one fixed order, the first refusal wins.

The order (cheapest and most absolute first):
 1. kill_switch       - nothing goes out while it is on
 2. duplicate_signal  - same account, symbol, side, quantity under a new signal id, too soon
 3. max_quantity      - units per order
 4. max_position      - |net position| after the order, unless it shrinks
 5. daily_loss        - beyond the day's loss limit, only reducing orders
 6. last_price_known  - an order priced from the market needs a last trade
 7. tick_age          - ... and fresh market data
 8. spread_width      - a MARKET order needs a two-sided book no wider than the limit
 -- protect: a MARKET order becomes a LIMIT at its protected price (slippage protection) --
 9. price_band        - the limit price (given or protected) near the last trade
10. max_order_value   - quantity x the price it goes out at (or the last trade)

Pure and deterministic: the same request, limits and context always give the same decision.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import daily_loss, duplicate_signal, kill_switch, max_order_value, max_position, max_quantity, price_band
from .context import OrderRequest, RiskContext
from .limits import RiskLimits
from .slippage import last_price_known, protect, spread_width, tick_age
from .verdict import Decision, Rejection

Check = Callable[[OrderRequest, RiskLimits, RiskContext], Rejection | None]

ACCOUNT_CHECKS: tuple[Check, ...] = (kill_switch, duplicate_signal, max_quantity, max_position, daily_loss)
MARKET_CHECKS: tuple[Check, ...] = (last_price_known, tick_age, spread_width)


def price_for_market(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Decision:
    """Checks 6-9 and the protection: they read only the instrument, side, order type, price and
    market data, never the account. A fan-out computes this once per side and passes it to
    `evaluate` for every account."""
    for check in MARKET_CHECKS:
        if (rejection := check(request, limits, context)) is not None:
            return Decision(request.order_type, request.price, rejection)
    priced = protect(request, limits, context)
    return Decision(priced.order_type, priced.price, price_band(priced, limits, context))


def evaluate(
    request: OrderRequest, limits: RiskLimits, context: RiskContext, market: Decision | None = None
) -> Decision:
    """Run every check in the documented order; return the first rejection, or an accepted
    decision carrying the order type and price to send. `market`: `price_for_market` of a
    request differing from this one only in account and quantity (reused across a fan-out)."""
    for check in ACCOUNT_CHECKS:
        if (rejection := check(request, limits, context)) is not None:
            return Decision(request.order_type, request.price, rejection)
    market = market or price_for_market(request, limits, context)
    if not market.accepted or limits.max_order_value is None:
        return market
    priced = (
        request
        if (market.order_type, market.price) == (request.order_type, request.price)
        else request._replace(order_type=market.order_type, price=market.price)
    )
    return Decision(market.order_type, market.price, max_order_value(priced, limits, context))
