"""Dhan v2 live-feed packets as the paper exchange sends them: the encoders.

The exchange keeps its own copy of the wire vocabulary, apart from the client's decoder
(`nbexec.brokers.dhan.ticks`) on purpose: the decoder's tests feed it these bytes, so each side
checks the other instead of sharing a mistake. Little-endian: an 8-byte header (response code,
length, exchange segment, security id) then a body whose size the code fixes. Prices are
float32 rupees; integer fields are read unsigned by `dhanhq.MarketFeed`.
"""

from __future__ import annotations

import math
import operator
import struct

from nbexec.core.errors import ValidationError
from nbexec.core.market import DepthLevel, Quote
from nbexec.core.ticks import DEPTH_LEVELS

# Response codes (first header byte) and the packet size each fixes.
TICKER, QUOTE, OI, PREV_CLOSE, MARKET_STATUS, FULL, DISCONNECT = 2, 4, 5, 6, 7, 8, 50
PACKET_SIZE = {TICKER: 16, QUOTE: 50, OI: 12, PREV_CLOSE: 16, MARKET_STATUS: 8, FULL: 162, DISCONNECT: 10}

_U32_MAX, _U16_MAX, _U8_MAX = 0xFFFF_FFFF, 0xFFFF, 0xFF

_TICKER = struct.Struct("<BHBIfI")
_QUOTE = struct.Struct("<BHBIfHIfIIIffff")
_FULL = struct.Struct("<BHBIfHIfIIIIIIffff" + "IIHHff" * DEPTH_LEVELS)
_OI = struct.Struct("<BHBII")
_PREV_CLOSE = struct.Struct("<BHBIfI")
_MARKET_STATUS = struct.Struct("<BHBI")
_DISCONNECT = struct.Struct("<BHBIH")
_EMPTY_LEVEL = DepthLevel(0.0, 0, 0)
assert all(
    s.size == PACKET_SIZE[c]
    for c, s in (
        (TICKER, _TICKER),
        (QUOTE, _QUOTE),
        (FULL, _FULL),
        (OI, _OI),
        (PREV_CLOSE, _PREV_CLOSE),
        (MARKET_STATUS, _MARKET_STATUS),
        (DISCONNECT, _DISCONNECT),
    )
)


def encode_ticker(segment: int, security_id: int, quote: Quote) -> bytes:
    """Ticker packet (code 2, 16 bytes): last price and last trade time."""
    _check_prices(quote.last_price)
    try:
        return _TICKER.pack(TICKER, 16, segment, security_id, quote.last_price, quote.last_trade_time)
    except (struct.error, OverflowError) as exc:
        raise _explain(segment, security_id, quote) from exc


def encode_quote(segment: int, security_id: int, quote: Quote) -> bytes:
    """Quote packet (code 4, 50 bytes): last trade and day statistics, no depth, no OI."""
    q = quote
    _check_prices(q.last_price, q.average_price, q.open, q.close, q.high, q.low)
    try:
        return _QUOTE.pack(
            QUOTE,
            50,
            segment,
            security_id,
            q.last_price,
            q.last_quantity,
            q.last_trade_time,
            q.average_price,
            q.volume,
            q.total_sell_quantity,
            q.total_buy_quantity,
            q.open,
            q.close,
            q.high,
            q.low,
        )
    except (struct.error, OverflowError) as exc:
        raise _explain(segment, security_id, quote) from exc


def encode_full(segment: int, security_id: int, quote: Quote) -> bytes:
    """Full packet (code 8, 162 bytes): quote fields, OI and 5 levels (bid and ask per row)."""
    q = quote
    if len(q.bids) > DEPTH_LEVELS or len(q.asks) > DEPTH_LEVELS:
        raise _explain(segment, security_id, quote)
    bids = (*q.bids, *((_EMPTY_LEVEL,) * (DEPTH_LEVELS - len(q.bids))))
    asks = (*q.asks, *((_EMPTY_LEVEL,) * (DEPTH_LEVELS - len(q.asks))))
    depth: list[float] = []
    for bid, ask in zip(bids, asks, strict=True):
        depth += (bid.quantity, ask.quantity, bid.orders, ask.orders, bid.price, ask.price)
    _check_prices(
        q.last_price, q.average_price, q.open, q.close, q.high, q.low, *(level.price for level in (*bids, *asks))
    )
    try:
        return _FULL.pack(
            FULL,
            162,
            segment,
            security_id,
            q.last_price,
            q.last_quantity,
            q.last_trade_time,
            q.average_price,
            q.volume,
            q.total_sell_quantity,
            q.total_buy_quantity,
            q.oi,
            q.oi_day_high,
            q.oi_day_low,
            q.open,
            q.close,
            q.high,
            q.low,
            *depth,
        )
    except (struct.error, OverflowError) as exc:
        raise _explain(segment, security_id, quote) from exc


def encode_prev_close(segment: int, security_id: int, prev_close: float, prev_oi: int) -> bytes:
    """Previous-close packet (code 6, 16 bytes), sent once on subscribe."""
    _check_prices(prev_close, field="prev_close")
    _check_header(segment, security_id)
    _check_int("prev_oi", prev_oi, _U32_MAX)
    return _PREV_CLOSE.pack(PREV_CLOSE, 16, segment, security_id, prev_close, prev_oi)


def encode_oi(segment: int, security_id: int, oi: int) -> bytes:
    """Open-interest packet (code 5, 12 bytes), sent alongside quotes for derivatives."""
    _check_header(segment, security_id)
    _check_int("oi", oi, _U32_MAX)
    return _OI.pack(OI, 12, segment, security_id, oi)


def encode_market_status(segment: int = 0, security_id: int = 0) -> bytes:
    """Market-status packet (code 7): the header alone."""
    _check_header(segment, security_id)
    return _MARKET_STATUS.pack(MARKET_STATUS, 8, segment, security_id)


def encode_disconnect(reason: int) -> bytes:
    """Server disconnect packet (code 50, 10 bytes); `reason` is one of Dhan's Data API codes
    (docs/protocols/dhan.md, Disconnect packets and keep-alive)."""
    _check_int("reason", reason, _U16_MAX)
    return _DISCONNECT.pack(DISCONNECT, 10, 0, 0, reason)


def _check_prices(*prices: float, field: str = "price") -> None:
    # One sum finds any NaN or infinity among them; float32 overflow is left to struct.
    if not math.isfinite(math.fsum(prices)):
        bad = next(p for p in prices if not math.isfinite(p))
        raise ValidationError(field, bad, "must be a finite number")


def _check_int(field: str, value: object, maximum: int) -> None:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValidationError(field, value, "must be an integer") from None
    if not 0 <= number <= maximum:
        raise ValidationError(field, value, f"must be between 0 and {maximum} (read unsigned)")


def _check_header(segment: int, security_id: int) -> None:
    _check_int("segment", segment, _U8_MAX)
    _check_int("security_id", security_id, _U32_MAX)


def _explain(segment: int, security_id: int, q: Quote) -> ValidationError:
    """Name the field that made packing fail; only runs on the error path."""
    try:
        _check_header(segment, security_id)
        _check_int("last_quantity", q.last_quantity, _U16_MAX)
        for name in (
            "last_trade_time",
            "volume",
            "total_buy_quantity",
            "total_sell_quantity",
            "oi",
            "oi_day_high",
            "oi_day_low",
        ):
            _check_int(name, getattr(q, name), _U32_MAX)
        for side_name in ("bids", "asks"):
            side = getattr(q, side_name)
            if len(side) > DEPTH_LEVELS:
                return ValidationError(side_name, side, f"at most {DEPTH_LEVELS} levels")
            for i, level in enumerate(side):
                _check_int(f"{side_name}[{i}].quantity", level.quantity, _U32_MAX)
                _check_int(f"{side_name}[{i}].orders", level.orders, _U16_MAX)
    except ValidationError as error:
        return error
    return ValidationError("quote", q, "a price does not fit a float32")
