"""One exception hierarchy for all of nbexec, rooted in `NbexecError`.

Every message names the field, the value and the reason; broker errors keep the broker's
own message in `broker_message`.
"""

from __future__ import annotations


class NbexecError(Exception):
    """Root of every error nbexec raises on purpose."""


class ConfigError(NbexecError):
    """Configuration that cannot be used (missing, malformed, contradictory)."""


class ValidationError(NbexecError, ValueError):
    """A value that fails validation; `field` names it, `reason` says why."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}={value!r}: {reason}")


class InvalidTransition(NbexecError):
    """The order state machine forbids moving from `current` to `requested`."""

    def __init__(self, order_id: str, current: str, requested: str) -> None:
        self.order_id, self.current, self.requested = order_id, current, requested
        super().__init__(f"order {order_id}: transition {current} -> {requested} is not allowed")


class StaleVersion(NbexecError):
    """A transition was computed against an older version of the order than the stored one."""

    def __init__(self, order_id: str, expected: int, actual: int) -> None:
        self.order_id, self.expected, self.actual = order_id, expected, actual
        super().__init__(f"order {order_id}: expected version {expected}, stored version is {actual}")


class OrderNotFound(NbexecError, LookupError):
    """No order with that id (in the store, or at the broker)."""


class StoreUnavailable(NbexecError):
    """Redis cannot be reached; nbexec fails closed and refuses new work until it is back."""


class BrokerError(NbexecError):
    """A broker answered with an error; `broker_message` is the broker's own text."""

    def __init__(
        self,
        message: str,
        *,
        broker: str = "",
        status: int | None = None,
        code: str | None = None,
        broker_message: str | None = None,
    ) -> None:
        self.broker, self.status, self.code = broker, status, code
        self.broker_message = broker_message if broker_message is not None else message
        super().__init__(f"{broker}: {message}" if broker else message)


class AuthError(BrokerError):
    """Credentials or session rejected (Kite TokenException, Dhan DH-901/902)."""


class InputError(BrokerError):
    """The broker refused a field of the request (Kite InputException, Dhan DH-905)."""


class RateLimited(BrokerError):
    """Too many requests (HTTP 429, Dhan DH-904); safe to retry after backing off."""


class BrokerUnavailable(BrokerError):
    """The broker could not be reached or answered 5xx; the request may or may not have landed."""


class OrderRejected(BrokerError):
    """The broker or exchange rejected the order (Kite OrderException, Dhan DH-906)."""


class RiskRejected(NbexecError):
    """A pre-trade risk check refused the order; `check` names the check."""

    def __init__(self, check: str, reason: str) -> None:
        self.check, self.reason = check, reason
        super().__init__(f"{check}: {reason}")
