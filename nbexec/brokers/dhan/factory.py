"""`DHAN`: how the engine gets Dhan's pieces (by name, through `brokers/registry.py`).

Both are built from one route's settings: `DhanConfig` fields, that is the route's settings
with its secrets and the account id merged in. `route()` is the account's `DhanBroker`,
`feed()` a market-data `Feed` over Dhan's live market feed socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbexec.core.catalog import Catalog
from nbexec.core.instruments import Instrument
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed
from nbexec.feeds.ring import DEFAULT_CAPACITY

from .adapter import DhanBroker
from .config import DhanConfig
from .market_feed import DhanFeedClient


class DhanFactory:
    """Dhan's order route and market data from a route's settings."""

    name = DhanBroker.name

    def route(self, settings: Mapping[str, Any], catalog: Catalog) -> DhanBroker:
        """The account's adapter, not started; Dhan names instruments by security id, which
        it finds in `catalog`."""
        return DhanBroker(DhanConfig.from_mapping(settings), catalog)

    def feed(
        self,
        settings: Mapping[str, Any],
        instruments: Iterable[Instrument],
        mode: str = "quote",
        *,
        capacity: int = DEFAULT_CAPACITY,
        policy: ReconnectPolicy = ReconnectPolicy(),
    ) -> Feed:
        """Ticks of `instruments` from the market feed at `feed_ws_url`, each subscribed in
        `mode`; not started."""
        config = DhanConfig.from_mapping(settings)
        client = DhanFeedClient(config.feed_ws_url, config.client_id, config.access_token, policy=policy)
        return Feed.subscribed(client, instruments, mode, capacity=capacity)


DHAN = DhanFactory()
