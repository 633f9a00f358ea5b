"""Kite Connect v3 binary ticks as the paper exchange sends them: the encoder.

The exchange keeps its own copy of the wire vocabulary, apart from the client's decoder
(`nbexec.brokers.kite.ticks`) on purpose: the decoder's tests feed it these bytes, so each side
checks the other instead of sharing a mistake. A message is `u16 count` then
`count x (u16 length, packet)`, all big-endian; the packet length alone selects the layout
(8 ltp; 28/32 index quote/full; 44/184 quote/full).
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Sequence

from nbexec.core.errors import ValidationError
from nbexec.core.market import DepthLevel, Quote
from nbexec.core.ticks import DEPTH_LEVELS

HEARTBEAT = b"\x00"  # a 1-byte binary frame; the SDK ignores frames of 4 bytes or fewer

INDICES_SEGMENT = 9
_U32_MAX = 0xFFFF_FFFF
_U16_MAX = 0xFFFF
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1

# Prices travel as integers; the divisor depends on the segment in the token's low byte.
_DIVISOR_BY_SEGMENT = [100.0] * 256
_DIVISOR_BY_SEGMENT[3] = 10_000_000.0  # cds
_DIVISOR_BY_SEGMENT[6] = 10_000.0  # bcd
_DIVISOR_BY_SEGMENT[12] = 10_000.0  # nco (Python SDK only)

_U16 = struct.Struct(">H")
_LTP = struct.Struct(">II")
_INDEX_QUOTE = struct.Struct(">IIIIIIi")  # token ltp H L O C change
_INDEX_FULL = struct.Struct(">IIIIIIiI")  # ... + exchange_timestamp
_QUOTE = struct.Struct(">11I")  # token ltp ltq atp vol tbq tsq O H L C
_FULL = struct.Struct(">16I" + "IIHH" * (2 * DEPTH_LEVELS))
_MODES = ("ltp", "quote", "full")
_EMPTY_LEVEL = DepthLevel(0.0, 0, 0)


def _scale(price: float, divisor: float) -> int:
    return round(price * divisor)


def encode_packet(token: int, quote: Quote, mode: str) -> bytes:
    """One packet (without its length prefix) as Kite sends it for `token` in `mode`.

    Index tokens (segment 9) use the 8/28/32-byte index layouts, everything else 8/44/184.
    Prices are rounded to the nearest wire unit (1/divisor rupee). Raises `ValidationError`
    naming the field when a value cannot travel: the SDK reads every field as unsigned.
    """
    if mode not in _MODES:
        raise ValidationError("mode", mode, "must be one of 'ltp', 'quote', 'full'")
    try:
        return _encode(token, quote, mode)
    except (struct.error, TypeError, ValueError, OverflowError) as exc:
        raise _explain(token, quote) from exc


def _encode(token: int, q: Quote, mode: str) -> bytes:
    segment = token & 0xFF
    div = _DIVISOR_BY_SEGMENT[segment]
    ltp = _scale(q.last_price, div)
    if mode == "ltp":
        return _LTP.pack(token, ltp)
    o, h, lo, c = (_scale(q.open, div), _scale(q.high, div), _scale(q.low, div), _scale(q.close, div))
    if segment == INDICES_SEGMENT:
        # [24,28) is Kite's price change; the SDK ignores it. Sent as signed wire units.
        change = min(max(ltp - c, _I32_MIN), _I32_MAX)
        if mode == "quote":
            return _INDEX_QUOTE.pack(token, ltp, h, lo, o, c, change)
        return _INDEX_FULL.pack(token, ltp, h, lo, o, c, change, q.exchange_timestamp)
    head = (
        token,
        ltp,
        q.last_quantity,
        _scale(q.average_price, div),
        q.volume,
        q.total_buy_quantity,
        q.total_sell_quantity,
        o,
        h,
        lo,
        c,
    )
    if mode == "quote":
        return _QUOTE.pack(*head)
    if len(q.bids) > DEPTH_LEVELS or len(q.asks) > DEPTH_LEVELS:
        raise ValueError("too many depth levels")
    depth: list[int] = []
    for side in (q.bids, q.asks):
        for level in (*side, *((_EMPTY_LEVEL,) * (DEPTH_LEVELS - len(side)))):
            depth += (level.quantity, _scale(level.price, div), level.orders, 0)
    return _FULL.pack(*head, q.last_trade_time, q.oi, q.oi_day_high, q.oi_day_low, q.exchange_timestamp, *depth)


def _explain(token: int, q: Quote) -> ValidationError:
    """Find the field that made packing fail; only runs on the error path, off the hot one."""
    problem = _int_problem(token, _U32_MAX)
    if problem:
        return ValidationError("token", token, problem)
    div = _DIVISOR_BY_SEGMENT[token & 0xFF] if isinstance(token, int) else 100.0
    for name in ("last_price", "average_price", "open", "high", "low", "close"):
        problem = _price_problem(getattr(q, name), div)
        if problem:
            return ValidationError(name, getattr(q, name), problem)
    for name in (
        "last_quantity",
        "volume",
        "total_buy_quantity",
        "total_sell_quantity",
        "last_trade_time",
        "oi",
        "oi_day_high",
        "oi_day_low",
        "exchange_timestamp",
    ):
        problem = _int_problem(getattr(q, name), _U32_MAX)
        if problem:
            return ValidationError(name, getattr(q, name), problem)
    for side_name in ("bids", "asks"):
        side = getattr(q, side_name)
        if len(side) > DEPTH_LEVELS:
            return ValidationError(side_name, side, f"at most {DEPTH_LEVELS} levels")
        for i, level in enumerate(side):
            for attr, problem in (
                ("price", _price_problem(level.price, div)),
                ("quantity", _int_problem(level.quantity, _U32_MAX)),
                ("orders", _int_problem(level.orders, _U16_MAX)),
            ):
                if problem:
                    return ValidationError(f"{side_name}[{i}].{attr}", getattr(level, attr), problem)
    return ValidationError("quote", q, "cannot be encoded as a Kite packet")


def _int_problem(value: object, maximum: int) -> str | None:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return "must be an integer"
    if not 0 <= number <= maximum:
        return f"must be between 0 and {maximum} (the SDK reads it unsigned)"
    return None


def _price_problem(price: object, divisor: float) -> str | None:
    if not isinstance(price, (int, float)) or not math.isfinite(price):
        return "must be a finite number"
    if not 0 <= round(price * divisor) <= _U32_MAX:
        return f"must be between 0 and {_U32_MAX / divisor} in this segment"
    return None


def encode_message(packets: Sequence[bytes]) -> bytes:
    """One binary WebSocket message carrying `packets`: u16 count, then u16 length + packet each."""
    if len(packets) > _U16_MAX:
        raise ValidationError("packets", len(packets), f"at most {_U16_MAX} fit in one message")
    parts = [_U16.pack(len(packets))]
    for packet in packets:
        if len(packet) > _U16_MAX:
            raise ValidationError("packet", len(packet), f"longer than {_U16_MAX} bytes")
        parts += (_U16.pack(len(packet)), packet)
    return b"".join(parts)
