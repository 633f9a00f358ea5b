"""Dhan JSON -> normalised types: statuses, orders, order alerts, trades, positions, funds, errors."""

from __future__ import annotations

import json

import pytest

from nbexec.brokers.dhan import parsing
from nbexec.brokers.wire import Response
from nbexec.core.errors import AuthError, BrokerError, InputError, OrderRejected, RateLimited
from nbexec.core.states import OrderStatus as S

ORDER = {
    "dhanClientId": "1000000001",
    "orderId": "112111182198",
    "exchangeOrderId": "",
    "correlationId": "abc123",
    "orderStatus": "PENDING",
    "transactionType": "BUY",
    "exchangeSegment": "NSE_EQ",
    "productType": "INTRADAY",
    "tradingSymbol": "INFY",
    "securityId": "1594",
    "quantity": 10,
    "filledQty": 0,
    "averageTradedPrice": 0.0,
    "omsErrorDescription": "",
}


@pytest.mark.parametrize(
    "status,filled,quantity,expected",
    [
        ("TRANSIT", 0, 10, S.ACKED),
        ("PENDING", 0, 10, S.ACKED),
        ("PENDING", 3, 10, S.PARTIALLY_FILLED),
        ("PART_TRADED", 3, 10, S.PARTIALLY_FILLED),
        ("TRADED", 10, 10, S.FILLED),
        ("TRADED", 4, 10, S.PARTIALLY_FILLED),
        ("REJECTED", 0, 10, S.REJECTED),
        ("CANCELLED", 2, 10, S.CANCELLED),
        ("EXPIRED", 0, 10, S.EXPIRED),
        ("NEWWORD", 0, 10, S.UNKNOWN),
    ],
)
def test_status_words_map_to_order_statuses(status, filled, quantity, expected):
    assert parsing.order_status(status, filled, quantity) is expected


def test_an_order_object_is_normalised():
    o = parsing.parse_order(ORDER)
    assert (o.broker_order_id, o.tag, o.status, o.quantity, o.instrument) == (
        "112111182198",
        "abc123",
        S.ACKED,
        10,
        "NSE:INFY",
    )


def test_a_lookup_answer_may_be_an_object_or_a_list():
    assert parsing.parse_one([ORDER]).broker_order_id == "112111182198"
    assert parsing.parse_one(ORDER).tag == "abc123"
    assert parsing.parse_one([]) is None


def test_a_rejection_carries_dhans_description():
    o = parsing.parse_order({**ORDER, "orderStatus": "REJECTED", "omsErrorDescription": "RMS: margin"})
    assert (o.status, o.reject_reason) == (S.REJECTED, "RMS: margin")


def test_an_order_alert_becomes_a_broker_order():
    alert = {
        "Type": "order_alert",
        "Data": {
            "OrderNo": "112111182198",
            "CorrelationId": "abc123",
            "Status": "PART_TRADED",
            "Quantity": 10,
            "TradedQty": 4,
            "AvgTradedPrice": 1500.5,
            "Exchange": "NSE",
            "Segment": "E",
            "Symbol": "INFY",
            "ExchOrderNo": "1100000000000001",
        },
    }
    o = parsing.parse_update(alert)
    assert (o.status, o.filled_quantity, o.average_price, o.instrument, o.tag) == (
        S.PARTIALLY_FILLED,
        4,
        1500.5,
        "NSE:INFY",
        "abc123",
    )
    assert parsing.parse_update({"Type": "something_else"}) is None


def test_trades_positions_and_funds():
    [t] = parsing.parse_trades(
        [
            {
                "orderId": "1",
                "exchangeTradeId": "T9",
                "transactionType": "SELL",
                "exchangeSegment": "NSE_FNO",
                "tradingSymbol": "NIFTY-Dec2026-FUT",
                "tradedQuantity": 75,
                "tradedPrice": 22000.5,
            }
        ]
    )
    assert (t.trade_id, t.instrument, t.side.value, t.quantity, t.price) == (
        "T9",
        "NFO:NIFTY-Dec2026-FUT",
        "SELL",
        75,
        22000.5,
    )
    [p] = parsing.parse_positions(
        [
            {
                "exchangeSegment": "NSE_EQ",
                "tradingSymbol": "INFY",
                "productType": "CNC",
                "netQty": -3,
                "buyAvg": 0,
                "sellAvg": 1500.0,
                "realizedProfit": 0,
                "unrealizedProfit": -1.5,
            }
        ]
    )
    assert (p.instrument, p.product, p.quantity, p.average_price) == ("NSE:INFY", "CNC", -3, 1500.0)
    funds = parsing.parse_funds({"availabelBalance": 1000.5, "utilizedAmount": 20.0})
    assert (funds.available_cash, funds.utilised) == (1000.5, 20.0)


@pytest.mark.parametrize(
    "status,code,kind",
    [
        (400, "DH-905", InputError),
        (401, "DH-901", AuthError),
        (400, "DH-906", OrderRejected),
        (429, "DH-904", RateLimited),
        (404, "DH-907", BrokerError),
    ],
)
def test_error_bodies_raise_mapped_errors_with_dhans_message(status, code, kind):
    body = json.dumps({"errorType": "X", "errorCode": code, "errorMessage": "dhan said so"}).encode()
    with pytest.raises(kind) as err:
        parsing.decode(status, body)
    assert err.value.broker_message == "dhan said so" and err.value.code == code


def test_an_ack_is_the_order_id_even_from_a_sliced_list():
    body = b'[{"orderId":"112111182198","orderStatus":"PENDING"}]'
    ack = parsing.parse_ack(Response(200, (), body, 5, 9), "abc123")
    assert (ack.broker_order_id, ack.raw["orderStatus"], ack.round_trip_ns) == ("112111182198", "PENDING", 4)
