"""Dhan v2 wire shapes for the paper exchange: request validation and response bodies.

Pure (no I/O, no asyncio): JSON in, typed requests out; engine objects in, Dhan's camelCase
REST dicts out; engine errors in, Dhan error bodies out. Dhan's REST field names and codes live
here (the WebSocket shapes in `ws`), so the matching engine stays broker-neutral.
Sources: docs/protocols/dhan.md (which cites Dhan's official pages, https://dhanhq.co/docs/v2/)
and the `dhanhq` 2.3.0 SDK.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from nbexec.core.errors import (
    AuthError,
    BrokerError,
    InputError,
    NbexecError,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    ValidationError,
)
from nbexec.core.instruments import DHAN_SEGMENT_ENUM

# -- code tables (docs/protocols/dhan.md, Place: the JSON keys nbexec sends) ------------------
SIDES = ("BUY", "SELL")
# Dhan productType -> engine product. MTF/CO/BO have no paper equivalent: refused, not faked.
PRODUCT_IN = {"CNC": "CNC", "INTRADAY": "MIS", "MARGIN": "NRML"}
PRODUCT_OUT = {v: k for k, v in PRODUCT_IN.items()}
ORDER_TYPE_IN = {"LIMIT": "LIMIT", "MARKET": "MARKET", "STOP_LOSS": "SL", "STOP_LOSS_MARKET": "SL-M"}
ORDER_TYPE_OUT = {v: k for k, v in ORDER_TYPE_IN.items()}
VALIDITIES = ("DAY", "IOC")
TRADABLE_SEGMENTS = tuple(s for s in DHAN_SEGMENT_ENUM if s != "IDX_I")
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9 _-]{1,30}$")
IST_OFFSET_S = 5 * 3600 + 1800


# -- errors -----------------------------------------------------------------------------------
# (HTTP status, errorType, errorCode). The official pages name the codes, not the HTTP statuses:
# the statuses are this exchange's choice, not confirmed by the official docs
# (docs/protocols/dhan.md, Error envelope and DH-9xx codes).
AUTH_FAILED = (401, "Invalid_Authentication", "DH-901")
RATE_LIMITED = (429, "Rate_Limit", "DH-904")
INPUT_ERROR = (400, "Input_Exception", "DH-905")
ORDER_ERROR = (400, "Order_Error", "DH-906")
NOT_FOUND = (404, "Data_Error", "DH-907")
INTERNAL = (500, "Internal_Server_Error", "DH-908")


# The engine's neutral ValidationError.field -> Dhan's JSON key (matching.FIELDS).
DHAN_FIELD = {
    "account": "dhanClientId",
    "instrument": "securityId",
    "side": "transactionType",
    "order_type": "orderType",
    "trigger_price": "triggerPrice",
    "product": "productType",
    "tag": "correlationId",
    "disclosed_quantity": "disclosedQuantity",
    "order_id": "orderId",
}


def error_body(kind: tuple[int, str, str], message: str) -> tuple[int, dict[str, str]]:
    """HTTP status and Dhan's error body; the SDK copies the three keys into `remarks`."""
    status, error_type, code = kind
    return status, {"errorType": error_type, "errorCode": code, "errorMessage": message}


def error_for(exc: BaseException) -> tuple[int, dict[str, str]]:
    """Map an engine or validation error to Dhan's error body, keeping the engine's message."""
    if isinstance(exc, AuthError):
        return error_body(AUTH_FAILED, str(exc))
    if isinstance(exc, RateLimited):
        return error_body(RATE_LIMITED, str(exc))
    if isinstance(exc, ValidationError) and exc.field == "order_id":  # e.g. not live any more
        return error_body(ORDER_ERROR, f"Order {exc.value}: {exc.reason}")
    if isinstance(exc, ValidationError):
        name = DHAN_FIELD.get(exc.field, exc.field)
        return error_body(INPUT_ERROR, f"Invalid {name}: {exc.reason} (got {exc.value!r})")
    if isinstance(exc, InputError):
        return error_body(INPUT_ERROR, str(exc))
    if isinstance(exc, (OrderNotFound, KeyError, LookupError)):
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return error_body(NOT_FOUND, str(message))
    if isinstance(exc, (OrderRejected, BrokerError, NbexecError, ValueError)):
        return error_body(ORDER_ERROR, str(exc))
    return error_body(INTERNAL, f"internal error: {type(exc).__name__}")


# -- requests ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """A validated `POST /orders` body, already in engine terms (product MIS, type SL-M ...)."""

    side: str
    segment: str
    security_id: int
    quantity: int
    order_type: str
    product: str
    validity: str
    price: float
    trigger_price: float
    disclosed_quantity: int
    correlation_id: str


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    """A validated `PUT /orders/{id}` body; None means "leave unchanged"."""

    order_id: str
    order_type: str | None
    quantity: int | None
    price: float | None
    trigger_price: float | None
    disclosed_quantity: int | None
    validity: str | None


# A required field, or one with a default, is never None: the overloads say so.
@overload
def _choice(
    body: Mapping[str, Any],
    key: str,
    allowed: Iterable[str],
    *,
    required: Literal[True] = ...,
    default: str | None = ...,
) -> str: ...
@overload
def _choice(
    body: Mapping[str, Any], key: str, allowed: Iterable[str], *, required: bool = ..., default: str
) -> str: ...
@overload
def _choice(
    body: Mapping[str, Any], key: str, allowed: Iterable[str], *, required: bool = ..., default: None = ...
) -> str | None: ...
def _choice(
    body: Mapping[str, Any], key: str, allowed: Iterable[str], *, required: bool = True, default: str | None = None
) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(key, value, "is required")
        return default
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ValidationError(key, value, f"must be one of {sorted(allowed)}")
    return value.upper()


@overload
def _int(
    body: Mapping[str, Any], key: str, *, required: Literal[True] = ..., minimum: int = ..., default: int | None = ...
) -> int: ...
@overload
def _int(body: Mapping[str, Any], key: str, *, required: bool = ..., minimum: int = ..., default: int) -> int: ...
@overload
def _int(
    body: Mapping[str, Any], key: str, *, required: bool = ..., minimum: int = ..., default: None = ...
) -> int | None: ...
def _int(
    body: Mapping[str, Any], key: str, *, required: bool = True, minimum: int = 0, default: int | None = None
) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(key, value, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(key, value, "must be a whole number")
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(key, value, "must be a whole number") from None
    if number < minimum:
        raise ValidationError(key, value, f"must be at least {minimum}")
    return number


@overload
def _price(body: Mapping[str, Any], key: str, *, default: float = ...) -> float: ...
@overload
def _price(body: Mapping[str, Any], key: str, *, default: None) -> float | None: ...
def _price(body: Mapping[str, Any], key: str, *, default: float | None = 0.0) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationError(key, value, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(key, value, "must be a number") from None
    if number < 0 or not math.isfinite(number):
        raise ValidationError(key, value, "must be a finite, non-negative number")
    return number


def _security_id(value: Any) -> int:
    """Dhan sends securityId as a string of digits; ints are tolerated."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip().isdigit():
        raise ValidationError("securityId", value, 'must be a string of digits, e.g. "1333"')
    return int(str(value).strip())


def check_client_id(body: Mapping[str, Any], client_id: str) -> None:
    """The SDK injects `dhanClientId`; when present it must name the authenticated client."""
    given = body.get("dhanClientId")
    if given is not None and str(given) != client_id:
        raise ValidationError("dhanClientId", given, "does not match the client-id header")


def parse_place(body: Any, client_id: str) -> PlaceRequest:
    """Validate a place-order body; raises `ValidationError` naming the first bad field."""
    if not isinstance(body, dict):
        raise ValidationError("body", type(body).__name__, "must be a JSON object")
    check_client_id(body, client_id)
    side = _choice(body, "transactionType", SIDES)
    segment = _choice(body, "exchangeSegment", TRADABLE_SEGMENTS)
    product = PRODUCT_IN[_choice(body, "productType", PRODUCT_IN)]
    order_type = ORDER_TYPE_IN[_choice(body, "orderType", ORDER_TYPE_IN)]
    validity = _choice(body, "validity", VALIDITIES, required=False, default="DAY")
    security_id = _security_id(body.get("securityId"))
    quantity = _int(body, "quantity", minimum=1)
    disclosed = _int(body, "disclosedQuantity", required=False, default=0)
    price = _price(body, "price")
    trigger = _price(body, "triggerPrice")
    if order_type in ("LIMIT", "SL") and not price > 0:
        raise ValidationError("price", body.get("price"), f"a {body['orderType']} order needs a positive price")
    if order_type in ("SL", "SL-M") and not trigger > 0:
        raise ValidationError(
            "triggerPrice", body.get("triggerPrice"), f"a {body['orderType']} order needs a positive trigger price"
        )
    if disclosed > quantity:
        raise ValidationError("disclosedQuantity", disclosed, f"must not exceed quantity {quantity}")
    if body.get("afterMarketOrder") not in (None, False):
        raise ValidationError(
            "afterMarketOrder",
            body.get("afterMarketOrder"),
            "after-market orders are not supported by the paper exchange",
        )
    for key in ("boProfitValue", "boStopLossValue"):
        if body.get(key) not in (None, 0, 0.0):
            raise ValidationError(key, body.get(key), "bracket orders are not supported by the paper exchange")
    correlation = body.get("correlationId") or ""
    if correlation and (not isinstance(correlation, str) or not _CORRELATION_RE.match(correlation)):
        raise ValidationError("correlationId", correlation, "must be 1 to 30 of [A-Za-z0-9 _-]")
    return PlaceRequest(
        side=side,
        segment=segment,
        security_id=security_id,
        quantity=quantity,
        order_type=order_type,
        product=product,
        validity=validity,
        price=price,
        trigger_price=trigger,
        disclosed_quantity=disclosed,
        correlation_id=correlation,
    )


def parse_modify(order_id: str, body: Any, client_id: str) -> ModifyRequest:
    """Validate a modify body. Dhan wants the originally placed quantity; other fields optional."""
    if not isinstance(body, dict):
        raise ValidationError("body", type(body).__name__, "must be a JSON object")
    check_client_id(body, client_id)
    if body.get("orderId") is not None and str(body["orderId"]) != order_id:
        raise ValidationError("orderId", body["orderId"], f"does not match the order id {order_id!r} in the path")
    order_type = _choice(body, "orderType", ORDER_TYPE_IN, required=False)
    validity = _choice(body, "validity", VALIDITIES, required=False)
    leg = body.get("legName")
    if leg not in (None, "", "ENTRY_LEG", "NA"):
        raise ValidationError("legName", leg, "only plain orders (no BO/CO legs) exist on the paper exchange")
    return ModifyRequest(
        order_id=order_id,
        order_type=ORDER_TYPE_IN[order_type] if order_type else None,
        quantity=_int(body, "quantity", required=False, minimum=1),
        price=_price(body, "price", default=None),
        trigger_price=_price(body, "triggerPrice", default=None),
        disclosed_quantity=_int(body, "disclosedQuantity", required=False),
        validity=validity,
    )


def parse_quote_request(body: Any, *, limit: int = 1000) -> list[tuple[str, int]]:
    """`{"NSE_EQ":[11536], ...}` -> [(segment, security_id)]; the injected dhanClientId is ignored."""
    if not isinstance(body, dict):
        raise ValidationError("body", type(body).__name__, "must be a JSON object of segment -> ids")
    wanted: list[tuple[str, int]] = []
    for segment, ids in body.items():
        if segment == "dhanClientId":
            continue
        if segment not in DHAN_SEGMENT_ENUM:
            raise ValidationError(segment, ids, f"unknown exchange segment; use one of {sorted(DHAN_SEGMENT_ENUM)}")
        if not isinstance(ids, list):
            raise ValidationError(segment, ids, "must be a list of security ids")
        wanted.extend((segment, _security_id(i)) for i in ids)
    if len(wanted) > limit:
        raise ValidationError("instruments", len(wanted), f"at most {limit} per request")
    return wanted


# -- responses --------------------------------------------------------------------------------
def ist_time(epoch_s: float | None = None) -> str:
    """`YYYY-MM-DD HH:MM:SS` in IST, the format of Dhan's createTime/updateTime/exchangeTime."""
    t = time.time() if epoch_s is None else epoch_s
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t + IST_OFFSET_S))


# -- responses: engine objects as Dhan JSON (docs/protocols/dhan.md: Reads, Order statuses) --
# Engine status -> Dhan orderStatus. A partial fill of a live order reads PART_TRADED.
ORDER_STATUS = {
    "RECEIVED": "TRANSIT",
    "VALIDATION_PENDING": "TRANSIT",
    "OPEN_PENDING": "TRANSIT",
    "OPEN": "PENDING",
    "TRIGGER_PENDING": "PENDING",
    "MODIFY_VALIDATION_PENDING": "PENDING",
    "MODIFY_PENDING": "PENDING",
    "MODIFIED": "PENDING",
    "CANCEL_PENDING": "PENDING",
    "COMPLETE": "TRADED",
    "CANCELLED": "CANCELLED",
    "REJECTED": "REJECTED",
}


def order_status(status: str, filled_quantity: int) -> str:
    dhan = ORDER_STATUS.get(status, status)
    return "PART_TRADED" if dhan == "PENDING" and filled_quantity > 0 else dhan


def correlation_of(order: Any) -> str:
    """The correlationId the client gave (kept in meta when longer than the engine's tag)."""
    return order.meta.get("correlation_id") or order.tag or ""


def _derivative_blanks() -> dict[str, Any]:
    return {"drvExpiryDate": None, "drvOptionType": None, "drvStrikePrice": 0.0}


def order_json(order: Any, client_id: str) -> dict[str, Any]:
    """An engine `matching.Order` as Dhan's order-book object."""
    inst = order.instrument
    status = order_status(order.status, order.filled_quantity)
    rejected = order.status == "REJECTED"
    updated = ist_time(order.updated_at or order.placed_at)
    return {
        "dhanClientId": client_id,
        "orderId": order.order_id,
        "exchangeOrderId": order.exchange_order_id or "",
        "correlationId": correlation_of(order),
        "orderStatus": status,
        "transactionType": order.side,
        "exchangeSegment": inst.dhan_segment,
        "productType": PRODUCT_OUT.get(order.product, order.product),
        "orderType": ORDER_TYPE_OUT.get(order.order_type, order.order_type),
        "validity": order.validity,
        "tradingSymbol": inst.symbol,
        "securityId": str(inst.security_id),
        "quantity": order.quantity,
        "disclosedQuantity": order.disclosed_quantity,
        "price": order.price,
        "triggerPrice": order.trigger_price,
        "afterMarketOrder": False,
        "boProfitValue": 0.0,
        "boStopLossValue": 0.0,
        "legName": None,
        "createTime": ist_time(order.placed_at),
        "updateTime": updated,
        "exchangeTime": "0001-01-01 00:00:00" if rejected or not order.exchange_order_id else updated,
        **_derivative_blanks(),
        "omsErrorCode": "DH-906" if rejected else "",
        "omsErrorDescription": order.status_message or "",
        "algoId": "",
        "remainingQuantity": order.quantity - order.filled_quantity,
        "averageTradedPrice": round(order.average_price, 4),
        "filledQty": order.filled_quantity,
    }


def order_ack(order: Any) -> dict[str, str]:
    """Body of place / modify / cancel: `{orderId, orderStatus}`."""
    return {"orderId": order.order_id, "orderStatus": order_status(order.status, order.filled_quantity)}


def trade_json(trade: Any, order: Any, client_id: str) -> dict[str, Any]:
    """An engine `matching.Trade` (with its order, for the order type) as Dhan's trade object."""
    inst = trade.instrument
    ts = ist_time(trade.ts)
    return {
        "dhanClientId": client_id,
        "orderId": trade.order_id,
        "exchangeOrderId": trade.exchange_order_id or "",
        "exchangeTradeId": trade.trade_id,
        "transactionType": trade.side,
        "exchangeSegment": inst.dhan_segment,
        "productType": PRODUCT_OUT.get(trade.product, trade.product),
        "orderType": ORDER_TYPE_OUT.get(order.order_type, order.order_type) if order else "",
        "tradingSymbol": inst.symbol,
        "customSymbol": inst.name or inst.symbol,
        "securityId": str(inst.security_id),
        "tradedQuantity": trade.quantity,
        "tradedPrice": trade.price,
        "createTime": ts,
        "updateTime": ts,
        "exchangeTime": ts,
        **_derivative_blanks(),
    }


def position_json(pos: Any, last_price: float, client_id: str) -> dict[str, Any]:
    """An engine `matching.Position` as Dhan's position; P&L by average cost on matched qty."""
    inst = pos.instrument
    buy_avg = pos.buy_value / pos.buy_quantity if pos.buy_quantity else 0.0
    sell_avg = pos.sell_value / pos.sell_quantity if pos.sell_quantity else 0.0
    net = pos.quantity
    matched = min(pos.buy_quantity, pos.sell_quantity)
    realised = (sell_avg - buy_avg) * matched
    unrealised = (last_price - buy_avg) * net if net > 0 else (sell_avg - last_price) * -net if net < 0 else 0.0
    return {
        "dhanClientId": client_id,
        "tradingSymbol": inst.symbol,
        "securityId": str(inst.security_id),
        "positionType": "LONG" if net > 0 else "SHORT" if net < 0 else "CLOSED",
        "exchangeSegment": inst.dhan_segment,
        "productType": PRODUCT_OUT.get(pos.product, pos.product),
        "buyAvg": round(buy_avg, 4),
        "buyQty": pos.buy_quantity,
        "costPrice": round(buy_avg if net >= 0 else sell_avg, 4),
        "sellAvg": round(sell_avg, 4),
        "sellQty": pos.sell_quantity,
        "netQty": net,
        "realizedProfit": round(realised, 2) + 0.0,
        "unrealizedProfit": round(unrealised, 2) + 0.0,
        "rbiReferenceRate": 1.0,
        "multiplier": 1,
        "carryForwardBuyQty": 0,
        "carryForwardSellQty": 0,
        "carryForwardBuyValue": 0.0,
        "carryForwardSellValue": 0.0,
        "dayBuyQty": pos.buy_quantity,
        "daySellQty": pos.sell_quantity,
        "dayBuyValue": round(pos.buy_value, 2),
        "daySellValue": round(pos.sell_value, 2),
        **_derivative_blanks(),
        "crossCurrency": False,
    }


def funds_json(funds: Any, client_id: str) -> dict[str, Any]:
    """An engine `matching.Funds` as Dhan's fund limits (`availabelBalance` is Dhan's spelling)."""
    available = round(funds.available, 2)
    return {
        "dhanClientId": client_id,
        "availabelBalance": available,
        "sodLimit": round(funds.opening_balance, 2),
        "collateralAmount": 0.0,
        "receiveableAmount": 0.0,
        "utilizedAmount": round(max(0.0, funds.opening_balance - funds.available), 2),
        "blockedPayoutAmount": 0.0,
        "withdrawableBalance": round(max(0.0, min(funds.cash, available)), 2),
    }


def _depth_side(levels: Iterable[Any]) -> list[dict[str, Any]]:
    rows = [{"quantity": lv.quantity, "orders": lv.orders, "price": lv.price} for lv in levels][:5]
    return rows + [{"quantity": 0, "orders": 0, "price": 0.0}] * (5 - len(rows))


def quote_json(quote: Any, kind: str, circuit: tuple[float, float]) -> dict[str, Any]:
    """One instrument's entry in a marketfeed response; `kind` is ltp, ohlc or quote."""
    out: dict[str, Any] = {"last_price": quote.last_price}
    if kind == "ltp":
        return out
    out["ohlc"] = {"open": quote.open, "close": quote.close, "high": quote.high, "low": quote.low}
    if kind == "ohlc":
        return out
    ltt = time.strftime("%d/%m/%Y %H:%M:%S", time.gmtime(quote.last_trade_time + IST_OFFSET_S))
    out.update(
        {
            "average_price": quote.average_price,
            "buy_quantity": quote.total_buy_quantity,
            "sell_quantity": quote.total_sell_quantity,
            "last_quantity": quote.last_quantity,
            "last_trade_time": ltt,
            "volume": quote.volume,
            "net_change": round(quote.last_price - quote.close, 2) if quote.close else 0.0,
            "oi": quote.oi,
            "oi_day_high": quote.oi_day_high,
            "oi_day_low": quote.oi_day_low,
            "lower_circuit_limit": circuit[0],
            "upper_circuit_limit": circuit[1],
            "depth": {"buy": _depth_side(quote.bids), "sell": _depth_side(quote.asks)},
        }
    )
    return out
