"""Dhan login: there is no exchange to do. The user generates an access token (a JWT, valid
for its `exp`) in Dhan's web console and gives it with the client id (`DhanConfig`).

What is left is a check before the first order: an expired token fails `start()` with a
clear `AuthError` instead of a DH-901 on the first order. Tokens that are not JWTs (the paper
exchange's) carry no expiry and pass. Pure.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from nbexec.core.errors import AuthError
from nbexec.core.secrets import Secret

from .config import DhanConfig


def token_expiry(token: Secret) -> datetime | None:
    """The JWT's `exp` as a UTC datetime, or None when the token is not a JWT with one."""
    parts = token.reveal().split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(payload["exp"]), timezone.utc)
    except (ValueError, KeyError, TypeError):
        return None


def check_token(config: DhanConfig, now: datetime | None = None) -> None:
    """Raise `AuthError` if the access token has expired (the value is never shown)."""
    expiry = token_expiry(config.access_token)
    now = now or datetime.now(timezone.utc)
    if expiry is not None and expiry <= now:
        raise AuthError(
            f"dhan account {config.account}: access token expired at "
            f"{expiry.isoformat()}; generate a new one in Dhan's web console",
            broker="dhan",
        )
