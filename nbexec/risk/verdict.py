"""What risk answers: a `Rejection` naming the check and why, or a `Decision` to send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..core.errors import RiskRejected
from ..core.orders import OrderType


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one check refused an order; `reason` names the value and the limit it broke."""

    check: str
    reason: str

    def error(self) -> RiskRejected:
        """The same refusal as the exception the rest of nbexec raises."""
        return RiskRejected(self.check, self.reason)


class Decision(NamedTuple):
    """The verdict on one order. When accepted, `order_type` and `price` are what goes on the
    wire: a protected MARKET order leaves as a LIMIT at its protected price. When rejected,
    they are the order as it stood when the check refused it, for the record."""

    order_type: OrderType
    price: float
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection is None
