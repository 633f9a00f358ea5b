"""`MarketData`: the engine's instruments and live feeds, and the newest price of a symbol.

The order path reads `last_quote` once per signal (risk's prices and slippage protection);
strategies and views read `last_tick`. A symbol may stream on several feeds: the newest feed
that has a tick for it answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core.errors import ValidationError
from ..core.instruments import Instrument, parse_instrument_key

# (instruments, mode) -> an unstarted nbexec.feeds.Feed, from the configured market-data route
FeedFactory = Callable[[Iterable[Instrument], str], Any]


class MarketData:
    def __init__(self, instruments: dict[str, Instrument], feed_factory: FeedFactory | None) -> None:
        self.instruments = instruments
        self.feeds: list[Any] = []  # nbexec.feeds.Feed, newest last
        self._feed_factory = feed_factory

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of `EXCHANGE:SYMBOL`, or a `ValidationError` naming `symbol`."""
        exchange, name = parse_instrument_key(symbol)
        try:
            return self.instruments[f"{exchange}:{name}"]
        except KeyError:
            known = ", ".join(sorted(self.instruments)[:8])
            raise ValidationError("symbol", symbol, f"unknown instrument (known: {known}...)") from None

    async def subscribe(self, *symbols: str, mode: str = "full", first_tick_timeout: float = 5.0) -> Any:
        """A started Feed of `symbols`, returned once each symbol's newest tick is in `mode` (or
        after `first_tick_timeout`): see `OMS.subscribe`."""
        instruments = [self.instrument(s) for s in symbols]
        if self._feed_factory is None:
            raise ValidationError("symbols", list(symbols), "no route is configured for market data")
        feed = self._feed_factory(instruments, mode)
        try:
            await feed.start()
            await feed.wait_connected()
        except BaseException:
            await feed.close()  # no reconnect loop left behind
            raise
        self.feeds.append(feed)
        deadline = time.monotonic() + first_tick_timeout
        while any(not _in_mode(feed.last(i.key), mode) for i in instruments) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return feed

    def last_tick(self, symbol: str) -> Any:
        """The newest tick of `symbol` (a `Tick`) from the newest feed that has one, or None."""
        return self._newest(symbol, lambda feed: feed.last(symbol))

    def last_quote(self, symbol: str) -> Any:
        """`last_tick`'s prices and arrival only (a `LastQuote`): what the order path reads."""
        return self._newest(symbol, lambda feed: feed.quote(symbol))

    def _newest(self, symbol: str, read: Callable[[Any], Any]) -> Any:
        for feed in reversed(self.feeds):
            if symbol in feed.instruments:
                found = read(feed)
                if found is not None:
                    return found
        return None

    def rehearse(self, symbol: str) -> None:
        """Let every feed of `symbol` decode its newest tick message again (busy polling's warm-up)."""
        for feed in self.feeds:
            if symbol in feed.instruments:
                feed.rehearse()

    async def close(self) -> None:
        await asyncio.gather(*(f.close() for f in self.feeds), return_exceptions=True)


def _in_mode(tick: Any, mode: str) -> bool:
    return tick is not None and tick.mode == mode
