"""Dhan v2 credentials and endpoints for one account, typed and masked.

Environment variables (`DhanConfig.from_env()`):

===============================  =================================================
NBEXEC_DHAN_CLIENT_ID            the dhanClientId (required)
NBEXEC_DHAN_ACCESS_TOKEN         the access token (JWT) from Dhan's web console (required)
NBEXEC_DHAN_ACCOUNT              nbexec's name for the account (default: the client id)
NBEXEC_DHAN_REST_BASE            REST base (default https://api.dhan.co/v2)
NBEXEC_DHAN_FEED_WS_URL          market feed (default wss://api-feed.dhan.co)
NBEXEC_DHAN_ORDER_WS_URL         live order updates (default wss://api-order-update.dhan.co)
NBEXEC_DHAN_SECURITY_LIST_URL    compact security list CSV (Dhan's public dump)
NBEXEC_DHAN_ORDER_CONNECTIONS    warm order connections (default 2)
NBEXEC_DHAN_ORDER_TIMEOUT_S      per order request (default 7)
===============================  =================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from nbexec.core.errors import ConfigError
from nbexec.core.secrets import Secret

from .. import settings


@dataclass(frozen=True)
class DhanConfig:
    client_id: str
    access_token: Secret
    account: str = ""
    rest_base: str = "https://api.dhan.co/v2"
    feed_ws_url: str = "wss://api-feed.dhan.co"
    order_ws_url: str = "wss://api-order-update.dhan.co"
    security_list_url: str = "https://images.dhan.co/api-data/api-scrip-master.csv"
    order_connections: int = 2
    order_timeout_s: float = 7.0

    SECRETS: ClassVar[tuple[str, ...]] = ("access_token",)
    ENV_PREFIX: ClassVar[str] = "NBEXEC_DHAN_"

    def __post_init__(self) -> None:
        settings.wrap_secrets(self)
        if not self.client_id or not str(self.client_id).isdigit():
            raise ConfigError(f"DhanConfig.client_id={self.client_id!r}: must be the numeric dhanClientId")
        if not self.access_token:
            raise ConfigError("DhanConfig.access_token: required")
        if not self.account:
            object.__setattr__(self, "account", self.client_id)

    @classmethod
    def from_mapping(cls, data: Mapping) -> DhanConfig:
        return settings.from_mapping(cls, data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DhanConfig:
        return settings.from_env(cls, environ)
