"""Slippage protection: a MARKET signal leaves as a marketable LIMIT inside a band, and only
when the market data it is priced from is there, fresh, and not too wide.

The band is measured from the touch: for a buy the lower of best ask and last trade, for a
sell the higher of best bid and last trade. The protected price is rounded onto the tick grid
towards the inside of the band, so it is never beyond it.
"""

from __future__ import annotations

from decimal import Decimal

from ..core.errors import ValidationError
from ..core.instruments import Instrument
from ..core.orders import OrderType, Side
from .context import OrderRequest, RiskContext
from .limits import BPS, RiskLimits
from .verdict import Rejection


def protect_market_order(
    instrument: Instrument,
    side: Side,
    last_price: float | None,
    max_slippage_bps: float,
    *,
    bid: float | None = None,
    ask: float | None = None,
) -> float:
    """The limit price a MARKET order is sent at.

    Buy: min(ask, last) x (1 + bps), rounded down onto the grid; sell: max(bid, last) x (1 - bps),
    rounded up. A missing or zero bid/ask (an empty book side) leaves the last trade alone as
    the touch. Guaranteed on the grid and within the band; with an on-grid touch, also no
    worse for the order than the touch itself, so it stays marketable.
    """
    if last_price is None or not last_price > 0:
        raise ValidationError("last_price", last_price, "must be positive to protect a MARKET order")
    if not 0 <= max_slippage_bps < BPS:
        raise ValidationError("max_slippage_bps", max_slippage_bps, "must be from 0 to under 10000 bps")
    side = Side(side)
    if side is Side.BUY:
        touch = min(ask, last_price) if ask else last_price
    else:
        touch = max(bid, last_price) if bid else last_price
    # Decimal keeps the band edge exact, so rounding onto the grid is judged on the true edge.
    edge = Decimal(repr(touch)) * (BPS + side.sign * Decimal(repr(max_slippage_bps))) / BPS
    return instrument.round_price(float(edge), side.value)


def _judged_on_market(request: OrderRequest, limits: RiskLimits) -> bool:
    """Whether some enabled check or the protection prices this order from market data."""
    if request.order_type is OrderType.MARKET and (
        limits.max_slippage_bps is not None or limits.max_spread_bps is not None
    ):
        return True
    if request.has_limit_price:
        return limits.price_band_bps is not None
    return limits.max_order_value is not None


def last_price_known(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    if _judged_on_market(request, limits) and not context.last_price:
        return Rejection("last_price_known", f"no last trade price for {request.instrument.key}")
    return None


def tick_age(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """Market data older than the limit (a stalled feed) is not traded on."""
    limit = limits.max_tick_age_ns
    if limit is None or not _judged_on_market(request, limits):
        return None
    age = context.tick_age_ns
    if age is None:
        return Rejection("tick_age", f"no tick time for {request.instrument.key}")
    if age > limit:
        return Rejection(
            "tick_age",
            f"last tick of {request.instrument.key} is {age / 1e9:.3f} s old, "
            f"beyond max_tick_age_s {limits.max_tick_age_s}",
        )
    return None


def spread_width(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """A MARKET order into a wide (or one-sided) book pays the spread; refuse it instead."""
    if limits.max_spread_bps is None or request.order_type is not OrderType.MARKET:
        return None
    bid, ask = context.bid, context.ask
    if not bid or not ask:
        return Rejection(
            "spread_width",
            f"no two-sided quote for {request.instrument.key} (bid {bid}, ask {ask}) to judge max_spread_bps by",
        )
    spread = (ask - bid) / ((ask + bid) / 2) * BPS
    if spread > limits.max_spread_bps:
        return Rejection(
            "spread_width",
            f"spread {bid}/{ask} of {request.instrument.key} is {spread:.1f} bps, "
            f"wider than max_spread_bps {limits.max_spread_bps}",
        )
    return None


def protect(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> OrderRequest:
    """The request as it goes out: a MARKET order becomes a LIMIT at its protected price when
    slippage protection is on; anything else is returned unchanged."""
    if request.order_type is not OrderType.MARKET or limits.max_slippage_bps is None:
        return request
    price = protect_market_order(
        request.instrument, request.side, context.last_price, limits.max_slippage_bps, bid=context.bid, ask=context.ask
    )
    return request._replace(order_type=OrderType.LIMIT, price=price)
