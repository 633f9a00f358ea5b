"""The order state machine: one table, the single source of truth.

The Redis store's Lua script is generated from `TRANSITIONS`, so Python and Redis can never
disagree about which moves are legal.

UNKNOWN means "the request may have reached the broker" (timeout, reset). It is left only by
what the broker says about the order (looked up by its tag), or by SENT again once the broker
provably does not have it.
"""

from __future__ import annotations

from enum import Enum

from .errors import InvalidTransition


class OrderStatus(str, Enum):
    NEW = "NEW"
    RISK_REJECTED = "RISK_REJECTED"
    PENDING_SEND = "PENDING_SEND"
    SENT = "SENT"
    ACKED = "ACKED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    def __str__(self) -> str:
        return self.value


S = OrderStatus
# What the broker can say about a live order; order updates may overtake the REST ack, so
# every state that has left our hands accepts all of them.
_BROKER_VERDICTS = frozenset({S.ACKED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.RISK_REJECTED, S.PENDING_SEND}),
    # A kill switch or a stop before the write cancels an order that never left.
    S.PENDING_SEND: frozenset({S.SENT, S.CANCELLED}),
    S.SENT: _BROKER_VERDICTS | {S.UNKNOWN},
    S.UNKNOWN: _BROKER_VERDICTS | {S.SENT},
    # Self-transitions record a modification (ACKED) or one more partial fill.
    S.ACKED: frozenset({S.ACKED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.RISK_REJECTED: frozenset(),
    S.REJECTED: frozenset(),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# Orders the broker may still act on: kept in the per-account open set for recovery.
OPEN: frozenset[OrderStatus] = frozenset(set(OrderStatus) - TERMINAL)


def is_allowed(current: OrderStatus | str, new: OrderStatus | str) -> bool:
    """Whether the table allows `current -> new`; a value that is no status raises ValueError.

    A status and its string value hash and compare alike (a str Enum), so the usual call, with
    members, is two lookups and no Enum call: every order on the order path comes through here.
    """
    allowed = TRANSITIONS.get(current)  # type: ignore[arg-type]  # a str finds its member
    if allowed is None:
        allowed = TRANSITIONS[OrderStatus(current)]
    if new in allowed:
        return True
    OrderStatus(new)
    return False


def check_transition(order_id: str, current: OrderStatus | str, new: OrderStatus | str) -> None:
    """Raise `InvalidTransition` unless the table allows `current -> new`."""
    if not is_allowed(current, new):
        raise InvalidTransition(order_id, str(current), str(new))
