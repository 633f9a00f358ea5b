"""`LiveOrders`: one instrument's live orders, filed so that a step visits only those that may act.

A long session rests thousands of limits away from the market (a full `nbexec bench` leaves
thousands), and a step that walked them all spent most of its time on that walk, while the
exchange shares the machine's cores with the clients it serves (figures: docs/performance.md,
Figures behind design choices). Resting limits sit in one price heap per
side, best first, and a step pops only those that reach the opposite side's best level;
everything else live (stops waiting for their trigger, a market order left open) is visited
every step, as before. Finishing an order no longer scans a list either.

Heap entries are not removed when an order finishes or is modified: an entry whose order is
no longer resting at the entry's price is dropped when it surfaces, and the heaps are rebuilt
when dropped entries outnumber the live orders.
"""

from __future__ import annotations

import heapq
import itertools

from .model import OPEN, Order

# (heap key, placement seq, filing number: entries never tie, price filed at, order)
_Entry = tuple[float, int, int, float, Order]


def _rests(order: Order) -> bool:
    """An open limit (a triggered SL included): it acts only when the market reaches its price."""
    return order.status == OPEN and order.order_type in ("LIMIT", "SL")


def _seq(order: Order) -> int:
    return int(order.order_id)  # the engine numbers orders in placement order


class LiveOrders:
    """The live orders of one instrument. `file` an order whenever it is placed, modified or
    looked at by a step and still live; `drop` it when it finishes."""

    def __init__(self) -> None:
        self._live: dict[str, Order] = {}
        self._waiting: dict[str, Order] = {}  # live and not resting: visited every step
        self._buys: list[_Entry] = []  # key -price: the highest bid first
        self._sells: list[_Entry] = []  # key price: the lowest offer first
        self._filings = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def file(self, order: Order) -> None:
        self._live[order.order_id] = order
        if not _rests(order):
            self._waiting[order.order_id] = order
            return
        self._waiting.pop(order.order_id, None)
        heapq.heappush(*self._entry(order))
        if len(self._buys) + len(self._sells) > 2 * len(self._live) + 64:
            self._rebuild()

    def drop(self, order: Order) -> None:
        self._live.pop(order.order_id, None)
        self._waiting.pop(order.order_id, None)

    def due(self, buys_from: float | None, sells_up_to: float | None) -> list[Order]:
        """The orders a step must look at, oldest first: every waiting one, and the resting
        buys priced at `buys_from` or above and sells at `sells_up_to` or below (None: none
        can reach). The resting ones returned leave their heap: `file` those still live."""
        found = dict(self._waiting)
        if buys_from is not None:
            self._pop_while(self._buys, lambda key: -key >= buys_from, found)
        if sells_up_to is not None:
            self._pop_while(self._sells, lambda key: key <= sells_up_to, found)
        return sorted(found.values(), key=_seq)

    def _pop_while(self, heap: list[_Entry], reaches, found: dict[str, Order]) -> None:
        while heap and reaches(heap[0][0]):
            _, _, _, price, order = heapq.heappop(heap)
            if order.order_id in self._live and _rests(order) and order.price == price:
                found[order.order_id] = order

    def _entry(self, order: Order) -> tuple[list[_Entry], _Entry]:
        """The heap a resting order goes in, and its entry there."""
        price = order.price
        if order.side == "BUY":
            return self._buys, (-price, _seq(order), next(self._filings), price, order)
        return self._sells, (price, _seq(order), next(self._filings), price, order)

    def _rebuild(self) -> None:
        self._buys, self._sells = [], []
        for order in self._live.values():
            if _rests(order):
                heap, entry = self._entry(order)
                heap.append(entry)
        heapq.heapify(self._buys)
        heapq.heapify(self._sells)
