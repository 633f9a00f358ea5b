"""Engine objects rendered as Kite Connect v3 JSON and CSV (docs/protocols/kite.md: Reads,
Instruments CSV, Order statuses and nbexec's states, Text messages). Pure.

The engine speaks a neutral vocabulary; this module is the only place that knows Kite's
spellings: `TRIGGER PENDING` with a space, `transaction_type`, IST "YYYY-MM-DD HH:MM:SS"
timestamps (the SDK turns exactly-19-character strings into datetimes), and the index
NIFTY 50 listed as exchange NSE, segment INDICES.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timedelta, timezone

from nbexec.core.instruments import Instrument
from nbexec.core.market import DepthLevel, Quote

from ..matching import Funds, Order, Position, Snapshot, Trade

IST = timezone(timedelta(hours=5, minutes=30))
KITE_STATUS = {
    "RECEIVED": "PUT ORDER REQ RECEIVED",
    "VALIDATION_PENDING": "VALIDATION PENDING",
    "OPEN_PENDING": "OPEN PENDING",
    "OPEN": "OPEN",
    "TRIGGER_PENDING": "TRIGGER PENDING",
    "MODIFY_VALIDATION_PENDING": "MODIFY VALIDATION PENDING",
    "MODIFY_PENDING": "MODIFY PENDING",
    "MODIFIED": "MODIFIED",
    "CANCEL_PENDING": "CANCEL PENDING",
    "COMPLETE": "COMPLETE",
    "CANCELLED": "CANCELLED",
    "REJECTED": "REJECTED",
}
# neutral ValidationError.field -> Kite's form field
KITE_FIELD = {"instrument": "tradingsymbol", "side": "transaction_type"}
_EMPTY = DepthLevel(0.0, 0, 0)

_ts_cache: dict[int, str] = {}


def kite_time(epoch: float) -> str:
    """Epoch seconds as Kite's naive IST `YYYY-MM-DD HH:MM:SS` (cached: hot in order dicts)."""
    s = int(epoch)
    text = _ts_cache.get(s)
    if text is None:
        if len(_ts_cache) > 4096:
            _ts_cache.clear()
        text = _ts_cache[s] = datetime.fromtimestamp(s, IST).strftime("%Y-%m-%d %H:%M:%S")
    return text


def kite_exchange(inst: Instrument) -> str:
    return "NSE" if inst.exchange == "INDICES" else inst.exchange


def kite_key(inst: Instrument) -> str:
    return f"{kite_exchange(inst)}:{inst.symbol}"


def order_dict(o: Order, snap: Snapshot | None = None) -> dict:
    """The Kite order object; with `snap`, as it stood at that history entry."""
    s = snap
    status = s.status if s else o.status
    quantity = s.quantity if s else o.quantity
    filled = s.filled_quantity if s else o.filled_quantity
    cancelled = s.cancelled_quantity if s else o.cancelled_quantity
    ts = kite_time(s.ts if s else o.updated_at)
    exchange_ts = ts if status not in ("RECEIVED", "VALIDATION_PENDING", "REJECTED") else None
    return {
        "placed_by": o.account,
        "order_id": o.order_id,
        "exchange_order_id": o.exchange_order_id or None,
        "parent_order_id": None,
        "status": KITE_STATUS.get(status, status),
        "status_message": (s.status_message if s else o.status_message) or None,
        "status_message_raw": (s.status_message if s else o.status_message) or None,
        "order_timestamp": ts,
        "exchange_update_timestamp": exchange_ts,
        "exchange_timestamp": exchange_ts,
        "variety": o.variety,
        "modified": o.modifications > 0,
        "exchange": kite_exchange(o.instrument),
        "tradingsymbol": o.instrument.symbol,
        "instrument_token": o.instrument.kite_token,
        "order_type": s.order_type if s else o.order_type,
        "transaction_type": o.side,
        "validity": s.validity if s else o.validity,
        "validity_ttl": 0,
        "product": o.product,
        "quantity": quantity,
        "disclosed_quantity": o.disclosed_quantity,
        "price": s.price if s else o.price,
        "trigger_price": s.trigger_price if s else o.trigger_price,
        "average_price": round(s.average_price if s else o.average_price, 4),
        "filled_quantity": filled,
        "pending_quantity": max(0, quantity - filled - cancelled)
        if status not in ("COMPLETE", "CANCELLED", "REJECTED")
        else 0,
        "cancelled_quantity": cancelled,
        "market_protection": o.market_protection,
        "meta": {},
        "tag": o.tag,
        "tags": [o.tag] if o.tag else [],
        "guid": f"paper-{o.order_id}",
    }


def order_update_dict(o: Order, api_key: str, api_secret: str) -> dict:
    """The order object as a postback / ticker order update: plus the postback's own fields.

    `checksum = sha256(order_id + order_timestamp + api_secret)` lets the app verify it.
    """
    d = order_dict(o)
    d.update(
        {
            "user_id": o.account,
            "app_id": api_key,
            "unfilled_quantity": d["pending_quantity"],
            "checksum": hashlib.sha256(f"{o.order_id}{d['order_timestamp']}{api_secret}".encode()).hexdigest(),
        }
    )
    return d


def history_dicts(o: Order) -> list[dict]:
    return [order_dict(o, s) for s in o.history]


def trade_dict(t: Trade) -> dict:
    ts = kite_time(t.ts)
    return {
        "trade_id": t.trade_id,
        "order_id": t.order_id,
        "exchange_order_id": t.exchange_order_id,
        "exchange": kite_exchange(t.instrument),
        "tradingsymbol": t.instrument.symbol,
        "instrument_token": t.instrument.kite_token,
        "product": t.product,
        "average_price": t.price,
        "quantity": t.quantity,
        "transaction_type": t.side,
        "fill_timestamp": ts,
        "order_timestamp": ts,
        "exchange_timestamp": ts,
    }


def position_dict(p: Position, last_price: float, close: float) -> dict:
    qty = p.quantity
    buy_price = p.buy_value / p.buy_quantity if p.buy_quantity else 0.0
    sell_price = p.sell_value / p.sell_quantity if p.sell_quantity else 0.0
    value = p.sell_value - p.buy_value
    pnl = value + qty * last_price
    matched = min(p.buy_quantity, p.sell_quantity)
    realised = (sell_price - buy_price) * matched if matched else 0.0
    avg = buy_price if qty > 0 else sell_price if qty < 0 else 0.0
    return {
        "tradingsymbol": p.instrument.symbol,
        "exchange": kite_exchange(p.instrument),
        "instrument_token": p.instrument.kite_token,
        "product": p.product,
        "quantity": qty,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": avg,
        "close_price": close,
        "last_price": last_price,
        "value": value,
        "pnl": pnl,
        "m2m": pnl,
        "unrealised": pnl - realised,
        "realised": realised,
        "buy_quantity": p.buy_quantity,
        "buy_price": buy_price,
        "buy_value": p.buy_value,
        "buy_m2m": p.buy_value,
        "sell_quantity": p.sell_quantity,
        "sell_price": sell_price,
        "sell_value": p.sell_value,
        "sell_m2m": p.sell_value,
        "day_buy_quantity": p.buy_quantity,
        "day_buy_price": buy_price,
        "day_buy_value": p.buy_value,
        "day_sell_quantity": p.sell_quantity,
        "day_sell_price": sell_price,
        "day_sell_value": p.sell_value,
    }


def _segment_margins(f: Funds | None) -> dict:
    cash = f.cash if f else 0.0
    available = f.available if f else 0.0
    return {
        "enabled": f is not None,
        "net": available,
        "available": {
            "adhoc_margin": 0,
            "cash": cash,
            "opening_balance": f.opening_balance if f else 0.0,
            "live_balance": available,
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": (f.opening_balance - available) if f else 0.0,
            "exposure": 0,
            "m2m_realised": f.realised if f else 0.0,
            "m2m_unrealised": 0,
            "option_premium": 0,
            "payout": 0,
            "span": f.blocked if f else 0.0,
            "holding_sales": 0,
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": 0,
        },
    }


def margins_dict(f: Funds, segment: str | None = None) -> dict:
    both = {"equity": _segment_margins(f), "commodity": _segment_margins(None)}
    return both[segment] if segment else both


def _depth(levels: tuple[DepthLevel, ...]) -> list[dict]:
    padded = list(levels[:5]) + [_EMPTY] * (5 - len(levels[:5]))
    return [{"price": d.price, "quantity": d.quantity, "orders": d.orders} for d in padded]


def quote_dict(inst: Instrument, q: Quote, kind: str, circuit: tuple[float, float]) -> dict:
    """`kind` is ltp, ohlc or quote (the three /quote endpoints)."""
    out: dict = {"instrument_token": inst.kite_token, "last_price": q.last_price}
    if kind == "ltp":
        return out
    out["ohlc"] = {"open": q.open, "high": q.high, "low": q.low, "close": q.close}
    if kind == "ohlc":
        return out
    change = q.last_price - q.close if q.close else 0.0
    out.update(
        {
            "timestamp": kite_time(q.exchange_timestamp),
            "last_trade_time": kite_time(q.last_trade_time),
            "last_quantity": q.last_quantity,
            "buy_quantity": q.total_buy_quantity,
            "sell_quantity": q.total_sell_quantity,
            "volume": q.volume,
            "average_price": q.average_price,
            "oi": q.oi,
            "oi_day_high": q.oi_day_high,
            "oi_day_low": q.oi_day_low,
            "net_change": round(change, 4),
            "lower_circuit_limit": circuit[0],
            "upper_circuit_limit": circuit[1],
            "depth": {"buy": _depth(q.bids), "sell": _depth(q.asks)},
        }
    )
    return out


CSV_HEADER = [
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
]


def instruments_csv(rows: list[tuple[Instrument, float]]) -> str:
    """The instruments dump; numeric strike / last_price / tick_size (the SDK float()s them)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for inst, last in rows:
        segment = "INDICES" if inst.exchange == "INDICES" else inst.exchange
        w.writerow(
            [
                inst.kite_token,
                inst.exchange_token,
                inst.symbol,
                inst.name or inst.symbol,
                last,
                "",
                0.0,
                inst.tick_size,
                inst.lot_size,
                inst.instrument_type,
                segment,
                kite_exchange(inst),
            ]
        )
    return buf.getvalue()
