"""`DhanBroker`: one Dhan v2 account as an `OrderRoute` (`brokers/base.py`).

Orders (place / modify / cancel) go over the lean warm pool (`PooledBroker`, `channel.py`),
reads over httpx (`rest.py`), order updates over Dhan's order-update WebSocket
(`order_updates.py`). Everything runs on the loop that called `start()` (the kernel's loop).
Retry contract: see `brokers/base.py`. Dhan names instruments by (exchangeSegment,
securityId), so the broker needs a `Catalog` that knows them; `order_by_tag` asks Dhan
directly (`/orders/external/{correlationId}`), which is how an UNKNOWN order is resolved
(`brokers/reconcile.py`).

    broker = DhanBroker(DhanConfig.from_env(), catalog)
    await broker.start()
    ack = await broker.place(order)            # or: fut = broker.send_place(order); await fut
"""

from __future__ import annotations

import os

from nbexec.core.catalog import Catalog
from nbexec.core.instruments import Instrument

from .. import instrument_cache
from ..channel import OrderChannel
from ..pooled import PooledBroker
from ..retry import DHAN_RATE_LIMITS, RateLimit, RetryPolicy, limiters
from ..settings import Endpoint
from ..transport import ConnectionPool
from ..types import BrokerOrder
from ..updates import UpdateHub
from . import parsing
from .config import DhanConfig
from .instruments import CACHE_NAME, parse_security_list
from .login import check_token
from .order_updates import DhanOrderUpdates
from .requests import DhanRequests
from .rest import DhanRest, rest_client


class DhanBroker(PooledBroker):
    """One Dhan account. `catalog` maps `EXCHANGE:SYMBOL` to Dhan's security ids; `pool`: a
    `ConnectionPool` to Dhan's host shared by many accounts (else `config.order_connections`).
    `rate_limits`: client-side limits per endpoint class ("order", "other", ...), Dhan's own
    by default (relax them only against the paper exchange).
    """

    name = "dhan"
    parse_ack = staticmethod(parsing.parse_ack)
    reads: DhanRest  # BrokerReads, and Dhan's lookup by correlation id and security list

    def __init__(
        self,
        config: DhanConfig,
        catalog: Catalog | None = None,
        *,
        pool: ConnectionPool | None = None,
        policy: RetryPolicy = RetryPolicy(),
        rate_limits: dict[str, RateLimit] = DHAN_RATE_LIMITS,
    ) -> None:
        super().__init__()
        self.config, self.account = config, config.account
        self.catalog = catalog if catalog is not None else Catalog()
        self.limiters = limiters(rate_limits)
        self.endpoint = Endpoint.parse(config.rest_base)
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
        self.reads = DhanRest(self.rest, config.security_list_url)

    def _requests(self) -> DhanRequests:
        check_token(self.config)
        return DhanRequests(self.config, self.endpoint, self.catalog)

    def _update_source(self, hub: UpdateHub) -> DhanOrderUpdates:
        return DhanOrderUpdates(self.config, hub)

    # -- reads (order_by_id, orders, trades, positions, funds: PooledBroker) ----------------
    async def order_by_tag(self, tag: str) -> BrokerOrder | None:
        return await self.reads.order_by_correlation(tag)

    async def instruments(self, cache_dir: str | os.PathLike | None = None) -> list[Instrument]:
        """Today's security list, parsed; cached on disk for the day (`instrument_cache`)."""
        data = await instrument_cache.daily(CACHE_NAME, self.reads.security_list_csv, directory=cache_dir)
        return parse_security_list(data)
