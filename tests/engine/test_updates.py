import pytest

from nbexec.brokers.types import BrokerOrder
from nbexec.core.fills import Fill
from nbexec.core.orders import Order, make_tag
from nbexec.core.states import OrderStatus as S
from nbexec.engine.updates import Move, plan_update


def sent(quantity=10) -> Order:
    o = Order(
        order_id=make_tag("s", "A"), signal_id="s", account="A", instrument="NSE:INFY", side="BUY", quantity=quantity
    )
    return o.transition(S.PENDING_SEND).transition(S.SENT, ts_sent=1)


def seen(status, filled=0, avg=0.0, **kw) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id="B1",
        tag=make_tag("s", "A"),
        status=status,
        quantity=10,
        filled_quantity=filled,
        average_price=avg,
        **kw,
    )


def test_an_update_before_the_rest_ack_acknowledges_the_order():
    (move,) = plan_update(sent(), seen(S.ACKED), now_ns=5)
    assert move == Move(S.ACKED, {"broker_order_id": "B1", "ts_acked": 5})


def test_a_partial_fill_is_the_growth_of_filled_quantity():
    acked = sent().transition(S.ACKED, broker_order_id="B1")
    (fill,) = plan_update(acked, seen(S.PARTIALLY_FILLED, filled=4, avg=100.0), now_ns=7)
    assert isinstance(fill, Fill) and (fill.fill_id, fill.quantity, fill.price) == (f"{acked.order_id}:4", 4, 100.0)


def test_the_second_fill_price_is_what_makes_the_new_average():
    part = (
        sent()
        .transition(S.ACKED, broker_order_id="B1")
        .transition(S.PARTIALLY_FILLED, filled_quantity=4, average_price=100.0)
    )
    (fill,) = plan_update(part, seen(S.FILLED, filled=10, avg=106.0), now_ns=9)
    assert (fill.fill_id, fill.quantity) == (f"{part.order_id}:10", 6) and fill.price == pytest.approx(110.0)


def test_an_older_update_arriving_late_changes_nothing():
    part = (
        sent()
        .transition(S.ACKED, broker_order_id="B1")
        .transition(S.PARTIALLY_FILLED, filled_quantity=4, average_price=100.0)
    )
    assert plan_update(part, seen(S.ACKED), now_ns=9) == []


def test_a_rejection_carries_the_brokers_reason():
    (move,) = plan_update(sent(), seen(S.REJECTED, reject_reason="Insufficient funds"), now_ns=3)
    assert move.status is S.REJECTED and move.fields["reject_reason"] == "Insufficient funds"


def test_a_cancel_after_a_partial_fill_books_the_fill_then_the_cancel():
    acked = sent().transition(S.ACKED, broker_order_id="B1")
    fill, move = plan_update(acked, seen(S.CANCELLED, filled=3, avg=50.0), now_ns=4)
    assert fill.quantity == 3 and move.status is S.CANCELLED


def test_an_unknown_order_found_filled_is_acked_then_filled():
    unknown = sent().transition(S.UNKNOWN)
    move, fill = plan_update(unknown, seen(S.FILLED, filled=10, avg=20.0), now_ns=4)
    assert move.status is S.ACKED and fill.quantity == 10


def test_nothing_to_do_for_a_final_order():
    done = sent().transition(S.ACKED, broker_order_id="B1").transition(S.CANCELLED)
    assert plan_update(done, seen(S.CANCELLED), now_ns=1) == []


def test_an_order_written_late_is_recorded_sent_before_the_brokers_verdict():
    pending = Order(
        order_id=make_tag("s", "A"), signal_id="s", account="A", instrument="NSE:INFY", side="BUY", quantity=10
    ).transition(S.PENDING_SEND)
    actions = plan_update(pending, seen(S.FILLED, filled=10, avg=20.0), now_ns=4)
    assert [a.status for a in actions if isinstance(a, Move)] == [S.SENT, S.ACKED]
    assert actions[-1].quantity == 10
