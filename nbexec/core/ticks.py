"""One tick record for every broker: the NumPy dtype that both feed decoders fill.

Kite and Dhan packets differ on the wire but carry the same market facts, so both decoders
return arrays of `TICK_DTYPE`; ring buffers and DataFrames downstream never ask which broker a
tick came from. A field the packet does not carry is 0 (a quote packet has no depth, an LTP
packet has only the price). Pure: NumPy only, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ValidationError

# `mode` says how much of the record the packet filled.
MODE_LTP = 1
MODE_QUOTE = 2
MODE_FULL = 3
MODE_NAMES = {MODE_LTP: "ltp", MODE_QUOTE: "quote", MODE_FULL: "full"}

DEPTH_LEVELS = 5


def dtype_fields(dtype: np.dtype) -> Mapping[str, tuple[np.dtype, int] | tuple[np.dtype, int, Any]]:
    """A structured dtype's fields: name -> (dtype, byte offset[, title])."""
    fields = dtype.fields
    if fields is None:
        raise ValidationError("dtype", dtype, "must be a structured dtype (one with fields)")
    return fields


TICK_DTYPE = np.dtype(
    [
        ("token", "u4"),  # Kite instrument_token, or Dhan security id
        ("segment", "u1"),  # the broker's own code: Kite token & 0xFF, Dhan segment enum
        ("mode", "u1"),  # MODE_LTP / MODE_QUOTE / MODE_FULL
        ("tradable", "?"),  # False for indices
        # prices, in rupees
        ("last_price", "f8"),
        ("average_price", "f8"),
        ("open", "f8"),
        ("high", "f8"),
        ("low", "f8"),
        ("close", "f8"),
        ("bid_price", "f8", (DEPTH_LEVELS,)),
        ("ask_price", "f8", (DEPTH_LEVELS,)),
        # quantities, counts and times (Unix seconds as the broker sends them; 0 = not sent)
        ("last_quantity", "i8"),
        ("volume", "i8"),
        ("total_buy_quantity", "i8"),
        ("total_sell_quantity", "i8"),
        ("last_trade_time", "i8"),
        ("oi", "i8"),
        ("oi_day_high", "i8"),
        ("oi_day_low", "i8"),
        ("exchange_timestamp", "i8"),
        ("bid_quantity", "i8", (DEPTH_LEVELS,)),
        ("ask_quantity", "i8", (DEPTH_LEVELS,)),
        ("bid_orders", "i8", (DEPTH_LEVELS,)),
        ("ask_orders", "i8", (DEPTH_LEVELS,)),
    ],
    align=True,
)

# Aligned, so a row is 46 eight-byte words: word 0 holds token/segment/mode/tradable, words
# 1-16 every price (float64), words 17-45 every integer (int64). Decoders rely on this to
# write a whole group of ticks with a few block writes instead of one NumPy call per field.
WORDS_PER_TICK = TICK_DTYPE.itemsize // 8
PRICE_WORDS = slice(1, 17)
INTEGER_WORDS = slice(17, WORDS_PER_TICK)
assert WORDS_PER_TICK == 1 + 6 + 2 * DEPTH_LEVELS + 9 + 4 * DEPTH_LEVELS == 46
TICK_FIELDS = dtype_fields(TICK_DTYPE)
assert TICK_FIELDS["last_price"][1] == 8 and TICK_FIELDS["last_quantity"][1] == 8 * 17
# The same row as one struct record (native order, no padding rules of its own).
ROW_FORMAT = "=IBB?x16d29q"


def empty_ticks(n: int = 0) -> np.ndarray:
    """`n` all-zero tick records: the starting point every decoder fills in."""
    return np.zeros(n, dtype=TICK_DTYPE)


def as_ticks(decoded: np.ndarray | bytes) -> np.ndarray:
    """A decoder's result as a `TICK_DTYPE` array: a lone tick's row bytes (the feeds' NumPy-free
    path) become a one-row array of their own, an array stays as it is."""
    return np.frombuffer(bytearray(decoded), TICK_DTYPE) if isinstance(decoded, bytes) else decoded


def word_column(name: str) -> int:
    """Index of an 8-byte field (or the first element of a depth field) in a row of 8-byte words."""
    return TICK_FIELDS[name][1] // 8


def as_words(ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, WORDS_PER_TICK) int64 and float64 views of the same rows, for block writes."""
    return (
        ticks.view(np.int64).reshape(len(ticks), WORDS_PER_TICK),
        ticks.view(np.float64).reshape(len(ticks), WORDS_PER_TICK),
    )
