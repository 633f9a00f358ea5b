"""What a broker's view of an order means for our stored order: a pure planner.

Order updates arrive late, twice, out of order, or before the REST ack. The plan is computed
from the stored order and the broker's latest word, and the store applies it with the
version the plan was made against, so racing writers cannot interleave:
- a fill is the growth of the cumulative filled quantity; its id is
  `<our order id>:<filled quantity>`, so a repeated update yields the same id (applied once)
  and an older update (smaller quantity) yields nothing. Our order id (the tag) anchors it:
  broker order ids may repeat across sessions (the paper exchange's do), tags never do;
- the fill's price is what makes the new average: (avg' * filled' - avg * filled) / delta;
- a broker verdict (ACKED, REJECTED, CANCELLED, EXPIRED) is a transition when the table allows it;
- an order we still hold as PENDING_SEND that the broker reports was sent: SENT comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..brokers.types import BrokerOrder
from ..core.fills import Fill
from ..core.orders import Order
from ..core.states import TERMINAL, OrderStatus, is_allowed

S = OrderStatus


@dataclass(frozen=True)
class Move:
    status: OrderStatus
    fields: dict = field(default_factory=dict)


def fill_id(order_id: str, filled_quantity: int) -> str:
    return f"{order_id}:{filled_quantity}"


def plan_update(order: Order, seen: BrokerOrder, now_ns: int) -> list[Fill | Move]:
    """The fills and moves that bring `order` up to what the broker says in `seen`."""
    actions: list[Fill | Move] = []
    status = order.status
    ids = {"broker_order_id": seen.broker_order_id} if seen.broker_order_id != order.broker_order_id else {}
    if status is S.PENDING_SEND:
        # The broker has it, so its bytes left after we last recorded it (a late write).
        actions.append(Move(S.SENT, {"ts_sent": order.ts_sent or now_ns}))
        status = S.SENT
    if status in (S.SENT, S.UNKNOWN) and seen.status is not S.REJECTED:
        # Acknowledged, by the update stream or the lookup, before (or instead of) the REST ack.
        actions.append(Move(S.ACKED, {**ids, "ts_acked": order.ts_acked or now_ns}))
        status, ids = S.ACKED, {}
    delta = seen.filled_quantity - order.filled_quantity
    if delta > 0 and seen.broker_order_id:
        new_value = seen.average_price * seen.filled_quantity
        old_value = order.average_price * order.filled_quantity
        price = (new_value - old_value) / delta if new_value > old_value else seen.average_price
        actions.append(
            Fill(
                fill_id(order.order_id, seen.filled_quantity),
                order.order_id,
                order.account,
                order.instrument,
                order.side,
                delta,
                price,
                now_ns,
            )
        )
        status = S.FILLED if seen.filled_quantity == order.quantity else S.PARTIALLY_FILLED
    if (
        seen.status in (S.REJECTED, S.CANCELLED, S.EXPIRED)
        and status not in TERMINAL
        and is_allowed(status, seen.status)
    ):
        actions.append(
            Move(seen.status, {**ids, "reject_reason": seen.reject_reason} if seen.status is S.REJECTED else ids)
        )
    elif ids and not actions and status not in TERMINAL and is_allowed(status, status):
        actions.append(Move(status, ids))  # learn the broker's id without a state change
    return actions
