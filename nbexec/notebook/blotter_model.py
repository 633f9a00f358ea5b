"""The blotter's data: one row per order, kept current from order notifications. Pure.

Notifications are what Redis publishes for every order change, from any process:
`{order_id, account, version, status, changes}` where `changes` is the JSON of the fields that
changed (all of them when the order is created). They can arrive out of order and for orders
this kernel never saw created, so a row only takes changes newer than its version, and rows that
lack their details (instrument, side, quantity) are listed in `incomplete` for the shell to
fetch from the store.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..core.orders import Order

COLUMNS = (
    "order_id",
    "account",
    "instrument",
    "side",
    "quantity",
    "order_type",
    "price",
    "status",
    "filled_quantity",
    "average_price",
    "reject_reason",
    "version",
    "created_at_ns",
)
_INTS = {"quantity", "filled_quantity", "version", "created_at_ns"}
_FLOATS = {"price", "average_price"}
_DETAILS = ("instrument", "side", "quantity")
HEADERS = {
    "created_at_ns": "time",
    "order_id": "order",
    "instrument": "symbol",
    "order_type": "type",
    "quantity": "qty",
    "filled_quantity": "filled",
    "average_price": "avg",
    "reject_reason": "reason",
}
SHOWN = (
    "created_at_ns",
    "order_id",
    "account",
    "instrument",
    "side",
    "quantity",
    "order_type",
    "price",
    "status",
    "filled_quantity",
    "average_price",
    "reject_reason",
)


def _typed(name: str, value: Any) -> object:  # any JSON value: `apply` catches what int/float raise
    if name in _INTS:
        return int(float(value))
    if name in _FLOATS:
        return float(value)
    return value


@dataclass
class BlotterModel:
    """Rows by order id; `seq` orders them by last change (newest first in `rows`)."""

    rows_by_id: dict[str, dict] = field(default_factory=dict)
    _touched: dict[str, int] = field(default_factory=dict)
    _seq: int = 0

    def seed(self, orders: Iterable[Order]) -> None:
        """Start from the orders the engine already knows (before any notification)."""
        for order in orders:
            self.merge_order(order)

    def merge_order(self, order: Order) -> bool:
        """Take a full order (from the engine or the store) if it is not older than the row."""
        fields = {name: getattr(order, name) for name in COLUMNS}
        for name in ("side", "order_type", "status"):
            fields[name] = fields[name].value
        return self._merge(order.order_id, int(order.version), fields)

    def apply(self, note: Mapping) -> bool:
        """Apply one notification; True if a row changed (stale or malformed ones are ignored)."""
        try:
            order_id, version = str(note["order_id"]), int(note["version"])
            changes = note.get("changes") or {}
            if isinstance(changes, str):
                changes = json.loads(changes)
            fields = {k: _typed(k, v) for k, v in changes.items() if k in COLUMNS}
        except (KeyError, TypeError, ValueError):
            return False
        fields.update(
            account=note.get("account", fields.get("account", "")), status=note.get("status"), version=version
        )
        return self._merge(order_id, version, {k: v for k, v in fields.items() if v is not None})

    def _merge(self, order_id: str, version: int, fields: dict) -> bool:
        row = self.rows_by_id.get(order_id)
        if row is None:
            row = self.rows_by_id[order_id] = {"order_id": order_id}
        elif version < row.get("version", 0):
            # An older change: only fill in details the row does not have yet.
            fields = {k: v for k, v in fields.items() if k not in row}
            if not fields:
                return False
        row.update(fields)
        self._seq += 1
        self._touched[order_id] = self._seq
        return True

    @property
    def incomplete(self) -> list[tuple[str, str]]:
        """(account, order id) of rows still missing their instrument, side or quantity."""
        return [
            (r.get("account", ""), oid)
            for oid, r in self.rows_by_id.items()
            if any(k not in r for k in _DETAILS) and r.get("account")
        ]

    def rows(self, limit: int | None = None) -> list[dict]:
        """Rows, most recently changed first."""
        ids = sorted(self.rows_by_id, key=self._touched.__getitem__, reverse=True)
        return [self.rows_by_id[i] for i in ids[:limit]]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows_by_id.values():
            status = row.get("status", "?")
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def df(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows(), columns=list(COLUMNS)).set_index("order_id")

    def html(self, limit: int = 50) -> str:
        """An HTML table of the newest `limit` rows and a status count line (values escaped)."""
        counts = " &middot; ".join(f"{html.escape(str(s))} {n}" for s, n in sorted(self.counts().items()))
        head = "".join(f"<th>{HEADERS.get(c, c)}</th>" for c in SHOWN)
        body = "".join(
            f'<tr class="nbx-{html.escape(str(r.get("status", "")).lower())}" '
            f'data-order="{html.escape(r["order_id"])}">'
            + "".join(f"<td>{_cell(c, r.get(c))}</td>" for c in SHOWN)
            + "</tr>"
            for r in self.rows(limit)
        )
        more = len(self.rows_by_id) - min(limit, len(self.rows_by_id))
        tail = f"<div>... and {more} older</div>" if more > 0 else ""
        return (
            f'<div class="nbx-blotter"><div><b>{len(self.rows_by_id)} orders</b> {counts}</div>'
            f'<table class="nbx-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}</div>'
        )


def _cell(column: str, value: str | float | None) -> str:
    if value is None or value == "" or (column == "created_at_ns" and not value):
        return ""
    if column == "created_at_ns":
        clock = pd.Timestamp(int(value), unit="ns", tz="UTC").tz_convert("Asia/Kolkata")
        return clock.strftime("%H:%M:%S.%f")[:-3]
    if column in _FLOATS:
        return f"{float(value):,.2f}" if value else ""
    return html.escape(str(value))
