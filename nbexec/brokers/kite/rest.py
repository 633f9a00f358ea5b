"""Kite Connect v3 reads over httpx (docs/protocols/kite.md, Reads), normalised on the way in.

Every call is idempotent and retried on timeouts, 5xx and 429 (`retry.Operation.READ`),
waiting for the account's "other" rate limiter (10/s) first. Error envelopes become nbexec
errors via `map_kite_error`, keeping Kite's message.
"""

from __future__ import annotations

from nbexec.core.errors import InputError, OrderNotFound

from ..rest_client import RestClient
from ..retry import Operation, RateLimiter, RetryPolicy
from ..types import BrokerOrder, BrokerPosition, BrokerTrade, Funds
from . import parsing
from .config import KiteConfig

USER_AGENT = "nbexec"


def rest_client(
    config: KiteConfig,
    *,
    limiter: RateLimiter | None = None,
    policy: RetryPolicy = RetryPolicy(),
    authenticated: bool = True,
) -> RestClient:
    """An httpx client for `config.root`; `authenticated=False` for the login exchange."""
    headers = {"X-Kite-Version": "3", "User-Agent": USER_AGENT}
    if authenticated:
        headers["Authorization"] = f"token {config.api_key}:{config.require_token().reveal()}"
    return RestClient(
        config.root,
        broker="kite",
        headers=headers,
        decode=parsing.decode,
        limiter=limiter,
        policy=policy,
        timeout=config.order_timeout_s,
    )


class KiteRest:
    """One account's reads. Runs on the loop that calls it."""

    def __init__(self, http: RestClient) -> None:
        self.http = http

    async def orders(self) -> list[BrokerOrder]:
        return parsing.parse_orders(await self.http.get("/orders"))

    async def order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state from its history; `OrderNotFound` if Kite has none."""
        try:
            found = parsing.parse_history(await self.http.get(f"/orders/{broker_order_id}"))
        except InputError as exc:  # Kite answers an unknown id with 400 InputException
            raise OrderNotFound(f"kite: no order {broker_order_id!r} ({exc.broker_message})") from None
        if found is None:
            raise OrderNotFound(f"kite: no order {broker_order_id!r} (empty history)")
        return found

    async def order_trades(self, broker_order_id: str) -> list[BrokerTrade]:
        return parsing.parse_trades(await self.http.get(f"/orders/{broker_order_id}/trades"))

    async def trades(self) -> list[BrokerTrade]:
        return parsing.parse_trades(await self.http.get("/trades"))

    async def positions(self) -> list[BrokerPosition]:
        return parsing.parse_positions(await self.http.get("/portfolio/positions"))

    async def funds(self) -> Funds:
        return parsing.parse_funds(await self.http.get("/user/margins"))

    async def profile(self) -> dict:
        return await self.http.get("/user/profile")

    async def instruments_csv(self) -> bytes:
        """The instruments dump, as Kite sends it (CSV; public, but sent with our headers)."""
        return await self.http.send("GET", "/instruments", raw=True, operation=Operation.READ)
