"""Dhan v2 live-feed packets: encoders for the paper exchange, a decoder for the feed client.

Sans-I/O. Wire format in PROTOCOLS.md 4.2: little-endian, an 8-byte header (response code,
length, exchange segment, security id) then a body whose size the code fixes. Prices are
float32 rupees, so 1612.35 arrives as 1612.3499755859375; we keep that value (as float64)
exactly as the SDK's `struct` unpacking does, and leave rounding to the caller.

Integer fields are read unsigned, the way `dhanhq.MarketFeed` reads them.
"""

from __future__ import annotations

import math
import operator
import struct

import numpy as np

from nbexec.core.errors import ValidationError
from nbexec.core.market import DepthLevel, Quote
from nbexec.core.ticks import (DEPTH_LEVELS, MODE_FULL, MODE_LTP, MODE_QUOTE, ROW_FORMAT,
                               TICK_DTYPE, as_ticks, empty_ticks)

# Response codes (first header byte).
TICKER, QUOTE, OI, PREV_CLOSE, MARKET_STATUS, FULL, DISCONNECT = 2, 4, 5, 6, 7, 8, 50
INDEX_SEGMENT = 0  # IDX_I: not tradable
HEADER_SIZE = 8
PACKET_SIZE = {TICKER: 16, 3: 112, QUOTE: 50, OI: 12, PREV_CLOSE: 16, MARKET_STATUS: 8,
               FULL: 162, DISCONNECT: 10}

_U32_MAX, _U16_MAX, _U8_MAX = 0xFFFF_FFFF, 0xFFFF, 0xFF

# -- encoders ------------------------------------------------------------------------------
_TICKER = struct.Struct("<BHBIfI")
_QUOTE = struct.Struct("<BHBIfHIfIIIffff")
_FULL = struct.Struct("<BHBIfHIfIIIIIIffff" + "IIHHff" * DEPTH_LEVELS)
_OI = struct.Struct("<BHBII")
_PREV_CLOSE = struct.Struct("<BHBIfI")
_MARKET_STATUS = struct.Struct("<BHBI")
_DISCONNECT = struct.Struct("<BHBIH")
_EMPTY_LEVEL = DepthLevel(0.0, 0, 0)
assert all(s.size == PACKET_SIZE[c] for c, s in ((TICKER, _TICKER), (QUOTE, _QUOTE), (FULL, _FULL),
                                                  (OI, _OI), (PREV_CLOSE, _PREV_CLOSE),
                                                  (MARKET_STATUS, _MARKET_STATUS),
                                                  (DISCONNECT, _DISCONNECT)))


def encode_ticker(segment: int, security_id: int, quote: Quote) -> bytes:
    """Ticker packet (code 2, 16 bytes): last price and last trade time."""
    _check_prices(quote.last_price)
    try:
        return _TICKER.pack(TICKER, 16, segment, security_id, quote.last_price,
                            quote.last_trade_time)
    except (struct.error, OverflowError) as exc:
        raise _explain(segment, security_id, quote) from exc


def encode_quote(segment: int, security_id: int, quote: Quote) -> bytes:
    """Quote packet (code 4, 50 bytes): last trade and day statistics, no depth, no OI."""
    q = quote
    _check_prices(q.last_price, q.average_price, q.open, q.close, q.high, q.low)
    try:
        return _QUOTE.pack(QUOTE, 50, segment, security_id, q.last_price, q.last_quantity,
                           q.last_trade_time, q.average_price, q.volume, q.total_sell_quantity,
                           q.total_buy_quantity, q.open, q.close, q.high, q.low)
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
    for bid, ask in zip(bids, asks):
        depth += (bid.quantity, ask.quantity, bid.orders, ask.orders, bid.price, ask.price)
    _check_prices(q.last_price, q.average_price, q.open, q.close, q.high, q.low,
                  *(level.price for level in (*bids, *asks)))
    try:
        return _FULL.pack(FULL, 162, segment, security_id, q.last_price, q.last_quantity,
                          q.last_trade_time, q.average_price, q.volume, q.total_sell_quantity,
                          q.total_buy_quantity, q.oi, q.oi_day_high, q.oi_day_low, q.open,
                          q.close, q.high, q.low, *depth)
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
    """Server disconnect packet (code 50, 10 bytes); `reason` is 805..810 (PROTOCOLS.md 3.1)."""
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
        for name in ("last_trade_time", "volume", "total_buy_quantity", "total_sell_quantity",
                     "oi", "oi_day_high", "oi_day_low"):
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


# -- decoder -------------------------------------------------------------------------------
_HEADER_FIELDS = [("code", "u1"), ("length", "<u2"), ("segment", "u1"), ("security_id", "<u4")]
_TRADE_FIELDS = [("last_price", "<f4"), ("last_quantity", "<u2"), ("last_trade_time", "<u4"),
                 ("average_price", "<f4"), ("volume", "<u4"), ("total_sell_quantity", "<u4"),
                 ("total_buy_quantity", "<u4")]
_OHLC_FIELDS = [("open", "<f4"), ("close", "<f4"), ("high", "<f4"), ("low", "<f4")]
_LEVEL = np.dtype([("bid_quantity", "<u4"), ("ask_quantity", "<u4"), ("bid_orders", "<u2"),
                   ("ask_orders", "<u2"), ("bid_price", "<f4"), ("ask_price", "<f4")])
_PACKET_DTYPE = {
    TICKER: np.dtype(_HEADER_FIELDS + [("last_price", "<f4"), ("last_trade_time", "<u4")]),
    QUOTE: np.dtype(_HEADER_FIELDS + _TRADE_FIELDS + _OHLC_FIELDS),
    FULL: np.dtype(_HEADER_FIELDS + _TRADE_FIELDS
                   + [("oi", "<u4"), ("oi_day_high", "<u4"), ("oi_day_low", "<u4")]
                   + _OHLC_FIELDS + [("depth", _LEVEL, (DEPTH_LEVELS,))]),
}
_MODE = {TICKER: MODE_LTP, QUOTE: MODE_QUOTE, FULL: MODE_FULL}
# Fields copied as they are, beyond the header (the depth is split per side in `_fill`).
_COPIED = {code: [n for n in dt.names if n in TICK_DTYPE.names and n != "segment"]
           for code, dt in _PACKET_DTYPE.items()}
assert all(dt.itemsize == PACKET_SIZE[code] for code, dt in _PACKET_DTYPE.items())

# One struct per tick packet for a lone packet, the usual case (Dhan sends one per message):
# unpacking it and packing one `TICK_DTYPE` row costs two calls instead of ~25 NumPy calls.
_ROW = struct.Struct(ROW_FORMAT)
assert _ROW.size == TICK_DTYPE.itemsize


def _ticker_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltt = u
    return (sid, seg, MODE_LTP, seg != INDEX_SEGMENT, ltp, *(0.0,) * 15,
            0, 0, 0, 0, ltt, *(0,) * 24)


def _quote_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, low = u
    return (sid, seg, MODE_QUOTE, seg != INDEX_SEGMENT, ltp, atp, o, h, low, c, *(0.0,) * 10,
            ltq, vol, tbq, tsq, ltt, *(0,) * 24)


def _full_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oi_hi, oi_lo, o, c, h, low = u[:18]
    d = u[18:]
    return (sid, seg, MODE_FULL, seg != INDEX_SEGMENT, ltp, atp, o, h, low, c,
            *d[4::6], *d[5::6], ltq, vol, tbq, tsq, ltt, oi, oi_hi, oi_lo, 0,
            *d[0::6], *d[1::6], *d[2::6], *d[3::6])


_ROW_BUILDERS = {TICKER: (_TICKER, _ticker_row), QUOTE: (_QUOTE, _quote_row),
                 FULL: (_FULL, _full_row)}


def _walk(buf: bytes) -> list[tuple[int, int]]:
    """(code, offset) of each whole packet in `buf`, sized by code (header length if unknown)."""
    packets = []
    size, pos = len(buf), 0
    while pos + HEADER_SIZE <= size:
        code = buf[pos]
        length = PACKET_SIZE.get(code) or buf[pos + 1] | buf[pos + 2] << 8
        if length < HEADER_SIZE or pos + length > size:
            break  # unknown and unsized, or cut short: nothing after it can be trusted
        packets.append((code, pos))
        pos += length
    return packets


def lone_row(buf: bytes) -> bytes | None:
    """The `TICK_DTYPE` row, as bytes, of a message that is one ticker, quote or full packet
    (Dhan sends one packet per message); None for any other message. `struct` only, no NumPy
    (creating even a one-row array costs 15-40 us cold)."""
    size = len(buf)
    if size >= HEADER_SIZE and PACKET_SIZE.get(buf[0]) == size:
        builder = _ROW_BUILDERS.get(buf[0])
        if builder is not None:
            layout, row = builder
            return _ROW.pack(*row(layout.unpack(buf)))
    return None


def decode_packets(buf: bytes) -> np.ndarray:
    """Ticks in one feed message (one or several packets), in packet order, as `TICK_DTYPE`.

    Ticker, quote and full packets become rows; prev-close, OI, market-status, disconnect
    and unknown packets are skipped (see `disconnect_reason`). A trailing partial packet is
    ignored.
    """
    return as_ticks(decode_feed_packets(buf))


def decode_feed_packets(buf: bytes) -> np.ndarray | bytes:
    """`decode_packets` as a feed takes it (`nbexec.feeds.ring.TickRings.append`): a lone
    tick packet as its row bytes (`lone_row`), every other message as the array."""
    row = lone_row(buf)
    return _decode_packets(buf) if row is None else row


def _decode_packets(buf: bytes) -> np.ndarray:
    size = len(buf)
    packets = [(code, pos) for code, pos in _walk(buf) if code in _PACKET_DTYPE]
    out = empty_ticks(len(packets))
    for code in {code for code, _ in packets}:
        rows = [i for i, (c, _) in enumerate(packets) if c == code]
        starts = [packets[i][1] for i in rows]
        dtype = _PACKET_DTYPE[code]
        # Element r of this view is the packet starting at byte r: one gather per kind.
        view = np.ndarray((size - dtype.itemsize + 1,), dtype, buf, 0, (1,))
        part = empty_ticks(len(rows))
        _fill(part, view[starts], code)
        out[rows] = part
    return out


def _fill(out: np.ndarray, packets: np.ndarray, code: int) -> None:
    out["token"] = packets["security_id"]
    out["segment"] = packets["segment"]
    out["tradable"] = packets["segment"] != INDEX_SEGMENT
    out["mode"] = _MODE[code]
    for name in _COPIED[code]:
        out[name] = packets[name]
    if code == FULL:
        depth = packets["depth"]
        for name in _LEVEL.names:
            out[name] = depth[name]


def disconnect_reason(buf: bytes) -> int | None:
    """The reason code of a disconnect packet (code 50) in `buf`, or None if there is none."""
    for code, pos in _walk(buf):
        if code == DISCONNECT:
            return struct.unpack_from("<H", buf, pos + HEADER_SIZE)[0]
    return None
