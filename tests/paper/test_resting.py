"""`LiveOrders`: a step looks only at the live orders that may act, oldest first."""

from __future__ import annotations

from nbexec.core.instruments import Instrument
from nbexec.paper.matching import Engine

INFY = Instrument("NSE", "INFY", 1594)


def engine_with_far_bids(n: int):
    e = Engine([(INFY, 1500.0)], seed=3, clock=lambda: 1_700_000_000.0)
    e.add_account("A", 10**9)
    book = e.books[INFY.key]
    bids = [
        e.place("A", INFY.key, "BUY", 1, order_type="LIMIT", price=book.price(book.ltp_t - 30 - i % 10))
        for i in range(n)
    ]
    return e, book, bids, e._live[INFY.key]


def test_resting_limits_short_of_the_threshold_are_not_due():
    e, book, bids, live = engine_with_far_bids(200)
    stop = e.place("A", INFY.key, "SELL", 1, order_type="SL-M", trigger_price=book.price(book.ltp_t - 60))
    assert stop.status == "TRIGGER_PENDING"
    assert live.due(bids[0].price + 1.0, None) == [stop]  # the waiting stop only
    threshold = bids[5].price  # ltp - 35: half of the bids reach
    due = live.due(threshold, None)
    assert due == [o for o in bids if o.price >= threshold] + [stop]  # oldest first
    assert live.due(threshold, None) == [stop]  # popped: due once until filed again
    for o in due:
        live.file(o)
    assert live.due(threshold, None) == due


def test_a_modified_or_finished_order_is_due_only_as_it_is_now():
    e, book, bids, live = engine_with_far_bids(10)
    moved, cancelled = bids[0], bids[1]
    old = moved.price
    e.modify("A", moved.order_id, price=old - 5.0)
    e.cancel("A", cancelled.order_id)
    assert live.due(old, None) == []  # only its old entry was there: dropped
    assert live.due(0.0, None) == [o for o in bids if o is not cancelled]  # moved once, at its new price


def test_dropped_entries_do_not_pile_up():
    e, book, bids, live = engine_with_far_bids(10)
    for i in range(20):
        for o in bids:
            e.modify("A", o.order_id, quantity=2 + i % 2)  # each files the order again
    assert len(live._buys) <= 2 * len(live) + 64
    assert live.due(0.0, None) == bids
