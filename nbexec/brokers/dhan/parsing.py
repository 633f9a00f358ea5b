"""Dhan v2 JSON -> nbexec's normalised broker types. Pure: no I/O.

Dhan's field names stop here (docs/protocols/dhan.md: Reads, The live order-update WebSocket).
Status mapping: TRANSIT and PENDING read ACKED (Dhan has the order), PART_TRADED
PARTIALLY_FILLED, TRADED FILLED (or PARTIALLY_FILLED when an update says TRADED for part of the
quantity), REJECTED, CANCELLED, EXPIRED as such; a word Dhan adds later reads UNKNOWN (look
again), kept in `broker_status`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nbexec.core.errors import BrokerUnavailable
from nbexec.core.instruments import DHAN_SEGMENT_BY_EXCHANGE
from nbexec.core.orders import Side
from nbexec.core.states import OrderStatus

from ..types import BrokerAck, BrokerOrder, BrokerPosition, BrokerTrade, Funds
from ..wire import Response
from .errors import BROKER, map_dhan_error
from .requests import PRODUCT

S = OrderStatus
STATUS = {
    "TRANSIT": S.ACKED,
    "PENDING": S.ACKED,
    "TRIGGERED": S.ACKED,
    "PART_TRADED": S.PARTIALLY_FILLED,
    "TRADED": S.FILLED,
    "REJECTED": S.REJECTED,
    "CANCELLED": S.CANCELLED,
    "EXPIRED": S.EXPIRED,
}
PRODUCT_IN = {dhan: ours for ours, dhan in PRODUCT.items()}
EXCHANGE_BY_SEGMENT = {segment: exchange for exchange, segment in DHAN_SEGMENT_BY_EXCHANGE.items()}
# (exchange code, segment letter) as in order updates and the security list -> Kite exchange
EXCHANGE_BY_CODE = {
    ("NSE", "E"): "NSE",
    ("NSE", "D"): "NFO",
    ("NSE", "C"): "CDS",
    ("BSE", "E"): "BSE",
    ("BSE", "D"): "BFO",
    ("BSE", "C"): "BCD",
    ("MCX", "M"): "MCX",
    ("NSE", "I"): "INDICES",
    ("BSE", "I"): "INDICES",
}


def order_status(status: str, filled_quantity: int, quantity: int) -> OrderStatus:
    mapped = STATUS.get(status, S.UNKNOWN)
    if mapped is S.ACKED and filled_quantity > 0:
        return S.PARTIALLY_FILLED
    if mapped is S.FILLED and 0 < filled_quantity < quantity:
        return S.PARTIALLY_FILLED
    return mapped


def decode(http_status: int, body: bytes, content_type: str = "application/json") -> Any:
    """A 2xx JSON body is the payload (Dhan has no envelope); anything else raises mapped."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if 200 <= http_status < 300:
        if parsed is None:
            raise BrokerUnavailable(
                f"HTTP {http_status}: empty or unreadable body ({content_type or 'no content type'})",
                broker=BROKER,
                status=http_status,
            )
        return parsed
    raise map_dhan_error(http_status, parsed if isinstance(parsed, dict) else None)


def parse_ack(response: Response, tag: str) -> BrokerAck:
    """The answer to a place / modify / cancel: `{orderId, orderStatus}` (a list when sliced)."""
    data = decode(response.status, response.body, response.header("content-type") or "")
    first = data[0] if isinstance(data, list) and data else data
    if not isinstance(first, dict) or not first.get("orderId"):
        raise BrokerUnavailable(
            f"HTTP {response.status}: success without an orderId", broker=BROKER, status=response.status
        )
    return BrokerAck(str(first["orderId"]), tag, response.t_written_ns, response.t_done_ns, first)


def _instrument(segment: Any, symbol: Any) -> str:
    return f"{EXCHANGE_BY_SEGMENT.get(str(segment), str(segment))}:{symbol or ''}"


def parse_order(data: Mapping[str, Any]) -> BrokerOrder:
    """One Dhan order object (order book, `/orders/{id}`, `/orders/external/{correlationId}`)."""
    status = str(data.get("orderStatus") or "")
    quantity, filled = int(data.get("quantity") or 0), int(data.get("filledQty") or 0)
    return BrokerOrder(
        broker_order_id=str(data.get("orderId") or ""),
        tag=str(data.get("correlationId") or ""),
        status=order_status(status, filled, quantity),
        quantity=quantity,
        filled_quantity=filled,
        average_price=float(data.get("averageTradedPrice") or 0.0),
        reject_reason=str(data.get("omsErrorDescription") or "") if status == "REJECTED" else "",
        broker_status=status,
        instrument=_instrument(data.get("exchangeSegment"), data.get("tradingSymbol")),
        exchange_order_id=str(data.get("exchangeOrderId") or ""),
        raw=data,
    )


def parse_one(data: Any) -> BrokerOrder | None:
    """A lookup's answer: an object or a 1-element list (which of the two Dhan sends is not
    confirmed by the official docs, so both are read; docs/protocols/dhan.md, Reads)."""
    if isinstance(data, list):
        data = data[-1] if data else None
    return parse_order(data) if isinstance(data, dict) else None


def parse_orders(data: Sequence[Mapping[str, Any]]) -> list[BrokerOrder]:
    return [parse_order(o) for o in data or ()]


def parse_update(message: Mapping[str, Any]) -> BrokerOrder | None:
    """An order-update `{"Type":"order_alert","Data":{...}}`; None for other message types."""
    if message.get("Type") != "order_alert" or not isinstance(message.get("Data"), dict):
        return None
    d = message["Data"]
    status = str(d.get("Status") or "")
    quantity, filled = int(d.get("Quantity") or 0), int(d.get("TradedQty") or 0)
    exchange = EXCHANGE_BY_CODE.get((str(d.get("Exchange")), str(d.get("Segment"))), str(d.get("Exchange")))
    return BrokerOrder(
        broker_order_id=str(d.get("OrderNo") or ""),
        tag=str(d.get("CorrelationId") or ""),
        status=order_status(status, filled, quantity),
        quantity=quantity,
        filled_quantity=filled,
        average_price=float(d.get("AvgTradedPrice") or 0.0),
        reject_reason=str(d.get("ReasonDescription") or "") if status == "REJECTED" else "",
        broker_status=status,
        instrument=f"{exchange}:{d.get('Symbol') or ''}",
        exchange_order_id=str(d.get("ExchOrderNo") or ""),
        raw=d,
    )


def parse_trade(data: Mapping[str, Any]) -> BrokerTrade:
    trade_id = str(data.get("exchangeTradeId") or "")
    return BrokerTrade(
        trade_id=trade_id,
        broker_order_id=str(data.get("orderId") or ""),
        instrument=_instrument(data.get("exchangeSegment"), data.get("tradingSymbol")),
        side=Side(data.get("transactionType")),
        quantity=int(data.get("tradedQuantity") or 0),
        price=float(data.get("tradedPrice") or 0.0),
        exchange_trade_id=trade_id,
        timestamp=str(data.get("exchangeTime") or data.get("updateTime") or ""),
        raw=data,
    )


def parse_trades(data: Sequence[Mapping[str, Any]]) -> list[BrokerTrade]:
    return [parse_trade(t) for t in data or ()]


def parse_position(p: Mapping[str, Any]) -> BrokerPosition:
    net = int(p.get("netQty") or 0)
    average = p.get("buyAvg") if net > 0 else p.get("sellAvg") if net < 0 else 0.0
    product = str(p.get("productType") or "")
    return BrokerPosition(
        instrument=_instrument(p.get("exchangeSegment"), p.get("tradingSymbol")),
        product=PRODUCT_IN.get(product, product),
        quantity=net,
        average_price=float(average or 0.0),
        realised_pnl=float(p.get("realizedProfit") or 0.0),
        unrealised_pnl=float(p.get("unrealizedProfit") or 0.0),
        raw=p,
    )


def parse_positions(data: Sequence[Mapping[str, Any]]) -> list[BrokerPosition]:
    return [parse_position(p) for p in data or ()]


def parse_funds(data: Mapping[str, Any]) -> Funds:
    """`/fundlimit`; `availabelBalance` is Dhan's own spelling."""
    return Funds(
        available_cash=float(data.get("availabelBalance") or 0.0),
        utilised=float(data.get("utilizedAmount") or 0.0),
        raw=data,
    )
