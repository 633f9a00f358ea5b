"""`Feed`: what a notebook user holds: live ticks of some instruments as pandas, callbacks, a stream.

    feed = Feed.subscribed(client, instruments, mode="full")   # a broker's factory builds it
    await feed.start(); await feed.wait_connected()
    feed.df; feed.bars("1s"); feed.last("NSE:INFY")
    feed.on_tick(lambda ticks: ...)
    feed.on_quote("NSE:INFY", lambda quote: ...)
    async for tick in feed: ...
    await feed.close()

Everything runs on the event loop that started the feed (the kernel's loop in Jupyter). The
hot path is decode -> ring append -> callbacks: no DataFrame and no per-tick Python object is
made per message; `df`, `bars()` and the `async for` records are built only when asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument, parse_instrument_key
from nbexec.core.ticks import MODE_NAMES, as_ticks

from . import frames
from .client import FeedClient
from .ring import DEFAULT_CAPACITY, LastQuote, TickRings

log = logging.getLogger(__name__)

TickCallback = Callable[[np.ndarray], object]
QuoteCallback = Callable[[LastQuote], object]
T = TypeVar("T")


class Tick(NamedTuple):
    """One tick as `async for tick in feed` yields it (best bid/ask; 0 = not in this mode)."""

    instrument: str
    received_ns: int  # wall clock, time.time_ns(), when the message arrived
    mode: str
    last_price: float
    last_quantity: int
    volume: int
    bid: float
    ask: float
    bid_quantity: int
    ask_quantity: int
    oi: int
    gap: bool  # first tick of this instrument after a reconnect

    @property
    def received(self) -> pd.Timestamp:
        return pd.Timestamp(self.received_ns, unit="ns", tz="UTC").tz_convert(frames.TIMEZONE)


def _call(callback: Callable[[T], object], argument: T) -> None:
    """A user's callback: its failure is logged, the feed goes on."""
    try:
        callback(argument)
    except Exception:
        log.exception("tick callback %r failed; the feed goes on", callback)


class Feed:
    """Ticks of `instruments` from one broker client, kept in per-instrument rings.

    `capacity`: ticks held per instrument (older ones are overwritten). `queue_size`: message
    batches an `async for` consumer may fall behind before its oldest batch is dropped
    (counted in `dropped_batches`); a slow consumer never slows the feed.
    """

    def __init__(
        self,
        client: FeedClient,
        instruments: Iterable[Instrument],
        *,
        capacity: int = DEFAULT_CAPACITY,
        queue_size: int = 1_000,
    ) -> None:
        self.client = client
        self.instruments = {i.key: i for i in instruments}
        self._ids = {key: client.tick_id(i) for key, i in self.instruments.items()}
        self.names = {tick_id: key for key, tick_id in self._ids.items()}
        self.rings = TickRings(self._ids.values(), capacity)
        self._callbacks: tuple[TickCallback, ...] = ()  # replaced, never changed: safe to iterate
        self._quote_callbacks: dict[int, tuple[QuoteCallback, ...]] = {}  # ring row -> callbacks, likewise
        self._queues: set[asyncio.Queue] = set()
        self._queue_size = queue_size
        self._closed = False
        self.dropped_batches = 0
        client.sink = self

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def subscribed(
        cls,
        client: FeedClient,
        instruments: Iterable[Instrument],
        mode: str = "quote",
        *,
        capacity: int = DEFAULT_CAPACITY,
    ) -> Feed:
        """A feed of `client`'s ticks, every one of `instruments` subscribed in `mode`: how each
        broker's factory builds its market data around its own client."""
        feed = cls(client, instruments, capacity=capacity)
        client.subscribe(feed.instruments.values(), mode)
        return feed

    # -- subscriptions ------------------------------------------------------------------------
    def _instrument(self, symbol: str) -> Instrument:
        exchange, name = parse_instrument_key(symbol)
        try:
            return self.instruments[f"{exchange}:{name}"]
        except KeyError:
            raise ValidationError(
                "symbol", symbol, f"not one of this feed's instruments {sorted(self.instruments)}"
            ) from None

    def subscribe(self, *symbols: str, mode: str = "quote") -> None:
        """Stream these of the feed's instruments in `mode` (also changes a mode). Sync."""
        self.client.subscribe([self._instrument(s) for s in symbols], mode)

    def unsubscribe(self, *symbols: str) -> None:
        self.client.unsubscribe([self._instrument(s) for s in symbols])

    # -- the sink (called by the client, in its read loop) ------------------------------------
    def append(self, ticks: np.ndarray | bytes, received_ns: int) -> None:
        """A decoded message (see `TickSink`): into the rings, then to the quote callbacks
        (no array needed), the tick callbacks and the `async for` consumers."""
        slots = self.rings.append(ticks, received_ns)
        if self._quote_callbacks and len(slots):
            for row in self.rings.rows(slots):
                callbacks = self._quote_callbacks.get(row)
                if callbacks:
                    quote: LastQuote = self.rings.quote_at(row)  # type: ignore[assignment]  # just written
                    for on_quote in callbacks:
                        _call(on_quote, quote)
        if self._callbacks:  # one read-only array shared by every callback
            ticks = as_ticks(ticks)
            ticks.flags.writeable = False
            for callback in self._callbacks:
                _call(callback, ticks)
        if self._queues and len(slots):
            rows = self.rings.take(slots)  # copied now: the ring may wrap before it is read
            for queue in self._queues:
                self._put(queue, rows)

    def mark_gap(self) -> None:
        self.rings.mark_gap()

    def rehearse(self) -> None:
        """Run the decoder over the newest tick message again, result dropped (see
        `FeedClient.rehearse`): the engine's busy polling keeps the tick path warm with it."""
        self.client.rehearse()

    def _put(self, queue: asyncio.Queue, item: np.ndarray | None) -> None:
        if queue.full():
            queue.get_nowait()
            self.dropped_batches += 1
        queue.put_nowait(item)

    # -- what the user reads -----------------------------------------------------------------
    def on_tick(self, callback: TickCallback) -> TickCallback:
        """Call `callback(ticks)` with every decoded message (a read-only `TICK_DTYPE` array,
        the same for every callback; map `(token, segment)` to a name with `feed.names`).
        Runs on the loop inside the read loop: it must not block (schedule work instead).
        Usable as a decorator."""
        self._callbacks = (*self._callbacks, callback)
        return callback

    def on_quote(self, symbol: str, callback: QuoteCallback) -> QuoteCallback:
        """Call `callback(quote)` with `symbol`'s newest `LastQuote` (last price, best bid and
        ask, arrival) after every message that carried a tick of it, before the `on_tick`
        callbacks. The cheapest way to react to one instrument: nothing is built but the
        quote, while finding a symbol in `on_tick`'s array takes NumPy calls, whose fixed cost is
        large when they run cold, as they do between ticks. Same rules as `on_tick`."""
        row = self.rings.row(self._ids[self._instrument(symbol).key])
        self._quote_callbacks = {**self._quote_callbacks, row: (*self._quote_callbacks.get(row, ()), callback)}
        return callback

    def remove_callback(self, callback: TickCallback | QuoteCallback) -> None:
        """Stop calling `callback`, given to `on_tick` or `on_quote` (from the next message;
        a callback may remove itself)."""
        if callback not in self._callbacks and not any(callback in c for c in self._quote_callbacks.values()):
            raise ValidationError("callback", callback, "is not a callback of this feed")
        self._callbacks = tuple(c for c in self._callbacks if c != callback)
        kept = {row: tuple(c for c in callbacks if c != callback) for row, callbacks in self._quote_callbacks.items()}
        self._quote_callbacks = {row: callbacks for row, callbacks in kept.items() if callbacks}

    @property
    def df(self) -> pd.DataFrame:
        """Every held tick of every instrument, oldest first (see `frames.to_frame`)."""
        return frames.to_frame(self.rings, self.names)

    def bars(self, rule: str = "1s") -> pd.DataFrame:
        """OHLCV bars per instrument (see `frames.bars`)."""
        return frames.bars(self.df, rule)

    def last(self, symbol: str) -> Tick | None:
        """The instrument's newest tick, or None before its first."""
        row = self.rings.last(self._ids[self._instrument(symbol).key])
        return None if row is None else self._record(row)

    def quote(self, symbol: str) -> LastQuote | None:
        """The newest tick's last price, best bid and ask and arrival time, or None before the
        first: `last` without building a `Tick` (the order path reads this per signal, with
        the canonical key: looked up as given before it is parsed)."""
        tick_id = self._ids.get(symbol)
        return self.rings.quote(tick_id if tick_id is not None else self._ids[self._instrument(symbol).key])

    def _record(self, row: np.void) -> Tick:
        name = self.names.get((int(row["token"]), int(row["segment"])), str(row["token"]))
        return Tick(
            name,
            int(row["received_ns"]),
            MODE_NAMES.get(int(row["mode"]), "?"),
            float(row["last_price"]),
            int(row["last_quantity"]),
            int(row["volume"]),
            float(row["bid_price"][0]),
            float(row["ask_price"][0]),
            int(row["bid_quantity"][0]),
            int(row["ask_quantity"][0]),
            int(row["oi"]),
            bool(row["gap"]),
        )

    async def __aiter__(self) -> AsyncIterator[Tick]:
        """Every tick from now on, as `Tick` records built one at a time as you consume them.

        Ends when the feed is closed.
        """
        if self._closed:
            return
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            while (rows := await queue.get()) is not None:
                for i in range(len(rows)):
                    yield self._record(rows[i])
        finally:
            self._queues.discard(queue)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> Feed:
        """Start connecting (returns at once; `await feed.wait_connected()` to wait)."""
        self._closed = False
        self.client.start()
        return self

    async def wait_connected(self, timeout: float | None = 10.0) -> None:
        await self.client.wait_connected(timeout)

    async def close(self) -> None:
        """Close the socket, end every task of the feed and every `async for`. Idempotent."""
        self._closed = True
        await self.client.close()
        for queue in self._queues:
            self._put(queue, None)

    async def __aenter__(self) -> Feed:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Feed({sorted(self.instruments)}, {len(self.rings)} ticks held, {self.client!r})"
