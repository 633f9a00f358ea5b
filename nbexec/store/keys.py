"""The Redis key layout.

Every key of one account carries the account as a hash tag (`{acct}`), so a transition's
script, which touches the order hash, the account's open set, positions, fills and event
stream, stays inside one Redis Cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "nbexec"

    def order(self, account: str, order_id: str) -> str:
        return f"{self.prefix}:{{{account}}}:order:{order_id}"

    def open_orders(self, account: str) -> str:
        return f"{self.prefix}:{{{account}}}:open"

    def positions(self, account: str) -> str:
        return f"{self.prefix}:{{{account}}}:positions"

    def fills(self, account: str) -> str:
        """Set of broker trade ids already applied: a duplicated order update adds nothing."""
        return f"{self.prefix}:{{{account}}}:fills"

    def events(self, account: str) -> str:
        return f"{self.prefix}:{{{account}}}:events"

    def idempotency(self, account: str, signal_id: str) -> str:
        return f"{self.prefix}:{{{account}}}:idem:{signal_id}"

    def kill_switch(self) -> str:
        """Present while the kill switch is on: one key per prefix, for every engine sharing it."""
        return f"{self.prefix}:kill"

    def accounts(self) -> str:
        return f"{self.prefix}:accounts"

    def channel(self) -> str:
        """Pub/sub channel of every order change (channels are cluster-wide, not slotted)."""
        return f"{self.prefix}:orders"
