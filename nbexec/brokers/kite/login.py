"""Kite Connect login: a request token becomes today's access token (docs/protocols/kite.md,
Login: request token to access token).

The browser part (the user signs in at `login_url`, Kite redirects with `request_token`) is
the user's; this is the exchange: `POST /session/token` with `api_key`, `request_token` and
`checksum = sha256_hex(api_key + request_token + api_secret)`. A request token works once, so
the POST is never retried. The access token is valid until about 06:00 IST the next day.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlencode

from nbexec.core.errors import AuthError, ConfigError
from nbexec.core.secrets import Secret

from .config import KiteConfig
from .rest import rest_client

LOGIN_URL = "https://kite.zerodha.com/connect/login"


def checksum(api_key: str, request_token: str, api_secret: Secret) -> str:
    return hashlib.sha256(f"{api_key}{request_token}{api_secret.reveal()}".encode()).hexdigest()


def login_url(config: KiteConfig) -> str:
    """Where the user signs in; Kite then redirects to the app with `request_token`."""
    return f"{LOGIN_URL}?{urlencode({'api_key': config.api_key, 'v': 3})}"


@dataclass(frozen=True)
class Session:
    """What `/session/token` returned; the tokens are `Secret`s."""

    user_id: str
    access_token: Secret
    public_token: Secret
    login_time: str = ""
    profile: dict = field(default_factory=dict, repr=False)


async def exchange_request_token(config: KiteConfig, request_token: str) -> tuple[KiteConfig, Session]:
    """Log in; returns `config` carrying the new access token, and the session.

    Raises `AuthError` (wrong secret, stale request token), `ConfigError` (no api_secret).
    """
    if not config.api_secret:
        raise ConfigError(f"kite account {config.account}: api_secret is needed to log in (NBEXEC_KITE_API_SECRET)")
    if not request_token:
        raise ConfigError("request_token: required (from Kite's redirect after login)")
    http = rest_client(config, authenticated=False)
    try:
        data = await http.send(
            "POST",
            "/session/token",
            data={
                "api_key": config.api_key,
                "request_token": request_token,
                "checksum": checksum(config.api_key, request_token, config.api_secret),
            },
        )
    finally:
        await http.close()
    token = data.get("access_token") if isinstance(data, dict) else None
    if not token:
        raise AuthError("login answered without an access_token", broker="kite")
    session = Session(
        user_id=str(data.get("user_id") or ""),
        access_token=Secret(token),
        public_token=Secret(data.get("public_token") or ""),
        login_time=str(data.get("login_time") or ""),
        profile={
            k: v for k, v in data.items() if k not in ("access_token", "public_token", "refresh_token", "enctoken")
        },
    )
    return config.with_access_token(token), session
