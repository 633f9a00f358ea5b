import pytest

from nbexec.core.errors import ValidationError
from nbexec.core.fills import Fill, Position, apply_fill
from nbexec.core.orders import Order, Side, make_tag
from nbexec.core.states import OrderStatus


def acked(quantity=10) -> Order:
    o = Order(
        order_id=make_tag("s", "A"), signal_id="s", account="A", instrument="NSE:INFY", side="BUY", quantity=quantity
    )
    return o.transition("PENDING_SEND").transition("SENT").transition("ACKED")


def fill(qty, price, fid="t1", side=Side.BUY) -> Fill:
    return Fill(fid, make_tag("s", "A"), "A", "NSE:INFY", side, qty, price)


def test_partial_then_full_fill_averages_by_volume():
    o = apply_fill(acked(), fill(4, 100.0))
    assert (o.status, o.filled_quantity, o.average_price) == (OrderStatus.PARTIALLY_FILLED, 4, 100.0)
    o = apply_fill(o, fill(6, 110.0, "t2"))
    assert (o.status, o.filled_quantity) == (OrderStatus.FILLED, 10)
    assert o.average_price == pytest.approx(106.0)


def test_overfill_is_refused_with_the_field():
    with pytest.raises(ValidationError) as info:
        apply_fill(acked(5), fill(6, 100.0))
    assert info.value.field == "fill.quantity"


def test_position_pnl_realised_on_the_matched_quantity_and_marked_on_the_rest():
    p = Position("A", "NSE:INFY")
    p = p.apply(fill(10, 100.0)).apply(fill(4, 105.0, "t2", Side.SELL))
    assert p.quantity == 6
    assert p.realised_pnl == pytest.approx(20.0)
    assert p.unrealised_pnl(110.0) == pytest.approx(60.0)


def test_short_position_marks_against_the_sell_price():
    p = Position("A", "NSE:INFY").apply(fill(3, 200.0, side=Side.SELL))
    assert p.quantity == -3
    assert p.unrealised_pnl(190.0) == pytest.approx(30.0)
