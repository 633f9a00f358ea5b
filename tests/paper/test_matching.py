"""The matching engine, driven directly: the exchange's rules without any network."""

from __future__ import annotations

import pytest

from nbexec.core.errors import OrderNotFound, ValidationError
from nbexec.core.instruments import Instrument
from nbexec.paper.matching import Engine

INFY = Instrument("NSE", "INFY", 1594)
NIFTYFUT = Instrument("NFO", "NIFTYFUT", 35001, tick_size=0.05, lot_size=50, instrument_type="FUT")
NIFTY = Instrument("INDICES", "NIFTY 50", 1001)


def make_engine(cash: float = 1_000_000.0, seed: int = 1) -> Engine:
    engine = Engine([(INFY, 1500.0), (NIFTYFUT, 22000.0), (NIFTY, 22000.0)], seed=seed, clock=lambda: 1_700_000_000.0)
    engine.add_account("A", cash)
    return engine


def statuses(order) -> list[str]:
    return [s.status for s in order.history]


def test_marketable_order_completes_with_interim_history():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 10)
    assert o.status == "COMPLETE" and o.filled_quantity == 10
    assert statuses(o) == ["RECEIVED", "VALIDATION_PENDING", "OPEN_PENDING", "OPEN", "COMPLETE"]


def test_buy_fills_at_the_ask_and_sell_at_the_bid():
    e = make_engine()
    ask, bid = e.quote("NSE:INFY").asks[0].price, e.quote("NSE:INFY").bids[0].price
    assert e.place("A", "NSE:INFY", "BUY", 1).average_price == ask
    assert e.place("A", "NSE:INFY", "SELL", 1).average_price == bid


def test_order_larger_than_displayed_depth_fills_in_parts():
    e = make_engine()
    depth = sum(level.quantity for level in e.quote("NSE:INFY").asks)
    o = e.place("A", "NSE:INFY", "BUY", depth + 5)
    assert o.status == "OPEN" and o.filled_quantity == depth
    for _ in range(50):
        e.step()
    assert o.status == "COMPLETE" and len(e.trades("A", o.order_id)) > 5


def test_ioc_remainder_is_cancelled():
    e = make_engine()
    depth = sum(level.quantity for level in e.quote("NSE:INFY").asks)
    o = e.place("A", "NSE:INFY", "BUY", depth + 5, validity="IOC")
    assert o.status == "CANCELLED"
    assert (o.filled_quantity, o.cancelled_quantity) == (depth, 5)


def test_resting_limit_fills_when_the_price_crosses():
    e = make_engine()
    limit = e.quote("NSE:INFY").bids[0].price - 0.5
    o = e.place("A", "NSE:INFY", "SELL", 5, order_type="LIMIT", price=limit + 1.0)
    assert o.status == "OPEN"
    for _ in range(2000):
        if o.status == "COMPLETE":
            break
        e.step()
    assert o.status == "COMPLETE"
    assert all(t.price >= o.price for t in e.trades("A", o.order_id))


def test_stop_loss_waits_for_its_trigger():
    e = make_engine()
    ltp = e.quote("NSE:INFY").last_price
    o = e.place("A", "NSE:INFY", "BUY", 1, order_type="SL-M", trigger_price=ltp + 1.0)
    assert o.status == "TRIGGER_PENDING"
    for _ in range(5000):
        if o.status == "COMPLETE":
            break
        e.step()
    assert o.status == "COMPLETE"
    assert "OPEN" in statuses(o)[statuses(o).index("TRIGGER_PENDING") :]


def test_quantity_not_a_multiple_of_the_lot_is_rejected():
    o = make_engine(cash=1e9).place("A", "NFO:NIFTYFUT", "BUY", 75, product="NRML")
    assert o.status == "REJECTED" and "lot size 50" in o.status_message


def test_price_off_the_tick_grid_is_rejected():
    o = make_engine().place("A", "NSE:INFY", "BUY", 1, order_type="LIMIT", price=1500.03)
    assert o.status == "REJECTED" and "tick size" in o.status_message


def test_price_outside_the_circuit_band_is_rejected():
    o = make_engine().place("A", "NSE:INFY", "BUY", 1, order_type="LIMIT", price=2000.0)
    assert o.status == "REJECTED" and "circuit" in o.status_message


def test_insufficient_funds_is_rejected():
    o = make_engine(cash=1000.0).place("A", "NSE:INFY", "BUY", 10)
    assert o.status == "REJECTED" and o.status_message.startswith("Insufficient funds")


def test_open_buy_blocks_cash_until_cancelled():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 10, order_type="LIMIT", price=1400.0)
    assert e.funds("A").blocked == pytest.approx(14000.0)
    e.cancel("A", o.order_id)
    assert e.funds("A").blocked == 0 and o.cancelled_quantity == 10


def test_an_index_cannot_be_traded():
    with pytest.raises(ValidationError) as err:
        make_engine().place("A", "INDICES:NIFTY 50", "BUY", 1)
    assert err.value.field == "instrument"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"quantity": 0}, "quantity"),
        ({"side": "HOLD"}, "side"),
        ({"order_type": "LIMIT"}, "price"),
        ({"order_type": "SL-M"}, "trigger_price"),
        ({"product": "XYZ"}, "product"),
        ({"validity": "GTC"}, "validity"),
        ({"tag": "x" * 21}, "tag"),
    ],
)
def test_input_errors_raise_naming_the_field(kwargs, field):
    args = {"side": "BUY", "quantity": 1, **kwargs}
    with pytest.raises(ValidationError) as err:
        make_engine().place("A", "NSE:INFY", args.pop("side"), args.pop("quantity"), **args)
    assert err.value.field == field


def test_modify_reprices_a_resting_order_and_records_it():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 5, order_type="LIMIT", price=1400.0)
    e.modify("A", o.order_id, price=1600.0)
    assert o.status == "COMPLETE" and o.modifications == 1
    assert ["MODIFY_VALIDATION_PENDING", "MODIFY_PENDING", "MODIFIED"] == statuses(o)[4:7]


def test_a_finished_order_cannot_be_modified_or_cancelled():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 1)
    with pytest.raises(ValidationError):
        e.modify("A", o.order_id, quantity=2)
    with pytest.raises(ValidationError):
        e.cancel("A", o.order_id)


def test_unknown_order_id_is_not_found():
    with pytest.raises(OrderNotFound):
        make_engine().cancel("A", "999")


def test_by_tag_finds_the_accounts_orders():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 1, tag="sig42acct")
    assert e.by_tag("A", "sig42acct") == [o]


def test_every_state_change_emits_an_event_in_order():
    e = make_engine()
    events = []
    e.listeners.append(events.append)
    e.place("A", "NSE:INFY", "BUY", 1)
    order_events = [ev.order.status for ev in events if ev.kind == "order"]
    assert order_events == ["RECEIVED", "VALIDATION_PENDING", "OPEN_PENDING", "OPEN", "COMPLETE"]
    assert [ev.trade.quantity for ev in events if ev.kind == "trade"] == [1]


def test_the_same_seed_gives_the_same_market():
    a, b = make_engine(seed=7), make_engine(seed=7)
    for _ in range(20):
        a.step(), b.step()
    assert a.quote("NSE:INFY") == b.quote("NSE:INFY")


def test_the_walk_stays_on_the_grid_and_inside_the_band():
    e = make_engine()
    lower, upper = e.circuit("NSE:INFY")
    for _ in range(500):
        e.step()
        q = e.quote("NSE:INFY")
        assert lower <= q.last_price <= upper and INFY.is_on_tick(q.last_price)
        assert all(INFY.is_on_tick(d.price) for d in q.bids + q.asks)


def test_the_book_is_five_contiguous_levels_each_side_with_their_own_prices():
    e = make_engine()
    book = e.books["NSE:INFY"]
    for _ in range(300):
        e.step()
        assert book.bid_t == list(range(book.bid_t[0], book.bid_t[0] - 5, -1))
        assert book.ask_t == list(range(book.bid_t[0] + 1, book.bid_t[0] + 6))
        assert [lv.price for lv in book.bids] == [book.price(t) for t in book.bid_t]
        assert [lv.price for lv in book.asks] == [book.price(t) for t in book.ask_t]


def test_every_step_gives_a_new_quote_even_when_the_price_stays():
    e = make_engine()
    quotes = []
    for _ in range(50):
        e.step()
        quotes.append(e.quote("NSE:INFY"))
    assert len({id(q) for q in quotes}) == 50 and len({q.volume for q in quotes}) == 50


def test_a_limit_modified_into_a_stop_waits_for_its_trigger():
    e = make_engine()
    o = e.place("A", "NSE:INFY", "BUY", 1, order_type="LIMIT", price=1400.0)
    e.modify("A", o.order_id, order_type="SL", price=1700.0, trigger_price=1650.0)
    assert o.status == "TRIGGER_PENDING" and o.filled_quantity == 0


def test_a_limit_repriced_while_resting_fills_at_its_new_price_not_its_old():
    """Resting limits wait in price heaps (`resting.LiveOrders`): a modified one must be filed
    again at its new price, and its old entry must not bring it back at the old one."""
    e = make_engine()
    bid = e.quote("NSE:INFY").bids[0].price
    o = e.place("A", "NSE:INFY", "SELL", 5, order_type="LIMIT", price=bid + 40.0)  # far: never reached
    e.modify("A", o.order_id, price=bid + 0.5)
    for _ in range(2000):
        if o.status == "COMPLETE":
            break
        e.step()
    assert o.status == "COMPLETE" and all(t.price >= bid + 0.5 for t in e.trades("A", o.order_id))

    back = e.place("A", "NSE:INFY", "SELL", 5, order_type="LIMIT", price=e.quote("NSE:INFY").bids[0].price + 0.5)
    e.modify("A", back.order_id, price=back.price + 200.0)  # away from where it rested, inside the band
    for _ in range(300):
        e.step()
    assert back.status == "OPEN" and not e.trades("A", back.order_id)
