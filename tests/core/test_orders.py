import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbexec.core.errors import InvalidTransition, ValidationError
from nbexec.core.orders import Order, OrderType, Side, make_tag, order_from_fields, order_to_fields
from nbexec.core.states import OrderStatus


def order(**kw) -> Order:
    base = dict(
        order_id=make_tag("sig1", "ACC1"),
        signal_id="sig1",
        account="ACC1",
        instrument="NSE:INFY",
        side="BUY",
        quantity=10,
    )
    return Order(**(base | kw))


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=20))
def test_tag_is_20_alphanumerics_and_deterministic(signal_id, account):
    tag = make_tag(signal_id, account)
    assert re.fullmatch(r"[0-9a-f]{20}", tag)
    assert tag == make_tag(signal_id, account)


def test_tags_differ_per_account():
    assert make_tag("s", "A1") != make_tag("s", "A2")


@pytest.mark.parametrize(
    "field,kw",
    [
        ("quantity", {"quantity": 0}),
        ("quantity", {"quantity": 2.5}),
        ("side", {"side": "HOLD"}),
        ("order_type", {"order_type": "STOP"}),
        ("price", {"order_type": "LIMIT", "price": 0.0}),
        ("trigger_price", {"order_type": "SL-M"}),
        ("tag", {"order_id": "not a tag!"}),
        ("tag", {"order_id": "x" * 21}),
        ("account", {"account": ""}),
    ],
)
def test_bad_input_names_the_field(field, kw):
    with pytest.raises(ValidationError) as info:
        order(**kw)
    assert info.value.field == field
    assert field in str(info.value)


def test_enums_accept_their_wire_spelling_in_any_case():
    o = order(side="sell", order_type="sl-m", trigger_price=99.5)
    assert o.side is Side.SELL and o.order_type is OrderType.SL_M


def test_transition_bumps_the_version_and_keeps_the_rest():
    o = order()
    nxt = o.transition(OrderStatus.PENDING_SEND, ts_risk_passed=5)
    assert (nxt.status, nxt.version, nxt.ts_risk_passed, nxt.quantity) == (OrderStatus.PENDING_SEND, 2, 5, 10)
    assert o.status is OrderStatus.NEW


def test_forbidden_transition_raises():
    with pytest.raises(InvalidTransition):
        order().transition(OrderStatus.FILLED)


@given(
    quantity=st.integers(1, 10**7),
    price=st.floats(0.05, 1e6, allow_nan=False),
    side=st.sampled_from(["BUY", "SELL"]),
    version=st.integers(1, 1000),
)
def test_redis_fields_round_trip(quantity, price, side, version):
    o = order(quantity=quantity, side=side, order_type="LIMIT", price=price, version=version)
    assert order_from_fields(order_to_fields(o)) == o


def test_for_account_readdresses_a_validated_order():
    o = order(order_type="LIMIT", price=10.5)
    other = o.for_account("ACC2", make_tag("sig1", "ACC2"), 7, Side.SELL)
    assert (other.account, other.quantity, other.side, other.price) == ("ACC2", 7, Side.SELL, 10.5)
    assert o.account == "ACC1"
    with pytest.raises(ValidationError):
        o.for_account("ACC3", make_tag("sig1", "ACC3"), 0, Side.BUY)
