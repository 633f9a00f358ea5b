"""Kite order updates: the ticker WebSocket carries them as `{"type":"order"}` text messages.

One `market_feed.KiteTickerClient` with no subscriptions and no tick sink (reconnect,
backoff and watchdog are the feed's; Kite's 1 s heartbeats keep the watchdog fed) forwards
each order object here; it is normalised and published to the adapter's `UpdateHub`. Runs on
the loop that calls `start()`; the callback only parses and queues.
"""

from __future__ import annotations

import logging

from ..updates import UpdateHub
from .config import KiteConfig
from .market_feed import KiteTickerClient
from .parsing import parse_order

log = logging.getLogger(__name__)


class KiteOrderUpdates:
    """Order updates of one Kite account into `hub`."""

    def __init__(self, config: KiteConfig, hub: UpdateHub) -> None:
        self.hub = hub
        self.client = KiteTickerClient(
            config.ws_url, config.api_key, config.require_token(), on_order_update=self._on_update
        )

    def _on_update(self, data: dict) -> None:
        try:
            order = parse_order(data)
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("kite order update skipped: %s", exc)
            return
        self.hub.publish(order)

    def start(self) -> None:
        self.client.start()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self.client.wait_connected(timeout)

    async def close(self) -> None:
        await self.client.close()
