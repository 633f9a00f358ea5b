"""Kite's error envelope to nbexec's error hierarchy. Pure: (HTTP status, parsed body) in.

Kite answers `{"status":"error","message":...,"error_type":"InputException"}` with a 4xx/5xx
(docs/protocols/kite.md, The JSON envelope and errors). `error_type` decides first, because
Kite's classes carry their own codes (an OrderException comes as HTTP 500 yet is a final
rejection, not an outage); a 429 is a rate limit whatever the body names; the HTTP status
decides when the type says nothing.
"""

from __future__ import annotations

from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, InputError, OrderRejected, RateLimited

BROKER = "kite"

ERROR_TYPES: dict[str, type[BrokerError]] = {
    "TokenException": AuthError,  # session expired or invalid (403)
    "PermissionException": AuthError,  # the app or user may not do this (403)
    "InputException": InputError,  # a field was refused (400)
    "OrderException": OrderRejected,  # the order was refused (500 by the SDK's default)
    "NetworkException": BrokerUnavailable,  # Kite's backend could not be reached (503)
    "DataException": BrokerUnavailable,  # Kite's OMS answered something unreadable (502)
}


def map_kite_error(http_status: int, body: dict | None) -> BrokerError:
    """The nbexec error for one Kite error response; the broker's own message is kept."""
    body = body if isinstance(body, dict) else {}
    error_type = body.get("error_type")
    error_type = error_type if isinstance(error_type, str) and error_type else None
    message = str(body.get("message") or f"HTTP {http_status} with no error message")
    if http_status == 429:
        kind: type[BrokerError] = RateLimited
    elif error_type in ERROR_TYPES:
        kind = ERROR_TYPES[error_type]
    elif http_status >= 500:
        kind = BrokerUnavailable
    elif http_status in (401, 403):
        kind = AuthError
    else:
        kind = BrokerError  # GeneralException, UserException, MarginException, 404, 405, ...
    label = f"HTTP {http_status} {error_type}" if error_type else f"HTTP {http_status}"
    return kind(f"{label}: {message}", broker=BROKER, status=http_status, code=error_type, broker_message=message)
