"""Per-instrument ring buffers of ticks: fixed memory, whole decoded messages appended at once.

A tick row is `TICK_DTYPE` plus two fields the feed adds: `received_ns` (wall clock,
`time.time_ns()`, when the WebSocket message arrived; every tick of one message shares it) and
`gap` (True on an instrument's first tick after a reconnect: ticks may be missing before it).

All instruments share one 2-D block, one row (a ring of `capacity` ticks) per instrument, so an
append is a fixed handful of NumPy calls whatever the number of ticks or instruments in the
message: no Python loop per tick or per instrument. The block comes from `np.zeros` (calloc),
so resident memory grows with the ticks written and stops at
`instruments x capacity x RING_DTYPE.itemsize` (384 B a tick: 38 MB per instrument at the
default 100k). Pure NumPy, no I/O; not thread-safe (the feed calls it from one asyncio loop).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from nbexec.core.errors import ValidationError
from nbexec.core.ticks import TICK_DTYPE, TICK_FIELDS, WORDS_PER_TICK, as_words, dtype_fields

DEFAULT_CAPACITY = 100_000

TickId = tuple[int, int]  # (token, segment) as the decoders fill them: unique for both brokers


def _ring_dtype() -> np.dtype:
    """TICK_DTYPE's fields at their own offsets, then received_ns and gap after them."""
    names = list(TICK_FIELDS)  # TICK_DTYPE.names (it has no titles)
    formats = [TICK_FIELDS[n][0] for n in names]
    offsets = [TICK_FIELDS[n][1] for n in names]
    end = TICK_DTYPE.itemsize
    return np.dtype(
        {
            "names": names + ["received_ns", "gap"],
            "formats": formats + [np.dtype("i8"), np.dtype("?")],
            "offsets": offsets + [end, end + 8],
            "itemsize": end + 16,
        },
        align=True,
    )


RING_DTYPE = _ring_dtype()
_RING_FIELDS = dtype_fields(RING_DTYPE)
_RING_WORDS = RING_DTYPE.itemsize // 8
_NO_SLOTS = np.empty(0, np.intp)
_TICK_SIZE, _RING_SIZE = TICK_DTYPE.itemsize, RING_DTYPE.itemsize
_KEY = struct.Struct("=IB")  # token, segment: a row's first bytes
_TAIL = struct.Struct("=q?")  # received_ns, gap
assert _RING_FIELDS["received_ns"][1] == _TICK_SIZE and _RING_FIELDS["gap"][1] == _TICK_SIZE + 8
# last_price .. ask_price[4] are 16 consecutive doubles: last, average, OHLC, 5 bids, 5 asks
_PRICES_AT = _RING_FIELDS["last_price"][1]
_PRICES = struct.Struct("=16d")
_BID, _ASK = 6, 11
assert _RING_FIELDS["bid_price"][1] == _PRICES_AT + 8 * _BID
assert _RING_FIELDS["ask_price"][1] == _PRICES_AT + 8 * _ASK
_RECEIVED = struct.Struct("=q")


class LastQuote(NamedTuple):
    """The newest tick's prices an order is checked against (0.0 = not in this tick's mode)."""

    last_price: float
    bid: float
    ask: float
    received_ns: int  # wall clock, time.time_ns(), when its message arrived


def tick_keys(tokens: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """One uint64 per tick identifying its instrument: token << 8 | segment."""
    return (tokens.astype(np.uint64) << np.uint64(8)) | segments.astype(np.uint64)


class TickRings:
    """One fixed-capacity ring of ticks per instrument, instruments named by `TickId`.

    `append` keeps the newest `capacity` ticks of each instrument; ticks of instruments not
    added are ignored. Reads return copies in arrival order, so later appends never change
    an array already handed out. Call everything from one thread (the feed's event loop).
    """

    def __init__(self, ids: Iterable[TickId] = (), capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValidationError("capacity", capacity, "must be at least 1 tick")
        self.capacity = int(capacity)
        self._ids: list[TickId] = []
        self._row_of: dict[int, int] = {}  # tick key -> row
        self._keys = np.empty(0, np.uint64)  # sorted, for searchsorted
        self._rows = np.empty(0, np.intp)  # row of each sorted key
        self._use(np.zeros((0, self.capacity), RING_DTYPE), np.zeros(0, np.int64), np.zeros(0, bool))
        self.add(ids)

    def _use(self, buf: np.ndarray, written: np.ndarray, gap_pending: np.ndarray) -> None:
        """Adopt `buf` and the per-row counters, with the views that appends write through
        (made once, not per append)."""
        self._buf = buf
        self._written = written  # ticks ever appended per row
        self._gap_pending = gap_pending
        slots = buf.reshape(-1)
        # A tick is copied as its 8-byte words (core/ticks.py: a row is WORDS_PER_TICK words):
        # a 2-D word assignment runs a tight inner loop, unlike a per-item structured copy.
        self._tick_words = slots.view(np.int64).reshape(-1, _RING_WORDS)[:, :WORDS_PER_TICK]
        self._received = slots["received_ns"]
        self._gap = slots["gap"]
        # The same memory as plain buffers, for the one-tick append: memoryview and struct
        # reads and writes touch no NumPy code, which matters when every tick arrives cold.
        # (NumPy's stubs give arrays the buffer protocol on Python 3.12+ only: the ignores.)
        self._bytes = memoryview(slots.view(np.uint8))  # type: ignore[arg-type]
        self._written_at = memoryview(written)  # type: ignore[arg-type]
        self._gap_pending_at = memoryview(gap_pending)  # type: ignore[arg-type]

    # -- instruments ----------------------------------------------------------------------
    @property
    def ids(self) -> list[TickId]:
        return list(self._ids)

    def add(self, ids: Iterable[TickId]) -> None:
        """Give new instruments a ring each (known ones are kept as they are)."""
        have = set(self._ids)
        new = list(dict.fromkeys(i for i in ((int(t), int(s)) for t, s in ids) if i not in have))
        if not new:
            return
        old_rows = len(self._ids)
        filled = int(min(self._written.max(initial=0), self.capacity))
        buf = np.zeros((old_rows + len(new), self.capacity), RING_DTYPE)
        buf[:old_rows, :filled] = self._buf[:, :filled]  # touch only pages already in use
        self._use(
            buf,
            np.concatenate((self._written, np.zeros(len(new), np.int64))),
            np.concatenate((self._gap_pending, np.zeros(len(new), bool))),
        )
        self._ids += new
        keys = tick_keys(np.array([t for t, _ in self._ids]), np.array([s for _, s in self._ids]))
        self._row_of = {int(key): row for row, key in enumerate(keys)}
        self._rows = np.argsort(keys, kind="stable")
        self._keys = keys[self._rows]

    def row(self, tick_id: TickId) -> int:
        """The ring (row) of an instrument: what `rows` and `quote_at` speak of."""
        row = self._row_of.get((int(tick_id[0]) << 8) | int(tick_id[1]))
        if row is None:
            raise ValidationError("instrument", tick_id, "has no ring in this feed")
        return row

    # -- writing --------------------------------------------------------------------------
    def append(self, ticks: np.ndarray | bytes, received_ns: int) -> np.ndarray | list[int]:
        """Store a decoded batch (`TICK_DTYPE`, any mix of instruments, or one tick's row as
        bytes); returns its slots.

        Ticks keep their order within each instrument; an instrument with a gap pending gets
        `gap=True` on its first tick of this batch. The slots (for `take`) are valid until the
        ring wraps over them.
        """
        if isinstance(ticks, bytes):
            return self._append_one(ticks, received_ns)
        if len(ticks) == 1:
            return self._append_one(ticks.tobytes(), received_ns)
        if not len(ticks) or not len(self._ids):
            return _NO_SLOTS
        keys = tick_keys(ticks["token"], ticks["segment"])
        where = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        known = self._keys[where] == keys
        if not known.all():
            ticks, where = ticks[known], where[known]
        rows = self._rows[where]
        n, cap = len(rows), self.capacity
        if not n:
            return _NO_SLOTS
        counts = np.bincount(rows, minlength=len(self._ids))
        if counts.max() == 1:  # the usual Kite frame: one packet per instrument
            rank = np.zeros(n, np.int64)
        else:  # rank of each tick among its instrument's ticks in the batch
            order = np.argsort(rows, kind="stable")
            starts = np.cumsum(counts) - counts
            rank = np.empty(n, np.int64)
            rank[order] = np.arange(n) - starts[rows[order]]
            keep = rank >= counts[rows] - cap  # more than a ring's worth: newest win
            if not keep.all():  # (ticks is an array; mypy lost that to the Any of ticks[known])
                ticks, rows, rank = ticks[keep], rows[keep], rank[keep]  # type: ignore[assignment]
        flat = rows * cap + (self._written[rows] + rank) % cap
        self._tick_words[flat] = as_words(np.ascontiguousarray(ticks))[0]
        self._received[flat] = received_ns
        self._gap[flat] = (rank == 0) & self._gap_pending[rows]
        self._gap_pending[counts > 0] = False
        self._written += counts
        return flat

    def _append_one(self, tick: bytes, received_ns: int) -> list[int]:
        """`append` of one tick's row through plain buffers: Dhan sends one packet per
        message, Kite one frame per instrument that traded, and a dozen NumPy calls on
        1-element arrays cost several times the tick itself (more when cold)."""
        token, segment = _KEY.unpack_from(tick)
        row = self._row_of.get(token << 8 | segment)
        if row is None:
            return []
        written = self._written_at[row]
        slot = row * self.capacity + written % self.capacity
        at = slot * _RING_SIZE
        self._bytes[at : at + _TICK_SIZE] = tick
        _TAIL.pack_into(self._bytes, at + _TICK_SIZE, received_ns, self._gap_pending_at[row])
        self._gap_pending_at[row] = False
        self._written_at[row] = written + 1
        return [slot]

    def rows(self, slots: np.ndarray | list[int]) -> list[int]:
        """The rings (rows) that `slots` (as returned by `append`) fell in, each once."""
        if isinstance(slots, list):
            return [slot // self.capacity for slot in slots]  # the one-tick append: one slot
        return np.unique(slots // self.capacity).tolist()

    def take(self, slots: np.ndarray | list[int]) -> np.ndarray:
        """Copies of the rows in `slots` (as returned by `append`)."""
        return self._buf.reshape(-1)[slots]

    def mark_gap(self) -> None:
        """The feed lost its connection: each instrument's next tick gets `gap=True`."""
        self._gap_pending[:] = True

    # -- reading --------------------------------------------------------------------------
    def count(self, tick_id: TickId) -> int:
        """Ticks ever appended for the instrument (not only those still held)."""
        return int(self._written[self.row(tick_id)])

    def __len__(self) -> int:
        return int(np.minimum(self._written, self.capacity).sum())

    def ticks(self, tick_id: TickId | None = None, last: int | None = None) -> np.ndarray:
        """Held ticks (`RING_DTYPE`, a copy) of one instrument, or of all merged by arrival.

        `last` keeps only the newest `last` ticks of each instrument.
        """
        rows = [self.row(tick_id)] if tick_id is not None else range(len(self._ids))
        parts = [self._chronological(r, last) for r in rows]
        if not parts:
            return np.zeros(0, RING_DTYPE)
        out = np.concatenate(parts)
        if len(parts) > 1:
            out = out[np.argsort(out["received_ns"], kind="stable")]
        return out

    def last(self, tick_id: TickId) -> np.void | None:
        """The instrument's newest tick (a copy), or None before its first."""
        row = self.row(tick_id)
        written = int(self._written[row])
        return self._buf[row, (written - 1) % self.capacity].copy() if written else None

    def quote(self, tick_id: TickId) -> LastQuote | None:
        """The newest tick's last price, best bid and ask and arrival, read straight from the
        ring (no record copied): what every signal reads on the order path."""
        return self.quote_at(self.row(tick_id))

    def quote_at(self, row: int) -> LastQuote | None:
        """`quote` of the instrument in `row`."""
        written = self._written_at[row]
        if not written:
            return None
        at = (row * self.capacity + (written - 1) % self.capacity) * _RING_SIZE
        prices = _PRICES.unpack_from(self._bytes, at + _PRICES_AT)
        return LastQuote(prices[0], prices[_BID], prices[_ASK], _RECEIVED.unpack_from(self._bytes, at + _TICK_SIZE)[0])

    def _chronological(self, row: int, last: int | None) -> np.ndarray:
        written, cap = int(self._written[row]), self.capacity
        held = min(written, cap, cap if last is None else max(last, 0))
        end = written % cap
        if held <= end:
            return self._buf[row, end - held : end].copy()
        return np.concatenate((self._buf[row, cap - (held - end) :], self._buf[row, :end]))
