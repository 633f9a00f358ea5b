"""Kite Connect v3 JSON -> nbexec's normalised broker types. Pure: no I/O.

Kite's field names stop here (docs/protocols/kite.md: Reads, Order statuses and nbexec's
states). Status mapping: any status the broker's own book shows means Kite has the order, so
interim statuses (`PUT ORDER REQ RECEIVED`, `VALIDATION PENDING`, `OPEN PENDING`, modify /
cancel pending, the postback's `UPDATE`) read ACKED, or PARTIALLY_FILLED once something
filled; a status word Kite adds later reads UNKNOWN (look again) with the word kept in
`broker_status`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nbexec.core.errors import BrokerUnavailable
from nbexec.core.orders import Side
from nbexec.core.states import OrderStatus

from ..types import BrokerAck, BrokerOrder, BrokerPosition, BrokerTrade, Funds
from ..wire import Response
from .errors import BROKER, map_kite_error

S = OrderStatus
TERMINAL_STATUS = {"COMPLETE": S.FILLED, "CANCELLED": S.CANCELLED, "REJECTED": S.REJECTED}
LIVE_STATUSES = frozenset(
    {
        "OPEN",
        "TRIGGER PENDING",
        "UPDATE",
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "AMO REQ RECEIVED",
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "CANCEL PENDING",
        "TRIGGERED",
    }
)


def order_status(status: str, filled_quantity: int) -> OrderStatus:
    """Kite's status word (and the filled quantity) as an nbexec `OrderStatus`."""
    terminal = TERMINAL_STATUS.get(status)
    if terminal is not None:
        return terminal
    if status in LIVE_STATUSES:
        return S.PARTIALLY_FILLED if filled_quantity > 0 else S.ACKED
    return S.UNKNOWN


def decode(http_status: int, body: bytes, content_type: str = "application/json") -> Any:
    """Kite's envelope -> `data`; an error envelope (or an unreadable body) raises mapped."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if (
        http_status >= 400
        or not isinstance(parsed, dict)
        or parsed.get("status") == "error"
        or parsed.get("error_type")
    ):
        if http_status < 400 and not isinstance(parsed, dict):
            raise BrokerUnavailable(
                f"HTTP {http_status}: unreadable body ({content_type or 'no content type'})",
                broker=BROKER,
                status=http_status,
            )
        raise map_kite_error(http_status, parsed if isinstance(parsed, dict) else None)
    return parsed.get("data")


def parse_ack(response: Response, tag: str) -> BrokerAck:
    """The answer to a place / modify / cancel: `data.order_id`, with the transport's stamps."""
    data = decode(response.status, response.body, response.header("content-type") or "")
    if not isinstance(data, dict) or not data.get("order_id"):
        raise BrokerUnavailable(
            f"HTTP {response.status}: success without an order_id", broker=BROKER, status=response.status
        )
    return BrokerAck(str(data["order_id"]), tag, response.t_written_ns, response.t_done_ns, data)


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return float(value or 0.0)


def _instrument(data: Mapping[str, Any]) -> str:
    return f"{data.get('exchange', '')}:{data.get('tradingsymbol', '')}"


def parse_order(data: Mapping[str, Any]) -> BrokerOrder:
    """One Kite order object (order book, history entry, WebSocket or postback update)."""
    status = str(data.get("status") or "")
    filled = _int(data.get("filled_quantity"))
    reason = str(data.get("status_message") or "") if status in ("REJECTED", "CANCELLED") else ""
    return BrokerOrder(
        broker_order_id=str(data.get("order_id") or ""),
        tag=str(data.get("tag") or ""),
        status=order_status(status, filled),
        quantity=_int(data.get("quantity")),
        filled_quantity=filled,
        average_price=_float(data.get("average_price")),
        reject_reason=reason,
        broker_status=status,
        instrument=_instrument(data),
        exchange_order_id=str(data.get("exchange_order_id") or ""),
        raw=data,
    )


def parse_orders(data: Sequence[Mapping[str, Any]]) -> list[BrokerOrder]:
    return [parse_order(o) for o in data or ()]


def parse_history(data: Sequence[Mapping[str, Any]]) -> BrokerOrder | None:
    """`GET /orders/{id}` is the order at each state, oldest first: the last entry is now."""
    return parse_order(data[-1]) if data else None


def parse_update(message: Mapping[str, Any]) -> BrokerOrder:
    """A ticker `{"type":"order","data":{...}}` message, or its `data` alone."""
    data = message["data"] if message.get("type") == "order" else message
    return parse_order(data)


def parse_trade(data: Mapping[str, Any]) -> BrokerTrade:
    return BrokerTrade(
        trade_id=str(data.get("trade_id") or ""),
        broker_order_id=str(data.get("order_id") or ""),
        instrument=_instrument(data),
        side=Side(data.get("transaction_type")),
        quantity=_int(data.get("quantity")),
        price=_float(data.get("average_price")),
        exchange_trade_id=str(data.get("trade_id") or ""),
        timestamp=str(data.get("exchange_timestamp") or data.get("fill_timestamp") or ""),
        raw=data,
    )


def parse_trades(data: Sequence[Mapping[str, Any]]) -> list[BrokerTrade]:
    return [parse_trade(t) for t in data or ()]


def parse_positions(data: Mapping[str, Any]) -> list[BrokerPosition]:
    """`{"net":[...],"day":[...]}` -> the net positions."""
    return [
        BrokerPosition(
            instrument=_instrument(p),
            product=str(p.get("product") or ""),
            quantity=_int(p.get("quantity")),
            average_price=_float(p.get("average_price")),
            realised_pnl=_float(p.get("realised")),
            unrealised_pnl=_float(p.get("unrealised")),
            raw=p,
        )
        for p in (data or {}).get("net") or ()
    ]


def parse_funds(data: Mapping[str, Any]) -> Funds:
    """`/user/margins` -> the equity segment: `net` is what can be traded with now."""
    equity = (data or {}).get("equity") or {}
    utilised = equity.get("utilised") or {}
    return Funds(available_cash=_float(equity.get("net")), utilised=_float(utilised.get("debits")), raw=data)
