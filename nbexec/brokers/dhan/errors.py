"""Dhan's error body to nbexec's error hierarchy. Pure: (HTTP status, parsed body) in.

Dhan answers `{"errorType":...,"errorCode":"DH-905","errorMessage":...}` (docs/protocols/dhan.md,
Error envelope and DH-9xx codes).
`errorCode` decides first; Data API codes (800-814, also the feed's disconnect reasons) are
mapped too; a 429 is a rate limit whatever the body says; the HTTP status decides when the
code is missing or unknown.
"""

from __future__ import annotations

from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, InputError, OrderRejected, RateLimited

BROKER = "dhan"

ERROR_CODES: dict[str, type[BrokerError]] = {
    "DH-901": AuthError,  # invalid client id or access token
    "DH-902": AuthError,  # no Trading / Data API subscription
    "DH-903": AuthError,  # user account issue
    "DH-904": RateLimited,
    "DH-905": InputError,
    "DH-906": OrderRejected,
    "DH-907": BrokerError,  # data error: wrong parameters or no data; retrying will not help
    "DH-908": BrokerUnavailable,  # internal server error
    "DH-909": BrokerUnavailable,  # network error
    "DH-910": BrokerError,  # other
    # Data API codes
    "800": BrokerUnavailable,  # internal error
    "804": InputError,  # too many instruments
    "805": RateLimited,  # too many requests or connections
    "806": AuthError,  # Data APIs not subscribed
    "807": AuthError,  # token expired
    "808": AuthError,  # authentication failed
    "809": AuthError,  # token invalid
    "810": AuthError,  # client id invalid
    "811": InputError,  # invalid expiry
    "812": InputError,  # invalid date format
    "813": InputError,  # invalid SecurityId
    "814": InputError,  # invalid request
}


def map_dhan_error(http_status: int, body: dict | None) -> BrokerError:
    """The nbexec error for one Dhan error response; the broker's own message is kept."""
    body = body if isinstance(body, dict) else {}
    raw_code = body.get("errorCode")
    code = str(raw_code).strip().upper() if raw_code not in (None, "") else None
    message = str(body.get("errorMessage") or f"HTTP {http_status} with no error message")
    error_type = body.get("errorType")
    if http_status == 429:
        kind: type[BrokerError] = RateLimited
    elif code in ERROR_CODES:
        kind = ERROR_CODES[code]
    elif http_status >= 500:
        kind = BrokerUnavailable
    elif http_status in (401, 403):
        kind = AuthError
    else:
        kind = BrokerError
    label = " ".join(str(p) for p in (f"HTTP {http_status}", code, error_type) if p)
    return kind(f"{label}: {message}", broker=BROKER, status=http_status, code=code, broker_message=message)
