"""Kite Connect v3 credentials and endpoints for one account, typed and masked.

Environment variables (`KiteConfig.from_env()`):

=============================  ====================================================
NBEXEC_KITE_API_KEY            the app's api_key (required)
NBEXEC_KITE_ACCESS_TOKEN       today's access token (or log in with the request token)
NBEXEC_KITE_API_SECRET         the app's secret; needed only to log in
NBEXEC_KITE_ACCOUNT            nbexec's name for the account (default: the api_key)
NBEXEC_KITE_ROOT               REST root (default https://api.kite.trade)
NBEXEC_KITE_WS_URL             ticker WebSocket (default wss://ws.kite.trade)
NBEXEC_KITE_ORDER_CONNECTIONS  warm order connections (default 2)
NBEXEC_KITE_ORDER_TIMEOUT_S    per order request (default 7, the SDK's)
NBEXEC_KITE_MARKET_PROTECTION  sent with MARKET and SL-M orders: -1 auto, 0 none, 1..100 %
=============================  ====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from nbexec.core.errors import ConfigError
from nbexec.core.secrets import Secret

from .. import settings


@dataclass(frozen=True)
class KiteConfig:
    api_key: str
    access_token: Secret | None = None
    api_secret: Secret | None = None
    account: str = ""
    root: str = "https://api.kite.trade"
    ws_url: str = "wss://ws.kite.trade"
    order_connections: int = 2
    order_timeout_s: float = 7.0
    market_protection: int = -1

    SECRETS: ClassVar[tuple[str, ...]] = ("access_token", "api_secret")
    ENV_PREFIX: ClassVar[str] = "NBEXEC_KITE_"

    def __post_init__(self) -> None:
        settings.wrap_secrets(self)
        if not self.api_key:
            raise ConfigError("KiteConfig.api_key: required")
        if not -1 <= self.market_protection <= 100:
            raise ConfigError(f"KiteConfig.market_protection={self.market_protection}: must be -1, 0 or 1..100")
        if not self.account:
            object.__setattr__(self, "account", self.api_key)

    @classmethod
    def from_mapping(cls, data: Mapping) -> KiteConfig:
        return settings.from_mapping(cls, data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KiteConfig:
        return settings.from_env(cls, environ)

    def with_access_token(self, token: Secret | str) -> KiteConfig:
        return replace(self, access_token=Secret(token))

    def require_token(self) -> Secret:
        if not self.access_token:
            raise ConfigError(
                f"kite account {self.account}: no access_token; log in first "
                f"(nbexec.brokers.kite.login) or set NBEXEC_KITE_ACCESS_TOKEN"
            )
        return self.access_token
