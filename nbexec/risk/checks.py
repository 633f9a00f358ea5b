"""The account and order checks: each a pure function of (request, limits, context).

Each returns `None` to let the order pass, or a `Rejection` whose reason names the value and
the limit. A check whose limit is `None` always passes. `pretrade.evaluate` runs them in order.
"""

from __future__ import annotations

from .context import OrderRequest, RiskContext, fingerprint
from .limits import BPS, RiskLimits
from .verdict import Rejection


def kill_switch(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """While the kill switch is on, nothing new goes out, not even a reducing order."""
    if context.killed:
        return Rejection("kill_switch", f"kill switch is on: order for {request.account} refused")
    return None


def duplicate_signal(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """The same trade (account, symbol, side, quantity) under a new signal id within the window
    is most likely a double click or a strategy firing twice. The same signal id again is a
    replay, which idempotency already makes harmless, so it passes."""
    window = limits.duplicate_window_ns
    if window is None:
        return None
    mine = fingerprint(request) if context.recent_signals else None
    for seen in context.recent_signals:
        age = context.now_ns - seen.seen_at_ns
        if seen.fingerprint == mine and seen.signal_id != request.signal_id and age <= window:
            return Rejection(
                "duplicate_signal",
                f"{request.side} {request.quantity} {request.instrument.key} for "
                f"{request.account} repeats signal {seen.signal_id!r} from {age / 1e9:.3f} s "
                f"ago, within duplicate_window_s {limits.duplicate_window_s}",
            )
    return None


def max_quantity(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    if limits.max_quantity is not None and request.quantity > limits.max_quantity:
        return Rejection("max_quantity", f"quantity {request.quantity} exceeds max_quantity {limits.max_quantity}")
    return None


def max_position(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """Refuses an order that leaves the net position beyond the limit and larger than now;
    an order that shrinks an oversized position passes."""
    if limits.max_position is None:
        return None
    after = context.position + request.side.sign * request.quantity
    if abs(after) > limits.max_position and abs(after) > abs(context.position):
        return Rejection(
            "max_position",
            f"position after order {after} exceeds max_position {limits.max_position} "
            f"(now {context.position}, {request.side} {request.quantity})",
        )
    return None


def _reduces_position(request: OrderRequest, position: int) -> bool:
    """True when the order only takes the net position towards zero, never through it."""
    return position != 0 and request.side.sign == -_sign(position) and request.quantity <= abs(position)


def daily_loss(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """Once the day's loss is beyond the limit, only orders that reduce a position pass."""
    if limits.daily_loss_limit is None or context.pnl >= -limits.daily_loss_limit:
        return None
    if _reduces_position(request, context.position):
        return None
    return Rejection(
        "daily_loss",
        f"P&L {context.pnl:,.2f} is below daily_loss_limit -{limits.daily_loss_limit:,.2f}: "
        f"only reducing orders pass (position {context.position}, "
        f"{request.side} {request.quantity})",
    )


def price_band(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """A limit price far from the last trade is a fat finger, not a strategy."""
    if limits.price_band_bps is None or not request.has_limit_price or not context.last_price:
        return None  # `last_price_known` has already refused a priced order with no last price
    distance = abs(request.price - context.last_price) / context.last_price * BPS
    if distance > limits.price_band_bps:
        return Rejection(
            "price_band",
            f"limit price {request.price} is {distance:.1f} bps from last {context.last_price}, "
            f"beyond price_band_bps {limits.price_band_bps}",
        )
    return None


def max_order_value(request: OrderRequest, limits: RiskLimits, context: RiskContext) -> Rejection | None:
    """Values the order at its limit price, or at the last trade when it has none."""
    if limits.max_order_value is None:
        return None
    price = request.price if request.has_limit_price else context.last_price
    if not price:
        return Rejection("max_order_value", f"cannot value {request.instrument.key}: no price and no last trade")
    value = request.quantity * price
    if value > limits.max_order_value:
        return Rejection(
            "max_order_value",
            f"value {value:,.2f} ({request.quantity} x {price}) exceeds max_order_value {limits.max_order_value:,.2f}",
        )
    return None


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)
