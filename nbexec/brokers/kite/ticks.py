"""Kite Connect v3 binary ticks: the vectorised decoder for the feed.

Sans-I/O: bytes in, row bytes or a `TICK_DTYPE` array out. Wire format in docs/protocols/kite.md,
Binary messages (market data, big-endian):
a message is `u16 count` then `count x (u16 length, packet)`, all big-endian, and the packet
length alone selects the layout (8 ltp; 28/32 index quote/full; 44/184 quote/full). The paper
exchange encodes with its own copy of that vocabulary (`nbexec.paper.kite.ticks`), so each
side checks the other.

A message of one packet (a strategy watching one instrument) is unpacked with `struct` into
one record: cheaper than any NumPy call when the tick arrives cold. Otherwise the decoder
never touches a tick in Python: a message whose packets all have one length is a single
strided big-endian view, converted with a handful of block writes; a mixed message costs one
walk over the length prefixes, then one gather for all packets.
The official `KiteTicker._parse_binary` is the reference: same values, same packets dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from nbexec.core.ticks import (
    DEPTH_LEVELS,
    INTEGER_WORDS,
    MODE_FULL,
    MODE_LTP,
    MODE_QUOTE,
    PRICE_WORDS,
    ROW_FORMAT,
    TICK_FIELDS,
    WORDS_PER_TICK,
    as_ticks,
    as_words,
    empty_ticks,
    word_column,
)

INDICES_SEGMENT = 9
_U16_MAX = 0xFFFF

# -- price divisor -------------------------------------------------------------------------
# Prices travel as integers; the divisor depends on the segment in the token's low byte.
_DIVISOR_BY_SEGMENT = np.full(256, 100.0)
_DIVISOR_BY_SEGMENT[3] = 10_000_000.0  # cds
_DIVISOR_BY_SEGMENT[6] = 10_000.0  # bcd
_DIVISOR_BY_SEGMENT[12] = 10_000.0  # nco (Python SDK only)


def price_divisor(segment: int) -> float:
    """What a wire price integer is divided by for `segment` (`token & 0xFF`)."""
    return float(_DIVISOR_BY_SEGMENT[segment & 0xFF])


# -- wire layouts the decoder unpacks ------------------------------------------------------
_U16 = struct.Struct(">H")
_LTP = struct.Struct(">II")
_QUOTE = struct.Struct(">11I")  # token ltp ltq atp vol tbq tsq O H L C
_FULL = struct.Struct(">16I" + "IIHH" * (2 * DEPTH_LEVELS))


# -- decoder -------------------------------------------------------------------------------
# Every Kite packet is a run of big-endian u32 words (a depth entry is qty, price, then
# orders<<16 | padding), so n packets of one layout are an (n, words) array. A tick row is 46
# eight-byte words with all prices together and all integers together (core/ticks.py), so a
# layout is two gathers: wire words -> price words (divided) and wire words -> integer words.
def _column(name: str) -> int:
    """Tick word of a field, or of one depth level written `bid_price[2]`."""
    field, _, level = name.partition("[")
    return word_column(field) + (int(level[:-1]) if level else 0)


def _kind(name: str) -> str:
    return TICK_FIELDS[name.partition("[")[0]][0].base.kind


def _target(words: list[int]) -> slice | np.ndarray:
    """A slice when the target words are contiguous: a slice write is much cheaper than fancy."""
    if not words:
        return slice(0, 0)
    if words == list(range(words[0], words[-1] + 1)):
        return slice(words[0], words[-1] + 1)
    return np.array(words, np.intp)


class _Layout:
    """How one packet length maps onto a tick row: wire word -> tick word, prices and integers.

    `names` lists the tick field each wire word holds, in wire order; "" marks a word the
    tick does not keep (the index packets' price change, the depth orders word read apart).
    """

    price_dst: slice | np.ndarray  # set in __init__, one pair per kind
    price_src: np.ndarray
    int_dst: slice | np.ndarray
    int_src: np.ndarray

    def __init__(self, mode: int, names: Sequence[str]) -> None:
        self.mode = mode
        for kind, attr in (("f", "price"), ("i", "int")):
            pairs = sorted((_column(n), i) for i, n in enumerate(names) if n and n != "token" and _kind(n) == kind)
            setattr(self, f"{attr}_dst", _target([dst for dst, _ in pairs]))
            setattr(self, f"{attr}_src", np.array([src for _, src in pairs], np.intp))


_QUOTE_WIRE = (
    "token",
    "last_price",
    "last_quantity",
    "average_price",
    "volume",
    "total_buy_quantity",
    "total_sell_quantity",
    "open",
    "high",
    "low",
    "close",
)
_INDEX_WIRE = ("token", "last_price", "high", "low", "open", "close", "")
_FULL_WIRE = (
    *_QUOTE_WIRE,
    "last_trade_time",
    "oi",
    "oi_day_high",
    "oi_day_low",
    "exchange_timestamp",
    *(
        name
        for side in ("bid", "ask")
        for i in range(DEPTH_LEVELS)
        for name in (f"{side}_quantity[{i}]", f"{side}_price[{i}]", "")
    ),
)
_LAYOUTS = {
    8: _Layout(MODE_LTP, ("token", "last_price")),
    28: _Layout(MODE_QUOTE, _INDEX_WIRE),
    32: _Layout(MODE_FULL, (*_INDEX_WIRE, "exchange_timestamp")),
    44: _Layout(MODE_QUOTE, _QUOTE_WIRE),
    184: _Layout(MODE_FULL, _FULL_WIRE),
}
_DEPTH = _FULL_WIRE.index("bid_quantity[0]")  # wire word where the 10 depth entries begin
# Depth orders are the high half of each entry's third word: u16 number 2 * (16 + 3i + 2).
_ORDERS = slice(word_column("bid_orders"), word_column("ask_orders") + DEPTH_LEVELS)
_ORDERS_HALVES = slice(2 * (_DEPTH + 2), None, 6)
_TRADABLE_BY_SEGMENT = np.arange(256) != INDICES_SEGMENT
assert _LAYOUTS[184].price_dst == PRICE_WORDS
assert _LAYOUTS[184].int_dst == slice(INTEGER_WORDS.start, _ORDERS.start)


# -- one packet: `struct`, no NumPy (a strategy's one instrument; every NumPy call has a fixed cost,
# large when it runs cold between ticks)
_ROW = struct.Struct(ROW_FORMAT)
_HEAD = struct.Struct(">HH")
_DIVISORS = _DIVISOR_BY_SEGMENT.tolist()
_NO_DEPTH_PRICES, _NO_DEPTH_INTS = (0.0,) * (2 * DEPTH_LEVELS), (0,) * (4 * DEPTH_LEVELS)


def _ltp_row(buf: bytes) -> tuple:
    token, ltp = _LTP.unpack_from(buf, 4)
    segment = token & 0xFF
    return (token, segment, MODE_LTP, segment != INDICES_SEGMENT, ltp / _DIVISORS[segment], *(0.0,) * 15, *(0,) * 29)


def _quote_row(buf: bytes) -> tuple:
    token, ltp, ltq, atp, volume, tbq, tsq, o, h, lo, c = _QUOTE.unpack_from(buf, 4)
    segment = token & 0xFF
    d = _DIVISORS[segment]
    return (
        token,
        segment,
        MODE_QUOTE,
        segment != INDICES_SEGMENT,
        ltp / d,
        atp / d,
        o / d,
        h / d,
        lo / d,
        c / d,
        *_NO_DEPTH_PRICES,
        ltq,
        volume,
        tbq,
        tsq,
        0,
        0,
        0,
        0,
        0,
        *_NO_DEPTH_INTS,
    )


def _full_row(buf: bytes) -> tuple:
    words = _FULL.unpack_from(buf, 4)
    token, ltp, ltq, atp, volume, tbq, tsq, o, h, lo, c, ltt, oi, oi_high, oi_low, ets = words[:16]
    quantities, prices, orders = words[16::4], words[17::4], words[18::4]  # per depth entry
    segment = token & 0xFF
    d = _DIVISORS[segment]
    return (
        token,
        segment,
        MODE_FULL,
        segment != INDICES_SEGMENT,
        ltp / d,
        atp / d,
        o / d,
        h / d,
        lo / d,
        c / d,
        *[p / d for p in prices],
        ltq,
        volume,
        tbq,
        tsq,
        ltt,
        oi,
        oi_high,
        oi_low,
        ets,
        *quantities,
        *orders,
    )


_LONE_PACKET = {8: _ltp_row, 44: _quote_row, 184: _full_row}  # index packets take the general path


def lone_row(buf: bytes) -> bytes | None:
    """The `TICK_DTYPE` row, as bytes, of a message that is one LTP, quote or full packet;
    None for any other message. A frame carrying one instrument's tick is such a message
    (all a one-instrument strategy gets): `struct` only, no NumPy: even a one-row array costs,
    cold, many times what `struct` needs for the whole packet (figures: docs/performance.md,
    Figures behind design choices)."""
    if len(buf) > 4:
        count, first = _HEAD.unpack_from(buf)
        if count == 1 and first in _LONE_PACKET and len(buf) >= 4 + first:
            return _ROW.pack(*_LONE_PACKET[first](buf))
    return None


def decode_message(buf: bytes) -> np.ndarray:
    """All ticks in one binary message, in packet order, as a `TICK_DTYPE` array.

    Frames of 4 bytes or fewer are heartbeats (empty result). Packets of an unknown length
    and a packet cut short by the end of the frame are skipped, as the SDK skips them.
    """
    return as_ticks(decode_feed_message(buf))


def decode_feed_message(buf: bytes) -> np.ndarray | bytes:
    """`decode_message` as a feed takes it (`nbexec.feeds.ring.TickRings.append`): a lone
    packet as its row bytes (`lone_row`), every other message as the array."""
    row = lone_row(buf)
    return _decode_packets(buf) if row is None else row


def _decode_packets(buf: bytes) -> np.ndarray:
    size = len(buf)
    if size <= 4:
        return empty_ticks()
    count, first = _HEAD.unpack_from(buf)
    stride = first + 2
    # Fast path: every packet has the first one's length, so the message is one strided view.
    if first in _LAYOUTS and 2 + count * stride <= size:
        lengths = np.ndarray((count,), ">u2", buf, 2, (stride,))
        if (lengths == first).all():
            out = empty_ticks(count)
            _fill(out, np.ndarray((count, first // 4), ">u4", buf, 4, (stride, 4)), first)
            return out
    return _decode_mixed(buf, count)


def _decode_mixed(buf: bytes, count: int) -> np.ndarray:
    """Walk the length prefixes once, then decode every packet at once through per-row tables.

    A per-layout table says which wire word feeds each tick word, so all packets, whatever
    their layout, are gathered into (n, 46) rows in one go; a mask zeroes the words a layout
    does not carry. Packet order is kept.
    """
    starts: list[int] = []
    lengths: list[int] = []
    size, pos = len(buf), 2
    unpack = _U16.unpack_from
    for _ in range(count):
        if pos + 2 > size:
            break
        (length,) = unpack(buf, pos)
        pos += 2 + length
        if pos > size:
            break  # cut short by the end of the frame
        starts.append(pos - length)
        lengths.append(length)
    layout = _LAYOUT_INDEX[np.array(lengths, np.intp)]
    known = layout >= 0
    layout, start = layout[known], np.array(starts, np.intp)[known]
    out = empty_ticks(len(start))
    if not len(start):
        return out
    # Element b of this view is the big-endian word at byte b: one gather reads every row.
    # Sources stay inside their packet (words a layout lacks read its token, then masked).
    at_byte = np.ndarray((size - 3,), ">u4", buf, 0, (1,))
    words = at_byte[start[:, None] + _ROW_SOURCE[layout]].astype(np.int64)
    words >>= _ROW_SHIFT[layout]
    words *= _ROW_KEEP[layout]
    token = words[:, 0]
    segment = token & 0xFF
    out["token"] = token
    out["segment"] = segment
    out["tradable"] = _TRADABLE_BY_SEGMENT[segment]
    out["mode"] = _ROW_MODE[layout]
    ints, floats = as_words(out)
    np.divide(words[:, PRICE_WORDS], _DIVISOR_BY_SEGMENT[segment][:, None], out=floats[:, PRICE_WORDS])
    ints[:, INTEGER_WORDS] = words[:, INTEGER_WORDS]
    return out


def _row_tables() -> tuple[np.ndarray, ...]:
    """Per layout: source byte, right shift and keep-mask for every word of a tick row.

    Column 0 is the token; columns 1.. are tick words 1..45 (prices, then integers).
    """
    shape = (len(_LAYOUTS), WORDS_PER_TICK)
    source, shift, keep = (np.zeros(shape, np.intp), np.zeros(shape, np.int64), np.zeros(shape, np.int64))
    for k, length in enumerate(_LAYOUTS):
        layout = _LAYOUTS[length]
        pairs = [(0, 0)]
        for dsts, srcs in ((layout.price_dst, layout.price_src), (layout.int_dst, layout.int_src)):
            targets = range(dsts.start, dsts.stop) if isinstance(dsts, slice) else dsts.tolist()
            pairs += zip(targets, srcs.tolist(), strict=True)
        for dst, src in pairs:
            source[k, dst], keep[k, dst] = src, 1
        if length == 184:  # orders: the high half of each depth entry's third word
            for i, dst in enumerate(range(_ORDERS.start, _ORDERS.stop)):
                source[k, dst], shift[k, dst], keep[k, dst] = _DEPTH + 3 * i + 2, 16, 1
    return 4 * source, shift, keep  # source as a byte offset into the packet


_ROW_SOURCE, _ROW_SHIFT, _ROW_KEEP = _row_tables()
_ROW_MODE = np.array([layout.mode for layout in _LAYOUTS.values()], np.uint8)
_LAYOUT_INDEX = np.full(_U16_MAX + 1, -1, np.intp)
_LAYOUT_INDEX[list(_LAYOUTS)] = np.arange(len(_LAYOUTS))


def _fill(out: np.ndarray, words: np.ndarray, length: int) -> None:
    """Write one group of same-layout packets, given as (n, length/4) '>u4' words, into `out`."""
    layout = _LAYOUTS[length]
    out["token"] = words[:, 0]
    segment = out["token"] & 0xFF
    out["segment"] = segment
    out["tradable"] = _TRADABLE_BY_SEGMENT[segment]
    out["mode"] = layout.mode
    ints, floats = as_words(out)
    prices = words.take(layout.price_src, axis=1)
    divisor = _DIVISOR_BY_SEGMENT[segment][:, None]
    if isinstance(layout.price_dst, slice):  # divide straight into the rows
        np.divide(prices, divisor, out=floats[:, layout.price_dst])
    else:  # index layouts: a fancy target is a copy, so assign instead
        floats[:, layout.price_dst] = prices / divisor
    if len(layout.int_src):
        ints[:, layout.int_dst] = words.take(layout.int_src, axis=1)
    if length == 184:
        ints[:, _ORDERS] = words.view(">u2")[:, _ORDERS_HALVES]
