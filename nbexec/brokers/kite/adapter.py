"""`KiteBroker`: one Kite Connect v3 account as an `OrderRoute` (`brokers/base.py`).

Orders (place / modify / cancel) go over the lean warm pool (`PooledBroker`, `channel.py`),
reads over httpx (`rest.py`), order updates over the ticker WebSocket (`order_updates.py`).
Everything runs on the loop that called `start()` (the kernel's loop). Retry contract: see
`brokers/base.py`; `order_by_tag` scans the day book for Kite's `tag` (Kite has no lookup by
tag), which is how an UNKNOWN order is resolved (`brokers/reconcile.py`).

    broker = KiteBroker(KiteConfig.from_env())
    await broker.start()
    ack = await broker.place(order)            # or: fut = broker.send_place(order); await fut
"""

from __future__ import annotations

import os

from nbexec.core.instruments import Instrument

from .. import instrument_cache
from ..channel import OrderChannel
from ..pooled import PooledBroker
from ..retry import KITE_RATE_LIMITS, RateLimit, RetryPolicy, limiters
from ..settings import Endpoint
from ..transport import ConnectionPool
from ..updates import UpdateHub
from . import parsing
from .config import KiteConfig
from .instruments import CACHE_NAME, parse_instruments
from .order_updates import KiteOrderUpdates
from .requests import KiteRequests
from .rest import KiteRest, rest_client


class KiteBroker(PooledBroker):
    """One Kite account. `pool`: a `ConnectionPool` to Kite's host shared by many accounts
    (the engine's fan-out); without one the broker keeps `config.order_connections` of its own.
    `rate_limits`: client-side limits per endpoint class ("order", "other", ...), Kite's own
    by default (relax them only against the paper exchange).
    """

    name = "kite"
    parse_ack = staticmethod(parsing.parse_ack)
    reads: KiteRest  # BrokerReads, and Kite's instrument dump

    def __init__(
        self,
        config: KiteConfig,
        *,
        pool: ConnectionPool | None = None,
        policy: RetryPolicy = RetryPolicy(),
        rate_limits: dict[str, RateLimit] = KITE_RATE_LIMITS,
    ) -> None:
        super().__init__()
        self.config, self.account = config, config.account
        self.limiters = limiters(rate_limits)
        # Kite's SDK joins URLs with urljoin, which drops any path on the root: so do we
        # (docs/protocols/kite.md, Base URL and how paths are joined).
        self.endpoint = Endpoint.parse(config.root, keep_path=False)
        self.channel = OrderChannel(
            self.endpoint,
            broker=self.name,
            limiter=self.limiters["order"],
            policy=policy,
            pool=pool,
            size=config.order_connections,
            timeout=config.order_timeout_s,
        )
        self.rest = rest_client(config, limiter=self.limiters["other"], policy=policy)
        self.reads = KiteRest(self.rest)

    def _requests(self) -> KiteRequests:
        return KiteRequests(self.config, self.endpoint)

    def _update_source(self, hub: UpdateHub) -> KiteOrderUpdates:
        return KiteOrderUpdates(self.config, hub)

    # -- reads (order_by_id, orders, trades, positions, funds: PooledBroker) ----------------
    async def instruments(self, cache_dir: str | os.PathLike | None = None) -> list[Instrument]:
        """Today's instruments dump, parsed; cached on disk for the day (`instrument_cache`)."""
        data = await instrument_cache.daily(CACHE_NAME, self.reads.instruments_csv, directory=cache_dir)
        return parse_instruments(data)
