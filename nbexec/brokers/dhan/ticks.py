"""Dhan v2 live-feed packets: the decoder for the feed client.

Sans-I/O. Wire format in docs/protocols/dhan.md, Binary packets (little-endian): an 8-byte
header (response code, length, exchange segment, security id) then a body whose size the code
fixes. Prices are
float32 rupees, so 1612.35 arrives as 1612.3499755859375; we keep that value (as float64)
exactly as the SDK's `struct` unpacking does, and leave rounding to the caller. The paper
exchange encodes with its own copy of that vocabulary (`nbexec.paper.dhan.ticks`), so each
side checks the other.

Integer fields are read unsigned, the way `dhanhq.MarketFeed` reads them.
"""

from __future__ import annotations

import struct

import numpy as np

from nbexec.core.ticks import (
    DEPTH_LEVELS,
    MODE_FULL,
    MODE_LTP,
    MODE_QUOTE,
    ROW_FORMAT,
    TICK_DTYPE,
    TICK_FIELDS,
    as_ticks,
    dtype_fields,
    empty_ticks,
)

# Response codes (first header byte).
TICKER, QUOTE, OI, PREV_CLOSE, MARKET_STATUS, FULL, DISCONNECT = 2, 4, 5, 6, 7, 8, 50
INDEX_SEGMENT = 0  # IDX_I: not tradable
HEADER_SIZE = 8
PACKET_SIZE = {TICKER: 16, 3: 112, QUOTE: 50, OI: 12, PREV_CLOSE: 16, MARKET_STATUS: 8, FULL: 162, DISCONNECT: 10}

# -- wire layouts the decoder unpacks ------------------------------------------------------
_TICKER = struct.Struct("<BHBIfI")
_QUOTE = struct.Struct("<BHBIfHIfIIIffff")
_FULL = struct.Struct("<BHBIfHIfIIIIIIffff" + "IIHHff" * DEPTH_LEVELS)
assert all(s.size == PACKET_SIZE[c] for c, s in ((TICKER, _TICKER), (QUOTE, _QUOTE), (FULL, _FULL)))


# -- decoder -------------------------------------------------------------------------------
_HEADER_FIELDS = [("code", "u1"), ("length", "<u2"), ("segment", "u1"), ("security_id", "<u4")]
_TRADE_FIELDS = [
    ("last_price", "<f4"),
    ("last_quantity", "<u2"),
    ("last_trade_time", "<u4"),
    ("average_price", "<f4"),
    ("volume", "<u4"),
    ("total_sell_quantity", "<u4"),
    ("total_buy_quantity", "<u4"),
]
_OHLC_FIELDS = [("open", "<f4"), ("close", "<f4"), ("high", "<f4"), ("low", "<f4")]
_LEVEL = np.dtype(
    [
        ("bid_quantity", "<u4"),
        ("ask_quantity", "<u4"),
        ("bid_orders", "<u2"),
        ("ask_orders", "<u2"),
        ("bid_price", "<f4"),
        ("ask_price", "<f4"),
    ]
)
_PACKET_DTYPE = {
    TICKER: np.dtype(_HEADER_FIELDS + [("last_price", "<f4"), ("last_trade_time", "<u4")]),
    QUOTE: np.dtype(_HEADER_FIELDS + _TRADE_FIELDS + _OHLC_FIELDS),
    FULL: np.dtype(
        _HEADER_FIELDS
        + _TRADE_FIELDS
        + [("oi", "<u4"), ("oi_day_high", "<u4"), ("oi_day_low", "<u4")]
        + _OHLC_FIELDS
        + [("depth", _LEVEL, (DEPTH_LEVELS,))]
    ),
}
_MODE = {TICKER: MODE_LTP, QUOTE: MODE_QUOTE, FULL: MODE_FULL}
# Fields copied as they are, beyond the header (the depth is split per side in `_fill`).
_COPIED = {
    code: [n for n in dtype_fields(dt) if n in TICK_FIELDS and n != "segment"] for code, dt in _PACKET_DTYPE.items()
}
assert all(dt.itemsize == PACKET_SIZE[code] for code, dt in _PACKET_DTYPE.items())

# One struct per tick packet for a lone packet, the usual case (Dhan sends one per message):
# unpacking it and packing one `TICK_DTYPE` row costs two calls instead of ~25 NumPy calls.
_ROW = struct.Struct(ROW_FORMAT)
assert _ROW.size == TICK_DTYPE.itemsize


def _ticker_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltt = u
    return (sid, seg, MODE_LTP, seg != INDEX_SEGMENT, ltp, *(0.0,) * 15, 0, 0, 0, 0, ltt, *(0,) * 24)


def _quote_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, low = u
    return (
        sid,
        seg,
        MODE_QUOTE,
        seg != INDEX_SEGMENT,
        ltp,
        atp,
        o,
        h,
        low,
        c,
        *(0.0,) * 10,
        ltq,
        vol,
        tbq,
        tsq,
        ltt,
        *(0,) * 24,
    )


def _full_row(u: tuple) -> tuple:
    _, _, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oi_hi, oi_lo, o, c, h, low = u[:18]
    d = u[18:]
    return (
        sid,
        seg,
        MODE_FULL,
        seg != INDEX_SEGMENT,
        ltp,
        atp,
        o,
        h,
        low,
        c,
        *d[4::6],
        *d[5::6],
        ltq,
        vol,
        tbq,
        tsq,
        ltt,
        oi,
        oi_hi,
        oi_lo,
        0,
        *d[0::6],
        *d[1::6],
        *d[2::6],
        *d[3::6],
    )


_ROW_BUILDERS = {TICKER: (_TICKER, _ticker_row), QUOTE: (_QUOTE, _quote_row), FULL: (_FULL, _full_row)}


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
    (Dhan sends one packet per message); None for any other message. `struct` only, no NumPy:
    even a one-row array costs, cold, many times what `struct` needs for the whole packet
    (figures: docs/performance.md, Figures behind design choices)."""
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
        for name in _LEVEL.names:  # type: ignore[union-attr]  # a structured dtype: it has names
            out[name] = depth[name]


def disconnect_reason(buf: bytes) -> int | None:
    """The reason code of a disconnect packet (code 50) in `buf`, or None if there is none."""
    for code, pos in _walk(buf):
        if code == DISCONNECT:
            return struct.unpack_from("<H", buf, pos + HEADER_SIZE)[0]
    return None
