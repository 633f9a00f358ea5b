"""`KITE`: how the engine gets Kite's pieces (by name, through `brokers/registry.py`).

Both are built from one route's settings: `KiteConfig` fields, that is the route's settings
with its secrets and the account id merged in. `route()` is the account's `KiteBroker`,
`feed()` a market-data `Feed` over Kite's ticker socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbexec.core.catalog import Catalog
from nbexec.core.instruments import Instrument
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed
from nbexec.feeds.ring import DEFAULT_CAPACITY

from .adapter import KiteBroker
from .config import KiteConfig
from .market_feed import KiteTickerClient


class KiteFactory:
    """Kite's order route and market data from a route's settings."""

    name = KiteBroker.name

    def route(self, settings: Mapping[str, Any], catalog: Catalog) -> KiteBroker:
        """The account's adapter, not started (Kite names instruments by token: no `catalog`)."""
        return KiteBroker(KiteConfig.from_mapping(settings))

    def feed(
        self,
        settings: Mapping[str, Any],
        instruments: Iterable[Instrument],
        mode: str = "quote",
        *,
        capacity: int = DEFAULT_CAPACITY,
        policy: ReconnectPolicy = ReconnectPolicy(),
    ) -> Feed:
        """Ticks of `instruments` from the ticker at `ws_url`, each subscribed in `mode`; not started."""
        config = KiteConfig.from_mapping(settings)
        client = KiteTickerClient(config.ws_url, config.api_key, config.require_token(), policy=policy)
        return Feed.subscribed(client, instruments, mode, capacity=capacity)


KITE = KiteFactory()
