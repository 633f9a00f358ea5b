"""What the engine shows: its orders, fills, positions and each hop's latency as DataFrames.

Built on demand from the order tracker's state (never per tick or per order). Every order
carries monotonic-ns stamps of its hops (`time.monotonic_ns`: one clock for the whole
machine), so a hop's latency is the difference of two stamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from ..core.fills import Fill, Position
from ..core.orders import Order

HOPS = (
    ("signal_to_risk_us", "ts_signal", "ts_risk_passed"),
    ("risk_to_wire_us", "ts_risk_passed", "ts_sent"),
    ("wire_to_ack_us", "ts_sent", "ts_acked"),
    ("ack_to_fill_us", "ts_acked", "ts_first_fill"),
    ("signal_to_done_us", "ts_signal", "ts_done"),
)
FILL_COLUMNS = ["fill_id", "order_id", "account", "instrument", "side", "quantity", "price"]


def hop_latencies(order: Order) -> dict[str, float | None]:
    """Microseconds between the monotonic stamps of consecutive hops (None if not reached)."""
    return {
        name: (getattr(order, b) - getattr(order, a)) / 1e3 if getattr(order, a) and getattr(order, b) else None
        for name, a, b in HOPS
    }


def orders_df(orders: Iterable[Order]) -> pd.DataFrame:
    """One row per order (index: order id), with each hop's latency."""
    rows = [
        {
            "order_id": o.order_id,
            "signal_id": o.signal_id,
            "account": o.account,
            "instrument": o.instrument,
            "side": o.side.value,
            "quantity": o.quantity,
            "type": o.order_type.value,
            "price": o.price,
            "status": o.status.value,
            "filled": o.filled_quantity,
            "avg_price": o.average_price,
            "broker_order_id": o.broker_order_id,
            "route": o.route,
            "reason": o.reject_reason,
            "created": pd.Timestamp(o.created_at_ns, unit="ns", tz="UTC"),
            **hop_latencies(o),
        }
        for o in orders
    ]
    return pd.DataFrame(rows).set_index("order_id") if rows else pd.DataFrame()


def fills_df(fills: Iterable[Fill]) -> pd.DataFrame:
    rows = [
        {
            "fill_id": f.fill_id,
            "order_id": f.order_id,
            "account": f.account,
            "instrument": f.instrument,
            "side": f.side.value,
            "quantity": f.quantity,
            "price": f.price,
        }
        for f in fills
    ]
    return pd.DataFrame(rows, columns=FILL_COLUMNS)


def latency_samples(orders: Iterable[Order]) -> dict[str, list[float]]:
    """Microseconds per hop over `orders` (hops an order never reached are left out)."""
    samples: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    for order in orders:
        for name, value in hop_latencies(order).items():
            if value is not None:
                samples[name].append(value)
    return samples


def latency_df(orders: Iterable[Order]) -> pd.DataFrame:
    """Percentiles (us) of each hop over `orders`."""
    rows = {
        name: pd.Series(v, dtype=float).describe(percentiles=[0.5, 0.9, 0.99])
        for name, v in latency_samples(orders).items()
    }
    return pd.DataFrame(rows).T[["count", "50%", "90%", "99%", "max"]]


def positions_df(positions: Mapping[tuple[str, str], Position], last_tick: Callable[[str], Any]) -> pd.DataFrame:
    """One row per (account, instrument), marked to `last_tick(instrument)` when there is one."""
    rows = []
    for (account, key), p in sorted(positions.items()):
        tick = last_tick(key)
        rows.append(
            {
                "account": account,
                "instrument": key,
                "quantity": p.quantity,
                "buy_qty": p.buy_quantity,
                "buy_price": p.buy_price,
                "sell_qty": p.sell_quantity,
                "sell_price": p.sell_price,
                "realised_pnl": p.realised_pnl,
                "last_price": tick.last_price if tick else None,
                "unrealised_pnl": p.unrealised_pnl(tick.last_price) if tick else None,
            }
        )
    return pd.DataFrame(rows)
