"""Dhan v2 reads over httpx (docs/protocols/dhan.md, Reads), normalised on the way in.

Every call is idempotent and retried on timeouts, 5xx and 429 (`retry.Operation.READ`),
waiting for the account's "other" rate limiter (20/s) first. Error bodies become nbexec errors
via `map_dhan_error`, keeping Dhan's message. "Not found" is Dhan's DH-907 (data error) or an
HTTP 404; any other error on a lookup propagates, so an UNKNOWN order is never taken for
absent on a mere error.
"""

from __future__ import annotations

from nbexec.core.errors import BrokerError, OrderNotFound

from ..rest_client import RestClient
from ..retry import Operation, RateLimiter, RetryPolicy
from ..types import BrokerOrder, BrokerPosition, BrokerTrade, Funds
from . import parsing
from .config import DhanConfig


def rest_client(
    config: DhanConfig, *, limiter: RateLimiter | None = None, policy: RetryPolicy = RetryPolicy()
) -> RestClient:
    headers = {
        "access-token": config.access_token.reveal(),
        "client-id": config.client_id,
        "Accept": "application/json",
    }
    return RestClient(
        config.rest_base,
        broker="dhan",
        headers=headers,
        decode=parsing.decode,
        limiter=limiter,
        policy=policy,
        timeout=config.order_timeout_s,
    )


def _not_found(exc: BrokerError) -> bool:
    return exc.status == 404 or exc.code == "DH-907"


class DhanRest:
    """One account's reads. Runs on the loop that calls it."""

    def __init__(self, http: RestClient, security_list_url: str) -> None:
        self.http = http
        self.security_list_url = security_list_url

    async def orders(self) -> list[BrokerOrder]:
        return parsing.parse_orders(await self.http.get("/orders"))

    async def order(self, broker_order_id: str) -> BrokerOrder:
        """`GET /orders/{id}`; `OrderNotFound` if Dhan has none."""
        try:
            found = parsing.parse_one(await self.http.get(f"/orders/{broker_order_id}"))
        except BrokerError as exc:
            if _not_found(exc):
                raise OrderNotFound(f"dhan: no order {broker_order_id!r} ({exc.broker_message})") from None
            raise
        if found is None:
            raise OrderNotFound(f"dhan: no order {broker_order_id!r} (empty answer)")
        return found

    async def order_by_correlation(self, correlation_id: str) -> BrokerOrder | None:
        """`GET /orders/external/{correlationId}`: the order, or None when Dhan has none."""
        try:
            return parsing.parse_one(await self.http.get(f"/orders/external/{correlation_id}"))
        except BrokerError as exc:
            if _not_found(exc):
                return None
            raise

    async def order_trades(self, broker_order_id: str) -> list[BrokerTrade]:
        return parsing.parse_trades(await self.http.get(f"/trades/{broker_order_id}"))

    async def trades(self) -> list[BrokerTrade]:
        return parsing.parse_trades(await self.http.get("/trades"))

    async def positions(self) -> list[BrokerPosition]:
        return parsing.parse_positions(await self.http.get("/positions"))

    async def funds(self) -> Funds:
        return parsing.parse_funds(await self.http.get("/fundlimit"))

    async def security_list_csv(self) -> bytes:
        """Dhan's public compact security list. Fetched without our credentials: it lives on
        another host, which must never see the access token."""
        public = RestClient(
            self.security_list_url,
            broker="dhan",
            headers={},
            decode=parsing.decode,
            policy=self.http.policy,
            timeout=60.0,
        )
        try:
            return await public.send("GET", "", raw=True, operation=Operation.READ)
        finally:
            await public.close()
