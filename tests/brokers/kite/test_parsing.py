"""Kite JSON -> normalised types: statuses, orders, updates, trades, positions, funds, errors."""

from __future__ import annotations

import json

import pytest

from nbexec.brokers.kite import parsing
from nbexec.brokers.wire import Response
from nbexec.core.errors import AuthError, BrokerUnavailable, InputError, OrderRejected, RateLimited
from nbexec.core.states import OrderStatus as S

ORDER = {
    "order_id": "151220000000000",
    "exchange_order_id": "511220371736111",
    "status": "OPEN",
    "status_message": None,
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "quantity": 10,
    "filled_quantity": 0,
    "average_price": 0,
    "price": 1500.5,
    "tag": "abc123",
    "transaction_type": "BUY",
}


@pytest.mark.parametrize(
    "status,filled,expected",
    [
        ("COMPLETE", 10, S.FILLED),
        ("OPEN", 0, S.ACKED),
        ("OPEN", 4, S.PARTIALLY_FILLED),
        ("TRIGGER PENDING", 0, S.ACKED),
        ("REJECTED", 0, S.REJECTED),
        ("CANCELLED", 3, S.CANCELLED),
        ("PUT ORDER REQ RECEIVED", 0, S.ACKED),
        ("VALIDATION PENDING", 0, S.ACKED),
        ("OPEN PENDING", 0, S.ACKED),
        ("MODIFY PENDING", 2, S.PARTIALLY_FILLED),
        ("CANCEL PENDING", 0, S.ACKED),
        ("UPDATE", 5, S.PARTIALLY_FILLED),
        ("SOMETHING NEW", 0, S.UNKNOWN),
    ],
)
def test_status_words_map_to_order_statuses(status, filled, expected):
    assert parsing.order_status(status, filled) is expected


def test_an_order_object_is_normalised_and_keeps_the_raw_dict():
    o = parsing.parse_order(ORDER)
    assert (o.broker_order_id, o.tag, o.status, o.quantity, o.instrument) == (
        "151220000000000",
        "abc123",
        S.ACKED,
        10,
        "NSE:INFY",
    )
    assert o.exchange_order_id == "511220371736111" and o.raw["price"] == 1500.5
    assert o.pending_quantity == 10 and o.reject_reason == ""


def test_a_rejection_carries_kites_message():
    o = parsing.parse_order({**ORDER, "status": "REJECTED", "status_message": "Insufficient funds"})
    assert (o.status, o.reject_reason) == (S.REJECTED, "Insufficient funds")


def test_history_is_read_at_its_last_entry_and_updates_unwrap_their_data():
    history = [
        {**ORDER, "status": "PUT ORDER REQ RECEIVED"},
        {**ORDER, "status": "COMPLETE", "filled_quantity": 10, "average_price": 1500.25},
    ]
    now = parsing.parse_history(history)
    assert (now.status, now.filled_quantity, now.average_price) == (S.FILLED, 10, 1500.25)
    assert parsing.parse_history([]) is None
    update = parsing.parse_update({"type": "order", "data": {**ORDER, "filled_quantity": 4}})
    assert update.status is S.PARTIALLY_FILLED and update.filled_quantity == 4


def test_trades_positions_and_funds():
    [t] = parsing.parse_trades(
        [
            {
                "trade_id": "T1",
                "order_id": "O1",
                "exchange": "NSE",
                "tradingsymbol": "INFY",
                "transaction_type": "SELL",
                "quantity": 2,
                "average_price": 1499.5,
                "exchange_timestamp": "2026-01-02 09:15:00",
            }
        ]
    )
    assert (t.trade_id, t.broker_order_id, t.side.value, t.quantity, t.price) == ("T1", "O1", "SELL", 2, 1499.5)
    [p] = parsing.parse_positions(
        {
            "net": [
                {
                    "exchange": "NSE",
                    "tradingsymbol": "INFY",
                    "product": "MIS",
                    "quantity": -2,
                    "average_price": 1499.5,
                    "realised": 0,
                    "unrealised": 1.0,
                }
            ],
            "day": [],
        }
    )
    assert (p.instrument, p.product, p.quantity, p.unrealised_pnl) == ("NSE:INFY", "MIS", -2, 1.0)
    funds = parsing.parse_funds({"equity": {"net": 99.5, "utilised": {"debits": 0.5}}})
    assert (funds.available_cash, funds.utilised) == (99.5, 0.5)


@pytest.mark.parametrize(
    "status,error_type,kind",
    [
        (400, "InputException", InputError),
        (403, "TokenException", AuthError),
        (500, "OrderException", OrderRejected),
        (429, "NetworkException", RateLimited),
        (503, "NetworkException", BrokerUnavailable),
    ],
)
def test_error_envelopes_raise_mapped_errors_with_kites_message(status, error_type, kind):
    body = json.dumps({"status": "error", "message": "the broker said so", "error_type": error_type}).encode()
    with pytest.raises(kind) as err:
        parsing.decode(status, body)
    assert err.value.broker_message == "the broker said so" and err.value.status == status


def test_an_unreadable_success_is_broker_unavailable():
    with pytest.raises(BrokerUnavailable):
        parsing.decode(200, b"<html>", "text/html")


def test_an_ack_carries_the_order_id_and_the_transport_stamps():
    body = b'{"status":"success","data":{"order_id":"151220000000000"}}'
    ack = parsing.parse_ack(Response(200, ((b"Content-Type", b"application/json"),), body, 10, 25), "tag1")
    assert (ack.broker_order_id, ack.tag, ack.round_trip_ns) == ("151220000000000", "tag1", 15)
